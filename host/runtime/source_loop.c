/* The source thread: fills batches until they are full or have lingered
 * long enough, and hands them to the sink thread.  It blocks when every slot
 * is in use, which is how a slow sink pauses the source. */
#include "pipeline.h"

#include "batch.h"
#include "batch_api.h"
#include "log.h"
#include "metrics.h"

#include <string.h>
#include <time.h>
#include <sluice/sluice_time.h>

/* True when the sink side has nothing to do: every slot but the one being
 * filled is free (none queued, none being written). */
static int sink_idle(sl_pipeline *p)
{
    return sl_queue_len(&p->free_q) + 1 >= p->n_slots;
}

/* While the sink is busy, how long one poll may wait before the source
 * thread looks again whether the sink has become idle. */
#define IDLE_CHECK_MS 5

/* The least a batch waits before it may go early for want of input: enough
 * to gather a reading burst into one write, so that a source that is only
 * just slower than the sink does not make a write per handful of records. */
#define DRY_MIN_MS 10

/* Polls until the batch is full, the linger time since its first record
 * has passed, or the source stops; and, as soon as the sink side is idle,
 * until the source has nothing more at once ("runs dry"): waiting for more
 * would only add latency, as nobody is writing meanwhile.  Under load the
 * sink is busy and batches fill as before, so throughput is kept; the
 * write time itself paces the batches (as group commit does).  Returns the
 * poll status that ended it.
 * `idle_return`: also return after a poll that brought nothing (a spooled
 * pipeline syncs then what a source appended from its own thread).  The
 * sink side of a spooled pipeline reads the spool on its own, so "the sink
 * is idle" does not apply there: its batches go full or after linger, one
 * sync each. */
static sluice_status fill(sl_pipeline *p, sluice_batch *b, int draining, int idle_return)
{
    const sluice_source_ops *ops = p->conf->source.entry->desc->source;
    int64_t deadline = 0, backoff = 0;
    for (;;) {
        if (sl_batch_room(b) == 0)
            return SLUICE_OK;
        int64_t now = sluice_mono_ms();
        if (b->n && now >= deadline)
            return SLUICE_OK;
        if (!draining && atomic_load(&p->stop))
            return SLUICE_OK;
        /* Short timeouts while empty keep the stop flag responsive. */
        int timeout = b->n ? (int)(deadline - now) : 100;
        int idle = 0;
        if (b->n && !idle_return) {
            int64_t early = deadline - p->conf->batch_linger_ms + DRY_MIN_MS;
            idle = now >= early && sink_idle(p);
            if (idle)
                timeout = 0;
            else if (timeout > IDLE_CHECK_MS)
                timeout = now < early && early - now < timeout ? (int)(early - now)
                                                               : IDLE_CHECK_MS;
        }
        if (draining)
            timeout = 0;
        size_t before = b->n;
        char err[SLUICE_ERRLEN] = "";
        SL_GUARD_ENTER_T(p, p->source.label, p->conf->source.plugin, "poll", timeout);
        sluice_status st = ops->poll(p->source.inst, b, timeout, err);
        SL_GUARD_LEAVE();
        if (b->n && !before)
            deadline = sluice_mono_ms() + p->conf->batch_linger_ms;
        switch (st) {
        case SLUICE_OK:
            backoff = 0;
            if (draining && b->n == before)
                return SLUICE_EOF;   /* nothing more buffered */
            if (idle && b->n == before)
                return SLUICE_OK;    /* dry, and the sink is waiting */
            if (idle_return && !b->n)
                return SLUICE_OK;
            break;
        case SLUICE_RETRY:
            sl_metric_add(p->m.retries, 1);
            backoff = sl_backoff_next(backoff, p->conf->retry_initial_ms, p->conf->retry_max_ms);
            sl_pipeline_set_error(p, "source: %s", err);
            sl_log(SLUICE_LOG_WARN, p->conf->name, "source", "%s; retrying in %lld ms", err,
                   (long long)backoff);
            if (draining)
                return SLUICE_EOF;
            if (b->n)
                return SLUICE_OK;    /* deliver what we have meanwhile */
            if (sl_pipeline_sleep(p, backoff))
                return SLUICE_OK;
            break;
        case SLUICE_EOF:
            return SLUICE_EOF;
        default:
            sl_pipeline_set_error(p, "source (plugin \"%s\"): %s", p->conf->source.plugin,
                                  err[0] ? err : "poll failed");
            return SLUICE_ERR;
        }
    }
}

/* Lost with the run: records of a batch the run could not finish, when the
 * source cannot replay them.  Counted and logged, never silent. */
static void count_lost(sl_pipeline *p, const sluice_batch *b)
{
    if (p->conf->source.entry->desc->source->ack || !b->n)
        return;
    size_t n = b->n - b->n_failed;
    atomic_fetch_add(&p->n_lost, n);
    sl_metric_add(p->m.lost, (double)n);
}

static void deliver(sl_pipeline *p, sl_slot *s)
{
    size_t n = s->src->n;
    atomic_fetch_add(&p->n_in, n);
    sl_metric_add(p->m.in, (double)n);
    if (sl_queue_push(&p->ready_q, s) != 0)
        sl_queue_push(&p->free_q, s); /* closed: the run is failing */
}

void *sl_source_thread(void *arg)
{
    sl_pipeline *p = arg;
    const sluice_source_ops *ops = p->conf->source.entry->desc->source;
    int stopped = 0;
    for (;;) {
        sl_slot *s = sl_queue_pop(&p->free_q, -1);
        if (!s || sl_pipeline_failed(p))
            break;
        int draining = stopped;
        if (!stopped && atomic_load(&p->stop)) {
            /* A source with a stop callback stops taking new input and then
             * hands over what it already holds (e.g. messages the broker
             * delivered); one without has nothing held and simply ends. */
            if (!ops->stop) {
                sl_queue_push(&p->free_q, s);
                break;
            }
            SL_GUARD_ENTER(p, p->source.label, p->conf->source.plugin, "stop");
            ops->stop(p->source.inst);
            SL_GUARD_LEAVE();
            stopped = draining = 1;
        }
        if (draining && atomic_load(&p->abort)) {
            sl_queue_push(&p->free_q, s);
            break;
        }
        sluice_status st = fill(p, s->src, draining, 0);
        if (st == SLUICE_ERR) {
            /* What the failing poll's predecessors put in the batch goes
             * with the run: counted, like the batches the sink drops. */
            atomic_fetch_add(&p->n_in, s->src->n);
            sl_metric_add(p->m.in, (double)s->src->n);
            count_lost(p, s->src);
            sl_pipeline_fail(p, SL_RUN_ERROR);
            sl_queue_push(&p->free_q, s);
            break;
        }
        if (st == SLUICE_EOF && !draining)
            atomic_store(&p->source_eof, 1); /* even when this poll added nothing */
        if (s->src->n) {
            deliver(p, s);
        } else {
            sl_queue_push(&p->free_q, s);
        }
        if (st == SLUICE_EOF)
            break;
    }
    atomic_store(&p->source_done, 1);
    /* Wake the sink thread now instead of at its next poll timeout. */
    sl_queue_close(&p->ready_q);
    return NULL;
}

/* The source thread of a pipeline with a disk buffer: each polled batch is
 * appended to the spool and made durable (per buffer.fsync) before the
 * source is acknowledged, and the batch is reused at once.  The sink side
 * reads the spool on its own; nothing here waits for it, except the spool
 * itself when full. */
void *sl_spool_source_thread(void *arg)
{
    sl_pipeline *p = arg;
    const sluice_source_ops *ops = p->conf->source.entry->desc->source;
    sluice_batch *b = p->slots[0].src;
    int stopped = 0;
    char err[SLUICE_ERRLEN];
    for (;;) {
        if (sl_pipeline_failed(p))
            break;
        int draining = stopped;
        if (!stopped && atomic_load(&p->stop)) {
            if (!ops->stop)
                break;
            /* What the source still holds goes to the spool, past max_size
             * if need be (the spool was woken): the records have no other
             * place.  No deadline cuts this short, it only writes a file. */
            SL_GUARD_ENTER(p, p->source.label, p->conf->source.plugin, "stop");
            ops->stop(p->source.inst);
            SL_GUARD_LEAVE();
            stopped = draining = 1;
        }
        sl_batch_reset(b);
        sluice_status st = fill(p, b, draining, 1);
        /* A failing poll ends the run, but what the batch already holds is
         * spooled first. */
        if (st == SLUICE_EOF && !draining)
            atomic_store(&p->source_eof, 1);
        if (b->n) {
            atomic_fetch_add(&p->n_in, b->n);
            sl_metric_add(p->m.in, (double)b->n);
            if (sl_route_source_failures(p, b) != 0) {
                sl_pipeline_fail(p, SL_RUN_ERROR);
                count_lost(p, b);
                break;
            }
            err[0] = '\0';
            if (sl_spool_append_batch(p->spool, b, err, sizeof err) != 0) {
                sl_pipeline_set_error(p, "spool %s: %s", p->conf->spool_path, err);
                sl_pipeline_fail(p, SL_RUN_ERROR);
                count_lost(p, b);
                break;
            }
        }
        /* Also makes durable what the source appended from its own thread
         * (api->spool_append) since the last round: one group commit. */
        err[0] = '\0';
        if (sl_spool_sync(p->spool, err, sizeof err) != 0) {
            sl_pipeline_set_error(p, "spool %s: %s", p->conf->spool_path, err);
            sl_pipeline_fail(p, SL_RUN_ERROR);
            break;
        }
        if (b->n)
            sl_source_ack(p, b);
        if (st == SLUICE_ERR) {
            sl_pipeline_fail(p, SL_RUN_ERROR);
            break;
        }
        if (st == SLUICE_EOF)
            break;
    }
    sl_batch_reset(b);
    atomic_store(&p->source_done, 1);
    return NULL;
}
