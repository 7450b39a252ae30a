/* See tl.h. */
#include "tl.h"

#include <sluice/sluice_time.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- setup and environment ------------------------------------------- */

void tl_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FATAL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

const char *tl_env(const char *name, const char *hint)
{
    const char *v = getenv(name);
    if (!v || !*v)
        tl_die("%s is not set: %s", name, hint ? hint : "run the test through ctest");
    return v;
}

int tl_port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

int tl_server_port(const char *var, const char *what)
{
    char hint[512];
    snprintf(hint, sizeof hint, "these tests need the suite's %s (scripts/test.sh starts it; "
             "or tests/infra, see tests/infra/env.sh) and its port exported", what);
    int port = atoi(tl_env(var, hint));
    if (port <= 0 || !tl_port_open(port))
        tl_die("no %s answers on 127.0.0.1:%d (%s): start it (scripts/test.sh, or "
               "tests/infra/*.sh start DIR PORT)", what, port, var);
    return port;
}

int tl_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
        getsockname(fd, (struct sockaddr *)&a, &l))
        tl_die("cannot find a free port: %s", strerror(errno));
    close(fd);
    return ntohs(a.sin_port);
}

int64_t tl_now_ms(void)
{
    return sluice_mono_ms();
}

void tl_sleep_ms(int64_t ms)
{
    sluice_sleep_ms(ms);
}

int tl_wait_until(int64_t timeout_ms, int (*cond)(void *arg), void *arg)
{
    int64_t deadline = tl_now_ms() + timeout_ms;
    for (;;) {
        int last = tl_now_ms() >= deadline;
        if (cond(arg))
            return 1;
        if (last)
            return 0;
        tl_sleep_ms(20);
    }
}

/* ---- scratch files ------------------------------------------------------ */

void tl_scratch_dir(char *buf, size_t len, const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(buf, len, "%s/sluice-%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
    if (!mkdtemp(buf))
        tl_die("mkdtemp %s: %s", buf, strerror(errno));
}

int tl_sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

void tl_rm_rf(const char *path)
{
    if (path && path[0] && tl_sh("rm -rf '%s'", path) != 0)
        fprintf(stderr, "could not remove %s\n", path);
}

void tl_write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");
    if (!f)
        tl_die("cannot write %s: %s", path, strerror(errno));
    fputs(content, f);
    if (fclose(f) != 0)
        tl_die("cannot write %s: %s", path, strerror(errno));
}

char *tl_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0, got;
    char *s = malloc(cap);
    while (s && (got = fread(s + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *ns = realloc(s, cap * 2);
            if (!ns)
                free(s);
            s = ns;
            cap *= 2;
        }
    }
    fclose(f);
    if (s)
        s[n] = '\0';
    return s;
}

/* ---- plugins and their options ------------------------------------------ */

void tl_registry_add(sl_registry *reg, const char *dir, const char *file)
{
    char path[PATH_MAX], err[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (sl_registry_load_file(reg, path, err, sizeof err) != 0)
        tl_die("cannot load %s: %s", path, err);
}

sl_registry *tl_registry(const char *const *names)
{
    const char *dir = tl_env("SLUICE_PLUGIN_DIR", "run the test through ctest");
    sl_registry *reg = sl_registry_new();
    if (!reg)
        tl_die("out of memory");
    for (size_t i = 0; names && names[i]; i++) {
        char file[256];
        snprintf(file, sizeof file, "%s.so", names[i]);
        tl_registry_add(reg, dir, file);
    }
    return reg;
}

const sluice_plugin *tl_plugin(sl_registry *reg, const char *name)
{
    const sl_plugin_entry *pe = sl_registry_find(reg, name);
    if (!pe)
        tl_die("plugin %s is not loaded", name);
    return pe->desc;
}

sl_pipeline_conf *tl_conf_load_text(sl_registry *reg, const char *path, const char *yaml,
                                    char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    if (!path) {
        const char *t = getenv("TMPDIR");
        snprintf(tmp, sizeof tmp, "%s/sluice-pipeline-XXXXXX.yaml", t && *t ? t : "/tmp");
        int fd = mkstemps(tmp, 5);
        if (fd < 0)
            tl_die("mkstemps %s: %s", tmp, strerror(errno));
        close(fd);
    }
    tl_write_file(path ? path : tmp, yaml);
    sl_diag d = {0};
    sl_pipeline_conf *c = sl_conf_load(path ? path : tmp, reg, &d);
    if (!c) {
        fprintf(stderr, "pipeline file rejected:\n%s\n", yaml);
        for (size_t i = 0; i < d.n; i++)
            fprintf(stderr, "    | %s\n", d.msgs[i]);
        if (err && errlen)
            snprintf(err, errlen, "%s", d.n ? d.msgs[0] : "configuration rejected");
    }
    sl_diag_free(&d);
    if (!path)
        unlink(tmp);
    return c;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        tl_die("out of memory");
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
            tl_die("bad duration \"%s\" for %s", text, v->opt->name);
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
        tl_die("out of memory");
    v->items[v->n_items] = xstrdup(key);
    v->values[v->n_items] = val ? xstrdup(val) : NULL;
    v->n_items++;
    v->set = 1;
}

sluice_config *tl_cfg(const sluice_option *opts, const char *const *kv)
{
    sluice_config *c = calloc(1, sizeof *c);
    if (!c)
        tl_die("out of memory");
    size_t n = 0;
    while (opts[n].name)
        n++;
    c->vals = calloc(n ? n : 1, sizeof *c->vals);
    if (!c->vals)
        tl_die("out of memory");
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
            tl_die("bad option \"%s\" (name=value)", kv[k]);
        size_t nl = strcspn(kv[k], "[{=");
        snprintf(name, sizeof name, "%.*s", (int)nl, kv[k]);
        sl_optval *v = NULL;
        for (size_t i = 0; i < n; i++)
            if (!strcmp(opts[i].name, name))
                v = &c->vals[i];
        if (!v)
            tl_die("unknown option \"%s\"", name);
        if (kv[k][nl] == '[') {
            add_item(v, eq + 1, NULL);
        } else if (kv[k][nl] == '{') {
            const char *close = strchr(kv[k], '}');
            if (!close)
                tl_die("bad option \"%s\" (name{key}=value)", kv[k]);
            snprintf(key, sizeof key, "%.*s", (int)(close - kv[k] - nl - 1), kv[k] + nl + 1);
            add_item(v, key, eq + 1);
        } else {
            set_scalar(v, eq + 1);
        }
    }
    return c;
}

void tl_cfg_free(sluice_config *c)
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

/* ---- instances ------------------------------------------------------------ */

tl_kind tl_stage_kind(const sl_stage_conf *st)
{
    return st->kind == SL_SOURCE ? TL_SOURCE : st->kind == SL_SINK ? TL_SINK : TL_TRANSFORM;
}

sluice_status tl_init(const sluice_plugin *p, tl_kind kind, const sluice_config *cfg,
                      const char *pipeline, const char *instance, sluice_ctx **ctx,
                      void **inst, char *err)
{
    err[0] = '\0';
    *inst = NULL;
    *ctx = sl_ctx_new(pipeline, instance, p->name);
    if (!*ctx)
        tl_die("out of memory");
    sluice_init_args a = {.struct_size = sizeof a, .api = sl_api(), .cfg = cfg, .ctx = *ctx,
                          .pipeline = pipeline, .instance = instance};
    sluice_status s = SLUICE_ERR;
    switch (kind) {
    case TL_SOURCE: s = p->source->init(&a, inst, err); break;
    case TL_TRANSFORM: s = p->transform->init(&a, inst, err); break;
    case TL_SINK: s = p->sink->init(&a, inst, err); break;
    }
    if (s != SLUICE_OK) {
        sl_ctx_free(*ctx);
        *ctx = NULL;
        *inst = NULL;
    }
    return s;
}

void tl_destroy(const sluice_plugin *p, tl_kind kind, sluice_ctx *ctx, void *inst)
{
    if (!ctx)
        return;
    if (inst) {
        switch (kind) {
        case TL_SOURCE: p->source->destroy(inst); break;
        case TL_TRANSFORM: p->transform->destroy(inst); break;
        case TL_SINK: p->sink->destroy(inst); break;
        }
    }
    sl_ctx_free(ctx);
}

double tl_metric(sluice_ctx *ctx, sluice_metric_kind kind, const char *name, const char *label)
{
    sluice_metric *m = sl_api()->metric(ctx, kind, name, "", label);
    if (!m)
        tl_die("metric %s is not registered", name);
    return sl_metric_value(m);
}

int tl_ready(sluice_ctx *ctx)
{
    return atomic_load(&ctx->ready);
}

/* ---- records ---------------------------------------------------------------- */

sluice_batch *tl_batch(size_t cap)
{
    sluice_batch *b = sl_batch_new(cap, 64u << 20);
    if (!b)
        tl_die("out of memory");
    return b;
}

sluice_record *tl_rec(sluice_batch *b)
{
    sluice_record *r = sl_api()->record_new(b);
    if (!r)
        tl_die("batch full");
    return r;
}

static sluice_field *field(sluice_batch *b, sluice_record *r, const char *name,
                           sluice_field_type t)
{
    sluice_field *f = sl_api()->field_add(b, r, name, t);
    if (!f)
        tl_die("field_add failed");
    return f;
}

void tl_strn(sluice_batch *b, sluice_record *r, const char *name, const char *v, size_t n)
{
    if (sl_api()->field_set_string(b, field(b, r, name, SLUICE_STRING), v, n))
        tl_die("field_set_string failed");
}

void tl_str(sluice_batch *b, sluice_record *r, const char *name, const char *v)
{
    tl_strn(b, r, name, v, strlen(v));
}

void tl_bytes(sluice_batch *b, sluice_record *r, const char *name, const void *v, size_t n)
{
    sluice_field *f = field(b, r, name, SLUICE_BYTES);
    char *p = sl_api()->alloc(b, n ? n : 1);
    if (!p)
        tl_die("alloc failed");
    memcpy(p, v, n);
    f->v.s.ptr = p;
    f->v.s.len = n;
}

void tl_dbl(sluice_batch *b, sluice_record *r, const char *name, double v)
{
    field(b, r, name, SLUICE_DOUBLE)->v.d = v;
}

void tl_int(sluice_batch *b, sluice_record *r, const char *name, int64_t v)
{
    field(b, r, name, SLUICE_INT)->v.i = v;
}

void tl_bool(sluice_batch *b, sluice_record *r, const char *name, int v)
{
    field(b, r, name, SLUICE_BOOL)->v.b = v;
}

void tl_ts(sluice_batch *b, sluice_record *r, const char *name, int64_t us)
{
    field(b, r, name, SLUICE_TIMESTAMP)->v.ts = us;
}

void tl_null(sluice_batch *b, sluice_record *r, const char *name)
{
    field(b, r, name, SLUICE_NULL);
}

const char *tl_failure(const sluice_batch *b, size_t i)
{
    return i < b->n ? b->recs[i].failure_ : NULL;
}

/* ---- captured log ---------------------------------------------------------- */

static int saved_stderr = -1;
static FILE *capture;

void tl_capture_begin(void)
{
    fflush(stderr);
    capture = tmpfile();
    if (!capture)
        tl_die("tmpfile failed: %s", strerror(errno));
    saved_stderr = dup(2);
    dup2(fileno(capture), 2);
}

const char *tl_capture_end(void)
{
    static char buf[65536];
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    rewind(capture);
    size_t n = fread(buf, 1, sizeof buf - 1, capture);
    buf[n] = '\0';
    fclose(capture);
    fputs(buf, stderr);
    return buf;
}
