/* Statement text.  Every name is quoted, so tables and columns with upper
 * case, spaces or reserved words work, and nothing from the configuration
 * is spliced in raw except the column types create_table is given. */
#include "ts_sql.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

void ts_sql_ident(ts_buf *b, const char *name)
{
    ts_buf_putc(b, '"');
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            ts_buf_putc(b, '"');
        ts_buf_putc(b, *p);
    }
    ts_buf_putc(b, '"');
}

void ts_sql_literal(ts_buf *b, const char *s)
{
    /* With a backslash, E'' with doubled backslashes means the same thing
     * whatever standard_conforming_strings says (PostgreSQL's quote_literal). */
    if (strchr(s, '\\'))
        ts_buf_putc(b, 'E');
    ts_buf_putc(b, '\'');
    for (const char *p = s; *p; p++) {
        if (*p == '\'' || *p == '\\')
            ts_buf_putc(b, *p);
        ts_buf_putc(b, *p);
    }
    ts_buf_putc(b, '\'');
}

/* Reads one identifier at *pp into out (malloc'd). */
static int parse_ident(const char **pp, char **out, const char *in, char *err, size_t errlen)
{
    const char *p = *pp;
    ts_buf b = {0};
    if (*p == '"') {
        p++;
        for (;;) {
            if (!*p) {
                snprintf(err, errlen, "table \"%s\": unterminated quoted identifier", in);
                ts_buf_free(&b);
                return -1;
            }
            if (*p == '"') {
                if (p[1] != '"')
                    break;
                p++;
            }
            ts_buf_putc(&b, *p++);
        }
        p++;
        if (b.len == 0) {
            snprintf(err, errlen, "table \"%s\": empty quoted identifier", in);
            ts_buf_free(&b);
            return -1;
        }
    } else {
        if (!(isalpha((unsigned char)*p) || *p == '_' || (unsigned char)*p >= 0x80)) {
            snprintf(err, errlen,
                     "table \"%s\": expected a name at \"%s\" (quote names with other "
                     "characters: \"\\\"My Table\\\"\")", in, p);
            return -1;
        }
        while (isalnum((unsigned char)*p) || *p == '_' || *p == '$' ||
               (unsigned char)*p >= 0x80) {
            /* Unquoted identifiers fold to lower case, as in SQL. */
            ts_buf_putc(&b, (char)tolower((unsigned char)*p));
            p++;
        }
    }
    if (!ts_buf_cstr(&b)) {
        snprintf(err, errlen, "out of memory");
        ts_buf_free(&b);
        return -1;
    }
    *out = b.p;
    *pp = p;
    return 0;
}

int ts_sql_parse_qualified(const char *in, char **schema, char **name, char *err,
                           size_t errlen)
{
    *schema = *name = NULL;
    const char *p = in;
    char *first = NULL, *second = NULL;
    if (parse_ident(&p, &first, in, err, errlen))
        return -1;
    if (*p == '.') {
        p++;
        if (parse_ident(&p, &second, in, err, errlen)) {
            free(first);
            return -1;
        }
    }
    if (*p) {
        snprintf(err, errlen, "table \"%s\": unexpected \"%s\" (expected table or "
                 "schema.table)", in, p);
        free(first);
        free(second);
        return -1;
    }
    if (second) {
        *schema = first;
        *name = second;
    } else {
        *name = first;
    }
    return 0;
}

static void column_list(ts_buf *b, const ts_mapping *m, const char *prefix)
{
    for (size_t i = 0; i < m->n; i++) {
        if (i)
            ts_buf_puts(b, ", ");
        if (prefix)
            ts_buf_puts(b, prefix);
        ts_sql_ident(b, m->t[i].col->name);
    }
}

/* The staging table is named after the target so that PostgreSQL's
 * messages about a refused row still say which table it was meant for, but
 * never the same name: pg_temp comes first in the search path, so a trigger
 * or function that names the target without a schema would otherwise read
 * the staging table. */
static void staging_ident(ts_buf *b, const ts_table *t)
{
    ts_buf n = {0};
    ts_buf_puts(&n, "sluice_stage_");
    ts_buf_puts(&n, t->name);
    if (!ts_buf_cstr(&n)) {
        ts_buf_free(&n);
        b->oom = 1;   /* the caller's buffer carries the failure */
        return;
    }
    /* PostgreSQL keeps 63 bytes of a name; cut on a character boundary so
     * the name stays valid UTF-8 and means the same in every statement. */
    if (n.len > 63) {
        size_t len = 63;
        while (len && ((unsigned char)n.p[len] & 0xC0) == 0x80)
            len--;
        n.p[len] = '\0';
    }
    ts_sql_ident(b, n.p);
    ts_buf_free(&n);
}

static void staging_name(ts_buf *b, const ts_table *t)
{
    ts_buf_puts(b, "pg_temp.");
    staging_ident(b, t);
}

void ts_sql_staging(ts_buf *b, const ts_table *t, const ts_mapping *m)
{
    /* CREATE TABLE AS copies the mapped columns' types with their typmods
     * (varchar(n), numeric(p,s)) but not their NOT NULL; that is added back
     * so that a NULL is refused while COPY still knows the row's line. */
    ts_buf_puts(b, "CREATE TEMP TABLE ");
    staging_ident(b, t);
    ts_buf_puts(b, " ON COMMIT DELETE ROWS AS SELECT ");
    column_list(b, m, NULL);
    ts_buf_puts(b, " FROM ");
    ts_buf_puts(b, t->qual);
    ts_buf_puts(b, " WITH NO DATA; ALTER TABLE ");
    staging_name(b, t);
    ts_buf_puts(b, " ADD COLUMN " TS_ORD_COLUMN " int4");
    for (size_t i = 0; i < m->n; i++) {
        if (!m->t[i].col->not_null)
            continue;
        ts_buf_puts(b, ", ALTER COLUMN ");
        ts_sql_ident(b, m->t[i].col->name);
        ts_buf_puts(b, " SET NOT NULL");
    }
}

void ts_sql_copy(ts_buf *b, const ts_table *t, const ts_mapping *m, int staging, int binary)
{
    ts_buf_puts(b, "COPY ");
    if (staging)
        staging_name(b, t);
    else
        ts_buf_puts(b, t->qual);
    ts_buf_puts(b, " (");
    column_list(b, m, NULL);
    if (staging)
        ts_buf_puts(b, ", " TS_ORD_COLUMN);
    ts_buf_puts(b, binary ? ") FROM STDIN (FORMAT binary)" : ") FROM STDIN (FORMAT text)");
}

static void pk_list(ts_buf *b, const ts_mapping *m)
{
    int first = 1;
    for (size_t i = 0; i < m->n; i++) {
        if (!m->t[i].col->in_pk)
            continue;
        if (!first)
            ts_buf_puts(b, ", ");
        first = 0;
        ts_sql_ident(b, m->t[i].col->name);
    }
}

void ts_sql_insert(ts_buf *b, const ts_table *t, const ts_mapping *m, ts_conflict c,
                   int ranged)
{
    ts_buf_puts(b, "INSERT INTO ");
    ts_buf_puts(b, t->qual);
    ts_buf_puts(b, " (");
    column_list(b, m, NULL);
    ts_buf_puts(b, ") SELECT ");
    /* ON CONFLICT DO UPDATE may touch a row only once per statement: the
     * batch's last row for a key wins, as it would have row by row. */
    if (c == TS_CONFLICT_UPDATE) {
        ts_buf_puts(b, "DISTINCT ON (");
        pk_list(b, m);
        ts_buf_puts(b, ") ");
    }
    column_list(b, m, NULL);
    ts_buf_puts(b, " FROM ");
    staging_name(b, t);
    if (ranged)
        ts_buf_puts(b, " WHERE " TS_ORD_COLUMN " >= $1 AND " TS_ORD_COLUMN " < $2");
    if (c == TS_CONFLICT_UPDATE) {
        ts_buf_puts(b, " ORDER BY ");
        pk_list(b, m);
        ts_buf_puts(b, ", " TS_ORD_COLUMN " DESC ON CONFLICT (");
        pk_list(b, m);
        ts_buf_puts(b, ") DO ");
        int any = 0;
        for (size_t i = 0; i < m->n; i++) {
            if (m->t[i].col->in_pk)
                continue;
            ts_buf_puts(b, any ? ", " : "UPDATE SET ");
            any = 1;
            ts_sql_ident(b, m->t[i].col->name);
            ts_buf_puts(b, " = EXCLUDED.");
            ts_sql_ident(b, m->t[i].col->name);
        }
        if (!any)
            ts_buf_puts(b, "NOTHING");
    } else {
        /* No conflict target: any unique index (the primary key first of
         * all) turns a replayed row into a skipped one. */
        ts_buf_puts(b, " ON CONFLICT DO NOTHING");
    }
}

void ts_sql_create_table(ts_buf *b, const char *schema, const char *name,
                         const char *const *cols, const char *const *types, size_t n,
                         const char *const *pk, size_t n_pk)
{
    ts_buf_puts(b, "CREATE TABLE IF NOT EXISTS ");
    if (schema) {
        ts_sql_ident(b, schema);
        ts_buf_putc(b, '.');
    }
    ts_sql_ident(b, name);
    ts_buf_puts(b, " (");
    for (size_t i = 0; i < n; i++) {
        if (i)
            ts_buf_puts(b, ", ");
        ts_sql_ident(b, cols[i]);
        ts_buf_putc(b, ' ');
        ts_buf_puts(b, types[i]);
    }
    if (n_pk) {
        ts_buf_puts(b, ", PRIMARY KEY (");
        for (size_t i = 0; i < n_pk; i++) {
            if (i)
                ts_buf_puts(b, ", ");
            ts_sql_ident(b, pk[i]);
        }
        ts_buf_putc(b, ')');
    }
    ts_buf_putc(b, ')');
}
