/* Creating and destroying a pipeline's plugin instances.  Creation is all or
 * nothing: when one init fails, the instances already made are destroyed, so
 * a pipeline is never half started. */
#include "pipeline.h"

#include "ctx.h"
#include "http_routes.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Returns SLUICE_OK, or the plugin's status with err filled. */
static sluice_status create_one(sl_pipeline *p, sl_instance *in, const sl_stage_conf *c,
                                const char *label, char *err, size_t errlen)
{
    memset(in, 0, sizeof(*in));
    in->conf = c;
    snprintf(in->label, sizeof in->label, "%s", label);
    sluice_ctx *ctx = sl_ctx_new(p->conf->name, label, c->plugin);
    if (!ctx) {
        snprintf(err, errlen, "%s (plugin \"%s\"): out of memory", label, c->plugin);
        return SLUICE_ERR;
    }
    ctx->is_transform = c->kind == SL_TRANSFORM;
    if ((c->kind == SL_SOURCE || c->kind == SL_TRANSFORM) && p->spool) {
        ctx->spool = p->spool;
        ctx->spool_in = &p->n_in;
        ctx->spool_in_metric = p->m.in;
        /* A transform re-injects from a thread of its own (f2_decode's
         * parked readings): it has somewhere else to keep the records, so
         * it is told the spool is full rather than made to wait. */
        ctx->spool_nowait = c->kind == SL_TRANSFORM;
    }
    sluice_init_args a = {
        .struct_size = sizeof(a),
        .api = sl_api(),
        .cfg = c->cfg,
        .ctx = ctx,
        .pipeline = p->conf->name,
        .instance = label,
    };
    char perr[SLUICE_ERRLEN] = "";
    sluice_status st;
    const sluice_plugin *d = c->entry->desc;
    SL_GUARD_ENTER(p, in->label, c->plugin, "init");
    switch (c->kind) {
    case SL_SOURCE: st = d->source->init(&a, &in->inst, perr); break;
    case SL_TRANSFORM: st = d->transform->init(&a, &in->inst, perr); break;
    default: st = d->sink->init(&a, &in->inst, perr); break;
    }
    SL_GUARD_LEAVE();
    if (st == SLUICE_OK) {
        pthread_mutex_lock(&p->inst_mu);
        in->ctx = ctx;
        pthread_mutex_unlock(&p->inst_mu);
    } else {
        perr[SLUICE_ERRLEN - 1] = '\0';
        snprintf(err, errlen, "%s (plugin \"%s\", %s:%d): %s", label, c->plugin,
                 p->conf->path, c->line, perr[0] ? perr : "init failed without a reason");
        /* Undo what the plugin registered (metrics) along with the context. */
        sl_ctx_free(ctx);
        in->inst = NULL;
        return st == SLUICE_RETRY ? SLUICE_RETRY : SLUICE_ERR;
    }
    return SLUICE_OK;
}

static void destroy_one(sl_pipeline *p, sl_instance *in)
{
    /* Unpublish the context first, so /ready never reads a freed one; the
     * plugin may still use it while it is being destroyed. */
    pthread_mutex_lock(&p->inst_mu);
    sluice_ctx *ctx = in->ctx;
    in->ctx = NULL;
    pthread_mutex_unlock(&p->inst_mu);
    if (!ctx)
        return;
    /* No HTTP callback may run into an instance being freed. */
    sl_http_routes_drop(ctx);
    const sluice_plugin *d = in->conf->entry->desc;
    SL_GUARD_ENTER(p, in->label, in->conf->plugin, "destroy");
    switch (in->conf->kind) {
    case SL_SOURCE: d->source->destroy(in->inst); break;
    case SL_TRANSFORM: d->transform->destroy(in->inst); break;
    default: d->sink->destroy(in->inst); break;
    }
    SL_GUARD_LEAVE();
    sl_ctx_free(ctx);
    in->inst = NULL;
}

int sl_instances_create(sl_pipeline *p, int *retriable, char *err, size_t errlen)
{
    sl_pipeline_conf *c = p->conf;
    *retriable = 0;
    sluice_status st;
    /* Sinks first: if the destination is unusable there is no point in
     * connecting a source that would start taking messages. */
    st = create_one(p, &p->sink, &c->sink, "sink", err, errlen);
    if (st != SLUICE_OK)
        goto fail;
    if (c->has_dead_letter) {
        st = create_one(p, &p->dlq, &c->dead_letter, "dead_letter", err, errlen);
        if (st != SLUICE_OK)
            goto fail;
        p->has_dlq = 1;
    }
    for (size_t i = 0; i < c->n_transforms; i++) {
        char label[32];
        snprintf(label, sizeof label, "transform[%zu]", i);
        st = create_one(p, &p->transforms[i], &c->transforms[i], label, err, errlen);
        if (st != SLUICE_OK)
            goto fail;
    }
    st = create_one(p, &p->source, &c->source, "source", err, errlen);
    if (st != SLUICE_OK)
        goto fail;
    return 0;
fail:
    *retriable = st == SLUICE_RETRY;
    sl_instances_destroy(p);
    return -1;
}

void sl_instances_destroy(sl_pipeline *p)
{
    /* Source first, so nothing new arrives while the rest goes away. */
    destroy_one(p, &p->source);
    for (size_t i = 0; i < p->conf->n_transforms; i++)
        destroy_one(p, &p->transforms[i]);
    destroy_one(p, &p->dlq);
    destroy_one(p, &p->sink);
    p->has_dlq = 0;
}
