/* Segment files and the release cursor.
 *
 * Segments are named by the sequence number of their first record, so the
 * directory listing alone orders them and the segment after one that is
 * used up is simply the next name.  The in-memory list holds one small
 * entry per segment (never one per record).
 *
 * The cursor file holds two 64-byte slots written alternately (generation
 * number, CRC32C): a write torn by a crash damages at most the slot being
 * written, and the other still holds the previous release position. */
#include "spool_internal.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int64_t sl_spool_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void sl_spool_seg_name(char out[SL_SPOOL_SEG_NAME_LEN], uint64_t seq)
{
    snprintf(out, SL_SPOOL_SEG_NAME_LEN, "%020" PRIu64 ".seg", seq);
}

int sl_spool_seg_push(sl_spool *s, uint64_t seq, int64_t first_us)
{
    if (s->nsegs == s->capsegs) {
        size_t cap = s->capsegs ? s->capsegs * 2 : 16;
        sl_seg *n = realloc(s->segs, cap * sizeof(*n));
        if (!n)
            return -1;
        s->segs = n;
        s->capsegs = cap;
    }
    s->segs[s->nsegs++] = (sl_seg){.seq = seq, .size = 0, .first_us = first_us};
    return 0;
}

size_t sl_spool_seg_find(const sl_spool *s, uint64_t seq)
{
    size_t i = 0;
    while (i < s->nsegs && s->segs[i].seq < seq)
        i++;
    return i;
}

/* Seals the current tail and starts a new one.  Called with mu held; waits
 * for fdatasyncs running outside mu on the old descriptor before closing it,
 * so that a concurrent sl_spool_sync never syncs a recycled descriptor. */
int sl_spool_seg_roll(sl_spool *s, uint64_t seq, int64_t now_us, char *err, size_t errlen)
{
    char name[SL_SPOOL_SEG_NAME_LEN];
    sl_spool_seg_name(name, seq);
    int fd = openat(s->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "spool %s: cannot create segment %s: %s", s->dir, name,
                 strerror(errno));
        return -1;
    }
    if (sl_spool_seg_push(s, seq, now_us) < 0) {
        close(fd);
        unlinkat(s->dirfd, name, 0);
        snprintf(err, errlen, "spool %s: out of memory for the segment list", s->dir);
        return -1;
    }
    if (s->wfd >= 0) {
        while (s->sync_busy)
            pthread_cond_wait(&s->idle, &s->mu);
        /* The old tail's appends must be durable before later ones are: a
         * sync only ever looks at the current tail. */
        if (s->fsync != SL_SPOOL_FSYNC_NEVER && s->synced_gen != s->append_gen)
            fdatasync(s->wfd);
        close(s->wfd);
    }
    s->wfd = fd;
    if (s->fsync != SL_SPOOL_FSYNC_NEVER)
        fsync(s->dirfd); /* the new name must survive a power failure too */
    s->synced_gen = s->append_gen;
    return 0;
}

typedef struct slot {
    uint32_t magic, crc;
    uint64_t gen, seg, off, next_seq;
    unsigned char pad[24];
} slot;

#define CURSOR_MAGIC 0x55434c53u /* "SLCU" */
_Static_assert(sizeof(slot) == 64, "cursor slot is 64 bytes");

static uint32_t slot_crc(const slot *sl)
{
    return sl_crc32c(0, (const unsigned char *)sl + 8, sizeof(*sl) - 8);
}

int sl_spool_cursor_load(sl_spool *s, sl_spool_cursor *c, char *err, size_t errlen)
{
    slot sl[2];
    memset(sl, 0, sizeof(sl));
    ssize_t n = pread(s->curfd, sl, sizeof(sl), 0);
    if (n < 0) {
        snprintf(err, errlen, "spool %s: cannot read the cursor file: %s", s->dir,
                 strerror(errno));
        return -1;
    }
    int found = 0, blank = 1;
    for (size_t k = 0; k < (size_t)n; k++)
        if (((const unsigned char *)sl)[k])
            blank = 0;
    for (int i = 0; i < 2; i++) {
        if ((size_t)n < (size_t)(i + 1) * sizeof(slot))
            break;
        if (sl[i].magic != CURSOR_MAGIC || sl[i].crc != slot_crc(&sl[i]))
            continue;
        if (!found || sl[i].gen > c->gen) {
            c->gen = sl[i].gen;
            c->seg = sl[i].seg;
            c->off = sl[i].off;
            c->next_seq = sl[i].next_seq;
            found = 1;
        }
    }
    if (!found && !blank)
        sl_log(SLUICE_LOG_WARN, NULL, "spool",
               "spool %s: no valid slot in the cursor file; every record left in the "
               "segments is replayed (duplicates possible)", s->dir);
    return found;
}

int sl_spool_cursor_store(sl_spool *s, const sl_spool_cursor *c, char *err, size_t errlen)
{
    slot sl;
    memset(&sl, 0, sizeof(sl));
    sl.magic = CURSOR_MAGIC;
    sl.gen = c->gen;
    sl.seg = c->seg;
    sl.off = c->off;
    sl.next_seq = c->next_seq;
    sl.crc = slot_crc(&sl);
    off_t at = (off_t)(c->gen % 2) * (off_t)sizeof(slot);
    if (pwrite(s->curfd, &sl, sizeof(sl), at) != (ssize_t)sizeof(sl)) {
        snprintf(err, errlen, "spool %s: cannot write the cursor file: %s", s->dir,
                 errno ? strerror(errno) : "short write");
        return -1;
    }
    return 0;
}
