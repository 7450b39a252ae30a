/* A pipeline's durable disk buffer (`buffer: { type: disk, ... }`).
 *
 * Why: some sources cannot replay.  libmosquitto acknowledges a QoS 1
 * message (PUBACK) before the plugin sees it, so from then on the only copy
 * is ours.  A spooled pipeline appends every record the source hands over
 * to segment files before the source counts as acknowledged, and releases
 * records only after the sink (or the dead-letter sink) has them durably.
 * The spool decouples the two sides: while the sink is down the source keeps
 * spooling until max_size, then pauses (the broker queues); memory stays that
 * of the batches, whatever the spool holds.
 *
 * On disk, in one directory per pipeline:
 *   lock                 flock()ed while a process has the spool open
 *   NNNNNNNNNNNNNNNNNNNN.seg   segments, named by their first record's
 *                        sequence number, appended to until segment_size
 *   cursor               the release cursor, two checksummed slots written
 *                        alternately so that a torn write leaves the other
 * Each record is framed (magic, length, CRC32C of the body, append time,
 * sequence number) so that a torn tail is recognised on open, cut off and
 * counted.  The body keeps all of a record: key, value, timestamp, origin,
 * headers and typed fields.  Integers are in host byte order: a spool is
 * read back by the machine that wrote it.
 *
 * Log lines (sl_log, component "spool"): once when appends start waiting
 * for room ("spool DIR is full ..."), once when it has room again (below
 * half of max_bytes), once per disk-full episode and when space is back
 * (each pair at most every 30 s), one per torn tail or corrupt segment cut
 * off on open, and the number of records replayed on open.
 *
 * Test-only: SLUICE_SPOOL_FAULT_TORN=N in the environment (read at open)
 * makes the N-th append write half its bytes and raise(SIGKILL), for the
 * torn-tail end-to-end test.  Never set it in production.
 *
 * Threads: appends may come from any thread (the source thread, or a source
 * plugin's own network thread through api->spool_append); there is one
 * reader, the pipeline's sink side.  Every function is thread-safe. */
#ifndef SL_SPOOL_H
#define SL_SPOOL_H

#include <sluice/sluice.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sl_spool sl_spool;

/* What each policy can lose.  A crash of the process loses nothing under
 * any policy: write() has put every appended record in the page cache,
 * which outlives the process (only an append cut by the crash is torn, and
 * it was never acknowledged).  A power failure or kernel crash loses:
 *   BATCH     nothing sl_spool_sync() returned for, i.e. nothing the source
 *             acknowledged; the cursor is synced on every release, so at
 *             most the last released batch is delivered twice.
 *   INTERVAL  up to fsync_interval_ms of appends that were acknowledged,
 *             and releases of the last interval come again (duplicates).
 *   NEVER     whatever the kernel had not written back (by default up to
 *             about 30 s, vm.dirty_expire_centisecs), and duplicates. */
typedef enum sl_spool_fsync {
    SL_SPOOL_FSYNC_BATCH,    /* group commit: fdatasync before the source is
                                acknowledged (sl_spool_sync after each batch) */
    SL_SPOOL_FSYNC_INTERVAL, /* fdatasync every fsync_interval_ms, by a
                                background thread of the spool (so the bound
                                holds when appends stop); a power failure
                                loses at most that much */
    SL_SPOOL_FSYNC_NEVER     /* leave it to the kernel: survives a crash of
                                the process, not of the machine */
} sl_spool_fsync;

typedef struct sl_spool_opts {
    const char *dir;             /* created (0700) if missing */
    uint64_t max_bytes;          /* held bytes at most; appends wait beyond;
                                    0: no limit.  An append larger than
                                    max_bytes waits until the spool is empty,
                                    then goes in (it could never fit): keep
                                    max_bytes well above a batch */
    uint64_t segment_bytes;      /* a segment is closed past this size
                                    (0: 64 MiB); one append never spans two */
    sl_spool_fsync fsync;
    int64_t fsync_interval_ms;
} sl_spool_opts;

typedef struct sl_spool_stats {
    uint64_t bytes;              /* held: appended and not yet released */
    uint64_t records;
    int64_t oldest_us;           /* wall-clock append time of the oldest held
                                    record, 0 when empty */
    uint64_t replayed;           /* held records found when the spool opened */
    uint64_t torn;               /* records cut off as torn or corrupt on open */
    uint64_t appended_total;     /* since open */
    uint64_t released_total;     /* since open */
    int full;                    /* an append is waiting for room */
} sl_spool_stats;

/* Opens the spool in o->dir, creating it or recovering what a previous
 * process left: every unreleased record will be read again, a torn tail is
 * cut off and counted.  Refuses (-1, err) a directory another process holds,
 * or one it cannot read or write, naming the path and what to do. */
int sl_spool_open(const sl_spool_opts *o, sl_spool **out, char *err, size_t errlen);
/* Syncs and closes; NULL is a no-op. */
void sl_spool_close(sl_spool *s);

/* Appends the records of b that are not marked failed, in one write().
 * Waits while the spool is full, until there is room or sl_spool_wake()
 * (stop): then it appends anyway, past max_bytes, because the caller cannot
 * keep the records anywhere else.  0, or -1 with err on an I/O error other
 * than a full disk (which also waits, and is logged once; after
 * sl_spool_wake a full disk is -1).  Appends from several threads go in
 * arrival order; a failed write leaves nothing of itself on disk. */
int sl_spool_append_batch(sl_spool *s, const sluice_batch *b, char *err, size_t errlen);
/* The same for one record, for sources that spool from their own thread. */
int sl_spool_append(sl_spool *s, const sluice_record *r, char *err, size_t errlen);
/* The same without waiting: 1 (nothing appended) when the spool is over
 * max_bytes or another append is waiting its turn, unless the spool was
 * woken (stop).  For a transform re-injecting records it keeps elsewhere
 * meanwhile (api->spool_append from a transform instance). */
int sl_spool_try_append(sl_spool *s, const sluice_record *r, char *err, size_t errlen);
/* Makes what was appended so far durable according to the fsync policy
 * (FSYNC_BATCH: fdatasync now, if anything was appended since the last). */
int sl_spool_sync(sl_spool *s, char *err, size_t errlen);

/* Reads the records after the last one read into b (copied into its
 * arena), as many as fit, waiting up to timeout_ms for the first.  Returns
 * the number read, 0 on timeout or wake, -1 with err on an I/O error or a
 * record found damaged since open (the records stay; the next open cuts the
 * damage off).  After sl_spool_wake it still returns what is there, without
 * waiting (the final drain).  A record too large for an empty batch (its
 * arena limit) is handed over alone, marked failed with its origin, so that
 * the error policy routes it; one that only does not fit what is left of b
 * ends this read and comes first in the next. */
long sl_spool_read(sl_spool *s, sluice_batch *b, int timeout_ms, char *err, size_t errlen);
/* Everything read so far is in the sink or the dead-letter sink: release it
 * (persist the cursor per the fsync policy, delete spent segments, wake a
 * waiting append). */
int sl_spool_release(sl_spool *s, char *err, size_t errlen);
/* Forgets what was read and not released, so it is read again (after a
 * failed run: the records stay, the next run replays them). */
void sl_spool_rewind(sl_spool *s);
/* Wakes every waiting append and read, and makes later ones not wait:
 * the pipeline is stopping.  Sticky until the spool is closed (a pipeline
 * opens its spool for each run). */
void sl_spool_wake(sl_spool *s);

void sl_spool_stats_get(sl_spool *s, sl_spool_stats *st);

#endif
