/* fields: edits a record's fields.  Each output record is a copy of its
 * input (api->record_copy shares the bytes, copies only the arrays) with,
 * in this order: the value parsed as JSON, the value copied into a field,
 * fields renamed, fields dropped, fields set. */
#include <sluice/sluice.h>

#include "infer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sluice_option options[] = {
    {"set", SLUICE_OPT_MAP, 0, NULL,
     "field: value; the value's type is inferred (int, double, true/false, null, else string)",
     NULL, NULL, NULL},
    {"rename", SLUICE_OPT_MAP, 0, NULL, "old name: new name", NULL, NULL, NULL},
    {"drop", SLUICE_OPT_LIST, 0, NULL, "fields to remove", NULL, NULL, NULL},
    {"copy_value_to", SLUICE_OPT_STRING, 0, NULL,
     "name of a string field that receives the record value's bytes", NULL, NULL, NULL},
    {"parse_json", SLUICE_OPT_BOOL, 0, "false",
     "parse the value as a JSON object into fields; a record whose value is not one fails",
     NULL, NULL, NULL},
    SLUICE_OPTIONS_END,
};

typedef struct fset {
    char *name;
    fields_value v;
} fset;

typedef struct frename {
    char *from, *to;
    size_t to_len;
} frename;

typedef struct fields {
    const sluice_api *api;
    fset *set;
    size_t n_set;
    frename *rename;
    size_t n_rename;
    char **drop;
    size_t n_drop;
    char *copy_value_to;
    int parse_json;
} fields;

static void fields_destroy(void *p)
{
    fields *f = p;
    if (!f)
        return;
    for (size_t i = 0; i < f->n_set; i++) {
        free(f->set[i].name);
        free(f->set[i].v.text);
    }
    for (size_t i = 0; i < f->n_rename; i++) {
        free(f->rename[i].from);
        free(f->rename[i].to);
    }
    for (size_t i = 0; i < f->n_drop; i++)
        free(f->drop[i]);
    free(f->set);
    free(f->rename);
    free(f->drop);
    free(f->copy_value_to);
    free(f);
}

static sluice_status fields_init(const sluice_init_args *a, void **out, char *err)
{
    const sluice_api *api = a->api;
    const sluice_config *cfg = a->cfg;
    fields *f = calloc(1, sizeof(*f));
    if (!f) {
        snprintf(err, SLUICE_ERRLEN, "out of memory");
        return SLUICE_ERR;
    }
    f->api = api;
    size_t n = api->cfg_map_len(cfg, "set");
    /* Arrays are zeroed and counted up front, so a failure part-way
     * through leaves nothing that fields_destroy cannot free. */
    if (n && !(f->set = calloc(n, sizeof(*f->set))))
        goto oom;
    f->n_set = n;
    for (size_t i = 0; i < n; i++) {
        const char *k = api->cfg_map_key(cfg, "set", i);
        const char *v = api->cfg_map_value(cfg, "set", i);
        if (!k || !*k) {
            snprintf(err, SLUICE_ERRLEN, "set: a field name is empty");
            goto fail;
        }
        f->set[i].name = strdup(k);
        if (!f->set[i].name || fields_infer(v ? v : "", &f->set[i].v) != 0)
            goto oom;
    }
    n = api->cfg_map_len(cfg, "rename");
    if (n && !(f->rename = calloc(n, sizeof(*f->rename))))
        goto oom;
    f->n_rename = n;
    for (size_t i = 0; i < n; i++) {
        const char *from = api->cfg_map_key(cfg, "rename", i);
        const char *to = api->cfg_map_value(cfg, "rename", i);
        if (!from || !*from || !to || !*to) {
            snprintf(err, SLUICE_ERRLEN, "rename: \"%s\" -> \"%s\": names must not be empty",
                     from ? from : "", to ? to : "");
            goto fail;
        }
        f->rename[i].from = strdup(from);
        f->rename[i].to = strdup(to);
        f->rename[i].to_len = strlen(to);
        if (!f->rename[i].from || !f->rename[i].to)
            goto oom;
    }
    n = api->cfg_list_len(cfg, "drop");
    if (n && !(f->drop = calloc(n, sizeof(*f->drop))))
        goto oom;
    f->n_drop = n;
    for (size_t i = 0; i < n; i++) {
        const char *d = api->cfg_list_at(cfg, "drop", i);
        if (!(f->drop[i] = strdup(d ? d : "")))
            goto oom;
    }
    const char *cv = api->cfg_string(cfg, "copy_value_to");
    if (cv && !*cv) {
        snprintf(err, SLUICE_ERRLEN, "copy_value_to: the field name is empty");
        goto fail;
    }
    if (cv && !(f->copy_value_to = strdup(cv)))
        goto oom;
    f->parse_json = api->opt_bool(cfg, "parse_json");
    if (!f->n_set && !f->n_rename && !f->n_drop && !f->copy_value_to && !f->parse_json) {
        snprintf(err, SLUICE_ERRLEN,
                 "nothing to do: set at least one of set, rename, drop, copy_value_to, parse_json");
        goto fail;
    }
    *out = f;
    return SLUICE_OK;
oom:
    snprintf(err, SLUICE_ERRLEN, "out of memory");
fail:
    fields_destroy(f);
    return SLUICE_ERR;
}

static int index_of(const sluice_record *r, const char *name)
{
    for (uint32_t i = 0; i < r->n_fields; i++)
        if (!strcmp(r->fields[i].name, name))
            return (int)i;
    return -1;
}

static sluice_status fields_process(void *p, const sluice_record *in, sluice_batch *out,
                                    char *err)
{
    fields *f = p;
    const sluice_api *api = f->api;
    sluice_record *r = api->record_copy(out, in);
    if (!r)
        goto oom;
    if (f->parse_json) {
        char why[SLUICE_ERRLEN - 64];
        if (api->from_json(out, r, in->value.ptr, in->value.len, why, sizeof why) != 0) {
            snprintf(err, SLUICE_ERRLEN, "parse_json: the value is not a JSON object: %s", why);
            return SLUICE_ERR;
        }
    }
    if (f->copy_value_to) {
        sluice_field *v = api->field_add(out, r, f->copy_value_to, SLUICE_STRING);
        if (!v || api->field_set_string(out, v, in->value.ptr ? in->value.ptr : "",
                                        in->value.len) != 0)
            goto oom;
    }
    for (size_t i = 0; i < f->n_rename; i++) {
        const frename *rn = &f->rename[i];
        if (index_of(r, rn->from) < 0 || !strcmp(rn->from, rn->to))
            continue;
        api->field_remove(r, rn->to);      /* the renamed field replaces it */
        const char *name = api->strndup(out, rn->to, rn->to_len);
        if (!name)
            goto oom;
        r->fields[index_of(r, rn->from)].name = name;
    }
    for (size_t i = 0; i < f->n_drop; i++)
        api->field_remove(r, f->drop[i]);
    for (size_t i = 0; i < f->n_set; i++) {
        const fset *s = &f->set[i];
        sluice_field *v = api->field_add(out, r, s->name, s->v.type);
        if (!v)
            goto oom;
        switch (s->v.type) {
        case SLUICE_STRING:
            if (api->field_set_string(out, v, s->v.text, s->v.len) != 0)
                goto oom;
            break;
        case SLUICE_INT: v->v.i = s->v.i; break;
        case SLUICE_DOUBLE: v->v.d = s->v.d; break;
        case SLUICE_BOOL: v->v.b = s->v.b; break;
        default: break;
        }
    }
    return SLUICE_OK;
oom:
    /* Every allocation above is from `out`: flow control, not a failure.
     * The host empties `out` and calls again with the same record; a
     * parse_json that ran out of room returns SLUICE_ERR above, and the
     * host, which saw the refused allocation, treats it the same way. */
    snprintf(err, SLUICE_ERRLEN, "output batch full");
    return SLUICE_FULL;
}

static const sluice_transform_ops transform_ops = {
    .struct_size = sizeof(sluice_transform_ops),
    .options = options,
    .init = fields_init,
    .process = fields_process,
    .destroy = fields_destroy,
};

static const sluice_plugin fields_plugin = {
    SLUICE_PLUGIN_HEAD,
    .name = "fields",
    .version = "1.0.0",
    .description = "sets, renames, drops fields; copies or parses the value (JSON) into fields",
    .transform = &transform_ops,
};

SLUICE_PLUGIN(fields_plugin)
