/* upper: a transform that upper-cases the record value.  The whole plugin
 * is this file: a descriptor, an options table and three callbacks. */
#include <sluice/sluice.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

static const sluice_option options[] = {
    {"suffix", SLUICE_OPT_STRING, 0, "", "text appended to every value", NULL, NULL, NULL},
    /* Bounds (ABI 1.2): the host refuses 17 before init runs, and the code
     * reads the default from this table rather than restating it. */
    {"times", SLUICE_OPT_INT, 0, "1", "how many times the suffix is appended", NULL, "0", "16"},
    SLUICE_OPTIONS_END,
};

typedef struct upper {
    const sluice_api *api;
    const char *suffix;
    size_t suffix_len;
    size_t times;
} upper;

static sluice_status init(const sluice_init_args *a, void **out, char *err)
{
    upper *u = calloc(1, sizeof(*u));
    if (!u) {
        snprintf(err, SLUICE_ERRLEN, "out of memory");
        return SLUICE_ERR;
    }
    u->api = a->api;
    u->suffix = a->api->cfg_string(a->cfg, "suffix");
    for (const char *p = u->suffix; p && *p; p++)
        u->suffix_len++;
    u->times = (size_t)a->api->opt_int(a->cfg, "times");
    *out = u;
    return SLUICE_OK;
}

static sluice_status process(void *p, const sluice_record *in, sluice_batch *out, char *err)
{
    upper *u = p;
    sluice_record *r = u->api->record_copy(out, in);
    size_t add = u->suffix_len * u->times;
    char *v = r ? u->api->alloc(out, in->value.len + add + 1) : NULL;
    if (!v) {
        /* Flow control: the host empties out and calls again (ABI 1.1). */
        snprintf(err, SLUICE_ERRLEN, "batch full");
        return SLUICE_FULL;
    }
    for (size_t i = 0; i < in->value.len; i++)
        v[i] = (char)toupper((unsigned char)in->value.ptr[i]);
    for (size_t i = 0; i < add; i++)
        v[in->value.len + i] = u->suffix[i % u->suffix_len];
    r->value.ptr = v;
    r->value.len = in->value.len + add;
    return SLUICE_OK;
}

static void destroy(void *p) { free(p); }

static const sluice_transform_ops ops = {sizeof(ops), options, init, process, destroy};

static const sluice_plugin upper_plugin = {
    SLUICE_PLUGIN_HEAD,
    .name = "upper",
    .version = "1.0.0",
    .description = "upper-cases record values (out-of-tree example)",
    .transform = &ops,
};

SLUICE_PLUGIN(upper_plugin)
