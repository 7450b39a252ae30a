/* The spool's private state and the helpers its files share.  See spool.h
 * for the contract; this header is for the files of host/spool/ and its tests only.
 *
 * Locking: `mu` guards everything marked (mu).  Reader fields (reader) are
 * touched only by the single reader thread (sl_spool_read/release/rewind),
 * and, under mu, read by nothing else.  No fdatasync runs while mu is held,
 * except the one that seals a segment when the tail rolls over (rare: once
 * per segment_bytes). */
#ifndef SL_SPOOL_INTERNAL_H
#define SL_SPOOL_INTERNAL_H

#include "spool.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Frame: 32-byte header, then the body.  Integers in host byte order: a
 * spool is read back by the machine that wrote it.
 *   0 magic u32 | 4 body length u32 | 8 crc32c u32 of bytes 12..31 and body
 *   12 reserved u32 (0) | 16 append wall time us i64 | 24 sequence u64 */
#define SL_SPOOL_MAGIC 0x50534c53u /* "SLSP" */
#define SL_SPOOL_HDR 32u
/* A body longer than this is refused on append and taken for corruption
 * on open, so that a flipped length byte cannot make us read gigabytes. */
#define SL_SPOOL_MAX_BODY (256u * 1024 * 1024)
#define SL_SPOOL_RBUF (1024u * 1024)
#define SL_SPOOL_SEG_NAME_LEN 32

typedef struct sl_spool_frame {
    uint32_t len;
    uint32_t crc;
    int64_t time_us;
    uint64_t seq;
} sl_spool_frame;

typedef struct sl_seg {
    uint64_t seq;            /* name: sequence of its first record */
    uint64_t size;           /* committed bytes (the tail grows under mu) */
    int64_t first_us;        /* append time of its first record */
} sl_seg;

struct sl_spool {
    char *dir;
    int dirfd, lockfd, curfd;
    sl_spool_fsync fsync;
    int64_t interval_ms;
    uint64_t max_bytes, seg_bytes;

    pthread_mutex_t mu;
    pthread_cond_t room;     /* appenders: their turn, room, disk space */
    pthread_cond_t data;     /* the reader: records appended */
    pthread_cond_t idle;     /* sync_busy dropped to 0 */
    pthread_cond_t stop;     /* the interval syncer's clock; close */

    /* segments, oldest first; the last one is the tail when wfd >= 0 (mu) */
    sl_seg *segs;
    size_t nsegs, capsegs;

    /* writer (mu) */
    int wfd;
    uint64_t next_seq;
    unsigned char *wbuf;
    size_t wcap;
    uint64_t ticket_next, ticket_serving; /* appends take turns */
    int queued;              /* appends waiting for their turn */
    int room_waiting;        /* the append whose turn it is waits for room */
    int disk_full;           /* 1 logged, 2 not logged (rate limit) */
    int64_t disk_log_ns;
    int full_logged;         /* 1 "full" logged, 2 full but not logged */
    int64_t full_log_ns;
    uint64_t append_gen, synced_gen;
    int sync_busy;           /* fdatasyncs running on wfd outside mu */
    long fault_torn, appends;

    /* counters (mu) */
    uint64_t held_bytes, held_records, replayed, torn;
    uint64_t appended_total, released_total;
    int64_t oldest_us;
    int woken, closing;

    /* reader */
    int rfd;
    uint64_t rseg, roff, rlast_seq;
    uint64_t pend_records, pend_bytes;
    uint64_t relseg, reloff, rel_seq; /* the release position */
    uint64_t cur_gen;
    int cursor_dirty;        /* (mu) written, not yet fdatasynced */
    unsigned char *rbuf;
    uint64_t rb_seg, rb_off;
    size_t rb_len;

    pthread_t syncer;
    int has_syncer;
};

/* codec */
uint32_t sl_crc32c(uint32_t crc, const void *p, size_t n);
size_t sl_spool_body_size(const sluice_record *r);
/* Returns the bytes written: sl_spool_body_size(r). */
size_t sl_spool_body_encode(const sluice_record *r, unsigned char *out);
/* 0, -1 when the batch's arena is exhausted (r is left half-built), -2 when
 * the body is malformed. */
int sl_spool_body_decode(const unsigned char *p, size_t len, sluice_batch *b,
                         sluice_record *r);
/* Writes the header for a body already at hdr + SL_SPOOL_HDR. */
void sl_spool_frame_put(unsigned char *hdr, uint32_t len, int64_t time_us, uint64_t seq);
/* Parses a header: 0, or -1 if the magic or length is impossible. */
int sl_spool_frame_get(const unsigned char *hdr, sl_spool_frame *f);
/* 1 if the body matches the header's checksum. */
int sl_spool_frame_ok(const unsigned char *hdr, const unsigned char *body);

/* segments */
void sl_spool_seg_name(char out[SL_SPOOL_SEG_NAME_LEN], uint64_t seq);
int sl_spool_seg_push(sl_spool *s, uint64_t seq, int64_t first_us);
/* Index of the first segment whose name is >= seq, or nsegs. */
size_t sl_spool_seg_find(const sl_spool *s, uint64_t seq);
/* Opens (creating) the tail segment for a record of sequence seq. */
int sl_spool_seg_roll(sl_spool *s, uint64_t seq, int64_t now_us, char *err, size_t errlen);

/* n bytes of fd (segment seg) at off, through the read buffer, never
 * reading at or past end (bytes past the committed end may be an append in
 * progress).  n > SL_SPOOL_RBUF needs big (freed by the caller). */
const unsigned char *sl_spool_view(sl_spool *s, int fd, uint64_t seg, uint64_t off,
                                   size_t n, uint64_t end, unsigned char **big, char *err,
                                   size_t errlen);
/* Sets timestamp and origin only, for a record handed over failed. */
void sl_spool_body_origin(const unsigned char *p, size_t len, sluice_batch *b,
                          sluice_record *r);

/* recovery (open) */
int sl_spool_recover(sl_spool *s, char *err, size_t errlen);

/* cursor */
typedef struct sl_spool_cursor {
    uint64_t gen, seg, off, next_seq;
} sl_spool_cursor;
/* 1 with the newest valid slot, 0 if none is valid, -1 on an I/O error. */
int sl_spool_cursor_load(sl_spool *s, sl_spool_cursor *c, char *err, size_t errlen);
int sl_spool_cursor_store(sl_spool *s, const sl_spool_cursor *c, char *err, size_t errlen);

/* Logs "room again" once the spool that was full is below half of
 * max_bytes (mu held). */
void sl_spool_log_room(sl_spool *s);

/* misc */
int64_t sl_spool_wall_us(void);
/* Syncs fd outside mu (s->mu must be held on entry and is held on exit). */
int sl_spool_sync_locked(sl_spool *s, char *err, size_t errlen);

#endif
