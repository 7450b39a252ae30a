/* The typed getters behind sluice_api.cfg_*, and the config's lifetime.
 * Lookups are linear: a plugin has a handful of options and reads them at
 * init, not per record. */
#include "config.h"
#include "options.h"
#include "redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl_config_free(sluice_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; c->vals && i < c->n; i++)
        sl_optval_clear(&c->vals[i]);
    free(c->vals);
    free(c);
}

static const sl_optval *find(const sluice_config *c, const char *name)
{
    if (!c || !name)
        return NULL;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->vals[i].opt->name, name) == 0)
            return c->vals[i].set ? &c->vals[i] : NULL;
    return NULL;
}

int sl_cfg_has(const sluice_config *cfg, const char *name) { return find(cfg, name) != NULL; }

const char *sl_cfg_string(const sluice_config *cfg, const char *name)
{
    const sl_optval *v = find(cfg, name);
    return v ? v->str : NULL;
}

int64_t sl_cfg_int(const sluice_config *cfg, const char *name, int64_t def)
{
    const sl_optval *v = find(cfg, name);
    if (!v)
        return def;
    switch (v->opt->type) {
    case SLUICE_OPT_INT:
    case SLUICE_OPT_DURATION:
    case SLUICE_OPT_SIZE:
    case SLUICE_OPT_BOOL:
        return v->i;
    case SLUICE_OPT_DOUBLE:
        /* Only when the number fits; otherwise the caller's default. */
        if (v->d >= -9.2e18 && v->d <= 9.2e18)
            return (int64_t)v->d;
        return def;
    default:
        return def;
    }
}

double sl_cfg_double(const sluice_config *cfg, const char *name, double def)
{
    const sl_optval *v = find(cfg, name);
    if (!v)
        return def;
    switch (v->opt->type) {
    case SLUICE_OPT_DOUBLE: return v->d;
    case SLUICE_OPT_INT:
    case SLUICE_OPT_DURATION:
    case SLUICE_OPT_SIZE:
    case SLUICE_OPT_BOOL: return (double)v->i;
    default: return def;
    }
}

int sl_cfg_bool(const sluice_config *cfg, const char *name, int def)
{
    const sl_optval *v = find(cfg, name);
    if (!v)
        return def;
    if (v->opt->type == SLUICE_OPT_BOOL || v->opt->type == SLUICE_OPT_INT)
        return v->i != 0;
    return def;
}

/* Defaults are applied when the config is built, so "absent" here means
 * absent without a declared default. */
int64_t sl_opt_int(const sluice_config *cfg, const char *name) { return sl_cfg_int(cfg, name, 0); }
double sl_opt_double(const sluice_config *cfg, const char *name)
{
    return sl_cfg_double(cfg, name, 0);
}
int sl_opt_bool(const sluice_config *cfg, const char *name) { return sl_cfg_bool(cfg, name, 0); }

size_t sl_cfg_list_len(const sluice_config *cfg, const char *name)
{
    const sl_optval *v = find(cfg, name);
    return v && v->opt->type == SLUICE_OPT_LIST ? v->n_items : 0;
}

const char *sl_cfg_list_at(const sluice_config *cfg, const char *name, size_t i)
{
    const sl_optval *v = find(cfg, name);
    return v && v->opt->type == SLUICE_OPT_LIST && i < v->n_items ? v->items[i] : NULL;
}

size_t sl_cfg_map_len(const sluice_config *cfg, const char *name)
{
    const sl_optval *v = find(cfg, name);
    return v && v->opt->type == SLUICE_OPT_MAP ? v->n_items : 0;
}

const char *sl_cfg_map_key(const sluice_config *cfg, const char *name, size_t i)
{
    const sl_optval *v = find(cfg, name);
    return v && v->opt->type == SLUICE_OPT_MAP && i < v->n_items ? v->items[i] : NULL;
}

const char *sl_cfg_map_value(const sluice_config *cfg, const char *name, size_t i)
{
    const sl_optval *v = find(cfg, name);
    return v && v->opt->type == SLUICE_OPT_MAP && i < v->n_items ? v->values[i] : NULL;
}

/* Appends to buf without ever overrunning it; once full, the text ends in
 * "..." so a reader knows it was cut. */
typedef struct out {
    char *buf;
    size_t len, used;
    int full;
} out;

static void put(out *o, const char *s)
{
    if (o->full)
        return;
    size_t n = strlen(s);
    if (o->used + n + 1 <= o->len) {
        memcpy(o->buf + o->used, s, n + 1);
        o->used += n;
        return;
    }
    o->full = 1;
    if (o->len < 4) {
        o->buf[0] = '\0';
        return;
    }
    /* As much as fits, then "...": the reader sees it was cut. */
    size_t at = o->used < o->len - 4 ? o->used : o->len - 4;
    size_t room = o->len - 4 - at;
    memcpy(o->buf + at, s, room);
    memcpy(o->buf + at + room, "...", 4);
}

/* A URL's userinfo or a password='...' inside a plain value. */
static void put_redacted(out *o, const char *s)
{
    char tmp[1024];
    sl_redact_text(s, tmp, sizeof tmp);
    put(o, tmp);
}

void sl_config_describe(const sluice_config *c, char *buf, size_t len)
{
    if (!buf || !len)
        return;
    buf[0] = '\0';
    out o = {buf, len, 0, 0};
    int first = 1;
    for (size_t i = 0; c && i < c->n; i++) {
        const sl_optval *v = &c->vals[i];
        if (!v->set)
            continue;
        put(&o, first ? "" : ", ");
        first = 0;
        put(&o, v->opt->name);
        put(&o, "=");
        switch (v->opt->type) {
        case SLUICE_OPT_SECRET: put(&o, "***"); break;
        case SLUICE_OPT_LIST:
            put(&o, "[");
            for (size_t k = 0; k < v->n_items; k++) {
                put(&o, k ? ", " : "");
                put_redacted(&o, v->items[k]);
            }
            put(&o, "]");
            break;
        case SLUICE_OPT_MAP:
            put(&o, "{");
            for (size_t k = 0; k < v->n_items; k++) {
                put(&o, k ? ", " : "");
                put(&o, v->items[k]);
                put(&o, ": ");
                /* kafka's properties: {sasl.password: ...} and the like. */
                if (sl_secret_name(v->items[k], strlen(v->items[k])))
                    put(&o, "***");
                else
                    put_redacted(&o, v->values[k]);
            }
            put(&o, "}");
            break;
        default: put_redacted(&o, v->str ? v->str : ""); break;
        }
    }
}
