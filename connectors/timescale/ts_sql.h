/* SQL text the sink issues, built from names it read from the catalog or
 * the configuration.  Pure functions (no connection), so tests can check
 * the exact statements, including those for TimescaleDB. */
#ifndef TS_SQL_H
#define TS_SQL_H

#include "ts_sink.h"

/* Appends name as a quoted identifier ("a""b"). */
void ts_sql_ident(sluice_buf *b, const char *name);
/* Appends s as a string literal ('it''s'; E'..' when it holds a backslash). */
void ts_sql_literal(sluice_buf *b, const char *s);

/* Splits "schema.table", "table", "\"My Schema\".\"T\"" the way PostgreSQL
 * reads identifiers (unquoted parts fold to lower case).  *schema is NULL
 * when not given.  Returns 0, or -1 with err naming the problem. */
int ts_sql_parse_qualified(const char *in, char **schema, char **name, char *err,
                           size_t errlen);

/* CREATE TEMP TABLE for the staging copy of the mapped columns. */
void ts_sql_staging(sluice_buf *b, const ts_table *t, const ts_mapping *m);
/* COPY into the staging table (with_ord) or straight into the target. */
void ts_sql_copy(sluice_buf *b, const ts_table *t, const ts_mapping *m, int staging, int binary);
/* INSERT ... SELECT from the staging table; ranged adds WHERE row bounds $1, $2. */
void ts_sql_insert(sluice_buf *b, const ts_table *t, const ts_mapping *m, ts_conflict c,
                   int ranged);
/* CREATE TABLE IF NOT EXISTS from column → type pairs and a key. */
void ts_sql_create_table(sluice_buf *b, const char *schema, const char *name,
                         const char *const *cols, const char *const *types, size_t n,
                         const char *const *pk, size_t n_pk);

#endif
