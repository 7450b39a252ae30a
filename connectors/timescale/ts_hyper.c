/* Only documented TimescaleDB 2.x calls.  A restart compares what is there
 * with what the options ask and changes only what differs, saying so in the
 * log; options not given leave the table's settings alone (someone may
 * manage them by hand). */
#include "ts_hyper.h"
#include "ts_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ts_hyper_interval_text(char *out, size_t len, int64_t ms)
{
    static const struct { int64_t ms; const char *unit; } u[] = {
        {86400000, "day"}, {3600000, "hour"}, {60000, "minute"}, {1000, "second"}, {1, "millisecond"}};
    if (ms < 0) {
        snprintf(out, len, "none");
        return;
    }
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
        if (ms % u[i].ms == 0 || u[i].ms == 1) {
            long long n = (long long)(ms / u[i].ms);
            snprintf(out, len, "%lld %s%s", n, u[i].unit, n == 1 ? "" : "s");
            return;
        }
    }
}

/* In the largest whole unit, so the catalog shows "3 days", not "72:00:00". */
static void interval_param(char *out, size_t len, int64_t ms)
{
    ts_hyper_interval_text(out, len, ms);
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

static int is_time_kind(ts_kind k)
{
    return k == TS_K_TIMESTAMPTZ || k == TS_K_TIMESTAMP || k == TS_K_DATE;
}

const ts_column *ts_hyper_time_column(const ts_table *t, const char *opt, char *err,
                                      size_t errlen)
{
    if (opt && opt[0]) {
        const ts_column *tc = ts_table_column(t, opt);
        if (!tc) {
            snprintf(err, errlen, "timescale: time_column: table %s has no column \"%s\"",
                     t->display, opt);
            return NULL;
        }
        if (!is_time_kind(tc->kind)) {
            snprintf(err, errlen, "timescale: time_column \"%s\" of table %s is %s; the sink "
                     "makes hypertables on timestamptz, timestamp or date columns", opt,
                     t->display, tc->type);
            return NULL;
        }
        if (t->n_pk && !tc->in_pk) {
            snprintf(err, errlen, "timescale: TimescaleDB needs the primary key of a "
                     "hypertable to include its time column \"%s\", and the key of table %s "
                     "does not (add it, or set hypertable: false)", opt, t->display);
            return NULL;
        }
        return tc;
    }
    const ts_column *best = NULL;
    int best_pos = 0;
    for (size_t i = 0; i < t->n_cols; i++) {
        const ts_column *c = &t->cols[i];
        int pos = c->pk_pos > 0 ? c->pk_pos : (int)i + 1;
        if (c->in_pk && c->kind == TS_K_TIMESTAMPTZ && (!best || pos < best_pos)) {
            best = c;
            best_pos = pos;
        }
    }
    if (!best)
        snprintf(err, errlen, "timescale: hypertable: true, but the primary key of table %s "
                 "has no timestamptz column to partition by: name one with time_column (it "
                 "must be in the key), or set hypertable: false", t->display);
    return best;
}

/* Each series (the key without its time) compresses as one segment,
 * newest first: the layout TimescaleDB recommends for keys like
 * iot_measurements'. */
static int enable_compression(ts_hyper_plan *p, const ts_table *t, const ts_column *tc,
                              sluice_buf *b)
{
    sluice_buf seg = {0}, ord = {0};
    for (size_t i = 0; i < t->n_cols; i++) {
        if (!t->cols[i].in_pk || !strcmp(t->cols[i].name, tc->name))
            continue;
        if (seg.len)
            sluice_buf_puts(&seg, ", ");
        ts_sql_ident(&seg, t->cols[i].name);
    }
    ts_sql_ident(&ord, tc->name);
    sluice_buf_puts(&ord, " DESC");
    sluice_buf_puts(b, "ALTER TABLE ");
    sluice_buf_puts(b, t->qual);
    sluice_buf_puts(b, " SET (timescaledb.compress, timescaledb.compress_orderby = ");
    ts_sql_literal(b, sluice_buf_cstr(&ord) ? ord.p : "");
    if (seg.len && sluice_buf_cstr(&seg)) {
        sluice_buf_puts(b, ", timescaledb.compress_segmentby = ");
        ts_sql_literal(b, seg.p);
    }
    sluice_buf_putc(b, ')');
    int bad = seg.oom || ord.oom;
    ts_hyper_step *st = bad ? NULL : add(p, "enable compression", b);
    if (st)
        ts_fmt(st->change, sizeof st->change, "compression enabled (segmentby %s, orderby %s)",
               seg.len ? seg.p : "none", ord.p);
    sluice_buf_free(&seg);
    sluice_buf_free(&ord);
    return st ? 0 : -1;
}

/* remove_*_policy then add_*_policy: TimescaleDB has no "alter policy". */
static int policy(ts_hyper_plan *p, const ts_table *t, sluice_buf *b, const char *kind,
                  const char *label, int64_t want, int64_t have)
{
    if (want <= 0 || want == have)
        return 0;
    ts_hyper_step *st;
    if (have >= 0) {
        sluice_buf_puts(b, "SELECT remove_");
        sluice_buf_puts(b, kind);
        sluice_buf_puts(b, "_policy($1::regclass, if_exists => TRUE)");
        if (!(st = add(p, kind, b)))
            return -1;
        snprintf(st->params[0], sizeof st->params[0], "%s", t->qual);
        st->n_params = 1;
    }
    sluice_buf_puts(b, "SELECT add_");
    sluice_buf_puts(b, kind);
    sluice_buf_puts(b, "_policy($1::regclass, $2::interval, if_not_exists => TRUE)");
    if (!(st = add(p, kind, b)))
        return -1;
    snprintf(st->params[0], sizeof st->params[0], "%s", t->qual);
    interval_param(st->params[1], sizeof st->params[1], want);
    st->n_params = 2;
    char w[48], h[48];
    ts_hyper_interval_text(w, sizeof w, want);
    ts_hyper_interval_text(h, sizeof h, have);
    snprintf(st->change, sizeof st->change, "%s %s (was: %s)", label, w, h);
    return 0;
}

int ts_hyper_plan_build(ts_hyper_plan *p, const ts_table *t, const ts_hyper_conf *c,
                        const ts_hyper_state *hs, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    const ts_column *tc = hs->is_hyper ? ts_table_column(t, hs->time_column)
                                       : ts_hyper_time_column(t, c->time_column, err, errlen);
    if (!tc) {
        if (hs->is_hyper)
            snprintf(err, errlen, "timescale: hypertable %s: its time dimension \"%s\" is not "
                     "one of its columns", t->display, hs->time_column);
        return -1;
    }
    sluice_buf b = {0};
    ts_hyper_step *st;
    char a[48], was[48];
    if (!hs->is_hyper) {
        sluice_buf_puts(&b, "SELECT create_hypertable($1::regclass, $2::name");
        if (c->chunk_ms > 0)
            sluice_buf_puts(&b, ", chunk_time_interval => $3::interval");
        sluice_buf_puts(&b, ", if_not_exists => TRUE, migrate_data => TRUE");
        /* TimescaleDB's default index on (time DESC) duplicates a primary
         * key that starts with the time column, and costs every insert. */
        if (tc->pk_pos == 1)
            sluice_buf_puts(&b, ", create_default_indexes => FALSE");
        sluice_buf_putc(&b, ')');
        if (!(st = add(p, "create_hypertable", &b)))
            goto oom;
        snprintf(st->params[0], sizeof st->params[0], "%s", t->qual);
        snprintf(st->params[1], sizeof st->params[1], "%s", tc->name);
        st->n_params = 2;
        if (c->chunk_ms > 0)
            interval_param(st->params[st->n_params++], sizeof st->params[0], c->chunk_ms);
        ts_hyper_interval_text(a, sizeof a, c->chunk_ms > 0 ? c->chunk_ms : 7 * 86400000LL);
        snprintf(st->change, sizeof st->change, "converted into a hypertable on \"%s\", "
                 "chunk_interval %s", tc->name, a);
    } else if (c->chunk_ms > 0 && c->chunk_ms != hs->chunk_ms) {
        sluice_buf_puts(&b, "SELECT set_chunk_time_interval($1::regclass, $2::interval)");
        if (!(st = add(p, "set_chunk_time_interval", &b)))
            goto oom;
        snprintf(st->params[0], sizeof st->params[0], "%s", t->qual);
        interval_param(st->params[1], sizeof st->params[1], c->chunk_ms);
        st->n_params = 2;
        ts_hyper_interval_text(a, sizeof a, c->chunk_ms);
        ts_hyper_interval_text(was, sizeof was, hs->chunk_ms);
        snprintf(st->change, sizeof st->change, "chunk_interval %s (was: %s; applies to "
                 "chunks created from now on)", a, was);
    }
    if (c->compress_ms > 0 && !hs->compressed && enable_compression(p, t, tc, &b))
        goto oom;
    if (policy(p, t, &b, "compression", "compression policy: compress chunks older than",
               c->compress_ms, hs->is_hyper ? hs->compress_ms : -1) ||
        policy(p, t, &b, "retention", "retention policy: drop chunks older than", c->retain_ms,
               hs->is_hyper ? hs->retain_ms : -1))
        goto oom;
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

/* Intervals in milliseconds; -1 where there is none (or it is not a time
 * interval: integer time dimensions). */
static const char SQL_STATE[] =
    "SELECT h.compression_enabled, d.column_name, "
    "COALESCE((extract(epoch FROM d.time_interval) * 1000)::int8, -1), "
    "COALESCE((SELECT (extract(epoch FROM (j.config->>'compress_after')::interval) * 1000)::int8 "
    "  FROM timescaledb_information.jobs j WHERE j.proc_name = 'policy_compression' "
    "  AND j.hypertable_schema = h.hypertable_schema AND j.hypertable_name = h.hypertable_name "
    "  AND jsonb_typeof(j.config->'compress_after') = 'string' LIMIT 1), -1), "
    "COALESCE((SELECT (extract(epoch FROM (j.config->>'drop_after')::interval) * 1000)::int8 "
    "  FROM timescaledb_information.jobs j WHERE j.proc_name = 'policy_retention' "
    "  AND j.hypertable_schema = h.hypertable_schema AND j.hypertable_name = h.hypertable_name "
    "  AND jsonb_typeof(j.config->'drop_after') = 'string' LIMIT 1), -1) "
    "FROM timescaledb_information.hypertables h "
    "LEFT JOIN timescaledb_information.dimensions d ON d.hypertable_schema = "
    "h.hypertable_schema AND d.hypertable_name = h.hypertable_name AND d.dimension_number = 1 "
    "WHERE h.hypertable_schema = $1 AND h.hypertable_name = $2";

static const char SQL_NAMES[] =
    "SELECT conname::text FROM pg_constraint WHERE conrelid = $1::regclass UNION "
    "SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
    "WHERE i.indrelid = $1::regclass";

static sluice_status read_state(ts_sink *s, ts_hyper_state *hs, char *err)
{
    ts_pgerr e;
    const char *p[] = {s->table.schema, s->table.name};
    PGresult *r = ts_query(s, SQL_STATE, 2, p, &e);
    if (!r) {
        ts_pgerr_format(&e, "reading TimescaleDB's hypertables", err, SLUICE_ERRLEN);
        return e.cls == TS_E_RETRY ? SLUICE_RETRY : SLUICE_ERR;
    }
    memset(hs, 0, sizeof *hs);
    hs->chunk_ms = hs->compress_ms = hs->retain_ms = -1;
    if (PQntuples(r) > 0) {
        hs->is_hyper = 1;
        hs->compressed = PQgetvalue(r, 0, 0)[0] == 't';
        snprintf(hs->time_column, sizeof hs->time_column, "%s", PQgetvalue(r, 0, 1));
        hs->chunk_ms = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
        hs->compress_ms = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
        hs->retain_ms = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
    }
    PQclear(r);
    return SLUICE_OK;
}

/* The names its chunks' errors are rewritten back to. */
static sluice_status read_names(ts_sink *s, char *err)
{
    ts_pgerr e;
    const char *p[] = {s->table.qual};
    PGresult *r = ts_query(s, SQL_NAMES, 1, p, &e);
    if (!r) {
        ts_pgerr_format(&e, "reading the table's constraints", err, SLUICE_ERRLEN);
        return e.cls == TS_E_RETRY ? SLUICE_RETRY : SLUICE_ERR;
    }
    sluice_buf_reset(&s->own_names);
    for (int i = 0; i < PQntuples(r); i++)
        sluice_buf_put(&s->own_names, PQgetvalue(r, i, 0), strlen(PQgetvalue(r, i, 0)) + 1);
    PQclear(r);
    if (s->own_names.oom) {
        snprintf(err, SLUICE_ERRLEN, "timescale: out of memory");
        return SLUICE_ERR;
    }
    return SLUICE_OK;
}

sluice_status ts_hyper_setup(ts_sink *s, char *summary, size_t len, char *err)
{
    const sluice_api *api = s->api;
    ts_hyper_state hs;
    sluice_status rc = read_state(s, &hs, err);
    if (rc != SLUICE_OK)
        return rc;
    const ts_hyper_conf *c = &s->hyper;
    if (!hs.is_hyper && !s->want_hypertable) {
        if (c->chunk_ms > 0 || c->compress_ms > 0 || c->retain_ms > 0) {
            snprintf(err, SLUICE_ERRLEN, "timescale: chunk_interval, compress_after and retain "
                     "apply to hypertables, and table %s is a plain table; the sink converts a "
                     "table only when asked: set hypertable: true to make it one (existing rows "
                     "move into chunks), or remove those options", s->table.display);
            return SLUICE_ERR;
        }
        snprintf(summary, len, "writing to a plain table %s (not a hypertable; "
                 "hypertable: true would convert it)", s->table.display);
        return SLUICE_OK;
    }
    if (hs.is_hyper && c->time_column && c->time_column[0] &&
        strcmp(c->time_column, hs.time_column))
        api->log(s->ctx, SLUICE_LOG_WARN, "timescale: time_column \"%s\" ignored: table %s is "
                 "already a hypertable on \"%s\"", c->time_column, s->table.display,
                 hs.time_column);
    ts_hyper_plan plan;
    if (ts_hyper_plan_build(&plan, &s->table, c, &hs, err, SLUICE_ERRLEN))
        return SLUICE_ERR;
    for (size_t i = 0; i < plan.n; i++) {
        const ts_hyper_step *st = &plan.step[i];
        const char *params[3] = {st->params[0], st->params[1], st->params[2]};
        ts_pgerr e;
        PGresult *r = ts_query(s, st->sql, st->n_params, params, &e);
        if (!r) {
            char what[160];
            snprintf(what, sizeof what, "TimescaleDB %s on table %s", st->what,
                     s->table.display);
            ts_pgerr_format(&e, what, err, SLUICE_ERRLEN);
            int convert = !strcmp(st->what, "create_hypertable");
            char tcol[192];
            snprintf(tcol, sizeof tcol, "%s", st->params[1]);
            ts_hyper_plan_free(&plan);
            if (convert && !strcmp(e.sqlstate, "57014")) {
                /* Moving a large table's rows into chunks outlasts the
                 * timeout every time: retrying would never end. */
                size_t l = strlen(err);
                ts_fmt(err + l, SLUICE_ERRLEN - l, "; converting its existing rows takes "
                       "longer than statement_timeout: convert it once by hand (SELECT "
                       "create_hypertable('%s', '%s', migrate_data => true) with "
                       "statement_timeout = 0), or raise the sink's statement_timeout",
                       s->table.display, tcol);
                return SLUICE_ERR;
            }
            return e.cls == TS_E_RETRY ? SLUICE_RETRY : SLUICE_ERR;
        }
        PQclear(r);
        if (st->change[0])
            api->log(s->ctx, SLUICE_LOG_INFO, "timescale: table %s: %s", s->table.display,
                     st->change);
    }
    ts_hyper_plan_free(&plan);
    if ((rc = read_state(s, &hs, err)) != SLUICE_OK || (rc = read_names(s, err)) != SLUICE_OK)
        return rc;
    s->is_hyper = 1;
    char ci[48], ca[48], ra[48];
    ts_hyper_interval_text(ci, sizeof ci, hs.chunk_ms);
    ts_hyper_interval_text(ca, sizeof ca, hs.compress_ms);
    ts_hyper_interval_text(ra, sizeof ra, hs.retain_ms);
    snprintf(summary, len, "table %s is a hypertable on \"%s\" (chunk_interval %s, compress "
             "after %s, retain %s)", s->table.display, hs.time_column, ci, ca, ra);
    return SLUICE_OK;
}
