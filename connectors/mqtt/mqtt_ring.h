/* The hand-over buffer between libmosquitto's network thread (producer, in
 * on_message) and the source's poll (consumer): one preallocated byte ring of
 * variable-size entries, bounded both in bytes and in messages.
 *
 * A full ring blocks the producer instead of dropping: the network thread
 * stops reading the socket, so the broker keeps what it has not delivered.
 * The consumer copies entries out without holding the lock (only the producer
 * writes free space, only the consumer reads committed entries), so a poll
 * that copies a thousand messages into a batch never stalls the network
 * thread for longer than one bookkeeping update. */
#ifndef MQTT_RING_H
#define MQTT_RING_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mq_msg {
    const char *topic;
    size_t topic_len;
    const char *payload;
    size_t payload_len;
    int64_t recv_us;
    int qos;
    int retain;
} mq_msg;

typedef struct mq_ring {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    unsigned char *buf;
    size_t cap;              /* bytes of buf */
    size_t max_count;        /* messages */
    size_t head, tail;       /* next write / next read offsets */
    size_t wrap_end;         /* while wrapped: end of the entries before 0 */
    int wrapped;             /* entries run [tail, wrap_end) then [0, head) */
    size_t count;            /* committed entries */
    int consumer_waiting, producer_waiting;
    size_t wake_at;          /* the waiting consumer wants this many */
    int closed;              /* put() no longer blocks; it refuses */
    int eof;                 /* the producer has finished for good */
    uint64_t waits;          /* times the producer blocked on a full ring */
    uint64_t oversized;      /* messages held in their own heap block */
} mq_ring;

/* What the consumer took in one go: a snapshot of committed entries. */
typedef struct mq_ring_cursor {
    size_t pos;
    size_t left;             /* entries of the snapshot not yet visited */
    size_t taken;            /* entries visited (to release on commit) */
    int wrapped;
    size_t wrap_end;
    int jumped;              /* pos went back to 0 during this cursor */
} mq_ring_cursor;

/* 0, or -1 when memory for the buffer cannot be had. */
int mq_ring_init(mq_ring *r, size_t max_count, size_t bytes);
/* Frees the buffer and any message still held in a heap block. */
void mq_ring_destroy(mq_ring *r);

/* Producer.  Copies the message in; blocks while the ring is full.  Returns
 * 0, or -1 when the ring is closed or an oversized message's block cannot be
 * allocated (the message is not stored). */
int mq_ring_put(mq_ring *r, const char *topic, size_t topic_len, const void *payload,
                size_t payload_len, int qos, int retain, int64_t recv_us);
/* Producer done: wakes a consumer waiting for data. */
void mq_ring_set_eof(mq_ring *r);
/* From now on put() refuses instead of blocking (no consumer will come). */
void mq_ring_close(mq_ring *r);

/* Consumer.  Waits up to timeout_ms (0: not at all) until an entry is
 * committed or eof is set; then, if fewer than `gather` are there, up to
 * gather_us more for that many to collect.  Returns the number of committed
 * entries.  The second wait keeps a consumer that is faster than the
 * producer from being woken (a futex and a context switch) per message. */
size_t mq_ring_wait(mq_ring *r, int timeout_ms, size_t gather, int gather_us);
int mq_ring_eof(mq_ring *r);
size_t mq_ring_count(mq_ring *r);
/* Snapshots the committed entries into c. */
void mq_ring_begin(mq_ring *r, mq_ring_cursor *c);
/* The entry under the cursor; 0 when the snapshot is exhausted. */
int mq_ring_peek(mq_ring *r, const mq_ring_cursor *c, mq_msg *m);
/* Moves past the entry under the cursor (frees it if it had its own block). */
void mq_ring_next(mq_ring *r, mq_ring_cursor *c);
/* Gives the visited entries' space back to the producer. */
void mq_ring_commit(mq_ring *r, mq_ring_cursor *c);

#endif
