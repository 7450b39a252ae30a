#include "f2t.h"

#include "metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "%s is not set: run the test through ctest (scripts/test.sh)\n", name);
        exit(2);
    }
    return v;
}

static PGconn *connect_db(int port, const char *db)
{
    char dsn[256];
    snprintf(dsn, sizeof dsn, "host=127.0.0.1 port=%d user=postgres dbname=%s", port, db);
    PGconn *c = PQconnectdb(dsn);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "PostgreSQL on 127.0.0.1:%d is not reachable: %s", port,
                PQerrorMessage(c));
        exit(2);
    }
    return c;
}

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static void exec_or_die(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fprintf(stderr, "SQL failed: %s\n  in: %.300s\n", PQresultErrorMessage(r), sql);
        PQclear(r);
        exit(2);
    }
    PQclear(r);
}

void f2t_open(f2t *t, const char *tag, int port, int sample)
{
    memset(t, 0, sizeof *t);
    t->port = port ? port : atoi(env("SLUICE_TEST_PG_PORT"));
    snprintf(t->db, sizeof t->db, "f2t_%s_%d", tag, (int)getpid());
    PGconn *admin = connect_db(t->port, "postgres");
    PQsetNoticeProcessor(admin, quiet, NULL);
    char sql[200];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", t->db);
    exec_or_die(admin, sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", t->db);
    exec_or_die(admin, sql);
    PQfinish(admin);
    snprintf(t->dsn, sizeof t->dsn, "host=127.0.0.1 port=%d user=postgres dbname=%s", t->port,
             t->db);
    t->conn = connect_db(t->port, t->db);
    PQsetNoticeProcessor(t->conn, quiet, NULL);
    f2t_sql_file(t, "sql/device_params.sql");
    if (sample)
        f2t_sql_file(t, "sql/device_params_sample.sql");
    f2t_open_plugins(t);
}

void f2t_open_plugins(f2t *t)
{
    t->reg = sl_registry_new();
    const char *dir = env("SLUICE_PLUGIN_DIR");
    const char *fix = env("F2_FIXTURE_DIR");
    char path[1024], err[1024];
    const char *files[][2] = {{dir, "f2_decode.so"}, {dir, "f2sim.so"}, {fix, "f2_null_sink.so"}};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", files[i][0], files[i][1]);
        if (sl_registry_load_file(t->reg, path, err, sizeof err) != 0) {
            fprintf(stderr, "cannot load %s: %s\n", path, err);
            exit(2);
        }
    }
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
    PGconn *admin = connect_db(t->port, "postgres");
    PQsetNoticeProcessor(admin, quiet, NULL);
    char sql[200];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", t->db);
    exec_or_die(admin, sql);
    PQfinish(admin);
}

static char *vfmt(const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    char *s = malloc((size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

void f2t_sql(f2t *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = vfmt(fmt, ap);
    va_end(ap);
    exec_or_die(t->conn, s);
    free(s);
}

long f2t_sql_long(f2t *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = vfmt(fmt, ap);
    va_end(ap);
    PGresult *r = PQexec(t->conn, s);
    long v = -1;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "SQL failed: %s\n  in: %.300s\n", PQresultErrorMessage(r), s);
        exit(2);
    }
    if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    free(s);
    return v;
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
    exec_or_die(t->conn, s);
    free(s);
}

/* The first message of the last refused pipeline file, so that a test of
 * an option outside its declared bounds sees why. */
static char last_refusal[SLUICE_ERRLEN];

sl_pipeline_conf *f2t_load_conf(f2t *t, const char *yaml)
{
    char path[] = "/tmp/f2t-pipeline-XXXXXX.yaml";
    int fd = mkstemps(path, 5);
    if (fd < 0 || write(fd, yaml, strlen(yaml)) != (ssize_t)strlen(yaml)) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    close(fd);
    sl_diag d = {0};
    sl_pipeline_conf *c = sl_conf_load(path, t->reg, &d);
    if (!c) {
        fprintf(stderr, "pipeline file rejected:\n%s\n", yaml);
        for (size_t i = 0; i < d.n; i++)
            fprintf(stderr, "    | %s\n", d.msgs[i]);
        snprintf(last_refusal, sizeof last_refusal, "%s", d.n ? d.msgs[0] : "");
    }
    sl_diag_free(&d);
    unlink(path);
    return c;
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
    out->ctx = sl_ctx_new("f2test", instance, out->plugin->name);
    sluice_init_args a = {.struct_size = sizeof a, .api = sl_api(), .cfg = sc->cfg,
                          .ctx = out->ctx, .pipeline = "f2test", .instance = instance};
    out->init_err[0] = '\0';
    if (out->plugin->transform)
        out->init_status = out->plugin->transform->init(&a, &out->inst, out->init_err);
    else
        out->init_status = out->plugin->source->init(&a, &out->inst, out->init_err);
    if (out->init_status != SLUICE_OK)
        out->inst = NULL;
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
    if (i->inst) {
        if (i->plugin->transform)
            i->plugin->transform->destroy(i->inst);
        else
            i->plugin->source->destroy(i->inst);
    }
    i->inst = NULL;
    if (i->ctx)
        sl_ctx_free(i->ctx);
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
    /* Registering the same name again returns the instance's series. */
    sluice_metric *m = sl_api()->metric(i->ctx, SLUICE_METRIC_COUNTER, name, "", NULL);
    return sl_metric_value(m);
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
