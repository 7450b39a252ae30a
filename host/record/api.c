/* The function table handed to every plugin, and the instance contexts it
 * takes.  Plugins see only these pointers, never host symbols. */
#include "batch_api.h"
#include "config/config.h"
#include "ctx.h"
#include "http_routes.h"
#include "json_conv.h"
#include "log.h"
#include "metrics.h"
#include "spool/spool.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sluice/sluice_time.h>

sluice_ctx *sl_ctx_new(const char *pipeline, const char *instance, const char *plugin)
{
    sluice_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    snprintf(c->pipeline, sizeof c->pipeline, "%s", pipeline ? pipeline : "");
    snprintf(c->instance, sizeof c->instance, "%s", instance ? instance : "");
    snprintf(c->plugin, sizeof c->plugin, "%s", plugin ? plugin : "");
    atomic_init(&c->ready, 1);
    c->metrics = sl_metrics_global();
    return c;
}

void sl_ctx_free(sluice_ctx *c)
{
    if (!c)
        return;
    /* Whatever the instance registered goes with it, also after a failed init. */
    sl_http_routes_drop(c);
    if (c->metrics)
        sl_metrics_release(c->metrics, c);
    free(c);
}

static void api_log(sluice_ctx *ctx, sluice_log_level level, const char *fmt, ...)
{
    if (!sl_log_enabled(level))
        return;
    char comp[160];
    const char *pipeline = NULL;
    if (ctx) {
        snprintf(comp, sizeof comp, "%s:%s", ctx->instance, ctx->plugin);
        pipeline = ctx->pipeline[0] ? ctx->pipeline : NULL;
    }
    va_list ap;
    va_start(ap, fmt);
    sl_logv(level, pipeline, ctx ? comp : NULL, fmt, ap);
    va_end(ap);
}

static sluice_metric *api_metric(sluice_ctx *ctx, sluice_metric_kind kind, const char *name,
                                 const char *help, const char *label)
{
    sl_metrics *m = ctx && ctx->metrics ? ctx->metrics : sl_metrics_global();
    return sl_metric_register(m, kind, name, help, ctx ? ctx->pipeline : NULL,
                              ctx ? ctx->instance : NULL, label, ctx);
}

static void api_set_ready(sluice_ctx *ctx, int ready)
{
    if (ctx)
        atomic_store(&ctx->ready, ready ? 1 : 0);
}

static int64_t api_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t api_mono_ns(void)
{
    return sluice_mono_ns();
}

static const char *api_to_json(sluice_batch *b, const sluice_record *r, size_t *len,
                               char *err, size_t errlen)
{
    return sl_to_json(b, r, len, err, errlen);
}

static int api_from_json(sluice_batch *b, sluice_record *r, const char *json, size_t len,
                         char *err, size_t errlen)
{
    return sl_from_json(b, r, json, len, err, errlen);
}

static int api_from_json_ex(sluice_batch *b, sluice_record *r, const char *json, size_t len,
                            unsigned flags, char *err, size_t errlen)
{
    return sl_from_json_ex(b, r, json, len, flags, err, errlen);
}

static int api_spooled(sluice_ctx *ctx) { return ctx && ctx->spool ? 1 : 0; }

static sluice_status api_spool_append(sluice_ctx *ctx, const sluice_record *r, char *err)
{
    if (!ctx || !ctx->spool) {
        snprintf(err, SLUICE_ERRLEN, "spool_append: this pipeline has no disk buffer "
                                     "(buffer.type: disk); check api->spooled first");
        return SLUICE_ERR;
    }
    char e[SLUICE_ERRLEN] = "";
    if (!r) {
        if (sl_spool_sync(ctx->spool, e, sizeof e) != 0) {
            snprintf(err, SLUICE_ERRLEN, "spool: %.480s", e[0] ? e : "sync failed");
            return SLUICE_ERR;
        }
        return SLUICE_OK;
    }
    int rc = ctx->spool_nowait ? sl_spool_try_append(ctx->spool, r, e, sizeof e)
                               : sl_spool_append(ctx->spool, r, e, sizeof e);
    if (rc > 0) {
        snprintf(err, SLUICE_ERRLEN, "spool is full (buffer.max_size); try again later");
        return SLUICE_FULL;
    }
    if (rc != 0) {
        snprintf(err, SLUICE_ERRLEN, "spool: %.480s", e[0] ? e : "append failed");
        return SLUICE_ERR;
    }
    if (ctx->spool_in)
        atomic_fetch_add(ctx->spool_in, 1);
    if (ctx->spool_in_metric)
        sl_metric_add(ctx->spool_in_metric, 1);
    return SLUICE_OK;
}

static sluice_status api_http_json(sluice_ctx *ctx, const char *path,
                                   int (*fn)(void *arg, const char *query, char *buf,
                                             size_t cap, size_t *len),
                                   void *arg, char *err)
{
    return sl_http_routes_set(ctx, path, fn, arg, err, SLUICE_ERRLEN) == 0 ? SLUICE_OK
                                                                          : SLUICE_ERR;
}

static sluice_status api_commit_hook(sluice_ctx *ctx, sluice_status (*fn)(void *, char *),
                                     void *arg, char *err)
{
    if (!ctx || !ctx->is_transform) {
        snprintf(err, SLUICE_ERRLEN, "commit_hook: only a transform instance takes one");
        return SLUICE_ERR;
    }
    ctx->commit_fn = fn;
    ctx->commit_arg = arg;
    return SLUICE_OK;
}

static const sluice_api g_api = {
    .struct_size = sizeof(sluice_api),
    .abi_major = SLUICE_ABI_MAJOR,
    .abi_minor = SLUICE_ABI_MINOR,
    .log = api_log,
    .cfg_has = sl_cfg_has,
    .cfg_string = sl_cfg_string,
    .cfg_int = sl_cfg_int,
    .cfg_double = sl_cfg_double,
    .cfg_bool = sl_cfg_bool,
    .cfg_list_len = sl_cfg_list_len,
    .cfg_list_at = sl_cfg_list_at,
    .cfg_map_len = sl_cfg_map_len,
    .cfg_map_key = sl_cfg_map_key,
    .cfg_map_value = sl_cfg_map_value,
    .metric = api_metric,
    .metric_add = sl_metric_add,
    .metric_set = sl_metric_set,
    .metric_observe = sl_metric_observe,
    .set_ready = api_set_ready,
    .now_us = api_now_us,
    .mono_ns = api_mono_ns,
    .batch_count = sl_batch_count,
    .batch_at = sl_batch_at,
    .batch_room = sl_batch_room,
    .record_new = sl_record_new,
    .record_copy = sl_record_copy,
    .alloc = sl_alloc,
    .strndup = sl_strndup,
    .set_key = sl_set_key,
    .set_value = sl_set_value,
    .header_add = sl_header_add,
    .field_add = sl_field_add,
    .field_set_string = sl_field_set_string,
    .field_remove = sl_field_remove,
    .record_fail = sl_record_fail,
    .to_json = api_to_json,
    .from_json = api_from_json,
    .spooled = api_spooled,
    .spool_append = api_spool_append,
    .http_json = api_http_json,
    .opt_int = sl_opt_int,
    .opt_double = sl_opt_double,
    .opt_bool = sl_opt_bool,
    .commit_hook = api_commit_hook,
    .from_json_ex = api_from_json_ex,
};

const sluice_api *sl_api(void) { return &g_api; }
