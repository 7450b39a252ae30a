/* A pipeline's life: the supervisor creates the instances, runs the source
 * thread and the sink loop, and restarts the whole pipeline with capped
 * exponential backoff when a run fails. */
#include "pipeline.h"

#include "batch.h"
#include "ctx.h"
#include "../spool/spool.h"
#include "log.h"
#include "metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sluice/sluice_time.h>

static const char *const state_names[] = {"starting", "running", "restarting", "stopping",
                                          "stopped",  "finished", "failed",   "parked"};

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

void sl_pipeline_fail(sl_pipeline *p, sl_run_fail why)
{
    sl_run_fail expected = SL_RUN_OK;
    switch (why) {
    case SL_RUN_RECORD_REFUSED:
        atomic_store(&p->failed, why);
        break;
    case SL_RUN_ERROR:
        atomic_compare_exchange_strong(&p->failed, &expected, why);
        break;
    case SL_RUN_OK:
        break;
    }
}

int64_t sl_backoff_next(int64_t cur, int64_t initial, int64_t max)
{
    if (cur <= 0)
        return initial > 0 ? initial : 1;
    int64_t n = cur * 2;
    return n > max ? max : n;
}

/* Waits ms, or until a stop (or, if kickable, SIGHUP's kick) ends the
 * wait: 1 if stopped. */
static int pipe_wait(sl_pipeline *p, int64_t ms, int kickable)
{
    struct timespec until = sluice_deadline_ms(ms);
    pthread_mutex_lock(&p->wait_mu);
    while (!atomic_load(&p->stop) && !(kickable && atomic_load(&p->kick))) {
        if (pthread_cond_timedwait(&p->wait_cv, &p->wait_mu, &until) == ETIMEDOUT)
            break;
    }
    int stopped = atomic_load(&p->stop);
    if (kickable && atomic_exchange(&p->kick, 0) && !stopped)
        PLOG(p, SLUICE_LOG_INFO, "SIGHUP: retrying now");
    pthread_mutex_unlock(&p->wait_mu);
    return stopped;
}

/* A restart or init backoff: SIGHUP also ends it. */
static int backoff_sleep(sl_pipeline *p, int64_t ms)
{
    return pipe_wait(p, ms, 1);
}

int64_t sl_pipeline_next_try_ms(sl_pipeline *p)
{
    pthread_mutex_lock(&p->err_mu);
    int64_t t = p->next_try_ms;
    pthread_mutex_unlock(&p->err_mu);
    if (!t)
        return -1;
    int64_t left = t - sluice_mono_ms();
    return left > 0 ? left : 0;
}

void sl_pipeline_retry_now(sl_pipeline *p)
{
    sl_pipe_state s = sl_pipeline_state(p);
    if (s != SL_PIPE_PARKED && s != SL_PIPE_RESTARTING && s != SL_PIPE_STARTING)
        return;
    pthread_mutex_lock(&p->wait_mu);
    atomic_store(&p->kick, 1);
    pthread_cond_broadcast(&p->wait_cv);
    pthread_mutex_unlock(&p->wait_mu);
}

int sl_pipeline_sleep(sl_pipeline *p, int64_t ms)
{
    return pipe_wait(p, ms, 0);
}

static void slots_free(sl_pipeline *p)
{
    for (size_t i = 0; i < p->n_slots; i++) {
        sl_batch_free(p->slots[i].src);
        sl_batch_free(p->slots[i].kept);
    }
    free(p->slots);
    p->slots = NULL;
    for (size_t t = 0; t < p->conf->n_transforms && p->stage; t++)
        sl_batch_free(p->stage[t]);
    free(p->stage);
    p->stage = NULL;
    sl_batch_free(p->dlq_batch);
    p->dlq_batch = NULL;
}

/* Batches are allocated once per pipeline: queue depth + one being filled
 * + one being written, and one output batch per transform.  This is the
 * pipeline's whole record memory. */
static int slots_alloc(sl_pipeline *p)
{
    sl_pipeline_conf *c = p->conf;
    /* With a disk buffer the spool is the queue: one batch being filled and
     * one being written, whatever the spool holds. */
    p->n_slots = c->spool ? 2 : c->queue_batches + 2;
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
    }
    /* Transforms run on the sink thread only, one slot at a time, and their
     * output is written before the next slot is taken: one output batch
     * per transform serves every slot.  (One per slot kept the arenas of
     * queue depth + 2 batches at their high-water mark: most of a Kafka
     * decoder's memory.) */
    if (c->n_transforms && !(p->stage = calloc(c->n_transforms, sizeof(*p->stage))))
        return -1;
    for (size_t t = 0; t < c->n_transforms; t++) {
        /* A transform may fan one record out into several (f2_decode
         * makes one per data point): give its batch room for that. */
        p->stage[t] = sl_batch_new(c->batch_max_records * 8, c->batch_arena_bytes * 2);
        if (!p->stage[t])
            return -1;
    }
    p->dlq_batch = sl_batch_new(c->batch_max_records, c->batch_arena_bytes);
    return p->dlq_batch ? 0 : -1;
}

/* Every metric of a pipeline, registered once with the pipeline (they live
 * as long as it does; sl_pipeline_free releases them), so the threads that
 * count only ever add to handles they already hold. */
static void pipe_metrics_register(sl_pipeline *p)
{
    sl_metrics *m = sl_metrics_global();
    const char *n = p->conf->name;
#define REG(kind, name, help, stage) sl_metric_register(m, kind, name, help, n, stage, NULL, p)
    p->m.in = REG(SLUICE_METRIC_COUNTER, "sluice_records_in_total",
                  "Records taken from the source", "source");
    p->m.out = REG(SLUICE_METRIC_COUNTER, "sluice_records_out_total",
                   "Records written by the sink", "sink");
    p->m.failed_source = REG(SLUICE_METRIC_COUNTER, "sluice_records_failed_total",
                             "Records that failed, by stage", "source");
    p->m.failed_transform = REG(SLUICE_METRIC_COUNTER, "sluice_records_failed_total",
                                "Records that failed, by stage", "transform");
    p->m.failed_sink = REG(SLUICE_METRIC_COUNTER, "sluice_records_failed_total",
                           "Records that failed, by stage", "sink");
    p->m.dead_letter = REG(SLUICE_METRIC_COUNTER, "sluice_dead_letter_total",
                           "Records written to the dead-letter sink", "dead_letter");
    p->m.rejected = REG(SLUICE_METRIC_COUNTER, "sluice_records_rejected_total",
                        "Failed records counted and logged without a dead-letter sink",
                        "pipeline");
    p->m.batches = REG(SLUICE_METRIC_COUNTER, "sluice_batches_total",
                       "Batches written by the sink", "sink");
    p->m.write_seconds = REG(SLUICE_METRIC_HISTOGRAM, "sluice_batch_write_seconds",
                             "Time the sink took to write a batch", "sink");
    p->m.queue_depth = REG(SLUICE_METRIC_GAUGE, "sluice_queue_depth",
                           "Batches waiting between the source and the sink", "pipeline");
    p->m.retries = REG(SLUICE_METRIC_COUNTER, "sluice_retries_total",
                       "Retries of retriable failures", "pipeline");
    p->m.restarts = REG(SLUICE_METRIC_COUNTER, "sluice_pipeline_restarts_total",
                        "Restarts of the pipeline after a failure", "pipeline");
    p->m.latency = REG(SLUICE_METRIC_HISTOGRAM, "sluice_record_latency_seconds",
                       "From a record's timestamp to its commit (oldest and newest per batch)",
                       "pipeline");
    p->m.up = REG(SLUICE_METRIC_GAUGE, "sluice_pipeline_up", "1 while the pipeline runs",
                  "pipeline");
    p->m.lost = REG(SLUICE_METRIC_COUNTER, "sluice_records_lost_total",
                    "Records of a failed run that its source cannot replay (no disk buffer)",
                    "pipeline");
    if (p->conf->spool) {
        p->m.failed_spool = REG(SLUICE_METRIC_COUNTER, "sluice_records_failed_total",
                                "Records that failed, by stage", "spool");
        p->m.sp_bytes = REG(SLUICE_METRIC_GAUGE, "sluice_spool_bytes",
                            "Bytes held in the spool (appended, not yet released)", "spool");
        p->m.sp_records = REG(SLUICE_METRIC_GAUGE, "sluice_spool_records",
                              "Records held in the spool (appended, not yet released)", "spool");
        p->m.sp_oldest = REG(SLUICE_METRIC_GAUGE, "sluice_spool_oldest_age_seconds",
                             "Age of the oldest record held in the spool (0 when empty)",
                             "spool");
        p->m.sp_replayed = REG(SLUICE_METRIC_COUNTER, "sluice_spool_replayed_total",
                               "Held records found when the spool was opened", "spool");
        p->m.sp_torn = REG(SLUICE_METRIC_COUNTER, "sluice_spool_torn_total",
                           "Torn or corrupt records cut off when the spool was opened",
                           "spool");
        p->m.sp_full = REG(SLUICE_METRIC_GAUGE, "sluice_spool_full",
                           "1 while the source is paused on a full spool", "spool");
        p->m.sp_appended = REG(SLUICE_METRIC_COUNTER, "sluice_spool_appended_total",
                               "Records appended to the spool", "spool");
        p->m.sp_released = REG(SLUICE_METRIC_COUNTER, "sluice_spool_released_total",
                               "Records released from the spool (in the sink or the "
                               "dead-letter sink, or rejected)", "spool");
    }
#undef REG
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
    pthread_mutex_init(&p->spool_mu, NULL);
    pthread_mutex_init(&p->dlq_mu, NULL);
    sluice_cond_init_monotonic(&p->wait_cv);
    atomic_init(&p->state, SL_PIPE_STARTING);
    atomic_init(&p->first_start, SL_FIRST_PENDING);
    if (conf->n_transforms) {
        p->transforms = calloc(conf->n_transforms, sizeof(*p->transforms));
        if (!p->transforms)
            goto fail;
    }
    if (slots_alloc(p) != 0)
        goto fail;
    pipe_metrics_register(p);
    sl_guard_pipe_init(&p->guard, conf->name, conf->watchdog_ms, p);
    return p;
fail:
    sl_pipeline_free(p);
    return NULL;
}

/* Records of a batch a failed run drops, if its source cannot replay them:
 * the records it failed itself were already routed. */
static uint64_t unreplayable(sl_pipeline *p, const sluice_batch *b)
{
    if (p->conf->source.entry->desc->source->ack)
        return 0;
    return b->n - b->n_failed;
}

static void flush_sinks(sl_pipeline *p)
{
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

/* One run of a pipeline with a disk buffer.  The source thread appends to
 * the spool; this (sink) side reads what is there, processes it like any
 * batch and releases it.  A stop ends the run after the batch being
 * written: the rest stays in the spool for the next start.  A source that
 * ended (EOF) is drained completely first. */
static int run_once_spooled(sl_pipeline *p)
{
    atomic_store(&p->failed, SL_RUN_OK);
    atomic_store(&p->source_done, 0);
    atomic_store(&p->source_eof, 0);
    for (size_t i = 0; i < p->n_slots; i++)
        sl_batch_reset(p->slots[i].src);
    sl_pipeline_spool_tick(p, 1);
    pthread_mutex_lock(&p->spool_mu);
    uint64_t held = p->spool_view.last.records;
    pthread_mutex_unlock(&p->spool_mu);
    if (pthread_create(&p->source_thread, NULL, sl_spool_source_thread, p) != 0) {
        sl_pipeline_set_error(p, "cannot start the source thread");
        return -1;
    }
    atomic_store(&p->state, SL_PIPE_RUNNING);
    sl_metric_set(p->m.up, 1);
    PLOG(p, SLUICE_LOG_INFO, "running: %s -> spool %s (%llu records held) -> %zu transform(s) "
         "-> %s%s%s", p->conf->source.plugin, p->conf->spool_path, (unsigned long long)held,
         p->conf->n_transforms, p->conf->sink.plugin, p->has_dlq ? ", dead letters -> " : "",
         p->has_dlq ? p->conf->dead_letter.plugin : "");

    sl_slot *s = &p->slots[1];
    for (;;) {
        if (sl_pipeline_failed(p))
            break;
        int done = atomic_load(&p->source_done);
        int drain = done && atomic_load(&p->source_eof);
        if (atomic_load(&p->stop) || (done && !drain))
            break;
        sl_batch_reset(s->src);
        char err[SLUICE_ERRLEN] = "";
        /* Short waits keep the stop flag responsive; whatever is there is
         * taken at once, so batches grow only while the sink is busy. */
        long n = sl_spool_read(p->spool, s->src, drain ? 0 : 200, err, sizeof err);
        if (n < 0) {
            sl_pipeline_set_error(p, "spool %s: %s", p->conf->spool_path, err);
            sl_pipeline_fail(p, SL_RUN_ERROR);
            break;
        }
        if (n == 0) {
            sl_pipeline_spool_tick(p, 0);
            if (drain)
                break;
            continue;
        }
        if (sl_slot_process(p, s) != 0) {
            sl_pipeline_fail(p, SL_RUN_ERROR);
            break;
        }
        sl_pipeline_spool_tick(p, 0);
    }
    sl_batch_reset(s->src);
    /* A source waiting for room, now or in its final drain, appends past
     * max_size from here on: its records have no other place. */
    sl_spool_wake(p->spool);
    pthread_join(p->source_thread, NULL);
    sl_metric_set(p->m.up, 0);
    if (!sl_pipeline_failed(p))
        flush_sinks(p);
    if (sl_pipeline_failed(p))
        return -1;
    return atomic_load(&p->source_eof) && !atomic_load(&p->stop) ? 1 : 0;
}

/* One run: queues, source thread, sink loop.  Returns 0 when it ended
 * cleanly (stopped or finished), -1 when it failed. */
static int run_once(sl_pipeline *p)
{
    if (p->conf->spool)
        return run_once_spooled(p);
    uint64_t lost = 0;
    atomic_store(&p->failed, SL_RUN_OK);
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
        if (sl_pipeline_failed(p)) {
            lost += unreplayable(p, s->src);
            sl_queue_push(&p->free_q, s);
            continue;
        }
        if (sl_slot_process(p, s) != 0) {
            lost += unreplayable(p, s->src);
            /* A refused record, if the slot processing set it, stays the
             * reason. */
            sl_pipeline_fail(p, SL_RUN_ERROR);
            /* Unblock the source thread; it ends on the failed flag. */
            sl_queue_close(&p->free_q);
        }
        sl_batch_reset(s->src);
        if (!sl_pipeline_failed(p))
            sl_queue_push(&p->free_q, s);
    }
    sl_queue_close(&p->free_q);
    pthread_join(p->source_thread, NULL);
    sl_queue_destroy(&p->ready_q);
    sl_queue_destroy(&p->free_q);
    sl_metric_set(p->m.up, 0);
    if (lost) {
        /* Without a disk buffer and without a source that replays, the
         * batches this run could not finish had no other copy. */
        atomic_fetch_add(&p->n_lost, lost);
        sl_metric_add(p->m.lost, (double)lost);
        PLOG(p, SLUICE_LOG_ERROR,
             "%llu records of this run's unfinished batches are lost: the source (plugin "
             "\"%s\") cannot replay them and the pipeline has no disk buffer (buffer.type: "
             "disk); counted in sluice_records_lost_total",
             (unsigned long long)lost, p->conf->source.plugin);
    }

    if (!sl_pipeline_failed(p))
        flush_sinks(p);
    if (sl_pipeline_failed(p))
        return -1;
    return atomic_load(&p->source_eof) ? 1 : 0;
}

/* Opens the disk buffer for a run.  0, or -1 with err. */
static int spool_open(sl_pipeline *p, char *err, size_t errlen)
{
    sl_pipeline_conf *c = p->conf;
    sl_spool_opts o = {.dir = c->spool_path,
                       .max_bytes = c->spool_max_bytes,
                       .segment_bytes = c->spool_segment_bytes,
                       .fsync = c->spool_fsync,
                       .fsync_interval_ms = c->spool_fsync_interval_ms};
    sl_spool *sp = NULL;
    char e[900] = "";
    if (sl_spool_open(&o, &sp, e, sizeof e) != 0) {
        snprintf(err, errlen, "disk buffer (buffer.path of %s): %s", c->path,
                 e[0] ? e : "cannot open the spool");
        return -1;
    }
    pthread_mutex_lock(&p->spool_mu);
    p->spool = sp;
    sl_spool_view *v = &p->spool_view;
    v->seen_appended = v->seen_released = v->seen_torn = 0;
    v->seen_replayed = v->held_at_close;
    v->next_tick_ms = 0;
    pthread_mutex_unlock(&p->spool_mu);
    sl_pipeline_spool_tick(p, 1);
    /* The spool itself logs what it replays and what it cut off. */
    return 0;
}

/* Closes the disk buffer after a run (its instances are destroyed, so no
 * source thread appends any more).  `why`: NULL after a failed run (the
 * park line says how many are kept), else the reason it ended. */
static void spool_close(sl_pipeline *p, const char *why)
{
    if (!p->spool)
        return;
    sl_pipeline_spool_tick(p, 1);
    pthread_mutex_lock(&p->spool_mu);
    sl_spool *sp = p->spool;
    p->spool = NULL;
    sl_spool_stats st = p->spool_view.last;
    p->spool_view.held_at_close = st.records;
    if (p->spool_view.paused) {
        p->spool_view.paused = 0;
        sl_metric_set(p->m.sp_full, 0);
    }
    pthread_mutex_unlock(&p->spool_mu);
    sl_spool_close(sp);
    if (why)
        PLOG(p, SLUICE_LOG_INFO, "%s: %llu records left in the spool for the next start%s", why,
             (unsigned long long)st.records,
             atomic_load(&p->abort) && st.records
                 ? " (the shutdown deadline cut the sink's retries; the batch it was writing "
                   "is kept too)"
                 : "");
}

void sl_pipeline_spool_tick(sl_pipeline *p, int force)
{
    if (!p->conf->spool)
        return;
    pthread_mutex_lock(&p->spool_mu);
    sl_spool_view *v = &p->spool_view;
    int64_t now = sluice_mono_ms();
    if (!p->spool || (!force && now < v->next_tick_ms)) {
        pthread_mutex_unlock(&p->spool_mu);
        return;
    }
    v->next_tick_ms = now + 250;
    sl_spool_stats st;
    sl_spool_stats_get(p->spool, &st);
    v->last = st;
    /* The spool's counters restart at each open; the metrics do not. */
#define DELTA(field, seen, total, metric)                                                      \
    if (st.field > v->seen) {                                                                  \
        v->total += st.field - v->seen;                                                        \
        sl_metric_add(p->m.metric, (double)(st.field - v->seen));                              \
        v->seen = st.field;                                                                    \
    }
    DELTA(appended_total, seen_appended, appended, sp_appended)
    DELTA(released_total, seen_released, released, sp_released)
    DELTA(replayed, seen_replayed, replayed, sp_replayed)
    DELTA(torn, seen_torn, torn, sp_torn)
#undef DELTA
    sl_metric_set(p->m.sp_bytes, (double)st.bytes);
    sl_metric_set(p->m.sp_records, (double)st.records);
    int64_t now_us = sl_api()->now_us();
    sl_metric_set(p->m.sp_oldest,
                  st.oldest_us > 0 && now_us > st.oldest_us ? (double)(now_us - st.oldest_us) / 1e6
                                                            : 0.0);
    /* The gauge says whether the source is paused on a full spool, with the
     * spool's own hysteresis (it logs the pause once, and the resume once
     * half of max_size is free again), so a spool hovering at its limit
     * shows as one pause, as in the log. */
    if (st.full && !v->paused)
        v->paused = 1;
    else if (!st.full && v->paused && st.bytes <= p->conf->spool_max_bytes / 2)
        v->paused = 0;
    sl_metric_set(p->m.sp_full, v->paused);
    pthread_mutex_unlock(&p->spool_mu);
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
        int rc = 0;
        /* The spool first: the source's instance learns at init that it may
         * append to it (api->spooled), and a refusal (another process holds
         * the directory) is a start failure like a plugin's. */
        if (c->spool && spool_open(p, err, sizeof err) != 0) {
            /* Refused at the first start (another process holds the
             * directory, say); later, a start failure like any other. */
            retriable = atomic_load(&p->first_start) != SL_FIRST_PENDING;
            rc = -1;
        } else if (sl_instances_create(p, &retriable, err, sizeof err) != 0) {
            spool_close(p, NULL);
            rc = -1;
        }
        if (rc != 0) {
            sl_pipeline_set_error(p, "%s", err);
            if (atomic_load(&p->first_start) == SL_FIRST_PENDING) {
                if (!retriable) {
                    /* A plugin refused its configuration: no retry will help. */
                    snprintf(p->init_error, sizeof p->init_error, "%s", err);
                    atomic_store(&p->first_start, SL_FIRST_REFUSED);
                    atomic_store(&p->state, SL_PIPE_FAILED);
                    return NULL;
                }
                atomic_store(&p->first_start, SL_FIRST_WAITING);
            }
            init_backoff = sl_backoff_next(init_backoff, c->retry_initial_ms, c->retry_max_ms);
            PLOG(p, SLUICE_LOG_WARN, "%s; retrying in %lld ms", err, (long long)init_backoff);
            if (backoff_sleep(p, init_backoff))
                break;
            continue;
        }
        init_backoff = 0;
        atomic_store(&p->first_start, SL_FIRST_OK);
        pthread_mutex_lock(&p->err_mu);
        p->park_reason[0] = '\0';
        p->next_try_ms = 0;
        pthread_mutex_unlock(&p->err_mu);
        int r = run_once(p);
        sl_instances_destroy(p);
        if (r >= 0) {
            spool_close(p, r == 1 ? "finished" : "stopped");
            atomic_store(&p->state, r == 1 ? SL_PIPE_FINISHED : SL_PIPE_STOPPED);
            PLOG(p, SLUICE_LOG_INFO, "%s: %llu in, %llu out, %llu failed, %llu dead-lettered",
                 r == 1 ? "finished" : "stopped", (unsigned long long)atomic_load(&p->n_in),
                 (unsigned long long)atomic_load(&p->n_out),
                 (unsigned long long)atomic_load(&p->n_failed),
                 (unsigned long long)atomic_load(&p->n_dead));
            return NULL;
        }
        if (atomic_load(&p->stop)) {
            spool_close(p, "stopped");
            PLOG(p, SLUICE_LOG_INFO, "stopped: %llu in, %llu out, %llu failed, %llu dead-lettered",
                 (unsigned long long)atomic_load(&p->n_in),
                 (unsigned long long)atomic_load(&p->n_out),
                 (unsigned long long)atomic_load(&p->n_failed),
                 (unsigned long long)atomic_load(&p->n_dead));
            break;
        }
        spool_close(p, NULL);
        int refused = 0;
        switch (atomic_load(&p->failed)) {
        case SL_RUN_RECORD_REFUSED:
            refused = 1;
            break;
        case SL_RUN_OK:      /* the run ended early for another reason */
        case SL_RUN_ERROR:
            break;
        }
        if (!c->spool && c->tolerance == SL_TOLERANCE_NONE && refused) {
            /* A record failed and the policy says stop: replaying it would
             * fail the same way, so the pipeline stays down.  (With a disk
             * buffer it parks instead: the records are kept, and a change of
             * the file or of the data behind the sink may let it through.) */
            atomic_store(&p->state, SL_PIPE_FAILED);
            pthread_mutex_lock(&p->err_mu);
            PLOG(p, SLUICE_LOG_ERROR, "stopped (errors.tolerance: none): %s", p->last_error);
            pthread_mutex_unlock(&p->err_mu);
            return NULL;
        }
        atomic_fetch_add(&p->n_restarts, 1);
        sl_metric_add(p->m.restarts, 1);
        restart_backoff = sl_backoff_next(restart_backoff, c->restart_initial_ms, c->restart_max_ms);
        pthread_mutex_lock(&p->err_mu);
        p->next_try_ms = sluice_mono_ms() + restart_backoff;
        if (c->spool) {
            pthread_mutex_lock(&p->spool_mu);
            uint64_t kept = p->spool_view.last.records;
            pthread_mutex_unlock(&p->spool_mu);
            snprintf(p->park_reason, sizeof p->park_reason,
                     "parked: %s%s; %llu records kept in the spool", p->last_error,
                     refused ? " (errors.tolerance: none)" : "",
                     (unsigned long long)kept);
            atomic_store(&p->state, SL_PIPE_PARKED);
            PLOG(p, SLUICE_LOG_ERROR, "%s; next try in %lld ms or on SIGHUP", p->park_reason,
                 (long long)restart_backoff);
        } else {
            atomic_store(&p->state, SL_PIPE_RESTARTING);
            PLOG(p, SLUICE_LOG_ERROR, "failed: %s; restarting in %lld ms", p->last_error,
                 (long long)restart_backoff);
        }
        pthread_mutex_unlock(&p->err_mu);
        if (backoff_sleep(p, restart_backoff)) {
            if (c->spool) {
                pthread_mutex_lock(&p->spool_mu);
                uint64_t kept = p->spool_view.last.records;
                pthread_mutex_unlock(&p->spool_mu);
                PLOG(p, SLUICE_LOG_INFO, "stopped while parked: %llu records left in the spool "
                     "for the next start", (unsigned long long)kept);
            }
            break;
        }
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
    while (atomic_load(&p->first_start) == SL_FIRST_PENDING &&
           sl_guard_start_wait(p->conf->name, wait_from)) {
        sluice_sleep_ms(5);
    }
    switch (atomic_load(&p->first_start)) {
    case SL_FIRST_REFUSED:
        snprintf(err, errlen, "pipeline \"%.128s\": %.900s", p->conf->name, p->init_error);
        return -1;
    case SL_FIRST_PENDING:   /* init still running: the watchdog reports a hang */
    case SL_FIRST_OK:
    case SL_FIRST_WAITING:   /* the supervisor keeps retrying */
        break;
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
    /* A source waiting for room in a full spool must not wait any more: it
     * is to hand over what it holds and stop. */
    pthread_mutex_lock(&p->spool_mu);
    if (p->spool)
        sl_spool_wake(p->spool);
    pthread_mutex_unlock(&p->spool_mu);
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
    pthread_mutex_destroy(&p->spool_mu);
    pthread_mutex_destroy(&p->dlq_mu);
    pthread_cond_destroy(&p->wait_cv);
    sl_conf_free(p->conf);
    free(p);
}
