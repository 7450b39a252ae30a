/* See ts_test.h. */
#include "ts_test.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void die(const char *fmt, ...) SLUICE_PRINTF(1, 2);
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FATAL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

void tt_setup(tt_env *e, const char *schema, int port)
{
    memset(e, 0, sizeof *e);
    e->api = sl_api();
    if (port <= 0) {
        const char *p = getenv("SLUICE_TEST_PG_PORT");
        if (!p || !*p)
            die("SLUICE_TEST_PG_PORT is not set: these tests need the suite's PostgreSQL "
                "(scripts/test.sh starts it)");
        port = atoi(p);
    }
    e->port = port;
    snprintf(e->dsn, sizeof e->dsn, "host=127.0.0.1 port=%d user=postgres dbname=postgres",
             port);
    e->pg = PQconnectdb(e->dsn);
    if (PQstatus(e->pg) != CONNECTION_OK)
        die("cannot reach the test PostgreSQL on 127.0.0.1:%d: %s", port,
            PQerrorMessage(e->pg));
    PQclear(PQexec(e->pg, "SET client_min_messages = warning"));
    snprintf(e->schema, sizeof e->schema, "%s", schema);
    tt_sql(e, "DROP SCHEMA IF EXISTS %s CASCADE", schema);
    tt_sql(e, "CREATE SCHEMA %s", schema);

    const char *dir = getenv("SLUICE_PLUGIN_DIR");
    if (!dir)
        die("SLUICE_PLUGIN_DIR is not set (run through ctest)");
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/timescale.so", dir);
    e->reg = sl_registry_new();
    if (sl_registry_load_file(e->reg, path, err, sizeof err))
        die("%s", err);
    const sl_plugin_entry *pe = sl_registry_find(e->reg, "timescale");
    if (!pe || !pe->desc->sink)
        die("plugin timescale has no sink");
    e->plugin = pe->desc;
    e->ops = pe->desc->sink;
}

void tt_teardown(tt_env *e)
{
    if (e->pg)
        PQfinish(e->pg);
    sl_registry_free(e->reg);
    memset(e, 0, sizeof *e);
}

static PGresult *run(tt_env *e, const char *fmt, va_list ap)
{
    char sql[8192];
    vsnprintf(sql, sizeof sql, fmt, ap);
    PGresult *r = PQexec(e->pg, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        die("SQL failed: %s\n  %s", sql, PQerrorMessage(e->pg));
    return r;
}

void tt_sql(tt_env *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PQclear(run(e, fmt, ap));
    va_end(ap);
}

const char *tt_value(tt_env *e, const char *fmt, ...)
{
    static char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    PGresult *r = run(e, fmt, ap);
    va_end(ap);
    const char *v = NULL;
    if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) {
        snprintf(buf, sizeof buf, "%s", PQgetvalue(r, 0, 0));
        v = buf;
    }
    PQclear(r);
    return v;
}

long tt_long(tt_env *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PGresult *r = run(e, fmt, ap);
    va_end(ap);
    long v = PQntuples(r) > 0 ? atol(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    return v;
}

/* ---- options ---------------------------------------------------------- */

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        die("out of memory");
    return d;
}

static void set_scalar(sl_optval *v, const char *text)
{
    free(v->str);
    v->str = xstrdup(text);
    v->set = 1;
    switch (v->opt->type) {
    case SLUICE_OPT_INT: v->i = strtoll(text, NULL, 10); break;
    case SLUICE_OPT_DOUBLE: v->d = strtod(text, NULL); break;
    case SLUICE_OPT_BOOL:
        v->i = !strcmp(text, "true") || !strcmp(text, "yes") || !strcmp(text, "on") ||
               !strcmp(text, "1");
        break;
    case SLUICE_OPT_DURATION:
        if ((v->i = sl_parse_duration_ms(text)) < 0)
            die("bad duration \"%s\" for %s", text, v->opt->name);
        break;
    case SLUICE_OPT_SIZE: v->i = sl_parse_size(text); break;
    default: break;
    }
}

static void add_item(sl_optval *v, const char *key, const char *val)
{
    v->items = realloc(v->items, (v->n_items + 1) * sizeof *v->items);
    v->values = realloc(v->values, (v->n_items + 1) * sizeof *v->values);
    if (!v->items || !v->values)
        die("out of memory");
    v->items[v->n_items] = xstrdup(key);
    v->values[v->n_items] = val ? xstrdup(val) : NULL;
    v->n_items++;
    v->set = 1;
}

sluice_config *tt_cfg(const sluice_option *opts, const char *const *kv)
{
    sluice_config *c = calloc(1, sizeof *c);
    size_t n = 0;
    while (opts[n].name)
        n++;
    c->vals = calloc(n, sizeof *c->vals);
    c->n = n;
    for (size_t i = 0; i < n; i++) {
        c->vals[i].opt = &opts[i];
        if (opts[i].def)
            set_scalar(&c->vals[i], opts[i].def);
    }
    for (size_t k = 0; kv && kv[k]; k++) {
        char name[128], key[256] = "";
        const char *eq = strchr(kv[k], '=');
        if (!eq)
            die("bad option \"%s\"", kv[k]);
        size_t nl = strcspn(kv[k], "[{=");
        snprintf(name, sizeof name, "%.*s", (int)nl, kv[k]);
        sl_optval *v = NULL;
        for (size_t i = 0; i < n; i++)
            if (!strcmp(opts[i].name, name))
                v = &c->vals[i];
        if (!v)
            die("unknown option \"%s\"", name);
        if (kv[k][nl] == '[') {
            add_item(v, eq + 1, NULL);
        } else if (kv[k][nl] == '{') {
            const char *close = strchr(kv[k], '}');
            snprintf(key, sizeof key, "%.*s", (int)(close - kv[k] - nl - 1), kv[k] + nl + 1);
            add_item(v, key, eq + 1);
        } else {
            set_scalar(v, eq + 1);
        }
    }
    return c;
}

void tt_cfg_free(sluice_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->vals[i].str);
        for (size_t j = 0; j < c->vals[i].n_items; j++) {
            free(c->vals[i].items[j]);
            free(c->vals[i].values[j]);
        }
        free(c->vals[i].items);
        free(c->vals[i].values);
    }
    free(c->vals);
    free(c);
}

/* ---- the sink ----------------------------------------------------------- */

sluice_status tt_open(tt_env *e, tt_sink *s, const char *pipeline, const char *const *kv)
{
    memset(s, 0, sizeof *s);
    s->env = e;
    const char *all[64];
    size_t n = 0;
    static char dsn_opt[300];
    int has_dsn = 0;
    for (size_t i = 0; kv && kv[i]; i++)
        has_dsn |= !strncmp(kv[i], "dsn=", 4);
    if (!has_dsn) {
        snprintf(dsn_opt, sizeof dsn_opt, "dsn=%s", e->dsn);
        all[n++] = dsn_opt;
    }
    for (size_t i = 0; kv && kv[i] && n < 63; i++)
        all[n++] = kv[i];
    all[n] = NULL;
    s->cfg = tt_cfg(e->ops->options, all);
    s->ctx = sl_ctx_new(pipeline, "sink", "timescale");
    sluice_init_args a = {.struct_size = sizeof a, .api = e->api, .cfg = s->cfg,
                          .ctx = s->ctx, .pipeline = pipeline, .instance = "sink"};
    s->err[0] = '\0';
    s->init_status = e->ops->init(&a, &s->inst, s->err);
    if (s->init_status != SLUICE_OK)
        s->inst = NULL;
    return s->init_status;
}

sluice_status tt_write(tt_sink *s, sluice_batch *b)
{
    s->err[0] = '\0';
    return s->env->ops->write(s->inst, b, s->err);
}

void tt_close(tt_sink *s)
{
    if (s->inst)
        s->env->ops->destroy(s->inst);
    sl_ctx_free(s->ctx);
    tt_cfg_free(s->cfg);
    memset(s, 0, sizeof *s);
}

double tt_metric(tt_sink *s, const char *name)
{
    /* Registering again returns the series the plugin registered. */
    sluice_metric *m = s->env->api->metric(s->ctx, SLUICE_METRIC_COUNTER, name, "", NULL);
    return sl_metric_value(m);
}

/* ---- batches ---------------------------------------------------------- */

sluice_batch *tt_batch(size_t cap)
{
    sluice_batch *b = sl_batch_new(cap, 64u << 20);
    if (!b)
        die("out of memory");
    return b;
}

sluice_record *tt_rec(sluice_batch *b)
{
    sluice_record *r = sl_api()->record_new(b);
    if (!r)
        die("batch full");
    return r;
}

static sluice_field *field(sluice_batch *b, sluice_record *r, const char *name,
                           sluice_field_type t)
{
    sluice_field *f = sl_api()->field_add(b, r, name, t);
    if (!f)
        die("field_add failed");
    return f;
}

void tt_strn(sluice_batch *b, sluice_record *r, const char *name, const char *v, size_t n)
{
    if (sl_api()->field_set_string(b, field(b, r, name, SLUICE_STRING), v, n))
        die("field_set_string failed");
}

void tt_str(sluice_batch *b, sluice_record *r, const char *name, const char *v)
{
    tt_strn(b, r, name, v, strlen(v));
}

void tt_bytes(sluice_batch *b, sluice_record *r, const char *name, const void *v, size_t n)
{
    sluice_field *f = field(b, r, name, SLUICE_BYTES);
    char *p = sl_api()->alloc(b, n ? n : 1);
    memcpy(p, v, n);
    f->v.s.ptr = p;
    f->v.s.len = n;
}

void tt_dbl(sluice_batch *b, sluice_record *r, const char *name, double v)
{
    field(b, r, name, SLUICE_DOUBLE)->v.d = v;
}

void tt_int(sluice_batch *b, sluice_record *r, const char *name, int64_t v)
{
    field(b, r, name, SLUICE_INT)->v.i = v;
}

void tt_bool(sluice_batch *b, sluice_record *r, const char *name, int v)
{
    field(b, r, name, SLUICE_BOOL)->v.b = v;
}

void tt_ts(sluice_batch *b, sluice_record *r, const char *name, int64_t us)
{
    field(b, r, name, SLUICE_TIMESTAMP)->v.ts = us;
}

void tt_null(sluice_batch *b, sluice_record *r, const char *name)
{
    field(b, r, name, SLUICE_NULL);
}

sluice_record *tt_measurement(sluice_batch *b, int64_t ts_us, const char *device,
                              const char *datapoint, double value, const char *unit)
{
    sluice_record *r = tt_rec(b);
    tt_ts(b, r, "timestamp", ts_us);
    tt_str(b, r, "device_id", device);
    tt_str(b, r, "connector_mode", "sensor-mode");
    tt_str(b, r, "component_type", "sensor");
    tt_str(b, r, "pin_position", "3");
    tt_str(b, r, "datapoint", datapoint);
    if (isnan(value))
        tt_null(b, r, "value");
    else
        tt_dbl(b, r, "value", value);
    tt_null(b, r, "value_text");
    if (unit)
        tt_str(b, r, "unit", unit);
    else
        tt_null(b, r, "unit");
    tt_str(b, r, "topic", "cmnd/f2-aabbccddeeff/sensor-mode/1/sensor-3");
    return r;
}

void tt_create_measurements(tt_env *e, const char *table)
{
    tt_sql(e,
           "CREATE TABLE %s.%s ("
           " \"timestamp\" timestamptz NOT NULL, device_id text NOT NULL,"
           " connector_mode text NOT NULL, component_type text NOT NULL,"
           " pin_position text NOT NULL DEFAULT '', datapoint text NOT NULL,"
           " value double precision, value_text text, unit text, topic text,"
           " PRIMARY KEY (\"timestamp\", device_id, connector_mode, component_type,"
           " pin_position, datapoint))",
           e->schema, table);
}

/* ---- log capture -------------------------------------------------------- */

static int saved_stderr = -1;
static FILE *capture;

void tt_capture_begin(void)
{
    fflush(stderr);
    capture = tmpfile();
    if (!capture)
        die("tmpfile failed");
    saved_stderr = dup(2);
    dup2(fileno(capture), 2);
}

const char *tt_capture_end(void)
{
    static char buf[65536];
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    rewind(capture);
    size_t n = fread(buf, 1, sizeof buf - 1, capture);
    buf[n] = '\0';
    fclose(capture);
    /* Show it anyway, so a failing test's output tells the whole story. */
    fputs(buf, stderr);
    return buf;
}

const char *tt_failure(const sluice_batch *b, size_t i)
{
    return i < b->n ? b->recs[i].failure_ : NULL;
}
