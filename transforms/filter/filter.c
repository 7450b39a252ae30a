/* filter: keeps (or drops) records by origin topic and by one field.
 * Dropping here is intentional, not an error: it is counted in
 * sluice_filter_dropped_total and nothing goes to the error policy. */
#include <sluice/sluice.h>

#include "topic_match.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sluice_option options[] = {
    {"topic", SLUICE_OPT_LIST, 0, NULL,
     "MQTT-style topic filter(s) matched against the origin topic (+ one level, # the rest); "
     "any may match", NULL, NULL, NULL},
    {"field", SLUICE_OPT_STRING, 0, NULL, "field to test, with equals or exists", NULL, NULL, NULL},
    {"equals", SLUICE_OPT_STRING, 0, NULL, "the field's value, as text, equals this",
     NULL, NULL, NULL},
    {"exists", SLUICE_OPT_BOOL, 0, NULL, "true: the field is present; false: it is absent",
     NULL, NULL, NULL},
    {"mode", SLUICE_OPT_STRING, 0, "keep", "keep the matching records, or drop them",
     "keep|drop", NULL, NULL},
    SLUICE_OPTIONS_END,
};

typedef struct filter {
    const sluice_api *api;
    char **topics;
    size_t n_topics;
    char *field;
    int test_exists;         /* field + exists, else field + equals */
    int exists;
    /* equals, pre-parsed for each field type it may be compared with */
    char *eq;
    size_t eq_len;
    int eq_is_int, eq_is_double, eq_bool;  /* eq_bool: -1 neither, 0 false, 1 true */
    int64_t eq_int;
    double eq_double;
    int keep;
    sluice_metric *dropped;
} filter;

static void filter_destroy(void *p)
{
    filter *f = p;
    if (!f)
        return;
    for (size_t i = 0; i < f->n_topics; i++)
        free(f->topics[i]);
    free(f->topics);
    free(f->field);
    free(f->eq);
    free(f);
}

static void parse_equals(filter *f)
{
    const char *s = f->eq;
    char *end;
    errno = 0;
    long long i = strtoll(s, &end, 10);
    f->eq_is_int = *s && !*end && errno == 0;
    f->eq_int = i;
    errno = 0;
    double d = strtod(s, &end);
    /* Only plain decimal notation: "inf", "nan" and hex floats stay text. */
    f->eq_is_double = *s && !*end && errno == 0 && strspn(s, "0123456789+-.eE") == strlen(s);
    f->eq_double = d;
    f->eq_bool = !strcmp(s, "true") ? 1 : !strcmp(s, "false") ? 0 : -1;
}

static sluice_status filter_init(const sluice_init_args *a, void **out, char *err)
{
    const sluice_api *api = a->api;
    filter *f = calloc(1, sizeof(*f));
    if (!f) {
        snprintf(err, SLUICE_ERRLEN, "out of memory");
        return SLUICE_ERR;
    }
    f->api = api;
    size_t nt = api->cfg_list_len(a->cfg, "topic");
    if (nt) {
        f->topics = calloc(nt, sizeof(*f->topics));
        if (!f->topics)
            goto oom;
        for (size_t i = 0; i < nt; i++) {
            const char *t = api->cfg_list_at(a->cfg, "topic", i);
            char why[128];
            if (topic_pattern_check(t ? t : "", why, sizeof why) != 0) {
                snprintf(err, SLUICE_ERRLEN, "topic: pattern \"%s\" is invalid: %s", t ? t : "",
                         why);
                goto fail;
            }
            if (!(f->topics[f->n_topics++] = strdup(t)))
                goto oom;
        }
    }
    const char *field = api->cfg_string(a->cfg, "field");
    const char *eq = api->cfg_string(a->cfg, "equals");
    int has_exists = api->cfg_has(a->cfg, "exists");
    if (field && !*field) {
        snprintf(err, SLUICE_ERRLEN, "field: must not be empty");
        goto fail;
    }
    if (field && !eq && !has_exists) {
        snprintf(err, SLUICE_ERRLEN, "field \"%s\" needs equals or exists", field);
        goto fail;
    }
    if (eq && has_exists) {
        snprintf(err, SLUICE_ERRLEN, "equals and exists exclude each other; use one");
        goto fail;
    }
    if (!field && (eq || has_exists)) {
        snprintf(err, SLUICE_ERRLEN, "%s needs field", eq ? "equals" : "exists");
        goto fail;
    }
    if (!field && !nt) {
        snprintf(err, SLUICE_ERRLEN, "nothing to filter on: set topic, or field with equals or "
                                     "exists");
        goto fail;
    }
    if (field && !(f->field = strdup(field)))
        goto oom;
    if (has_exists) {
        f->test_exists = 1;
        f->exists = api->opt_bool(a->cfg, "exists");
    } else if (eq) {
        if (!(f->eq = strdup(eq)))
            goto oom;
        f->eq_len = strlen(eq);
        parse_equals(f);
    }
    const char *mode = api->cfg_string(a->cfg, "mode");
    if (mode && strcmp(mode, "keep") != 0 && strcmp(mode, "drop") != 0) {
        snprintf(err, SLUICE_ERRLEN, "mode: \"%s\" is not one of keep, drop", mode);
        goto fail;
    }
    f->keep = !mode || !strcmp(mode, "keep");
    f->dropped = api->metric(a->ctx, SLUICE_METRIC_COUNTER, "sluice_filter_dropped_total",
                             "Records a filter dropped on purpose", NULL);
    *out = f;
    return SLUICE_OK;
oom:
    snprintf(err, SLUICE_ERRLEN, "out of memory");
fail:
    filter_destroy(f);
    return SLUICE_ERR;
}

static int equals(const filter *f, const sluice_field *v)
{
    switch (v->type) {
    case SLUICE_STRING:
    case SLUICE_BYTES:
        return v->v.s.len == f->eq_len && (!f->eq_len || !memcmp(v->v.s.ptr, f->eq, f->eq_len));
    case SLUICE_INT: return f->eq_is_int && v->v.i == f->eq_int;
    case SLUICE_TIMESTAMP: return f->eq_is_int && v->v.ts == f->eq_int;
    case SLUICE_DOUBLE: return f->eq_is_double && v->v.d == f->eq_double;
    case SLUICE_BOOL: return f->eq_bool >= 0 && !!v->v.b == f->eq_bool;
    case SLUICE_NULL: return !strcmp(f->eq, "null");
    }
    return 0;
}

static int matches(const filter *f, const sluice_record *r)
{
    if (f->n_topics) {
        if (!r->origin.topic)
            return 0;
        size_t i = 0;
        while (i < f->n_topics && !topic_match(f->topics[i], r->origin.topic))
            i++;
        if (i == f->n_topics)
            return 0;
    }
    if (f->field) {
        const sluice_field *v = sluice_field_get(r, f->field);
        if (f->test_exists)
            return (v != NULL) == f->exists;
        return v && equals(f, v);
    }
    return 1;
}

static sluice_status filter_process(void *p, const sluice_record *in, sluice_batch *out,
                                    char *err)
{
    filter *f = p;
    if (matches(f, in) != f->keep) {
        f->api->metric_add(f->dropped, 1);
        return SLUICE_OK;
    }
    if (!f->api->record_copy(out, in)) {
        /* Flow control: the host empties `out` and calls again. */
        snprintf(err, SLUICE_ERRLEN, "output batch full");
        return SLUICE_FULL;
    }
    return SLUICE_OK;
}

static const sluice_transform_ops transform_ops = {
    .struct_size = sizeof(sluice_transform_ops),
    .options = options,
    .init = filter_init,
    .process = filter_process,
    .destroy = filter_destroy,
};

static const sluice_plugin filter_plugin = {
    SLUICE_PLUGIN_HEAD,
    .name = "filter",
    .version = "1.0.0",
    .description = "keeps or drops records by origin topic pattern and by a field's value",
    .transform = &transform_ops,
};

SLUICE_PLUGIN(filter_plugin)
