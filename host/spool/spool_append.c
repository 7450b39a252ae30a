/* The appending side: frame records into the spool's one reusable buffer
 * and write them with one write() per call, under the append mutex.
 *
 * Never a partial record on disk: a failed or short write is truncated back
 * to the last committed size.  A full disk (ENOSPC, EDQUOT) is not an
 * error: the append keeps its buffer, logs once, and retries every second
 * (or when the sink releases something) until space returns, or until
 * sl_spool_wake(), when it gives up with -1.  Later appends wait their turn
 * behind it.
 *
 * Test-only fault injection: SLUICE_SPOOL_FAULT_TORN=N (read once at open)
 * makes the N-th append of the process's spool write only half its bytes
 * and then raise(SIGKILL), to test torn-tail recovery end to end.  Never
 * set it in production. */
#include "spool_internal.h"

#include "batch.h"
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sluice/sluice_time.h>

#define FULL_LOG_NS (30 * INT64_C(1000000000))

/* The append buffer is kept between appends up to this size. */
#define WBUF_KEEP (16u * 1024 * 1024)

typedef struct src {
    const sluice_batch *b;   /* NULL: the single record one */
    const sluice_record *one;
} src;

static size_t src_count(const src *x) { return x->b ? x->b->n : 1; }

static const sluice_record *src_at(const src *x, size_t i)
{
    const sluice_record *r = x->b ? &x->b->recs[i] : x->one;
    return r->failure_ ? NULL : r; /* failed ones were routed by the source */
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        if (w == 0) {
            errno = ENOSPC;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int over_limit(const sl_spool *s, uint64_t total)
{
    return s->max_bytes && s->held_bytes > 0 && s->held_bytes + total > s->max_bytes;
}

/* Appends take turns in arrival order (a ticket each), so that a batch
 * waiting for room is not overtaken, and starved, by later small appends
 * from another thread.  The append whose turn it is waits for room beyond
 * max_bytes while not woken; the others wait behind it.  "full" is logged
 * once, and "room again" only below half of max_bytes, so a spool that
 * hovers at its limit does not log every batch. */
static void wait_turn(sl_spool *s, uint64_t total)
{
    uint64_t me = s->ticket_next++;
    while (me != s->ticket_serving) {
        s->queued++;
        pthread_cond_wait(&s->room, &s->mu);
        s->queued--;
    }
    if (s->woken || !over_limit(s, total))
        return;
    if (!s->full_logged) {
        /* At most one pair of lines per FULL_LOG_NS: a spool whose appends
         * are as large as max_bytes empties and fills on every batch. */
        int64_t now = sluice_mono_ns();
        s->full_logged = 2;
        if (!s->full_log_ns || now - s->full_log_ns >= FULL_LOG_NS) {
            s->full_log_ns = now;
            s->full_logged = 1;
            if (total > s->max_bytes)
                sl_log(SLUICE_LOG_WARN, NULL, "spool",
                       "spool %s: an append of %" PRIu64 " bytes is larger than max_bytes (%" PRIu64
                       "); it waits until the sink has released everything (raise the buffer's "
                       "max_size well above a batch)", s->dir, total, s->max_bytes);
            else
                sl_log(SLUICE_LOG_WARN, NULL, "spool",
                       "spool %s is full (%" PRIu64 " of max %" PRIu64 " bytes held); the "
                       "source waits until the sink releases records", s->dir, s->held_bytes,
                       s->max_bytes);
        }
    }
    s->room_waiting = 1;
    while (!s->woken && over_limit(s, total))
        pthread_cond_wait(&s->room, &s->mu);
    s->room_waiting = 0;
}

void sl_spool_log_room(sl_spool *s)
{
    if (s->full_logged && s->held_bytes <= s->max_bytes / 2) {
        if (s->full_logged == 1)
            sl_log(SLUICE_LOG_INFO, NULL, "spool",
                   "spool %s has room again (%" PRIu64 " of max %" PRIu64 " bytes held)",
                   s->dir, s->held_bytes, s->max_bytes);
        s->full_logged = 0;
    }
}

static void end_turn(sl_spool *s)
{
    s->ticket_serving++;
    if (s->queued)
        pthread_cond_broadcast(&s->room);
    sl_spool_log_room(s);
}

/* Writes wbuf[0..total) to the tail (mu held). */
static int write_tail(sl_spool *s, size_t total, char *err, size_t errlen)
{
    sl_seg *t = &s->segs[s->nsegs - 1];
    char name[SL_SPOOL_SEG_NAME_LEN];
    s->appends++;
    if (s->fault_torn && s->appends == s->fault_torn) {
        if (write(s->wfd, s->wbuf, total / 2 ? total / 2 : 1) < 0)
            abort();
        raise(SIGKILL);
    }
    for (;;) {
        if (write_all(s->wfd, s->wbuf, total) == 0)
            break;
        int e = errno;
        sl_spool_seg_name(name, t->seq);
        if (ftruncate(s->wfd, (off_t)t->size) < 0)
            sl_log(SLUICE_LOG_ERROR, NULL, "spool",
                   "spool %s: cannot cut a failed append off %s: %s; the next open cuts "
                   "it off as a torn record", s->dir, name, strerror(errno));
        if (e != ENOSPC && e != EDQUOT) {
            snprintf(err, errlen, "spool %s: cannot append to %s: %s", s->dir, name,
                     strerror(e));
            return -1;
        }
        if (s->woken) {
            snprintf(err, errlen,
                     "spool %s: the disk is full (%s); %zu bytes of records could not be "
                     "spooled before the pipeline stopped", s->dir, strerror(e), total);
            return -1;
        }
        if (!s->disk_full) {
            int64_t now = sluice_mono_ns();
            s->disk_full = 2; /* full, not logged: the last episode was just now */
            if (!s->disk_log_ns || now - s->disk_log_ns >= FULL_LOG_NS) {
                s->disk_log_ns = now;
                s->disk_full = 1;
                sl_log(SLUICE_LOG_ERROR, NULL, "spool",
                       "spool %s: the disk is full (%s); the source waits until space is "
                       "freed on that filesystem", s->dir, strerror(e));
            }
        } /* the turn stays ours: later appends wait behind */
        struct timespec ts;
        ts = sluice_deadline_ms(1000);
        pthread_cond_timedwait(&s->room, &s->mu, &ts);
        t = &s->segs[s->nsegs - 1]; /* the list may have moved */
    }
    if (s->disk_full == 1)
        sl_log(SLUICE_LOG_INFO, NULL, "spool", "spool %s: disk space is back; appends resume",
               s->dir);
    s->disk_full = 0;
    return 0;
}

static int append(sl_spool *s, const src *x, int nowait, char *err, size_t errlen)
{
    size_t total = 0, count = 0, n = src_count(x);
    for (size_t i = 0; i < n; i++) {
        const sluice_record *r = src_at(x, i);
        if (!r)
            continue;
        size_t len = sl_spool_body_size(r);
        if (len > SL_SPOOL_MAX_BODY) {
            snprintf(err, errlen,
                     "spool %s: a record of %zu bytes is larger than the spool's limit of "
                     "%u bytes per record", s->dir, len, SL_SPOOL_MAX_BODY);
            return -1;
        }
        total += SL_SPOOL_HDR + len;
        count++;
    }
    if (!count)
        return 0;

    pthread_mutex_lock(&s->mu);
    if (nowait && !s->woken &&
        (s->ticket_next != s->ticket_serving || over_limit(s, total))) {
        pthread_mutex_unlock(&s->mu);
        return 1;
    }
    wait_turn(s, total);
    int rc = -1;
    if (s->wcap < total) {
        size_t cap = s->wcap ? s->wcap : 64 * 1024;
        while (cap < total)
            cap *= 2;
        unsigned char *p = realloc(s->wbuf, cap);
        if (!p) {
            snprintf(err, errlen, "spool %s: out of memory for an append of %zu bytes", s->dir,
                     total);
            goto out;
        }
        s->wbuf = p;
        s->wcap = cap;
    }
    int64_t now = sl_spool_wall_us();
    if (s->wfd < 0 || (s->segs[s->nsegs - 1].size > 0 &&
                       s->segs[s->nsegs - 1].size + total > s->seg_bytes))
        if (sl_spool_seg_roll(s, s->next_seq, now, err, errlen) < 0)
            goto out;
    unsigned char *p = s->wbuf;
    for (size_t i = 0; i < n; i++) {
        const sluice_record *r = src_at(x, i);
        if (!r)
            continue;
        size_t len = sl_spool_body_encode(r, p + SL_SPOOL_HDR);
        sl_spool_frame_put(p, (uint32_t)len, now, s->next_seq++);
        p += SL_SPOOL_HDR + len;
    }
    rc = write_tail(s, total, err, errlen);
    if (rc == 0) {
        s->segs[s->nsegs - 1].size += total;
        if (!s->held_records)
            s->oldest_us = now;
        s->held_records += count;
        s->held_bytes += total;
        s->appended_total += count;
        s->append_gen++;
        pthread_cond_broadcast(&s->data);
    }
out:
    if (s->wcap > WBUF_KEEP) {
        /* an outsized append: do not keep its buffer for the process's life */
        free(s->wbuf);
        s->wbuf = NULL;
        s->wcap = 0;
    }
    end_turn(s);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int sl_spool_append_batch(sl_spool *s, const sluice_batch *b, char *err, size_t errlen)
{
    src x = {.b = b, .one = NULL};
    return append(s, &x, 0, err, errlen);
}

int sl_spool_append(sl_spool *s, const sluice_record *r, char *err, size_t errlen)
{
    src x = {.b = NULL, .one = r};
    return append(s, &x, 0, err, errlen);
}

int sl_spool_try_append(sl_spool *s, const sluice_record *r, char *err, size_t errlen)
{
    src x = {.b = NULL, .one = r};
    return append(s, &x, 1, err, errlen);
}
