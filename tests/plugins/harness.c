#include "harness.h"

#include "tl.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

char ph_dir[PATH_MAX];
static sl_registry *reg;

void ph_setup(void)
{
    static const char *const names[] = {"generator", "file", "filter", "fields", NULL};
    reg = tl_registry(names);
    tl_scratch_dir(ph_dir, sizeof ph_dir, "plugins");
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
    tl_write_file(ph_path(name), content);
}

char *ph_read_file(const char *path)
{
    return tl_read_file(path);
}

static sl_pipeline_conf *confs[64];
static size_t n_confs;

sl_pipeline_conf *ph_conf(const char *name, const char *yaml)
{
    char file[128];
    snprintf(file, sizeof file, "%s.yaml", name);
    sl_pipeline_conf *c = tl_conf_load_text(reg, ph_path(file), yaml, NULL, 0);
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
    i->st = st;
    tl_kind k = tl_stage_kind(st);
    return tl_init(st->entry->desc, k, st->cfg, "test",
                   k == TL_SOURCE ? "source" : k == TL_SINK ? "sink" : "transform[0]", &i->ctx,
                   &i->inst, err);
}

void ph_destroy(ph_inst *i)
{
    tl_destroy(i->st->entry->desc, tl_stage_kind(i->st), i->ctx, i->inst);
    i->ctx = NULL;
    i->inst = NULL;
}

double ph_counter(ph_inst *i, const char *name)
{
    return tl_metric(i->ctx, SLUICE_METRIC_COUNTER, name, NULL);
}

void ph_cleanup(int failed)
{
    for (size_t i = 0; i < n_confs; i++)
        sl_conf_free(confs[i]);
    sl_registry_free(reg);
    if (!failed)
        tl_rm_rf(ph_dir);
    else
        fprintf(stderr, "scratch kept: %s\n", ph_dir);
}
