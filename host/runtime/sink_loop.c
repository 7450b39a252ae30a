/* The sink side of a pipeline: transforms, the sink write, dead letters and
 * the acknowledgement to the source.  A slot is acknowledged only after
 * every record in it reached the sink, the dead-letter sink, or a counted
 * rejection. */
#include "pipeline.h"

#include "batch.h"
#include "batch_api.h"
#include "ctx.h"
#include "log.h"
#include "redact.h"
#include "metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sluice/sluice_time.h>

/* Per-record error lines are capped at 20 a second per pipeline, so a flood
 * of bad input cannot flood the log; the counters still count every one. */
static void log_record_error(sl_pipeline *p, const char *fmt, ...) SLUICE_PRINTF(2, 3);
static void log_record_error(sl_pipeline *p, const char *fmt, ...)
{
    int64_t now = sluice_mono_ns();
    if (now - p->log_window_ns > 1000000000LL) {
        if (p->log_suppressed)
            sl_log(SLUICE_LOG_WARN, p->conf->name, NULL,
                   "%" PRIu64 " more record errors not logged in the last second",
                   p->log_suppressed);
        p->log_window_ns = now;
        p->log_in_window = 0;
        p->log_suppressed = 0;
    }
    if (p->log_in_window++ >= 20) {
        p->log_suppressed++;
        return;
    }
    char msg[SLUICE_ERRLEN + 512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sl_log(SLUICE_LOG_WARN, p->conf->name, NULL, "%s", msg);
}

/* A stop request does not cut retries short: a batch must be written
 * before the pipeline may stop.  Only the shutdown deadline (abort) does. */
static void abortable_sleep(sl_pipeline *p, int64_t ms)
{
    int64_t end = sluice_mono_ms() + ms;
    for (int64_t left = ms; left > 0 && !atomic_load(&p->abort);
         left = end - sluice_mono_ms())
        sluice_sleep_ms(left < 20 ? left : 20);
}

static void describe_origin(const sluice_record *r, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%" PRId32 "@%" PRId64, r->origin.topic ? r->origin.topic : "",
             r->origin.topic ? ":" : "", r->origin.partition, r->origin.offset);
}

/* Writes a batch to a sink, retrying retriable failures with backoff.
 * Returns the final status (OK, PARTIAL or ERR). */
static sluice_status write_with_retry(sl_pipeline *p, sl_instance *in, sluice_batch *b,
                                      char *err)
{
    const sluice_sink_ops *ops = in->conf->entry->desc->sink;
    int64_t backoff = 0, attempts = 0;
    for (;;) {
        err[0] = '\0';
        int64_t t0 = sluice_mono_ns();
        SL_GUARD_ENTER(p, in->label, in->conf->plugin, "write");
        sluice_status st = ops->write(in->inst, b, err);
        SL_GUARD_LEAVE();
        if (st != SLUICE_RETRY) {
            if (in == &p->sink)
                sl_metric_observe(p->m.write_seconds, (double)(sluice_mono_ns() - t0) / 1e9);
            return st;
        }
        attempts++;
        sl_metric_add(p->m.retries, 1);
        sl_pipeline_set_error(p, "%s (plugin \"%s\"): %s", in->label, in->conf->plugin, err);
        if (p->conf->retry_max_attempts > 0 && attempts >= p->conf->retry_max_attempts) {
            snprintf(err + strlen(err), SLUICE_ERRLEN - strlen(err),
                     " (gave up after %" PRId64 " attempts)", attempts);
            return SLUICE_ERR;
        }
        if (atomic_load(&p->abort))
            return SLUICE_ERR;
        backoff = sl_backoff_next(backoff, p->conf->retry_initial_ms, p->conf->retry_max_ms);
        sl_log(SLUICE_LOG_WARN, p->conf->name, in->label, "%s; retry %" PRId64 " in %" PRId64
               " ms", err, attempts, backoff);
        abortable_sleep(p, backoff);
    }
}

static int flush_dead_letters_locked(sl_pipeline *p)
{
    sluice_batch *d = p->dlq_batch;
    if (!d->n)
        return 0;
    char err[SLUICE_ERRLEN];
    sluice_status st = write_with_retry(p, &p->dlq, d, err);
    if (st == SLUICE_ERR) {
        sl_pipeline_set_error(p, "dead_letter (plugin \"%s\"): %s", p->dlq.conf->plugin, err);
        return -1;
    }
    size_t refused = 0;
    if (st == SLUICE_PARTIAL) {
        for (size_t i = 0; i < d->n; i++) {
            if (!d->recs[i].failure_)
                continue;
            refused++;
            log_record_error(p, "dead-letter sink refused a record: %s", d->recs[i].failure_);
        }
        atomic_fetch_add(&p->n_rejected, refused);
        sl_metric_add(p->m.rejected, (double)refused);
    }
    atomic_fetch_add(&p->n_dead, d->n - refused);
    sl_metric_add(p->m.dead_letter, (double)(d->n - refused));
    sl_batch_reset(d);
    return 0;
}

static int flush_dead_letters(sl_pipeline *p)
{
    pthread_mutex_lock(&p->dlq_mu);
    int r = flush_dead_letters_locked(p);
    pthread_mutex_unlock(&p->dlq_mu);
    return r;
}

/* Routes one failed record by the error policy.  Returns -1 when the
 * pipeline must stop. */
static int record_failed_locked(sl_pipeline *p, const sluice_record *r, const char *stage,
                                const char *plugin, const char *reason)
{
    char origin[512];
    describe_origin(r, origin, sizeof origin);
    atomic_fetch_add(&p->n_failed, 1);
    if (p->conf->tolerance == SL_TOLERANCE_NONE) {
        sl_pipeline_set_error(p, "%s (plugin \"%s\") failed a record from %s: %s", stage,
                              plugin, origin, reason);
        sl_pipeline_fail(p, SL_RUN_RECORD_REFUSED);
        return -1;
    }
    if (!p->has_dlq) {
        atomic_fetch_add(&p->n_rejected, 1);
        sl_metric_add(p->m.rejected, 1);
        if (p->conf->log_errors)
            log_record_error(p, "rejected a record from %s at %s (plugin \"%s\"): %s", origin,
                             stage, plugin, reason);
        return 0;
    }
    if (p->conf->log_errors)
        log_record_error(p, "dead-lettering a record from %s at %s (plugin \"%s\"): %s",
                         origin, stage, plugin, reason);
    sluice_batch *d = p->dlq_batch;
    if (sl_batch_room(d) == 0 && flush_dead_letters_locked(p) != 0)
        return -1;
    sluice_record *c = sl_record_copy(d, r);
    char part[24], off[24];
    snprintf(part, sizeof part, "%" PRId32, r->origin.partition);
    snprintf(off, sizeof off, "%" PRId64, r->origin.offset);
    const char *topic = r->origin.topic ? r->origin.topic : "";
    if (!c || sl_header_add(d, c, "sluice.error.reason", reason, strlen(reason)) ||
        sl_header_add(d, c, "sluice.error.stage", stage, strlen(stage)) ||
        sl_header_add(d, c, "sluice.error.plugin", plugin, strlen(plugin)) ||
        sl_header_add(d, c, "sluice.error.pipeline", p->conf->name, strlen(p->conf->name)) ||
        sl_header_add(d, c, "sluice.origin.topic", topic, strlen(topic)) ||
        sl_header_add(d, c, "sluice.origin.partition", part, strlen(part)) ||
        sl_header_add(d, c, "sluice.origin.offset", off, strlen(off))) {
        /* The dead-letter batch's arena is full: write it out and retry once. */
        if (c)
            d->n--;
        if (flush_dead_letters_locked(p) != 0)
            return -1;
        c = sl_record_copy(d, r);
        if (!c || sl_header_add(d, c, "sluice.error.reason", reason, strlen(reason)) ||
            sl_header_add(d, c, "sluice.error.stage", stage, strlen(stage))) {
            sl_pipeline_set_error(p, "a failed record does not fit a dead-letter batch; "
                                     "raise batch.max_bytes");
            return -1;
        }
    }
    return 0;
}

static int record_failed(sl_pipeline *p, const sluice_record *r, const char *stage,
                         const char *plugin, const char *reason)
{
    /* The reason travels on in the dead letter's sluice.error.reason header
     * and in /status: a secret a plugin or server quoted must not. */
    char why[SLUICE_ERRLEN + 64];
    snprintf(why, sizeof why, "%s", reason);
    sl_secret_scrub(why, sizeof why);
    pthread_mutex_lock(&p->dlq_mu);
    int rc = record_failed_locked(p, r, stage, plugin, why);
    pthread_mutex_unlock(&p->dlq_mu);
    return rc;
}

static int deliver(sl_pipeline *p, sl_slot *s, size_t t, sluice_batch *cur);

/* Why a record's output cannot fit even an empty batch: the transform's own
 * reason when it gave one (a 1.0 transform), else the sizes to raise. */
static void too_big(const sluice_batch *out, sluice_status st, char *err)
{
    if (st == SLUICE_FULL || !err[0]) {
        snprintf(err, SLUICE_ERRLEN,
                 "the record's output does not fit an empty output batch (%zu records, %zu "
                 "bytes); raise batch.max_records or batch.max_bytes",
                 out->cap, out->arena.limit);
        return;
    }
    size_t n = strlen(err);
    snprintf(err + n, SLUICE_ERRLEN - n,
             " (even in an empty output batch: raise batch.max_records or batch.max_bytes)");
}

/* The transform's commit point (api->commit_hook), if it set one:
 * what process() deferred is made durable before the output goes on. */
static int commit_transform(sl_pipeline *p, sl_instance *ti)
{
    if (!ti->ctx || !ti->ctx->commit_fn)
        return 0;
    int64_t backoff = 0;
    for (;;) {
        char err[SLUICE_ERRLEN] = "";
        SL_GUARD_ENTER(p, ti->label, ti->conf->plugin, "commit");
        sluice_status st = ti->ctx->commit_fn(ti->ctx->commit_arg, err);
        SL_GUARD_LEAVE();
        if (st == SLUICE_OK)
            return 0;
        if (!err[0])
            snprintf(err, sizeof err, "commit failed without a reason");
        if (st == SLUICE_RETRY && !atomic_load(&p->abort)) {
            sl_metric_add(p->m.retries, 1);
            backoff = sl_backoff_next(backoff, p->conf->retry_initial_ms, p->conf->retry_max_ms);
            sl_pipeline_set_error(p, "%s (plugin \"%s\"): %s", ti->label, ti->conf->plugin, err);
            sl_log(SLUICE_LOG_WARN, p->conf->name, ti->label, "%s; retrying in %lld ms", err,
                   (long long)backoff);
            abortable_sleep(p, backoff);
            continue;
        }
        sl_pipeline_set_error(p, "%s (plugin \"%s\"): %s", ti->label, ti->conf->plugin, err);
        return -1;
    }
}

/* Runs transform t over `in` into its output batch and hands the
 * result on.  When the batch runs out of room (SLUICE_FULL, or a 1.0
 * transform's SLUICE_ERR after a refused allocation) what it holds goes
 * through the rest of the pipeline first and the record is processed again
 * into the emptied batch: a good record never fails for lack of room. */
static int run_transform(sl_pipeline *p, sl_slot *s, size_t t, sluice_batch *in)
{
    sl_instance *ti = &p->transforms[t];
    const sluice_transform_ops *ops = ti->conf->entry->desc->transform;
    sluice_batch *out = p->stage[t];
    sl_batch_reset(out);
    int fresh = 1; /* nothing allocated from out since its reset */
    for (size_t i = 0; i < in->n; i++) {
        const sluice_record *r = &in->recs[i];
        if (r->failure_)
            continue; /* failed by the source; already routed */
        int64_t backoff = 0;
        for (;;) {
            size_t mark = out->n;
            char err[SLUICE_ERRLEN] = "";
            out->out_of_room = 0;
            SL_GUARD_ENTER(p, ti->label, ti->conf->plugin, "process");
            sluice_status st = ops->process(ti->inst, r, out, err);
            SL_GUARD_LEAVE();
            int was_fresh = fresh;
            fresh = 0;
            if (st == SLUICE_OK)
                break;
            out->n = mark; /* drop what the failed call appended */
            if (st == SLUICE_FULL || (st == SLUICE_ERR && out->out_of_room)) {
                if (mark > 0 && (commit_transform(p, ti) != 0 ||
                                 deliver(p, s, t + 1, out) != 0))
                    return -1;
                /* Empty out (its arena too: failed calls leave memory
                 * behind) and try again, unless it already was. */
                if (mark > 0 || !was_fresh) {
                    sl_batch_reset(out);
                    fresh = 1;
                    continue;
                }
                too_big(out, st, err);
                st = SLUICE_ERR;
            }
            if (st == SLUICE_RETRY && !atomic_load(&p->abort)) {
                sl_metric_add(p->m.retries, 1);
                backoff = sl_backoff_next(backoff, p->conf->retry_initial_ms,
                                          p->conf->retry_max_ms);
                sl_pipeline_set_error(p, "%s (plugin \"%s\"): %s", ti->label, ti->conf->plugin,
                                      err);
                sl_log(SLUICE_LOG_WARN, p->conf->name, ti->label, "%s; retrying in %lld ms",
                       err, (long long)backoff);
                abortable_sleep(p, backoff);
                continue;
            }
            if (st == SLUICE_RETRY) {
                sl_pipeline_set_error(p, "%s: shutdown deadline passed while retrying: %s",
                                      ti->label, err);
                return -1;
            }
            if (!err[0])
                snprintf(err, sizeof err, "the transform failed without a reason");
            sl_metric_add(p->m.failed_transform, 1);
            if (record_failed(p, r, ti->label, ti->conf->plugin, err) != 0)
                return -1;
            break;
        }
    }
    if (commit_transform(p, ti) != 0)
        return -1;
    return deliver(p, s, t + 1, out);
}

/* Writes `cur` to the sink and counts it. */
static int write_sink(sl_pipeline *p, sluice_batch *cur)
{
    if (!cur->n)
        return 0;
    char err[SLUICE_ERRLEN];
    sluice_status st = write_with_retry(p, &p->sink, cur, err);
    if (st == SLUICE_ERR) {
        sl_pipeline_set_error(p, "sink (plugin \"%s\"): %s", p->conf->sink.plugin,
                              err[0] ? err : "write failed");
        return -1;
    }
    size_t bad = 0;
    if (st == SLUICE_PARTIAL) {
        for (size_t i = 0; i < cur->n; i++) {
            const char *why = cur->recs[i].failure_;
            if (!why)
                continue;
            bad++;
            sl_metric_add(p->m.failed_sink, 1);
            if (record_failed(p, &cur->recs[i], "sink", p->conf->sink.plugin, why) != 0)
                return -1;
        }
    }
    atomic_fetch_add(&p->n_out, cur->n - bad);
    sl_metric_add(p->m.out, (double)(cur->n - bad));
    sl_metric_add(p->m.batches, 1);
    /* Latency is sampled from the batch's oldest and newest record:
     * observing every record would put histogram work on the hot path. */
    int64_t now_us = sl_api()->now_us();
    if (cur->recs[0].timestamp > 0)
        sl_metric_observe(p->m.latency, (double)(now_us - cur->recs[0].timestamp) / 1e6);
    if (cur->n > 1 && cur->recs[cur->n - 1].timestamp > 0)
        sl_metric_observe(p->m.latency,
                          (double)(now_us - cur->recs[cur->n - 1].timestamp) / 1e6);
    return 0;
}

/* Sends `cur` through transforms t.. and the sink.  The dead letters are
 * written before returning: their copies share memory with the stage
 * batches, which a transform empties as soon as a part is delivered. */
static int deliver(sl_pipeline *p, sl_slot *s, size_t t, sluice_batch *cur)
{
    if (t < p->conf->n_transforms)
        return run_transform(p, s, t, cur);
    if (write_sink(p, cur) != 0)
        return -1;
    return flush_dead_letters(p);
}

/* Routes the records the source itself failed; returns the batch the next
 * stage should read (the source's, or a copy without them when the sink
 * reads directly from the source). */
static sluice_batch *source_failures(sl_pipeline *p, sl_slot *s, int *err)
{
    sluice_batch *src = s->src;
    *err = 0;
    if (!src->n_failed)
        return src;
    /* With a disk buffer the source's own failures were routed before the
     * spool; what arrives failed from the spool is a record the spool could
     * not hand over (too large for a batch): a stage of its own, so that the
     * counter identity stays exact. */
    int spooled = p->conf->spool;
    for (size_t i = 0; i < src->n; i++) {
        if (!src->recs[i].failure_)
            continue;
        sl_metric_add(spooled ? p->m.failed_spool : p->m.failed_source, 1);
        if (record_failed(p, &src->recs[i], spooled ? "spool" : "source",
                          p->conf->source.plugin, src->recs[i].failure_) != 0) {
            *err = -1;
            return NULL;
        }
    }
    if (p->conf->n_transforms)
        return src; /* the transforms skip them */
    sl_batch_reset(s->kept);
    for (size_t i = 0; i < src->n; i++) {
        if (!src->recs[i].failure_ && !sl_record_copy(s->kept, &src->recs[i])) {
            sl_pipeline_set_error(p, "out of batch memory passing records on; raise "
                                     "batch.max_bytes");
            *err = -1;
            return NULL;
        }
    }
    return s->kept;
}

int sl_slot_process(sl_pipeline *p, sl_slot *s)
{
    int serr;
    sluice_batch *cur = source_failures(p, s, &serr);
    if (serr)
        return -1;
    /* Every part of the batch is written (deliver returns only then)
     * before the source hears of it. */
    if (deliver(p, s, 0, cur) != 0)
        return -1;

    if (!p->spool) {
        sl_source_ack(p, s->src);
        return 0;
    }
    /* Every record read is in the sink or the dead-letter sink (or counted
     * as rejected): the spool may forget them. */
    char err[SLUICE_ERRLEN] = "";
    if (sl_spool_release(p->spool, err, sizeof err) != 0) {
        sl_pipeline_set_error(p, "spool %s: %s", p->conf->spool_path, err);
        return -1;
    }
    return 0;
}

void sl_source_ack(sl_pipeline *p, const sluice_batch *b)
{
    const sluice_source_ops *sops = p->conf->source.entry->desc->source;
    if (!sops->ack)
        return;
    int64_t backoff = 0;
    for (int attempt = 0; attempt < 5; attempt++) {
        char err[SLUICE_ERRLEN] = "";
        SL_GUARD_ENTER(p, p->source.label, p->conf->source.plugin, "ack");
        sluice_status st = sops->ack(p->source.inst, b, err);
        SL_GUARD_LEAVE();
        if (st == SLUICE_OK)
            break;
        /* The records are written (or spooled); a lost acknowledgement only
         * means they may be replayed, which sinks tolerate. */
        sl_log(SLUICE_LOG_WARN, p->conf->name, "source", "acknowledgement failed: %s", err);
        if (st != SLUICE_RETRY)
            break;
        backoff = sl_backoff_next(backoff, p->conf->retry_initial_ms, p->conf->retry_max_ms);
        abortable_sleep(p, backoff);
    }
}

int sl_route_source_failures(sl_pipeline *p, const sluice_batch *b)
{
    if (!b->n_failed)
        return 0;
    pthread_mutex_lock(&p->dlq_mu);
    int rc = 0;
    for (size_t i = 0; i < b->n && rc == 0; i++) {
        if (!b->recs[i].failure_)
            continue;
        sl_metric_add(p->m.failed_source, 1);
        rc = record_failed_locked(p, &b->recs[i], "source", p->conf->source.plugin,
                                  b->recs[i].failure_);
    }
    /* The dead-letter copies point into b, which the source thread reuses
     * as soon as this returns: write them now. */
    if (rc == 0)
        rc = flush_dead_letters_locked(p);
    pthread_mutex_unlock(&p->dlq_mu);
    return rc;
}
