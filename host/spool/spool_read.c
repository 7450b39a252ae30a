/* The reading side (one reader: the pipeline's sink thread): copy spooled
 * records into a batch, release what the sink has, rewind what it has not.
 *
 * Segments are read through one fixed buffer (SL_SPOOL_RBUF, one pread per
 * buffer, never one per record); only a record larger than the buffer gets
 * a buffer of its own for the time of its copy.  The reader never reads
 * past a segment's committed size, so it never sees an append in progress. */
#include "spool_internal.h"

#include "batch.h"
#include "batch_api.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sluice/sluice_time.h>

static int read_full(int fd, unsigned char *p, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, p + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO; /* shorter than its committed size: truncated under us */
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

const unsigned char *sl_spool_view(sl_spool *s, int fd, uint64_t seg, uint64_t off,
                                   size_t n, uint64_t end, unsigned char **big, char *err,
                                   size_t errlen)
{
    if (s->rb_len && s->rb_seg == seg && off >= s->rb_off &&
        off + n <= s->rb_off + s->rb_len)
        return s->rbuf + (off - s->rb_off);
    char name[SL_SPOOL_SEG_NAME_LEN];
    if (n > SL_SPOOL_RBUF) {
        unsigned char *p = big ? malloc(n) : NULL;
        if (!p) {
            snprintf(err, errlen, "spool %s: out of memory for a record of %zu bytes",
                     s->dir, n);
            return NULL;
        }
        if (read_full(fd, p, n, off) < 0) {
            free(p);
            goto fail;
        }
        *big = p;
        return p;
    }
    size_t want = end - off < SL_SPOOL_RBUF ? (size_t)(end - off) : SL_SPOOL_RBUF;
    s->rb_len = 0;
    if (want < n) {
        errno = EIO;
        goto fail;
    }
    if (read_full(fd, s->rbuf, want, off) < 0)
        goto fail;
    s->rb_seg = seg;
    s->rb_off = off;
    s->rb_len = want;
    return s->rbuf;
fail:
    sl_spool_seg_name(name, seg);
    snprintf(err, errlen, "spool %s: cannot read segment %s at offset %" PRIu64 ": %s",
             s->dir, name, off, strerror(errno));
    return NULL;
}

static int corrupt(sl_spool *s, uint64_t off, const char *why, char *err, size_t errlen)
{
    char name[SL_SPOOL_SEG_NAME_LEN];
    sl_spool_seg_name(name, s->rseg);
    snprintf(err, errlen,
             "spool %s: segment %s is corrupt at offset %" PRIu64 " (%s); the records "
             "stay in the spool: restart the pipeline, the spool then cuts the damage "
             "off and counts it", s->dir, name, off, why);
    return -1;
}

/* A record that cannot fit an empty batch is handed over failed, with its
 * origin, so the error policy routes it instead of it blocking the spool. */
static void hand_over_failed(sluice_batch *b, const unsigned char *body, size_t len,
                             size_t frame)
{
    sl_batch_reset(b);
    sluice_record *r = sl_record_new(b);
    sl_spool_body_origin(body, len, b, r);
    char why[256];
    snprintf(why, sizeof why,
             "a spooled record of %zu bytes is larger than batch.max_bytes (%zu); raise "
             "batch.max_bytes to deliver it", frame, b->arena.limit);
    sl_record_fail(b, 0, why);
}

/* Copies frames of the current segment up to end.  1 when the batch is
 * full, 0 at end, -1 on error. */
static int read_frames(sl_spool *s, sluice_batch *b, uint64_t end, long *got, char *err,
                       size_t errlen)
{
    while (s->roff < end) {
        if (!sl_batch_room(b))
            return 1;
        sl_spool_frame f;
        if (end - s->roff < SL_SPOOL_HDR)
            return corrupt(s, s->roff, "incomplete header", err, errlen);
        const unsigned char *h =
            sl_spool_view(s, s->rfd, s->rseg, s->roff, SL_SPOOL_HDR, end, NULL, err, errlen);
        if (!h)
            return -1;
        if (sl_spool_frame_get(h, &f) < 0)
            return corrupt(s, s->roff, "bad frame header", err, errlen);
        if (end - s->roff - SL_SPOOL_HDR < f.len)
            return corrupt(s, s->roff, "record past the end", err, errlen);
        size_t n = SL_SPOOL_HDR + f.len;
        unsigned char *big = NULL;
        const unsigned char *p =
            sl_spool_view(s, s->rfd, s->rseg, s->roff, n, end, &big, err, errlen);
        if (!p)
            return -1;
        if (!sl_spool_frame_ok(p, p + SL_SPOOL_HDR)) {
            free(big);
            return corrupt(s, s->roff, "checksum mismatch", err, errlen);
        }
        size_t before = b->n;
        sluice_record *r = sl_record_new(b);
        int rc = sl_spool_body_decode(p + SL_SPOOL_HDR, f.len, b, r);
        if (rc == -2) {
            b->n = before;
            free(big);
            return corrupt(s, s->roff, "malformed record body", err, errlen);
        }
        if (rc == -1) {
            b->n = before;
            if (before > 0) {
                free(big);
                return 1; /* next time, into an empty batch */
            }
            hand_over_failed(b, p + SL_SPOOL_HDR, f.len, n);
        }
        free(big);
        s->roff += n;
        s->pend_records++;
        s->pend_bytes += n;
        s->rlast_seq = f.seq + 1;
        (*got)++;
    }
    return 0;
}

static void close_rfd(sl_spool *s)
{
    if (s->rfd >= 0)
        close(s->rfd);
    s->rfd = -1;
}

long sl_spool_read(sl_spool *s, sluice_batch *b, int timeout_ms, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->mu);
    if (s->held_records <= s->pend_records && !s->woken && timeout_ms > 0) {
        struct timespec ts;
        ts = sluice_deadline_ms(timeout_ms);
        while (s->held_records <= s->pend_records && !s->woken)
            if (pthread_cond_timedwait(&s->data, &s->mu, &ts) == ETIMEDOUT)
                break;
    }
    int avail = s->held_records > s->pend_records;
    pthread_mutex_unlock(&s->mu);
    if (!avail)
        return 0;

    long got = 0;
    while (sl_batch_room(b)) {
        pthread_mutex_lock(&s->mu);
        size_t i = sl_spool_seg_find(s, s->rseg);
        if (i == s->nsegs) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        if (s->segs[i].seq != s->rseg) {
            close_rfd(s);
            s->rseg = s->segs[i].seq;
            s->roff = 0;
        }
        uint64_t end = s->segs[i].size;
        int has_next = i + 1 < s->nsegs;
        uint64_t next = has_next ? s->segs[i + 1].seq : 0;
        pthread_mutex_unlock(&s->mu);
        if (s->roff >= end) {
            if (!has_next)
                break;
            close_rfd(s);
            s->rseg = next;
            s->roff = 0;
            continue;
        }
        if (s->rfd < 0) {
            char name[SL_SPOOL_SEG_NAME_LEN];
            sl_spool_seg_name(name, s->rseg);
            s->rfd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC);
            if (s->rfd < 0) {
                snprintf(err, errlen, "spool %s: cannot open segment %s: %s", s->dir, name,
                         strerror(errno));
                return -1;
            }
        }
        int rc = read_frames(s, b, end, &got, err, errlen);
        if (rc < 0)
            return got ? got : -1; /* hand over the good ones; the next read fails */
        if (rc == 1)
            break;
    }
    return got;
}

/* Append time of the oldest held record, which is the one at the release
 * position (called with mu held, after a release, with records held). */
static int64_t oldest_after_release(sl_spool *s)
{
    size_t i = sl_spool_seg_find(s, s->rseg);
    if (i < s->nsegs && s->segs[i].seq == s->rseg) {
        if (s->roff < s->segs[i].size && s->rfd >= 0) {
            char err[256];
            const unsigned char *h = sl_spool_view(s, s->rfd, s->rseg, s->roff, SL_SPOOL_HDR,
                                                   s->segs[i].size, NULL, err, sizeof err);
            sl_spool_frame f;
            if (h && sl_spool_frame_get(h, &f) == 0)
                return f.time_us;
            return s->oldest_us; /* the reader reports the damage on its next read */
        }
        i++;
    }
    return i < s->nsegs ? s->segs[i].first_us : s->oldest_us;
}

int sl_spool_release(sl_spool *s, char *err, size_t errlen)
{
    if (!s->pend_records)
        return 0;
    sl_spool_cursor c = {
        .gen = s->cur_gen + 1, .seg = s->rseg, .off = s->roff, .next_seq = s->rlast_seq};
    if (sl_spool_cursor_store(s, &c, err, errlen) < 0)
        return -1;
    s->cur_gen = c.gen;
    if (s->fsync == SL_SPOOL_FSYNC_BATCH && fdatasync(s->curfd) < 0) {
        snprintf(err, errlen, "spool %s: cannot sync the cursor file: %s", s->dir,
                 strerror(errno));
        return -1;
    }
    s->relseg = s->rseg;
    s->reloff = s->roff;
    s->rel_seq = s->rlast_seq;

    pthread_mutex_lock(&s->mu);
    if (s->fsync == SL_SPOOL_FSYNC_INTERVAL)
        s->cursor_dirty = 1;
    s->held_records -= s->pend_records;
    s->held_bytes -= s->pend_bytes;
    s->released_total += s->pend_records;
    s->pend_records = s->pend_bytes = 0;
    s->oldest_us = s->held_records ? oldest_after_release(s) : 0;
    pthread_cond_broadcast(&s->room);
    sl_spool_log_room(s);
    for (;;) {
        /* Unlinked outside mu: a few at a time, so appends never wait on it. */
        uint64_t gone[16];
        size_t n = 0;
        while (n < 16 && s->nsegs && s->segs[0].seq < s->relseg) {
            gone[n++] = s->segs[0].seq;
            memmove(&s->segs[0], &s->segs[1], (s->nsegs - 1) * sizeof(*s->segs));
            s->nsegs--;
        }
        pthread_mutex_unlock(&s->mu);
        for (size_t k = 0; k < n; k++) {
            char name[SL_SPOOL_SEG_NAME_LEN];
            sl_spool_seg_name(name, gone[k]);
            if (unlinkat(s->dirfd, name, 0) < 0 && errno != ENOENT)
                sl_log(SLUICE_LOG_WARN, NULL, "spool",
                       "spool %s: cannot delete the released segment %s: %s", s->dir, name,
                       strerror(errno));
        }
        if (n < 16)
            return 0;
        pthread_mutex_lock(&s->mu);
    }
}

void sl_spool_rewind(sl_spool *s)
{
    if (s->rseg != s->relseg)
        close_rfd(s);
    s->rseg = s->relseg;
    s->roff = s->reloff;
    s->rlast_seq = s->rel_seq;
    pthread_mutex_lock(&s->mu);
    s->pend_records = s->pend_bytes = 0;
    pthread_mutex_unlock(&s->mu);
}
