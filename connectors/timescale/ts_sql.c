/* Statement text.  Every name is quoted, so tables and columns with upper
 * case, spaces or reserved words work, and nothing from the configuration
 * is spliced in raw except the column types create_table is given. */
#include "ts_sql.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

void ts_sql_ident(sluice_buf *b, const char *name)
{
    sluice_buf_putc(b, '"');
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            sluice_buf_putc(b, '"');
        sluice_buf_putc(b, *p);
    }
    sluice_buf_putc(b, '"');
}

void ts_sql_literal(sluice_buf *b, const char *s)
{
    /* With a backslash, E'' with doubled backslashes means the same thing
     * whatever standard_conforming_strings says (PostgreSQL's quote_literal). */
    if (strchr(s, '\\'))
        sluice_buf_putc(b, 'E');
    sluice_buf_putc(b, '\'');
    for (const char *p = s; *p; p++) {
        if (*p == '\'' || *p == '\\')
            sluice_buf_putc(b, *p);
        sluice_buf_putc(b, *p);
    }
    sluice_buf_putc(b, '\'');
}

/* Reads one identifier at *pp into out (malloc'd). */
static int parse_ident(const char **pp, char **out, const char *in, char *err, size_t errlen)
{
    const char *p = *pp;
    sluice_buf b = {0};
    if (*p == '"') {
        p++;
        for (;;) {
            if (!*p) {
                snprintf(err, errlen, "table \"%s\": unterminated quoted identifier", in);
                sluice_buf_free(&b);
                return -1;
            }
            if (*p == '"') {
                if (p[1] != '"')
                    break;
                p++;
            }
            sluice_buf_putc(&b, *p++);
        }
        p++;
        if (b.len == 0) {
            snprintf(err, errlen, "table \"%s\": empty quoted identifier", in);
            sluice_buf_free(&b);
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
            sluice_buf_putc(&b, (char)tolower((unsigned char)*p));
            p++;
        }
    }
    if (!sluice_buf_cstr(&b)) {
        snprintf(err, errlen, "out of memory");
        sluice_buf_free(&b);
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

static void column_list(sluice_buf *b, const ts_mapping *m, const char *prefix)
{
    for (size_t i = 0; i < m->n; i++) {
        if (i)
            sluice_buf_puts(b, ", ");
        if (prefix)
            sluice_buf_puts(b, prefix);
        ts_sql_ident(b, m->t[i].col->name);
    }
}

/* The staging table is named after the target so that PostgreSQL's
 * messages about a refused row still say which table it was meant for, but
 * never the same name: pg_temp comes first in the search path, so a trigger
 * or function that names the target without a schema would otherwise read
 * the staging table. */
static void staging_ident(sluice_buf *b, const ts_table *t)
{
    sluice_buf n = {0};
    sluice_buf_puts(&n, "sluice_stage_");
    sluice_buf_puts(&n, t->name);
    if (!sluice_buf_cstr(&n)) {
        sluice_buf_free(&n);
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
    sluice_buf_free(&n);
}

static void staging_name(sluice_buf *b, const ts_table *t)
{
    sluice_buf_puts(b, "pg_temp.");
    staging_ident(b, t);
}

void ts_sql_staging(sluice_buf *b, const ts_table *t, const ts_mapping *m)
{
    /* CREATE TABLE AS copies the mapped columns' types with their typmods
     * (varchar(n), numeric(p,s)) but not their NOT NULL; that is added back
     * so that a NULL is refused while COPY still knows the row's line. */
    sluice_buf_puts(b, "CREATE TEMP TABLE ");
    staging_ident(b, t);
    sluice_buf_puts(b, " ON COMMIT DELETE ROWS AS SELECT ");
    column_list(b, m, NULL);
    sluice_buf_puts(b, " FROM ");
    sluice_buf_puts(b, t->qual);
    sluice_buf_puts(b, " WITH NO DATA; ALTER TABLE ");
    staging_name(b, t);
    sluice_buf_puts(b, " ADD COLUMN " TS_ORD_COLUMN " int4");
    for (size_t i = 0; i < m->n; i++) {
        if (!m->t[i].col->not_null)
            continue;
        sluice_buf_puts(b, ", ALTER COLUMN ");
        ts_sql_ident(b, m->t[i].col->name);
        sluice_buf_puts(b, " SET NOT NULL");
    }
}

void ts_sql_copy(sluice_buf *b, const ts_table *t, const ts_mapping *m, int staging, int binary)
{
    sluice_buf_puts(b, "COPY ");
    if (staging)
        staging_name(b, t);
    else
        sluice_buf_puts(b, t->qual);
    sluice_buf_puts(b, " (");
    column_list(b, m, NULL);
    if (staging)
        sluice_buf_puts(b, ", " TS_ORD_COLUMN);
    sluice_buf_puts(b, binary ? ") FROM STDIN (FORMAT binary)" : ") FROM STDIN (FORMAT text)");
}

static void pk_list(sluice_buf *b, const ts_mapping *m)
{
    int first = 1;
    for (size_t i = 0; i < m->n; i++) {
        if (!m->t[i].col->in_pk)
            continue;
        if (!first)
            sluice_buf_puts(b, ", ");
        first = 0;
        ts_sql_ident(b, m->t[i].col->name);
    }
}

void ts_sql_insert(sluice_buf *b, const ts_table *t, const ts_mapping *m, ts_conflict c,
                   int ranged)
{
    sluice_buf_puts(b, "INSERT INTO ");
    sluice_buf_puts(b, t->qual);
    sluice_buf_puts(b, " (");
    column_list(b, m, NULL);
    sluice_buf_puts(b, ") SELECT ");
    /* ON CONFLICT DO UPDATE may touch a row only once per statement: the
     * batch's last row for a key wins, as it would have row by row. */
    if (c == TS_CONFLICT_UPDATE) {
        sluice_buf_puts(b, "DISTINCT ON (");
        pk_list(b, m);
        sluice_buf_puts(b, ") ");
    }
    column_list(b, m, NULL);
    sluice_buf_puts(b, " FROM ");
    staging_name(b, t);
    if (ranged)
        sluice_buf_puts(b, " WHERE " TS_ORD_COLUMN " >= $1 AND " TS_ORD_COLUMN " < $2");
    if (c == TS_CONFLICT_UPDATE) {
        sluice_buf_puts(b, " ORDER BY ");
        pk_list(b, m);
        sluice_buf_puts(b, ", " TS_ORD_COLUMN " DESC ON CONFLICT (");
        pk_list(b, m);
        sluice_buf_puts(b, ") DO ");
        int any = 0;
        for (size_t i = 0; i < m->n; i++) {
            if (m->t[i].col->in_pk)
                continue;
            sluice_buf_puts(b, any ? ", " : "UPDATE SET ");
            any = 1;
            ts_sql_ident(b, m->t[i].col->name);
            sluice_buf_puts(b, " = EXCLUDED.");
            ts_sql_ident(b, m->t[i].col->name);
        }
        if (!any)
            sluice_buf_puts(b, "NOTHING");
    } else {
        /* No conflict target: any unique index (the primary key first of
         * all) turns a replayed row into a skipped one. */
        sluice_buf_puts(b, " ON CONFLICT DO NOTHING");
    }
}

void ts_sql_create_table(sluice_buf *b, const char *schema, const char *name,
                         const char *const *cols, const char *const *types, size_t n,
                         const char *const *pk, size_t n_pk)
{
    sluice_buf_puts(b, "CREATE TABLE IF NOT EXISTS ");
    if (schema) {
        ts_sql_ident(b, schema);
        sluice_buf_putc(b, '.');
    }
    ts_sql_ident(b, name);
    sluice_buf_puts(b, " (");
    for (size_t i = 0; i < n; i++) {
        if (i)
            sluice_buf_puts(b, ", ");
        ts_sql_ident(b, cols[i]);
        sluice_buf_putc(b, ' ');
        sluice_buf_puts(b, types[i]);
    }
    if (n_pk) {
        sluice_buf_puts(b, ", PRIMARY KEY (");
        for (size_t i = 0; i < n_pk; i++) {
            if (i)
                sluice_buf_puts(b, ", ");
            ts_sql_ident(b, pk[i]);
        }
        sluice_buf_putc(b, ')');
    }
    sluice_buf_putc(b, ')');
}
