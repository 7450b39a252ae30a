/* What the target table looks like, read from the catalog once per
 * instance: its real schema and name, its columns with their types and
 * constraints, and its keys. */
#include "ts_sink.h"
#include "ts_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ts_kind ts_kind_of(unsigned oid, char typtype)
{
    switch (oid) {
    case 16: return TS_K_BOOL;
    case 21: return TS_K_INT2;
    case 23: return TS_K_INT4;
    case 20: return TS_K_INT8;
    case 700: return TS_K_FLOAT4;
    case 701: return TS_K_FLOAT8;
    case 25:    /* text */
    case 1043:  /* varchar */
    case 1042:  /* bpchar */
    case 19:    /* name */
    case 114:   /* json */
        return TS_K_TEXT;
    case 3802: return TS_K_JSONB;
    case 17: return TS_K_BYTEA;
    case 1184: return TS_K_TIMESTAMPTZ;
    case 1114: return TS_K_TIMESTAMP;
    case 1082: return TS_K_DATE;
    default:
        /* An enum's binary form is its label. */
        return typtype == 'e' ? TS_K_TEXT : TS_K_OTHER;
    }
}

void ts_table_free(ts_table *t)
{
    for (size_t i = 0; i < t->n_cols; i++) {
        free(t->cols[i].name);
        free(t->cols[i].type);
    }
    free(t->cols);
    free(t->schema);
    free(t->name);
    free(t->qual);
    free(t->display);
    memset(t, 0, sizeof *t);
}

const ts_column *ts_table_column(const ts_table *t, const char *name)
{
    for (size_t i = 0; i < t->n_cols; i++)
        if (strcmp(t->cols[i].name, name) == 0)
            return &t->cols[i];
    return NULL;
}

static char *dup_or_null(const char *s, int *oom)
{
    char *d = strdup(s ? s : "");
    if (!d)
        *oom = 1;
    return d;
}

static const char SQL_TABLE[] =
    "SELECT c.oid, n.nspname, c.relname, c.relkind::text, "
    "has_table_privilege(c.oid, 'INSERT'), "
    "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisunique) "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.oid = to_regclass($1)";

/* One level of domain is looked through, enough for the usual
 * "CREATE DOMAIN x AS text CHECK ..."; deeper ones go as text. */
static const char SQL_COLUMNS[] =
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod), "
    "COALESCE(NULLIF(t.typbasetype, 0), a.atttypid)::int8, bt.typtype::text, "
    "a.attnotnull, a.atthasdef OR a.attidentity <> '', "
    "a.attgenerated = '' AND a.attidentity <> 'a', "
    "COALESCE((SELECT k.n FROM unnest(pk.indkey::int2[]) WITH ORDINALITY k(a, n) "
    "WHERE k.a = a.attnum), 0) "
    "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
    "JOIN pg_type bt ON bt.oid = COALESCE(NULLIF(t.typbasetype, 0), a.atttypid) "
    "LEFT JOIN pg_index pk ON pk.indrelid = a.attrelid AND pk.indisprimary "
    "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped "
    "ORDER BY a.attnum";

static int is_true(const PGresult *r, int row, int col)
{
    const char *v = PQgetvalue(r, row, col);
    return v && v[0] == 't';
}

int ts_catalog_load(ts_sink *s, const char *qualified, ts_table *t, ts_pgerr *e, char *err)
{
    memset(t, 0, sizeof *t);
    memset(e, 0, sizeof *e);   /* failures of our own are TS_E_NONE: not retried */
    const char *p1[] = {qualified};
    PGresult *r = ts_query(s, SQL_TABLE, 1, p1, e);
    if (!r) {
        ts_pgerr_format(e, "reading the catalog", err, SLUICE_ERRLEN);
        return -1;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        return 0;
    }
    int oom = 0;
    char oid[24];
    snprintf(oid, sizeof oid, "%s", PQgetvalue(r, 0, 0));
    t->schema = dup_or_null(PQgetvalue(r, 0, 1), &oom);
    t->name = dup_or_null(PQgetvalue(r, 0, 2), &oom);
    char relkind = PQgetvalue(r, 0, 3)[0];
    int can_insert = is_true(r, 0, 4);
    t->has_unique = is_true(r, 0, 5);
    PQclear(r);
    if (oom) {
        snprintf(err, SLUICE_ERRLEN, "timescale: out of memory");
        return -1;
    }
    sluice_buf q = {0};
    ts_sql_ident(&q, t->schema);
    sluice_buf_putc(&q, '.');
    ts_sql_ident(&q, t->name);
    t->qual = sluice_buf_cstr(&q) ? q.p : NULL;
    size_t dl = strlen(t->schema) + strlen(t->name) + 2;
    t->display = malloc(dl);
    if (!t->qual || !t->display) {
        snprintf(err, SLUICE_ERRLEN, "timescale: out of memory");
        return -1;
    }
    snprintf(t->display, dl, "%s.%s", t->schema, t->name);

    if (relkind != 'r' && relkind != 'p') {
        snprintf(err, SLUICE_ERRLEN,
                 "timescale: \"%s\" is not a table (relkind '%c'): the sink writes to "
                 "tables and partitioned tables only", t->display, relkind);
        return -1;
    }
    if (!can_insert) {
        snprintf(err, SLUICE_ERRLEN,
                 "timescale: the connecting user may not INSERT into table %s "
                 "(GRANT INSERT ON %s TO ...)", t->display, t->qual);
        return -1;
    }

    const char *p2[] = {oid};
    r = ts_query(s, SQL_COLUMNS, 1, p2, e);
    if (!r) {
        ts_pgerr_format(e, "reading the columns", err, SLUICE_ERRLEN);
        return -1;
    }
    int n = PQntuples(r);
    t->cols = calloc((size_t)n + 1, sizeof *t->cols);
    if (!t->cols) {
        PQclear(r);
        snprintf(err, SLUICE_ERRLEN, "timescale: out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        ts_column *c = &t->cols[t->n_cols++];
        c->name = dup_or_null(PQgetvalue(r, i, 0), &oom);
        c->type = dup_or_null(PQgetvalue(r, i, 1), &oom);
        c->kind = ts_kind_of((unsigned)strtoul(PQgetvalue(r, i, 2), NULL, 10),
                             PQgetvalue(r, i, 3)[0]);
        c->not_null = is_true(r, i, 4);
        c->has_default = is_true(r, i, 5);
        c->writable = is_true(r, i, 6);
        c->pk_pos = atoi(PQgetvalue(r, i, 7));
        c->in_pk = c->pk_pos > 0;
        if (c->in_pk)
            t->n_pk++;
    }
    PQclear(r);
    if (oom) {
        snprintf(err, SLUICE_ERRLEN, "timescale: out of memory");
        return -1;
    }
    return 1;
}
