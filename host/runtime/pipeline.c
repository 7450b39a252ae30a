/* A pipeline's life: the supervisor creates the instances, runs the source
 * thread and the sink loop, and restarts the whole pipeline with capped
 * exponential backoff when a run fails. */
#include "pipeline.h"

#include "../batch.h"
#include "../ctx.h"
#include "../log.h"
#include "../metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const state_names[] = {"starting", "running",  "restarting", "stopping",
                                          "stopped",  "finished", "failed"};

const char *sl_pipe_state_name(sl_pipe_state s)
{
    return (unsigned)s < sizeof state_names / sizeof *state_names ? state_names[s] : "?";
}

#define PLOG(p, lvl, ...) sl_log(lvl, (p)->conf->name, NULL, __VA_ARGS__)

void sl_pipeline_set_error(sl_pipeline *p, const char *fmt, ...)
{
    pthread_mutex_lock(&p->err_mu);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->last_error, sizeof p->last_error, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&p->err_mu);
}

int64_t sl_backoff_next(int64_t cur, int64_t initial, int64_t max)
{
    if (cur <= 0)
        return initial > 0 ? initial : 1;
    int64_t n = cur * 2;
    return n > max ? max : n;
}

int sl_pipeline_sleep(sl_pipeline *p, int64_t ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->wait_mu);
    while (!atomic_load(&p->stop)) {
        if (pthread_cond_timedwait(&p->wait_cv, &p->wait_mu, &until) == ETIMEDOUT)
            break;
    }
    int stopped = atomic_load(&p->stop);
    pthread_mutex_unlock(&p->wait_mu);
    return stopped;
}

static void slots_free(sl_pipeline *p)
{
    for (size_t i = 0; i < p->n_slots; i++) {
        sl_batch_free(p->slots[i].src);
        sl_batch_free(p->slots[i].kept);
        for (size_t t = 0; t < p->conf->n_transforms && p->slots[i].stage; t++)
            sl_batch_free(p->slots[i].stage[t]);
        free(p->slots[i].stage);
    }
    free(p->slots);
    p->slots = NULL;
    sl_batch_free(p->dlq_batch);
    p->dlq_batch = NULL;
}

/* Batches are allocated once per pipeline: queue depth + one being filled
 * + one being written.  This is the pipeline's whole record memory. */
static int slots_alloc(sl_pipeline *p)
{
    sl_pipeline_conf *c = p->conf;
    p->n_slots = c->queue_batches + 2;
    p->slots = calloc(p->n_slots, sizeof(*p->slots));
    if (!p->slots)
        return -1;
    for (size_t i = 0; i < p->n_slots; i++) {
        sl_slot *s = &p->slots[i];
        s->src = sl_batch_new(c->batch_max_records, c->batch_arena_bytes);
        /* Copies share the source's bytes; its arena stays empty unless a
         * source fails records, so it costs nothing otherwise. */
        s->kept = sl_batch_new(c->batch_max_records, c->batch_arena_bytes);
        if (!s->src || !s->kept)
            return -1;
        if (c->n_transforms) {
            s->stage = calloc(c->n_transforms, sizeof(*s->stage));
            if (!s->stage)
                return -1;
        }
        for (size_t t = 0; t < c->n_transforms; t++) {
            /* A transform may fan one record out into several (f2_decode
             * makes one per data point): give its batch room for that. */
            s->stage[t] = sl_batch_new(c->batch_max_records * 8, c->batch_arena_bytes * 2);
            if (!s->stage[t])
                return -1;
        }
    }
    p->dlq_batch = sl_batch_new(c->batch_max_records, c->batch_arena_bytes);
    return p->dlq_batch ? 0 : -1;
}

sl_pipeline *sl_pipeline_new(sl_pipeline_conf *conf)
{
    sl_pipeline *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->conf = conf;
    pthread_mutex_init(&p->err_mu, NULL);
    pthread_mutex_init(&p->inst_mu, NULL);
    pthread_mutex_init(&p->wait_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->wait_cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&p->state, SL_PIPE_STARTING);
    atomic_init(&p->first_start, 1);
    if (conf->n_transforms) {
        p->transforms = calloc(conf->n_transforms, sizeof(*p->transforms));
        if (!p->transforms)
            goto fail;
    }
    if (slots_alloc(p) != 0)
        goto fail;
    sl_pipe_metrics_register(p);
    sl_guard_pipe_init(&p->guard, conf->name, conf->watchdog_ms, p);
    return p;
fail:
    sl_pipeline_free(p);
    return NULL;
}

/* One run: queues, source thread, sink loop.  Returns 0 when it ended
 * cleanly (stopped or finished), -1 when it failed. */
static int run_once(sl_pipeline *p)
{
    atomic_store(&p->failed, 0);
    atomic_store(&p->source_done, 0);
    atomic_store(&p->source_eof, 0);
    if (sl_queue_init(&p->ready_q, p->n_slots) != 0 || sl_queue_init(&p->free_q, p->n_slots) != 0) {
        sl_pipeline_set_error(p, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < p->n_slots; i++) {
        sl_batch_reset(p->slots[i].src);
        sl_queue_push(&p->free_q, &p->slots[i]);
    }
    if (pthread_create(&p->source_thread, NULL, sl_source_thread, p) != 0) {
        sl_pipeline_set_error(p, "cannot start the source thread");
        sl_queue_destroy(&p->ready_q);
        sl_queue_destroy(&p->free_q);
        return -1;
    }
    atomic_store(&p->state, SL_PIPE_RUNNING);
    sl_metric_set(p->m.up, 1);
    PLOG(p, SLUICE_LOG_INFO, "running: %s -> %zu transform(s) -> %s%s%s",
         p->conf->source.plugin, p->conf->n_transforms, p->conf->sink.plugin,
         p->has_dlq ? ", dead letters -> " : "", p->has_dlq ? p->conf->dead_letter.plugin : "");

    for (;;) {
        /* The sink side runs until the source thread has ended and the
         * queue is drained, so a stop loses nothing already polled. */
        sl_slot *s = sl_queue_pop(&p->ready_q, 200);
        sl_metric_set(p->m.queue_depth, (double)sl_queue_len(&p->ready_q));
        if (!s) {
            if (atomic_load(&p->source_done) && sl_queue_len(&p->ready_q) == 0)
                break;
            continue;
        }
        if (atomic_load(&p->failed)) {
            sl_queue_push(&p->free_q, s);
            continue;
        }
        if (sl_slot_process(p, s) != 0) {
            /* Keep a more specific reason (2: a record failed under
             * tolerance none) that the slot processing already set. */
            int expected = 0;
            atomic_compare_exchange_strong(&p->failed, &expected, 1);
            /* Unblock the source thread; it ends on the failed flag. */
            sl_queue_close(&p->free_q);
        }
        sl_batch_reset(s->src);
        if (!atomic_load(&p->failed))
            sl_queue_push(&p->free_q, s);
    }
    sl_queue_close(&p->free_q);
    pthread_join(p->source_thread, NULL);
    sl_queue_destroy(&p->ready_q);
    sl_queue_destroy(&p->free_q);
    sl_metric_set(p->m.up, 0);

    if (!atomic_load(&p->failed)) {
        char err[SLUICE_ERRLEN] = "";
        const sluice_sink_ops *ops = p->conf->sink.entry->desc->sink;
        SL_GUARD_ENTER(p, p->sink.label, p->conf->sink.plugin, "flush");
        if (ops->flush && ops->flush(p->sink.inst, err) != SLUICE_OK)
            PLOG(p, SLUICE_LOG_WARN, "sink flush failed: %s", err);
        SL_GUARD_LEAVE();
        if (p->has_dlq) {
            const sluice_sink_ops *dops = p->conf->dead_letter.entry->desc->sink;
            err[0] = '\0';
            SL_GUARD_ENTER(p, p->dlq.label, p->conf->dead_letter.plugin, "flush");
            if (dops->flush && dops->flush(p->dlq.inst, err) != SLUICE_OK)
                PLOG(p, SLUICE_LOG_WARN, "dead-letter sink flush failed: %s", err);
            SL_GUARD_LEAVE();
        }
    }
    if (atomic_load(&p->failed))
        return -1;
    return atomic_load(&p->source_eof) ? 1 : 0;
}

static void *supervisor(void *arg)
{
    sl_pipeline *p = arg;
    sl_pipeline_conf *c = p->conf;
    int64_t init_backoff = 0, restart_backoff = 0;
    for (;;) {
        atomic_store(&p->state, SL_PIPE_STARTING);
        char err[1024];
        int retriable;
        if (sl_instances_create(p, &retriable, err, sizeof err) != 0) {
            sl_pipeline_set_error(p, "%s", err);
            if (!retriable && atomic_load(&p->first_start) == 1) {
                /* A plugin refused its configuration: no retry will help. */
                snprintf(p->init_error, sizeof p->init_error, "%s", err);
                atomic_store(&p->first_start, -1);
                atomic_store(&p->state, SL_PIPE_FAILED);
                return NULL;
            }
            if (atomic_load(&p->first_start) == 1)
                atomic_store(&p->first_start, 2); /* waiting for a server */
            init_backoff = sl_backoff_next(init_backoff, c->retry_initial_ms, c->retry_max_ms);
            PLOG(p, SLUICE_LOG_WARN, "%s; retrying in %lld ms", err, (long long)init_backoff);
            if (sl_pipeline_sleep(p, init_backoff))
                break;
            continue;
        }
        init_backoff = 0;
        atomic_store(&p->first_start, 0);
        int r = run_once(p);
        sl_instances_destroy(p);
        if (r >= 0) {
            atomic_store(&p->state, r == 1 ? SL_PIPE_FINISHED : SL_PIPE_STOPPED);
            PLOG(p, SLUICE_LOG_INFO, "%s: %llu in, %llu out, %llu failed, %llu dead-lettered",
                 r == 1 ? "finished" : "stopped", (unsigned long long)atomic_load(&p->n_in),
                 (unsigned long long)atomic_load(&p->n_out),
                 (unsigned long long)atomic_load(&p->n_failed),
                 (unsigned long long)atomic_load(&p->n_dead));
            return NULL;
        }
        if (c->tolerance == SL_TOLERANCE_NONE && atomic_load(&p->failed) == 2) {
            /* A record failed and the policy says stop: replaying it would
             * fail the same way, so the pipeline stays down. */
            atomic_store(&p->state, SL_PIPE_FAILED);
            pthread_mutex_lock(&p->err_mu);
            PLOG(p, SLUICE_LOG_ERROR, "stopped (errors.tolerance: none): %s", p->last_error);
            pthread_mutex_unlock(&p->err_mu);
            return NULL;
        }
        if (atomic_load(&p->stop))
            break;
        atomic_store(&p->state, SL_PIPE_RESTARTING);
        atomic_fetch_add(&p->n_restarts, 1);
        sl_metric_add(p->m.restarts, 1);
        restart_backoff = sl_backoff_next(restart_backoff, c->restart_initial_ms, c->restart_max_ms);
        pthread_mutex_lock(&p->err_mu);
        PLOG(p, SLUICE_LOG_ERROR, "failed: %s; restarting in %lld ms", p->last_error,
             (long long)restart_backoff);
        pthread_mutex_unlock(&p->err_mu);
        if (sl_pipeline_sleep(p, restart_backoff))
            break;
    }
    atomic_store(&p->state, SL_PIPE_STOPPED);
    return NULL;
}

int sl_pipeline_start(sl_pipeline *p, char *err, size_t errlen)
{
    if (pthread_create(&p->supervisor, NULL, supervisor, p) != 0) {
        snprintf(err, errlen, "pipeline \"%s\": cannot start a thread", p->conf->name);
        return -1;
    }
    p->supervisor_started = 1;
    /* Wait for the first creation of instances, so that `sluice run` can
     * refuse bad configuration with an exit code instead of a log line. */
    int64_t wait_from = sl_guard_now_ms();
    while (atomic_load(&p->first_start) == 1 && sl_guard_start_wait(p->conf->name, wait_from)) {
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&p->first_start) == -1) {
        snprintf(err, errlen, "pipeline \"%.128s\": %.900s", p->conf->name, p->init_error);
        return -1;
    }
    return 0;
}

void sl_pipeline_request_stop(sl_pipeline *p)
{
    pthread_mutex_lock(&p->wait_mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->wait_cv);
    pthread_mutex_unlock(&p->wait_mu);
    sl_pipe_state s = sl_pipeline_state(p);
    if (s == SL_PIPE_RUNNING || s == SL_PIPE_STARTING)
        atomic_store(&p->state, SL_PIPE_STOPPING);
}

void sl_pipeline_abort(sl_pipeline *p)
{
    atomic_store(&p->abort, 1);
    sl_pipeline_request_stop(p);
}

void sl_pipeline_join(sl_pipeline *p)
{
    if (p->supervisor_started) {
        pthread_join(p->supervisor, NULL);
        p->supervisor_started = 0;
    }
}

sl_pipe_state sl_pipeline_state(const sl_pipeline *p)
{
    return (sl_pipe_state)atomic_load(&((sl_pipeline *)p)->state);
}

int sl_pipeline_ready(sl_pipeline *p)
{
    if (sl_pipeline_state(p) != SL_PIPE_RUNNING)
        return 0;
    int ready = 1;
    pthread_mutex_lock(&p->inst_mu);
    sl_instance *all[] = {&p->source, &p->sink, &p->dlq};
    for (size_t i = 0; i < 3; i++)
        if (all[i]->ctx && !atomic_load(&all[i]->ctx->ready))
            ready = 0;
    for (size_t i = 0; i < p->conf->n_transforms; i++)
        if (p->transforms[i].ctx && !atomic_load(&p->transforms[i].ctx->ready))
            ready = 0;
    pthread_mutex_unlock(&p->inst_mu);
    return ready;
}

void sl_pipeline_free(sl_pipeline *p)
{
    if (!p)
        return;
    sl_pipeline_join(p);
    sl_guard_pipe_fini(&p->guard);
    slots_free(p);
    free(p->transforms);
    sl_metrics_release(sl_metrics_global(), p);
    pthread_mutex_destroy(&p->err_mu);
    pthread_mutex_destroy(&p->inst_mu);
    pthread_mutex_destroy(&p->wait_mu);
    pthread_cond_destroy(&p->wait_cv);
    sl_conf_free(p->conf);
    free(p);
}
