/* Kept deliberately small: only documented TimescaleDB 2.x calls, each
 * idempotent (if_not_exists), so a restart re-runs them harmlessly. */
#include "ts_hyper.h"
#include "ts_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void interval(char *out, size_t len, int64_t ms)
{
    snprintf(out, len, "%lld milliseconds", (long long)ms);
}

static ts_hyper_step *add(ts_hyper_plan *p, const char *what, sluice_buf *sql)
{
    ts_hyper_step *st = &p->step[p->n];
    memset(st, 0, sizeof *st);
    st->what = what;
    st->sql = sluice_buf_cstr(sql) ? strdup(sql->p) : NULL;
    sluice_buf_reset(sql);
    if (!st->sql)
        return NULL;
    p->n++;
    return st;
}

int ts_hyper_plan_build(ts_hyper_plan *p, const ts_table *t, const ts_hyper_conf *c,
                        int is_hyper, int compressed, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    const ts_column *tc = ts_table_column(t, c->time_column);
    if (!tc) {
        snprintf(err, errlen, "timescale: time_column: table %s has no column \"%s\"",
                 t->display, c->time_column);
        return -1;
    }
    if (tc->kind != TS_K_TIMESTAMPTZ && tc->kind != TS_K_TIMESTAMP && tc->kind != TS_K_DATE) {
        snprintf(err, errlen, "timescale: time_column \"%s\" of table %s is %s; the sink "
                 "makes hypertables on timestamptz, timestamp or date columns (or set "
                 "hypertable: false)", c->time_column, t->display, tc->type);
        return -1;
    }
    if (!is_hyper && t->n_pk && !tc->in_pk) {
        snprintf(err, errlen, "timescale: TimescaleDB needs the primary key of a hypertable "
                 "to include its time column \"%s\", and the key of table %s does not (add "
                 "it, or set hypertable: false)", c->time_column, t->display);
        return -1;
    }
    sluice_buf b = {0};
    ts_hyper_step *st;
    if (!is_hyper) {
        sluice_buf_puts(&b, "SELECT create_hypertable($1::regclass, $2::name");
        if (c->chunk_ms > 0)
            sluice_buf_puts(&b, ", chunk_time_interval => $3::interval");
        sluice_buf_puts(&b, ", if_not_exists => TRUE, migrate_data => TRUE)");
        if (!(st = add(p, "create_hypertable", &b)))
            goto oom;
        snprintf(st->params[0], sizeof st->params[0], "%s", t->qual);
        snprintf(st->params[1], sizeof st->params[1], "%s", c->time_column);
        st->n_params = 2;
        if (c->chunk_ms > 0)
            interval(st->params[st->n_params++], sizeof st->params[0], c->chunk_ms);
    }
    if (c->compress_ms > 0) {
        if (!compressed) {
            /* Each series (the key without its time) compresses as one
             * segment, newest first: the layout TimescaleDB recommends for
             * a key like iot_measurements'. */
            sluice_buf seg = {0}, ord = {0};
            for (size_t i = 0; i < t->n_cols; i++) {
                if (!t->cols[i].in_pk || &t->cols[i] == tc)
                    continue;
                if (seg.len)
                    sluice_buf_puts(&seg, ", ");
                ts_sql_ident(&seg, t->cols[i].name);
            }
            ts_sql_ident(&ord, c->time_column);
            sluice_buf_puts(&ord, " DESC");
            sluice_buf_puts(&b, "ALTER TABLE ");
            sluice_buf_puts(&b, t->qual);
            sluice_buf_puts(&b, " SET (timescaledb.compress, timescaledb.compress_orderby = ");
            ts_sql_literal(&b, sluice_buf_cstr(&ord) ? ord.p : "");
            if (seg.len && sluice_buf_cstr(&seg)) {
                sluice_buf_puts(&b, ", timescaledb.compress_segmentby = ");
                ts_sql_literal(&b, seg.p);
            }
            sluice_buf_putc(&b, ')');
            int bad = seg.oom || ord.oom;
            sluice_buf_free(&seg);
            sluice_buf_free(&ord);
            if (bad || !add(p, "enable compression", &b))
                goto oom;
        }
        sluice_buf_puts(&b, "SELECT add_compression_policy($1::regclass, $2::interval, "
                        "if_not_exists => TRUE)");
        if (!(st = add(p, "add_compression_policy", &b)))
            goto oom;
        snprintf(st->params[0], sizeof st->params[0], "%s", t->qual);
        interval(st->params[1], sizeof st->params[1], c->compress_ms);
        st->n_params = 2;
    }
    if (c->retain_ms > 0) {
        sluice_buf_puts(&b, "SELECT add_retention_policy($1::regclass, $2::interval, "
                        "if_not_exists => TRUE)");
        if (!(st = add(p, "add_retention_policy", &b)))
            goto oom;
        snprintf(st->params[0], sizeof st->params[0], "%s", t->qual);
        interval(st->params[1], sizeof st->params[1], c->retain_ms);
        st->n_params = 2;
    }
    sluice_buf_free(&b);
    return 0;
oom:
    sluice_buf_free(&b);
    ts_hyper_plan_free(p);
    snprintf(err, errlen, "timescale: out of memory");
    return -1;
}

void ts_hyper_plan_free(ts_hyper_plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->step[i].sql);
    p->n = 0;
}

static const char SQL_STATE[] =
    "SELECT compression_enabled FROM timescaledb_information.hypertables "
    "WHERE hypertable_schema = $1 AND hypertable_name = $2";

sluice_status ts_hyper_setup(ts_sink *s, char *summary, size_t len, char *err)
{
    ts_pgerr e;
    const char *p[] = {s->table.schema, s->table.name};
    PGresult *r = ts_query(s, SQL_STATE, 2, p, &e);
    if (!r) {
        ts_pgerr_format(&e, "reading TimescaleDB's hypertables", err, SLUICE_ERRLEN);
        return e.cls == TS_E_RETRY ? SLUICE_RETRY : SLUICE_ERR;
    }
    int is_hyper = PQntuples(r) > 0;
    int compressed = is_hyper && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    ts_hyper_plan plan;
    if (ts_hyper_plan_build(&plan, &s->table, &s->hyper, is_hyper, compressed, err,
                            SLUICE_ERRLEN))
        return SLUICE_ERR;
    for (size_t i = 0; i < plan.n; i++) {
        const ts_hyper_step *st = &plan.step[i];
        const char *params[3] = {st->params[0], st->params[1], st->params[2]};
        r = ts_query(s, st->sql, st->n_params, params, &e);
        if (!r) {
            char what[96];
            snprintf(what, sizeof what, "TimescaleDB %s", st->what);
            ts_pgerr_format(&e, what, err, SLUICE_ERRLEN);
            ts_hyper_plan_free(&plan);
            return e.cls == TS_E_RETRY ? SLUICE_RETRY : SLUICE_ERR;
        }
        PQclear(r);
    }
    snprintf(summary, len, "%s a hypertable on \"%s\"%s%s",
             is_hyper ? "is" : "is now", s->hyper.time_column,
             s->hyper.compress_ms > 0 ? ", compression policy set" : "",
             s->hyper.retain_ms > 0 ? ", retention policy set" : "");
    ts_hyper_plan_free(&plan);
    return SLUICE_OK;
}
