#include "f2t.h"

#include "metrics.h"
#include "tl.h"
#include "tl_pg.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *env(const char *name)
{
    return tl_env(name, "run the test through ctest (scripts/test.sh)");
}

void f2t_open(f2t *t, const char *tag, int port, int sample)
{
    memset(t, 0, sizeof *t);
    t->port = port ? port : tl_pg_port();
    snprintf(t->db, sizeof t->db, "f2t_%s_%d", tag, (int)getpid());
    PGconn *admin = tl_pg_connect(t->port, "postgres");
    tl_pg_exec(admin, "DROP DATABASE IF EXISTS %s", t->db);
    tl_pg_exec(admin, "CREATE DATABASE %s", t->db);
    PQfinish(admin);
    tl_pg_dsn(t->dsn, sizeof t->dsn, t->port, t->db);
    t->conn = tl_pg_connect(t->port, t->db);
    f2t_sql_file(t, "sql/device_params.sql");
    if (sample)
        f2t_sql_file(t, "sql/device_params_sample.sql");
    f2t_open_plugins(t);
}

void f2t_open_plugins(f2t *t)
{
    static const char *const names[] = {"f2_decode", "f2sim", NULL};
    t->reg = tl_registry(names);
    tl_registry_add(t->reg, env("F2_FIXTURE_DIR"), "f2_null_sink.so");
}

void f2t_close(f2t *t, int keep)
{
    if (t->conn)
        PQfinish(t->conn);
    t->conn = NULL;
    if (t->reg)
        sl_registry_free(t->reg);
    t->reg = NULL;
    if (!t->db[0])
        return;
    if (keep) {
        fprintf(stderr, "scratch database kept: %s\n", t->dsn);
        return;
    }
    PGconn *admin = tl_pg_connect(t->port, "postgres");
    tl_pg_exec(admin, "DROP DATABASE IF EXISTS %s WITH (FORCE)", t->db);
    PQfinish(admin);
}

void f2t_sql(f2t *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = malloc((size_t)n + 1);
    if (!s)
        tl_die("out of memory");
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    tl_pg_exec(t->conn, "%s", s);
    free(s);
}

long f2t_sql_long(f2t *t, const char *fmt, ...)
{
    char sql[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return tl_pg_long(t->conn, "%s", sql);
}

void f2t_sql_file(f2t *t, const char *relpath)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", env("SLUICE_SOURCE_DIR"), relpath);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    tl_pg_exec(t->conn, "%s", s);
    free(s);
}

/* The first message of the last refused pipeline file, so that a test of
 * an option outside its declared bounds sees why. */
static char last_refusal[SLUICE_ERRLEN];

sl_pipeline_conf *f2t_load_conf(f2t *t, const char *yaml)
{
    return tl_conf_load_text(t->reg, NULL, yaml, last_refusal, sizeof last_refusal);
}

static void add_lines(char *buf, size_t cap, const char *const *opts, const char *indent)
{
    for (size_t i = 0; opts && opts[i]; i++) {
        size_t n = strlen(buf);
        snprintf(buf + n, cap - n, "%s%s\n", indent, opts[i]);
    }
}

static int init_stage(f2t_inst *out, sl_stage_conf *sc, const char *instance)
{
    out->plugin = sc->entry->desc;
    out->init_status = tl_init(out->plugin, out->plugin->transform ? TL_TRANSFORM : TL_SOURCE,
                               sc->cfg, "f2test", instance, &out->ctx, &out->inst,
                               out->init_err);
    return out->init_status == SLUICE_OK ? 0 : -1;
}

int f2t_decoder(f2t *t, f2t_inst *out, const char *dsn, const char *const *opts)
{
    memset(out, 0, sizeof *out);
    char y[4096];
    snprintf(y, sizeof y,
             "name: f2test\nsource:\n  plugin: f2sim\ntransforms:\n  - plugin: f2_decode\n"
             "    params_dsn: \"%s\"\n",
             dsn ? dsn : t->dsn);
    add_lines(y, sizeof y, opts, "    ");
    size_t n = strlen(y);
    snprintf(y + n, sizeof y - n, "sink:\n  plugin: f2_null_sink\n");
    out->conf = f2t_load_conf(t, y);
    if (!out->conf) {
        out->init_status = SLUICE_ERR;
        snprintf(out->init_err, sizeof out->init_err, "configuration rejected: %.440s",
                 last_refusal);
        return -1;
    }
    return init_stage(out, &out->conf->transforms[0], "transform[0]");
}

int f2t_sim(f2t *t, f2t_inst *out, const char *const *opts)
{
    memset(out, 0, sizeof *out);
    char y[4096];
    snprintf(y, sizeof y, "name: f2test\nsource:\n  plugin: f2sim\n");
    add_lines(y, sizeof y, opts, "  ");
    size_t n = strlen(y);
    snprintf(y + n, sizeof y - n, "sink:\n  plugin: f2_null_sink\n");
    out->conf = f2t_load_conf(t, y);
    if (!out->conf) {
        out->init_status = SLUICE_ERR;
        snprintf(out->init_err, sizeof out->init_err, "configuration rejected: %.440s",
                 last_refusal);
        return -1;
    }
    return init_stage(out, &out->conf->source, "source");
}

void f2t_inst_free(f2t_inst *i)
{
    if (i->plugin)
        tl_destroy(i->plugin, i->plugin->transform ? TL_TRANSFORM : TL_SOURCE, i->ctx, i->inst);
    i->inst = NULL;
    i->ctx = NULL;
    if (i->conf)
        sl_conf_free(i->conf);
    i->conf = NULL;
}

sluice_status f2t_decode_rec(f2t_inst *d, const sluice_record *in, sluice_batch *out, char *err)
{
    sl_batch_reset(out);
    err[0] = '\0';
    return d->plugin->transform->process(d->inst, in, out, err);
}

sluice_status f2t_decode(f2t_inst *d, const char *topic, const char *payload,
                         sluice_batch *out, char *err)
{
    static sluice_batch *in;
    if (!in)
        in = sl_batch_new(1, 1 << 20);
    sl_batch_reset(in);
    const sluice_api *api = sl_api();
    sluice_record *r = api->record_new(in);
    api->set_value(in, r, payload, strlen(payload));
    r->origin.topic = topic ? api->strndup(in, topic, strlen(topic)) : NULL;
    return f2t_decode_rec(d, r, out, err);
}

sluice_status f2t_poll(f2t_inst *s, sluice_batch *b, int timeout_ms, char *err)
{
    sl_batch_reset(b);
    err[0] = '\0';
    return s->plugin->source->poll(s->inst, b, timeout_ms, err);
}

const sluice_record *f2t_find(const sluice_batch *out, const char *dp)
{
    for (size_t i = 0; i < out->n; i++) {
        const char *s = f2t_str(&out->recs[i], "datapoint");
        if (s && strcmp(s, dp) == 0)
            return &out->recs[i];
    }
    return NULL;
}

const char *f2t_str(const sluice_record *r, const char *field)
{
    const sluice_field *f = sluice_field_get(r, field);
    return f && f->type == SLUICE_STRING ? f->v.s.ptr : NULL;
}

int f2t_value(const sluice_record *r, double *v)
{
    const sluice_field *f = sluice_field_get(r, "value");
    if (!f)
        return -1;
    if (f->type == SLUICE_NULL)
        return 0;
    if (f->type != SLUICE_DOUBLE)
        return -1;
    *v = f->v.d;
    return 1;
}

double f2t_metric(f2t_inst *i, const char *name)
{
    return tl_metric(i->ctx, SLUICE_METRIC_COUNTER, name, NULL);
}

int f2t_meas_ok(const char *file, int line, const sluice_batch *out, const char *dp, double val,
                const char *unit)
{
    const sluice_record *r = f2t_find(out, dp);
    if (!r) {
        fprintf(stderr, "%s:%d: no measurement \"%s\" among %zu\n", file, line, dp, out->n);
        return 0;
    }
    double v = 0;
    int has = f2t_value(r, &v);
    if (isnan(val) ? has != 0 : (has != 1 || v != val)) {
        fprintf(stderr, "%s:%d: \"%s\" value %s%.17g, expected %.17g\n", file, line, dp,
                has == 1 ? "" : "NULL/", v, val);
        return 0;
    }
    const char *u = f2t_str(r, "unit");
    if ((unit == NULL) != (u == NULL) || (unit && strcmp(unit, u) != 0)) {
        fprintf(stderr, "%s:%d: \"%s\" unit \"%s\", expected \"%s\"\n", file, line, dp,
                u ? u : "(null)", unit ? unit : "(null)");
        return 0;
    }
    return 1;
}
