/* The `timescale` sink plugin: options, init (connect, read the table,
 * TimescaleDB setup) and the callbacks the host calls. */
#include "ts_hyper.h"
#include "ts_sink.h"
#include "ts_sql.h"

#include <stdio.h>
#include <sluice/sluice_util.h>
#include <stdlib.h>
#include <string.h>

static const sluice_option ts_options[] = {
    {"dsn", SLUICE_OPT_SECRET, SLUICE_OPT_REQUIRED, NULL,
     "libpq connection string or URI (host=... dbname=... or postgresql://...)", NULL, NULL, NULL},
    {"table", SLUICE_OPT_STRING, SLUICE_OPT_REQUIRED, NULL,
     "target table, optionally schema-qualified (public.iot_measurements)", NULL, NULL, NULL},
    {"columns", SLUICE_OPT_MAP, 0, NULL,
     "column: field; default: each column of the table from the field of the same name",
     NULL, NULL, NULL},
    {"conflict", SLUICE_OPT_STRING, 0, "ignore",
     "on a duplicate key: ignore (skip, replays are harmless), error (fail the row), "
     "update (overwrite)", "ignore|error|update", NULL, NULL},
    {"create_table", SLUICE_OPT_BOOL, 0, "false",
     "create the table if missing, from column_types and primary_key", NULL, NULL, NULL},
    {"column_types", SLUICE_OPT_MAP, 0, NULL,
     "column: SQL type, in table order, for create_table", NULL, NULL, NULL},
    {"primary_key", SLUICE_OPT_LIST, 0, NULL, "primary key columns, for create_table",
     NULL, NULL, NULL},
    {"hypertable", SLUICE_OPT_BOOL, 0, "false",
     "with TimescaleDB, convert a plain table into a hypertable on time_column (false: "
     "never convert)", NULL, NULL, NULL},
    {"time_column", SLUICE_OPT_STRING, 0, NULL,
     "the hypertable's time column (default: the first timestamptz column of the primary "
     "key)", NULL, NULL, NULL},
    {"chunk_interval", SLUICE_OPT_DURATION, 0, NULL,
     "hypertable chunk interval, set on every start (default: leave it; new hypertables: "
     "7 days)", NULL, NULL, NULL},
    {"compress_after", SLUICE_OPT_DURATION, 0, NULL,
     "compression policy: compress chunks older than this, set on every start", NULL, NULL, NULL},
    {"retain", SLUICE_OPT_DURATION, 0, NULL,
     "retention policy: drop chunks older than this, set on every start", NULL, NULL, NULL},
    {"connect_timeout", SLUICE_OPT_DURATION, 0, "10s", "timeout for each connection attempt",
     NULL, NULL, NULL},
    {"statement_timeout", SLUICE_OPT_DURATION, 0, "60s",
     "server-side limit for each statement (0: none); exceeding it retries the batch",
     NULL, NULL, NULL},
    {"copy_format", SLUICE_OPT_STRING, 0, "auto",
     "auto: binary COPY, text when a value needs PostgreSQL's parsing; text: always text",
     "auto|text", NULL, NULL},
    SLUICE_OPTIONS_END};

static void ts_destroy(void *inst)
{
    ts_sink *s = inst;
    if (!s)
        return;
    if (s->conn)
        PQfinish(s->conn);
    ts_mapping_free(&s->map);
    ts_table_free(&s->table);
    for (int i = 0; i < 4; i++)
        free(s->sql_copy[i / 2][i % 2]);
    free(s->sql_insert);
    free(s->sql_insert_range);
    ts_rows_free(&s->rows);
    free(s->fail_idx);
    free(s->fail_off);
    sluice_buf_free(&s->fail_text);
    free(s->stack);
    sluice_buf_free(&s->scratch);
    sluice_buf_free(&s->own_names);
    free(s);
}

static int64_t opt_ms(ts_sink *s, const char *name)
{
    return s->api->cfg_has(s->cfg, name) ? s->api->opt_int(s->cfg, name) : -1;
}

static int read_options(ts_sink *s, char *err)
{
    const sluice_api *api = s->api;
    s->dsn = api->cfg_string(s->cfg, "dsn");
    s->table_opt = api->cfg_string(s->cfg, "table");
    if (!s->dsn || !s->dsn[0] || !s->table_opt || !s->table_opt[0]) {
        snprintf(err, SLUICE_ERRLEN, "timescale: options dsn and table are required");
        return -1;
    }
    const char *c = api->cfg_string(s->cfg, "conflict");
    if (!c || !strcmp(c, "ignore"))
        s->conflict = TS_CONFLICT_IGNORE;
    else if (!strcmp(c, "error"))
        s->conflict = TS_CONFLICT_ERROR;
    else if (!strcmp(c, "update"))
        s->conflict = TS_CONFLICT_UPDATE;
    else {
        snprintf(err, SLUICE_ERRLEN, "timescale: conflict: \"%s\" is not one of ignore, "
                 "error, update", c);
        return -1;
    }
    const char *f = api->cfg_string(s->cfg, "copy_format");
    if (f && strcmp(f, "auto") && strcmp(f, "text")) {
        snprintf(err, SLUICE_ERRLEN, "timescale: copy_format: \"%s\" is not one of auto, text",
                 f);
        return -1;
    }
    s->text_only = f && !strcmp(f, "text");
    s->direct = s->conflict == TS_CONFLICT_IGNORE;
    s->create_table = api->opt_bool(s->cfg, "create_table");
    s->want_hypertable = api->opt_bool(s->cfg, "hypertable");
    s->hyper.time_column = api->cfg_string(s->cfg, "time_column");
    if (s->hyper.time_column && !s->hyper.time_column[0])
        s->hyper.time_column = NULL;
    s->hyper.chunk_ms = opt_ms(s, "chunk_interval");
    s->hyper.compress_ms = opt_ms(s, "compress_after");
    s->hyper.retain_ms = opt_ms(s, "retain");
    s->connect_timeout_ms = api->opt_int(s->cfg, "connect_timeout");
    s->statement_timeout_ms = api->opt_int(s->cfg, "statement_timeout");
    if (s->create_table && api->cfg_map_len(s->cfg, "column_types") == 0) {
        snprintf(err, SLUICE_ERRLEN, "timescale: create_table: true needs column_types "
                 "(column: SQL type) to create table %s from", s->table_opt);
        return -1;
    }
    /* Refuse a malformed dsn before anything prints it back; libpq's
     * message on it may quote part of a password, so that part is cut. */
    char *perr = NULL;
    PQconninfoOption *o = PQconninfoParse(s->dsn, &perr);
    if (!o) {
        char msg[300];
        sluice_unquote_error(msg, sizeof msg, perr ? perr : "out of memory");
        snprintf(err, SLUICE_ERRLEN,
                 "timescale: dsn: %s (quote values with spaces in single quotes)", msg);
        PQfreemem(perr);
        return -1;
    }
    PQconninfoFree(o);
    return 0;
}

static sluice_status create_table(ts_sink *s, const char *schema, const char *name, char *err)
{
    const sluice_api *api = s->api;
    size_t n = api->cfg_map_len(s->cfg, "column_types");
    size_t n_pk = api->cfg_list_len(s->cfg, "primary_key");
    const char **cols = calloc(n + 1, sizeof *cols), **types = calloc(n + 1, sizeof *types);
    const char **pk = calloc(n_pk + 1, sizeof *pk);
    sluice_status st = SLUICE_ERR;
    sluice_buf sql = {0};
    if (!cols || !types || !pk) {
        snprintf(err, SLUICE_ERRLEN, "timescale: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        cols[i] = api->cfg_map_key(s->cfg, "column_types", i);
        types[i] = api->cfg_map_value(s->cfg, "column_types", i);
    }
    for (size_t i = 0; i < n_pk; i++) {
        pk[i] = api->cfg_list_at(s->cfg, "primary_key", i);
        size_t j = 0;
        while (j < n && strcmp(cols[j], pk[i]))
            j++;
        if (j == n) {
            snprintf(err, SLUICE_ERRLEN, "timescale: primary_key: column \"%s\" is not in "
                     "column_types", pk[i]);
            goto out;
        }
    }
    ts_sql_create_table(&sql, schema, name, cols, types, n, pk, n_pk);
    ts_pgerr e;
    if (!sluice_buf_cstr(&sql)) {
        snprintf(err, SLUICE_ERRLEN, "timescale: out of memory");
        goto out;
    }
    if (ts_exec(s, sql.p, &e) != TS_E_NONE) {
        char what[160];
        snprintf(what, sizeof what, "create_table %s", s->table_opt);
        ts_pgerr_format(&e, what, err, SLUICE_ERRLEN);
        st = e.cls == TS_E_RETRY ? SLUICE_RETRY : SLUICE_ERR;
        goto out;
    }
    api->log(s->ctx, SLUICE_LOG_INFO, "timescale: created table %s%s%s", schema ? schema : "",
             schema ? "." : "", name);
    st = SLUICE_OK;
out:
    sluice_buf_free(&sql);
    free(cols);
    free(types);
    free(pk);
    return st;
}

/* Finds (or creates) the table and reads it. */
static sluice_status open_table(ts_sink *s, char *err)
{
    char *schema = NULL, *name = NULL, perr[SLUICE_ERRLEN - 16];
    if (ts_sql_parse_qualified(s->table_opt, &schema, &name, perr, sizeof perr)) {
        snprintf(err, SLUICE_ERRLEN, "timescale: %s", perr);
        return SLUICE_ERR;
    }
    sluice_buf q = {0};
    if (schema) {
        ts_sql_ident(&q, schema);
        sluice_buf_putc(&q, '.');
    }
    ts_sql_ident(&q, name);
    sluice_status st = SLUICE_ERR;
    ts_pgerr e;
    if (!sluice_buf_cstr(&q)) {
        snprintf(err, SLUICE_ERRLEN, "timescale: out of memory");
        goto out;
    }
    int found = ts_catalog_load(s, q.p, &s->table, &e, err);
    if (found == 0 && s->create_table) {
        if ((st = create_table(s, schema, name, err)) != SLUICE_OK)
            goto out;
        st = SLUICE_ERR;
        found = ts_catalog_load(s, q.p, &s->table, &e, err);
    }
    if (found < 0) {
        if (e.cls == TS_E_RETRY)
            st = SLUICE_RETRY;
        goto out;
    }
    if (found == 0) {
        snprintf(err, SLUICE_ERRLEN, "timescale: table %s does not exist in database \"%s\" "
                 "(create it, or set create_table: true with column_types and primary_key)",
                 s->table_opt, PQdb(s->conn));
        goto out;
    }
    st = SLUICE_OK;
out:
    sluice_buf_free(&q);
    free(schema);
    free(name);
    return st;
}

static sluice_status detect_timescale(ts_sink *s, char *avail, size_t len, char *err)
{
    ts_pgerr e;
    PGresult *r = ts_query(s, "SELECT (SELECT extversion FROM pg_extension WHERE extname = "
                              "'timescaledb'), (SELECT default_version FROM "
                              "pg_available_extensions WHERE name = 'timescaledb'), "
                              /* a GUC of TimescaleDB's loader, which only a preload
                               * defines (shared_preload_libraries itself is not
                               * readable by every role) */
                              "current_setting('timescaledb.bgw_launcher_poll_time', true) "
                              "IS NOT NULL", 0, NULL, &e);
    if (!r) {
        ts_pgerr_format(&e, "looking for the timescaledb extension", err, SLUICE_ERRLEN);
        return e.cls == TS_E_RETRY ? SLUICE_RETRY : SLUICE_ERR;
    }
    snprintf(s->timescale_version, sizeof s->timescale_version, "%s", PQgetvalue(r, 0, 0));
    snprintf(avail, len, "%s", PQgetvalue(r, 0, 1));
    int preloaded = PQgetvalue(r, 0, 2)[0] == 't';
    PQclear(r);
    if (s->timescale_version[0] && !preloaded) {
        /* Without the preload, TimescaleDB ends the session the moment a
         * statement needs it: every write would fail the same way. */
        snprintf(err, SLUICE_ERRLEN, "timescale: database \"%s\" has the timescaledb %s "
                 "extension, but the server does not preload it: add timescaledb to "
                 "shared_preload_libraries in postgresql.conf and restart PostgreSQL (or DROP "
                 "EXTENSION timescaledb in that database to use it as plain PostgreSQL)",
                 PQdb(s->conn), s->timescale_version);
        return SLUICE_ERR;
    }
    return SLUICE_OK;
}

static sluice_status setup(ts_sink *s, char *err)
{
    sluice_status st;
    if ((st = ts_connect(s, err)) != SLUICE_OK)
        return st;
    char avail[32];
    if ((st = detect_timescale(s, avail, sizeof avail, err)) != SLUICE_OK)
        return st;
    if ((st = open_table(s, err)) != SLUICE_OK)
        return st;
    if (s->conflict == TS_CONFLICT_UPDATE && !s->table.n_pk) {
        snprintf(err, SLUICE_ERRLEN, "timescale: conflict: update needs a primary key on "
                 "table %s, and it has none", s->table.display);
        return SLUICE_ERR;
    }
    if (ts_mapping_from_config(s, err))
        return SLUICE_ERR;
    const sluice_api *api = s->api;
    if (s->conflict != TS_CONFLICT_ERROR && !s->table.has_unique)
        api->log(s->ctx, SLUICE_LOG_WARN, "timescale: table %s has no primary key or unique "
                 "index: a replayed batch will be written twice", s->table.display);

    char pg[32];
    snprintf(pg, sizeof pg, "%d.%d", s->server_version / 10000, s->server_version % 10000);
    int policies = s->hyper.chunk_ms > 0 || s->hyper.compress_ms > 0 || s->hyper.retain_ms > 0;
    if (s->timescale_version[0]) {
        char summary[300];
        if ((st = ts_hyper_setup(s, summary, sizeof summary, err)) != SLUICE_OK)
            return st;
        api->log(s->ctx, SLUICE_LOG_INFO, "timescale: connected to PostgreSQL %s with "
                 "timescaledb %s: %s", pg, s->timescale_version, summary);
    } else {
        char hint[200] = "";
        if (avail[0])
            snprintf(hint, sizeof hint, " (timescaledb %s is available: CREATE EXTENSION "
                     "timescaledb in database \"%s\" to get hypertables)", avail,
                     PQdb(s->conn));
        api->log(s->ctx, SLUICE_LOG_INFO, "timescale: connected to PostgreSQL %s without the "
                 "timescaledb extension: writing to a plain table %s%s", pg,
                 s->table.display, hint);
        if (s->want_hypertable || policies)
            api->log(s->ctx, SLUICE_LOG_WARN, "timescale: hypertable, chunk_interval, "
                     "compress_after and retain need TimescaleDB; ignored on plain "
                     "PostgreSQL");
    }
    return SLUICE_OK;
}

static sluice_status ts_init(const sluice_init_args *a, void **inst, char *err)
{
    ts_sink *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, SLUICE_ERRLEN, "timescale: out of memory");
        return SLUICE_ERR;
    }
    s->api = a->api;
    s->ctx = a->ctx;
    s->cfg = a->cfg;
    snprintf(s->appname, sizeof s->appname, "sluice/%s", a->pipeline ? a->pipeline : "");
    const sluice_api *api = s->api;
    s->m_written = api->metric(s->ctx, SLUICE_METRIC_COUNTER,
                               "sluice_timescale_rows_written_total",
                               "Rows inserted (or updated) in the target table", NULL);
    s->m_conflicts = api->metric(s->ctx, SLUICE_METRIC_COUNTER,
                                 "sluice_timescale_conflicts_skipped_total",
                                 "Rows not written because their key was already there", NULL);
    s->m_failed = api->metric(s->ctx, SLUICE_METRIC_COUNTER,
                              "sluice_timescale_rows_failed_total",
                              "Rows PostgreSQL refused (sent to the error policy)", NULL);
    s->m_reconnects = api->metric(s->ctx, SLUICE_METRIC_COUNTER,
                                  "sluice_timescale_reconnects_total",
                                  "Connections re-established after a loss", NULL);
    s->m_seconds = api->metric(s->ctx, SLUICE_METRIC_HISTOGRAM,
                               "sluice_timescale_write_seconds",
                               "Time to write one batch durably", NULL);
    sluice_status st = read_options(s, err) ? SLUICE_ERR : setup(s, err);
    if (st != SLUICE_OK) {
        ts_destroy(s);
        return st;
    }
    *inst = s;
    return SLUICE_OK;
}

static sluice_status ts_write(void *inst, sluice_batch *b, char *err)
{
    return ts_write_batch(inst, b, err);
}

static const sluice_sink_ops ts_sink_ops = {
    .struct_size = sizeof(sluice_sink_ops),
    .options = ts_options,
    .init = ts_init,
    .write = ts_write,
    .flush = NULL,   /* every write is durable when it returns */
    .destroy = ts_destroy,
};

static const sluice_plugin ts_plugin = {
    SLUICE_PLUGIN_HEAD,
    .name = "timescale",
    .version = "0.1.0",
    .description = "PostgreSQL/TimescaleDB sink: bulk COPY, idempotent on the primary key",
    .sink = &ts_sink_ops,
};

SLUICE_PLUGIN(ts_plugin)
