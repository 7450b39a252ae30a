#include "harness.h"

#include "metrics.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char ph_dir[PATH_MAX];
static sl_registry *reg;

void ph_setup(void)
{
    const char *pdir = getenv("SLUICE_PLUGIN_DIR");
    if (!pdir) {
        fprintf(stderr, "SLUICE_PLUGIN_DIR is not set (run through ctest)\n");
        exit(2);
    }
    reg = sl_registry_new();
    static const char *names[] = {"generator", "file", "filter", "fields"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[PATH_MAX], err[1024];
        snprintf(path, sizeof path, "%s/%s.so", pdir, names[i]);
        if (sl_registry_load_file(reg, path, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            exit(2);
        }
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(ph_dir, sizeof ph_dir, "%s/sluice-plugins.XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(ph_dir)) {
        perror("mkdtemp");
        exit(2);
    }
}

const char *ph_path(const char *name)
{
    static char bufs[4][PATH_MAX + 256];
    static int k;
    char *b = bufs[k++ % 4];
    snprintf(b, PATH_MAX + 256, "%s/%s", ph_dir, name);
    return b;
}

void ph_write_file(const char *name, const char *content)
{
    FILE *f = fopen(ph_path(name), "w");
    if (!f) {
        perror(name);
        exit(2);
    }
    fputs(content, f);
    fclose(f);
}

char *ph_read_file(const char *path)
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

static sl_pipeline_conf *confs[64];
static size_t n_confs;

sl_pipeline_conf *ph_conf(const char *name, const char *yaml)
{
    char file[128];
    snprintf(file, sizeof file, "%s.yaml", name);
    ph_write_file(file, yaml);
    sl_diag d = {0};
    sl_pipeline_conf *c = sl_conf_load(ph_path(file), reg, &d);
    for (size_t i = 0; i < d.n; i++)
        fprintf(stderr, "%s\n", d.msgs[i]);
    sl_diag_free(&d);
    if (c && n_confs < sizeof confs / sizeof confs[0])
        confs[n_confs++] = c;
    return c;
}

int ph_conf_refused(const char *name, const char *yaml, char *msg, size_t len)
{
    char file[128];
    snprintf(file, sizeof file, "%s.yaml", name);
    ph_write_file(file, yaml);
    sl_diag d = {0};
    sl_pipeline_conf *c = sl_conf_load(ph_path(file), reg, &d);
    snprintf(msg, len, "%s", d.n ? d.msgs[0] : "");
    sl_diag_free(&d);
    if (c) {
        sl_conf_free(c);
        return -1;
    }
    return 0;
}

sluice_status ph_init(ph_inst *i, const sl_stage_conf *st, char *err)
{
    memset(i, 0, sizeof(*i));
    err[0] = '\0';
    i->st = st;
    const char *kind = st->kind == SL_SOURCE ? "source" : st->kind == SL_SINK ? "sink"
                                                                              : "transform[0]";
    i->ctx = sl_ctx_new("test", kind, st->plugin);
    sluice_init_args a = {sizeof a, sl_api(), st->cfg, i->ctx, "test", kind};
    const sluice_plugin *p = st->entry->desc;
    sluice_status s = st->kind == SL_SOURCE ? p->source->init(&a, &i->inst, err)
                      : st->kind == SL_SINK ? p->sink->init(&a, &i->inst, err)
                                            : p->transform->init(&a, &i->inst, err);
    if (s != SLUICE_OK) {
        sl_ctx_free(i->ctx);
        i->ctx = NULL;
        i->inst = NULL;
    }
    return s;
}

void ph_destroy(ph_inst *i)
{
    if (!i->ctx)
        return;
    const sluice_plugin *p = i->st->entry->desc;
    if (i->st->kind == SL_SOURCE)
        p->source->destroy(i->inst);
    else if (i->st->kind == SL_SINK)
        p->sink->destroy(i->inst);
    else
        p->transform->destroy(i->inst);
    sl_ctx_free(i->ctx);
    i->ctx = NULL;
}

double ph_counter(ph_inst *i, const char *name)
{
    /* Registering the same name again returns the instance's series. */
    sluice_metric *m = sl_api()->metric(i->ctx, SLUICE_METRIC_COUNTER, name, "", NULL);
    return sl_metric_value(m);
}

void ph_cleanup(int failed)
{
    for (size_t i = 0; i < n_confs; i++)
        sl_conf_free(confs[i]);
    sl_registry_free(reg);
    if (!failed) {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", ph_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", ph_dir);
    } else {
        fprintf(stderr, "scratch kept: %s\n", ph_dir);
    }
}
