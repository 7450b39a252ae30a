/* Recovery on open: find what a previous process left unreleased, check
 * every frame of it, cut off a torn tail, and count what is held.
 *
 * Only the records after the release cursor are read, once, through the
 * spool's read buffer; nothing about them is kept in memory but counters.
 * Damage never stops the open: a torn or corrupt frame ends its segment
 * (truncated there, so the next open does not count it again), the records
 * lost are counted in stats.torn and logged. */
#include "spool_internal.h"

#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp_seg(const void *a, const void *b)
{
    uint64_t x = ((const sl_seg *)a)->seq, y = ((const sl_seg *)b)->seq;
    return x < y ? -1 : x > y;
}

static int list_segments(sl_spool *s, char *err, size_t errlen)
{
    int fd = dup(s->dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        snprintf(err, errlen, "spool %s: cannot list the directory: %s", s->dir,
                 strerror(errno));
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        size_t len = strlen(n);
        if (len != 24 || strcmp(n + 20, ".seg") != 0 || strspn(n, "0123456789") != 20)
            continue;
        if (sl_spool_seg_push(s, strtoull(n, NULL, 10), 0) < 0) {
            closedir(d);
            snprintf(err, errlen, "spool %s: out of memory listing segments", s->dir);
            return -1;
        }
    }
    closedir(d);
    if (s->nsegs)
        qsort(s->segs, s->nsegs, sizeof(*s->segs), cmp_seg);
    return 0;
}

static void drop_seg(sl_spool *s, size_t i)
{
    char name[SL_SPOOL_SEG_NAME_LEN];
    sl_spool_seg_name(name, s->segs[i].seq);
    if (unlinkat(s->dirfd, name, 0) < 0 && errno != ENOENT)
        sl_log(SLUICE_LOG_WARN, NULL, "spool", "spool %s: cannot delete %s: %s", s->dir, name,
               strerror(errno));
    memmove(&s->segs[i], &s->segs[i + 1], (s->nsegs - i - 1) * sizeof(*s->segs));
    s->nsegs--;
}

/* The highest sequence number of an intact frame after a damaged one at
 * off, found by searching for the magic and checking each candidate's
 * checksum (a damaged length hides where the next frame starts); 0 when
 * none follows.  Runs only on damage, over one segment at most. */
static uint64_t last_intact_after(sl_spool *s, int fd, uint64_t seg, uint64_t off,
                                  uint64_t fsize)
{
    uint64_t best = 0;
    char err[256];
    uint32_t magic = SL_SPOOL_MAGIC;
    for (uint64_t p = off + 1; p + SL_SPOOL_HDR <= fsize;) {
        size_t win = fsize - p < SL_SPOOL_RBUF ? (size_t)(fsize - p) : SL_SPOOL_RBUF;
        const unsigned char *w = sl_spool_view(s, fd, seg, p, win, fsize, NULL, err, sizeof err);
        if (!w)
            break;
        const unsigned char *m = memmem(w, win, &magic, 4);
        if (!m) {
            p += win > 3 ? win - 3 : 1;
            continue;
        }
        p += (uint64_t)(m - w);
        sl_spool_frame f;
        unsigned char *big = NULL;
        const unsigned char *h =
            sl_spool_view(s, fd, seg, p, SL_SPOOL_HDR, fsize, NULL, err, sizeof err);
        if (h && sl_spool_frame_get(h, &f) == 0 && fsize - p - SL_SPOOL_HDR >= f.len) {
            const unsigned char *fr =
                sl_spool_view(s, fd, seg, p, SL_SPOOL_HDR + f.len, fsize, &big, err, sizeof err);
            int ok = fr && sl_spool_frame_ok(fr, fr + SL_SPOOL_HDR);
            free(big);
            if (ok) {
                if (f.seq > best)
                    best = f.seq;
                p += SL_SPOOL_HDR + f.len;
                continue;
            }
        }
        p++;
    }
    return best;
}

typedef struct scan {
    uint64_t records, bytes, next_seq;
    int64_t oldest_us;
} scan;

static int scan_segment(sl_spool *s, size_t i, uint64_t off, scan *sc, char *err,
                        size_t errlen)
{
    sl_seg *g = &s->segs[i];
    int last = i + 1 == s->nsegs;
    char name[SL_SPOOL_SEG_NAME_LEN];
    sl_spool_seg_name(name, g->seq);
    int fd = openat(s->dirfd, name, O_RDWR | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(err, errlen, "spool %s: cannot open segment %s: %s", s->dir, name,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    uint64_t fsize = (uint64_t)st.st_size;
    if (off > fsize) {
        sl_log(SLUICE_LOG_WARN, NULL, "spool",
               "spool %s: the release cursor points past the end of %s (%" PRIu64
               " > %" PRIu64 " bytes, lost in a power failure?); reading on from its end",
               s->dir, name, off, fsize);
        off = fsize;
    }
    s->rb_len = 0; /* the window belongs to another descriptor */
    uint64_t expect = off == 0 && g->seq > sc->next_seq ? g->seq : sc->next_seq;
    const char *why = NULL;
    int first = 1;
    while (off < fsize) {
        sl_spool_frame f;
        unsigned char *big = NULL;
        if (fsize - off < SL_SPOOL_HDR) {
            why = "incomplete header";
            break;
        }
        const unsigned char *h =
            sl_spool_view(s, fd, g->seq, off, SL_SPOOL_HDR, fsize, NULL, err, errlen);
        if (!h) {
            close(fd);
            return -1;
        }
        if (sl_spool_frame_get(h, &f) < 0) {
            why = "bad frame header";
            break;
        }
        if (fsize - off - SL_SPOOL_HDR < f.len) {
            why = "incomplete record";
            break;
        }
        size_t n = SL_SPOOL_HDR + f.len;
        const unsigned char *p = sl_spool_view(s, fd, g->seq, off, n, fsize, &big, err, errlen);
        if (!p) {
            close(fd);
            return -1;
        }
        int ok = sl_spool_frame_ok(p, p + SL_SPOOL_HDR);
        free(big);
        if (!ok) {
            why = "checksum mismatch";
            break;
        }
        if (first && off == 0)
            g->first_us = f.time_us;
        first = 0;
        if (!sc->records)
            sc->oldest_us = f.time_us;
        sc->records++;
        sc->bytes += n;
        expect = f.seq + 1;
        if (sc->next_seq < expect)
            sc->next_seq = expect;
        off += n;
    }
    if (why) {
        uint64_t cut = fsize - off;
        /* Torn: nothing intact follows in the last segment (a crash in the
         * middle of an append).  Otherwise the damage is corruption; count
         * the records lost by the sequence numbers around it. */
        uint64_t after = last ? last_intact_after(s, fd, g->seq, off, fsize) : 0;
        int tail = last && after < expect;
        uint64_t lost;
        if (!last)
            lost = s->segs[i + 1].seq > expect ? s->segs[i + 1].seq - expect : 1;
        else
            lost = tail ? 1 : after + 1 - expect;
        if (tail)
            sl_log(SLUICE_LOG_WARN, NULL, "spool",
                   "spool %s: cut off a torn record at the end of %s (%" PRIu64
                   " bytes, %s); every complete record before it is kept",
                   s->dir, name, cut, why);
        else
            sl_log(SLUICE_LOG_ERROR, NULL, "spool",
                   "spool %s: %s is corrupt at offset %" PRIu64 " (%s); skipped the rest "
                   "of the segment: %" PRIu64 " bytes, %" PRIu64 " record%s lost",
                   s->dir, name, off, why, cut, lost, lost == 1 ? "" : "s");
        s->torn += lost;
        if (ftruncate(fd, (off_t)off) < 0)
            sl_log(SLUICE_LOG_WARN, NULL, "spool",
                   "spool %s: cannot truncate %s at %" PRIu64 ": %s", s->dir, name, off,
                   strerror(errno));
        else if (s->fsync != SL_SPOOL_FSYNC_NEVER)
            fdatasync(fd);
    }
    g->size = off;
    s->rb_len = 0;
    close(fd);
    return 0;
}

int sl_spool_recover(sl_spool *s, char *err, size_t errlen)
{
    if (list_segments(s, err, errlen) < 0)
        return -1;
    sl_spool_cursor c = {0};
    int have = sl_spool_cursor_load(s, &c, err, errlen);
    if (have < 0)
        return -1;
    s->cur_gen = have ? c.gen : 0;
    uint64_t start_seg = 0, start_off = 0;
    if (have) {
        /* Released entirely but not yet deleted when the process stopped. */
        while (s->nsegs && s->segs[0].seq < c.seg)
            drop_seg(s, 0);
        if (s->nsegs && s->segs[0].seq == c.seg)
            start_off = c.off;
        else if (s->nsegs)
            sl_log(SLUICE_LOG_WARN, NULL, "spool",
                   "spool %s: the release cursor's segment is missing; replaying from the "
                   "oldest segment left", s->dir);
    }
    if (s->nsegs)
        start_seg = s->segs[0].seq;

    scan sc = {.next_seq = have ? c.next_seq : 0};
    for (size_t i = 0; i < s->nsegs; i++)
        if (scan_segment(s, i, i == 0 ? start_off : 0, &sc, err, errlen) < 0)
            return -1;
    if (s->nsegs && start_off > s->segs[0].size)
        start_off = s->segs[0].size;
    /* Empty segments carry nothing and would break "named by the first
     * record": drop them (a new tail is created on the next append). */
    for (size_t i = 0; i < s->nsegs;) {
        if (s->segs[i].size == 0)
            drop_seg(s, i);
        else
            i++;
    }
    if (s->nsegs && s->segs[s->nsegs - 1].seq >= sc.next_seq)
        sc.next_seq = s->segs[s->nsegs - 1].seq + 1;
    s->next_seq = sc.next_seq;

    if (s->nsegs) {
        sl_seg *t = &s->segs[s->nsegs - 1];
        char name[SL_SPOOL_SEG_NAME_LEN];
        sl_spool_seg_name(name, t->seq);
        s->wfd = openat(s->dirfd, name, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (s->wfd < 0) {
            snprintf(err, errlen, "spool %s: cannot open segment %s for appending: %s",
                     s->dir, name, strerror(errno));
            return -1;
        }
    }
    if (s->nsegs && s->segs[0].seq == start_seg) {
        s->rseg = start_seg;
        s->roff = start_off;
    } else {
        s->rseg = s->nsegs ? s->segs[0].seq : s->next_seq;
        s->roff = 0;
    }
    s->rlast_seq = s->rel_seq = have ? c.next_seq : 0;
    s->relseg = s->rseg;
    s->reloff = s->roff;
    s->held_records = s->replayed = sc.records;
    s->held_bytes = sc.bytes;
    s->oldest_us = sc.records ? sc.oldest_us : 0;
    if (sc.records)
        sl_log(SLUICE_LOG_INFO, NULL, "spool",
               "spool %s: %" PRIu64 " records (%" PRIu64 " bytes) left unreleased by the "
               "previous run are replayed", s->dir, sc.records, sc.bytes);
    return 0;
}
