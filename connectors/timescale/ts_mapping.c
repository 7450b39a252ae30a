/* Which field feeds which column.  Given as `columns` (column: field), or
 * else taken from the table: every writable column is fed by the field of
 * the same name.  Columns that have a default are left to it unless the
 * first record carries their field, because COPY cannot fall back to a
 * column's default row by row. */
#include "ts_sink.h"
#include "ts_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ts_mapping_free(ts_mapping *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->t[i].field);
    free(m->t);
    memset(m, 0, sizeof *m);
}

static int add_target(ts_mapping *m, const ts_column *c, const char *field, char *err)
{
    m->t[m->n].col = c;
    m->t[m->n].field = strdup(field);
    m->t[m->n].hint = (uint32_t)m->n;
    if (!m->t[m->n].field) {
        snprintf(err, SLUICE_ERRLEN, "timescale: out of memory");
        return -1;
    }
    m->n++;
    return 0;
}

/* Checks that hold whichever way the mapping was made. */
static int check_mapping(ts_sink *s, char *err)
{
    ts_mapping *m = &s->map;
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->t[i].col->name, TS_ORD_COLUMN) == 0) {
            snprintf(err, SLUICE_ERRLEN, "timescale: table %s has a column named \"%s\", "
                     "which the sink reserves for its staging table", s->table.display,
                     TS_ORD_COLUMN);
            return -1;
        }
    }
    if (s->conflict != TS_CONFLICT_UPDATE)
        return 0;
    if (!s->table.n_pk) {
        snprintf(err, SLUICE_ERRLEN, "timescale: conflict: update needs a primary key on "
                 "table %s, and it has none", s->table.display);
        return -1;
    }
    for (size_t c = 0; c < s->table.n_cols; c++) {
        const ts_column *col = &s->table.cols[c];
        if (!col->in_pk)
            continue;
        size_t i = 0;
        while (i < m->n && m->t[i].col != col)
            i++;
        if (i == m->n) {
            snprintf(err, SLUICE_ERRLEN, "timescale: conflict: update needs every primary "
                     "key column written, and column \"%s\" of table %s is not mapped",
                     col->name, s->table.display);
            return -1;
        }
    }
    return 0;
}

int ts_mapping_from_config(ts_sink *s, char *err)
{
    const sluice_api *api = s->api;
    size_t n = api->cfg_map_len(s->cfg, "columns");
    if (n == 0)
        return 0;   /* resolved from the first record */
    s->map.t = calloc(n, sizeof *s->map.t);
    if (!s->map.t) {
        snprintf(err, SLUICE_ERRLEN, "timescale: out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *col = api->cfg_map_key(s->cfg, "columns", i);
        const char *field = api->cfg_map_value(s->cfg, "columns", i);
        const ts_column *c = ts_table_column(&s->table, col);
        if (!c) {
            snprintf(err, SLUICE_ERRLEN, "timescale: columns: table %s has no column \"%s\"",
                     s->table.display, col);
            return -1;
        }
        if (!c->writable) {
            snprintf(err, SLUICE_ERRLEN, "timescale: columns: column \"%s\" of table %s is "
                     "generated or an identity column ALWAYS and cannot be written",
                     col, s->table.display);
            return -1;
        }
        for (size_t j = 0; j < s->map.n; j++) {
            if (s->map.t[j].col == c) {
                snprintf(err, SLUICE_ERRLEN, "timescale: columns: column \"%s\" is mapped "
                         "twice", col);
                return -1;
            }
        }
        if (!field || !field[0]) {
            snprintf(err, SLUICE_ERRLEN, "timescale: columns: column \"%s\" needs a field "
                     "name", col);
            return -1;
        }
        if (add_target(&s->map, c, field, err))
            return -1;
    }
    if (check_mapping(s, err) || ts_mapping_build_sql(s, err))
        return -1;
    s->map_resolved = 1;
    return 0;
}

int ts_mapping_from_record(ts_sink *s, const sluice_record *r, char *err)
{
    const ts_table *t = &s->table;
    ts_mapping_free(&s->map);   /* a failed first write may have left one */
    s->map.t = calloc(t->n_cols + 1, sizeof *s->map.t);
    if (!s->map.t) {
        snprintf(err, SLUICE_ERRLEN, "timescale: out of memory");
        return -1;
    }
    size_t matched = 0;
    sluice_buf cols = {0}, stray = {0};
    for (size_t c = 0; c < t->n_cols; c++) {
        const ts_column *col = &t->cols[c];
        int has = sluice_field_get(r, col->name) != NULL;
        if (!col->writable || (col->has_default && !has))
            continue;
        matched += has;
        if (add_target(&s->map, col, col->name, err)) {
            sluice_buf_free(&cols);
            return -1;
        }
        sluice_buf_puts(&cols, cols.len ? ", " : "");
        sluice_buf_puts(&cols, col->name);
        if (!has)
            sluice_buf_puts(&cols, " (no such field yet: NULL)");
    }
    for (uint32_t i = 0; i < r->n_fields; i++) {
        if (ts_table_column(t, r->fields[i].name))
            continue;
        sluice_buf_puts(&stray, stray.len ? ", " : "");
        sluice_buf_puts(&stray, r->fields[i].name);
    }
    int rc = 0;
    if (!matched) {
        snprintf(err, SLUICE_ERRLEN, "timescale: no field of the first record names a column "
                 "of table %s (fields: %s); map them with `columns`", t->display,
                 sluice_buf_cstr(&stray) && stray.len ? stray.p : "none");
        rc = -1;
    } else if (check_mapping(s, err) || ts_mapping_build_sql(s, err)) {
        rc = -1;
    } else {
        s->api->log(s->ctx, SLUICE_LOG_INFO, "timescale: writing columns %s of table %s from "
                    "the fields of the same name", sluice_buf_cstr(&cols) ? cols.p : "?",
                    t->display);
        if (stray.len && sluice_buf_cstr(&stray))
            s->api->log(s->ctx, SLUICE_LOG_WARN, "timescale: fields with no column in table "
                        "%s are not written: %s", t->display, stray.p);
        s->map_resolved = 1;
    }
    sluice_buf_free(&cols);
    sluice_buf_free(&stray);
    return rc;
}

static char *build(sluice_buf *b)
{
    const char *s = sluice_buf_cstr(b);
    char *d = s ? strdup(s) : NULL;
    sluice_buf_reset(b);
    return d;
}

int ts_mapping_build_sql(ts_sink *s, char *err)
{
    sluice_buf b = {0};
    int staging = s->conflict != TS_CONFLICT_ERROR;
    for (int st = 0; st < 2; st++) {
        for (int bin = 0; bin < 2; bin++) {
            ts_sql_copy(&b, &s->table, &s->map, st, bin);
            s->sql_copy[st][bin] = build(&b);
        }
    }
    if (staging) {
        ts_sql_insert(&b, &s->table, &s->map, s->conflict, 0);
        s->sql_insert = build(&b);
        ts_sql_insert(&b, &s->table, &s->map, s->conflict, 1);
        s->sql_insert_range = build(&b);
    }
    sluice_buf_free(&b);
    if (!s->sql_copy[0][0] || !s->sql_copy[0][1] || !s->sql_copy[1][0] || !s->sql_copy[1][1] ||
        (staging && (!s->sql_insert || !s->sql_insert_range))) {
        snprintf(err, SLUICE_ERRLEN, "timescale: out of memory");
        return -1;
    }
    return 0;
}
