/* See mqtt_ring.h. */
#include "mqtt_ring.h"

#include <sluice/sluice_util.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Entries are 8-aligned so the header can be read in place. */
typedef struct entry {
    uint32_t size;           /* whole entry, header included */
    uint32_t topic_len;
    uint32_t payload_len;
    uint8_t qos, retain, ext, pad_;
    int64_t recv_us;
} entry;

#define ALIGN8(n) (((n) + 7u) & ~(size_t)7u)
#define NO_ROOM ((size_t)-1)

int mq_ring_init(mq_ring *r, size_t max_count, size_t bytes)
{
    memset(r, 0, sizeof *r);
    /* Room for at least one small entry, whatever the configuration says. */
    r->cap = ALIGN8(bytes < 4096 ? 4096 : bytes);
    r->max_count = max_count ? max_count : 1;
    r->buf = malloc(r->cap);
    if (!r->buf)
        return -1;
    pthread_mutex_init(&r->mu, NULL);
    sluice_cond_init_monotonic(&r->not_empty);
    sluice_cond_init_monotonic(&r->not_full);
    return 0;
}

void mq_ring_destroy(mq_ring *r)
{
    if (!r->buf)
        return;
    mq_ring_cursor c;
    mq_ring_begin(r, &c);
    while (c.left)
        mq_ring_next(r, &c);   /* frees heap blocks */
    pthread_cond_destroy(&r->not_empty);
    pthread_cond_destroy(&r->not_full);
    pthread_mutex_destroy(&r->mu);
    free(r->buf);
    r->buf = NULL;
}

/* Finds `need` contiguous free bytes; call with the lock held. */
static size_t reserve(mq_ring *r, size_t need)
{
    if (r->count == 0) {
        /* Empty: start over at 0, so any entry up to cap fits. */
        r->head = r->tail = 0;
        r->wrapped = 0;
    }
    size_t off;
    if (!r->wrapped) {
        if (r->cap - r->head >= need) {
            off = r->head;
            r->head += need;
            return off;
        }
        if (r->tail >= need) {
            r->wrap_end = r->head;
            r->wrapped = 1;
            r->head = need;
            return 0;
        }
        return NO_ROOM;
    }
    if (r->tail - r->head >= need) {
        off = r->head;
        r->head += need;
        return off;
    }
    return NO_ROOM;
}

int mq_ring_put(mq_ring *r, const char *topic, size_t topic_len, const void *payload,
                size_t payload_len, int qos, int retain, int64_t recv_us)
{
    size_t need = ALIGN8(sizeof(entry) + topic_len + payload_len);
    char *block = NULL;
    if (need > r->cap) {
        /* Larger than the whole ring: it could never fit, so it gets a block
         * of its own; only such messages cost a malloc. */
        block = malloc(topic_len + payload_len + 1);
        if (!block)
            return -1;
        memcpy(block, topic, topic_len);
        if (payload_len)
            memcpy(block + topic_len, payload, payload_len);
        need = ALIGN8(sizeof(entry) + sizeof(char *));
    }
    pthread_mutex_lock(&r->mu);
    size_t off;
    for (;;) {
        if (r->closed) {
            pthread_mutex_unlock(&r->mu);
            free(block);
            return -1;
        }
        if (r->count < r->max_count && (off = reserve(r, need)) != NO_ROOM)
            break;
        r->producer_waiting = 1;
        r->waits++;
        /* A consumer gathering for more than fits must not wait on. */
        if (r->consumer_waiting)
            pthread_cond_signal(&r->not_empty);
        pthread_cond_wait(&r->not_full, &r->mu);
    }
    r->producer_waiting = 0;
    entry *e = (entry *)(void *)(r->buf + off);
    e->size = (uint32_t)need;
    e->topic_len = (uint32_t)topic_len;
    e->payload_len = (uint32_t)payload_len;
    e->qos = (uint8_t)qos;
    e->retain = (uint8_t)(retain != 0);
    e->ext = block != NULL;
    e->recv_us = recv_us;
    unsigned char *body = r->buf + off + sizeof(entry);
    if (block) {
        memcpy(body, &block, sizeof block);
        r->oversized++;
    } else {
        memcpy(body, topic, topic_len);
        if (payload_len)
            memcpy(body + topic_len, payload, payload_len);
    }
    r->count++;
    if (r->consumer_waiting && r->count >= r->wake_at)
        pthread_cond_signal(&r->not_empty);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

void mq_ring_set_eof(mq_ring *r)
{
    pthread_mutex_lock(&r->mu);
    r->eof = 1;
    pthread_cond_broadcast(&r->not_empty);
    pthread_mutex_unlock(&r->mu);
}

void mq_ring_close(mq_ring *r)
{
    pthread_mutex_lock(&r->mu);
    r->closed = 1;
    pthread_cond_broadcast(&r->not_full);
    pthread_mutex_unlock(&r->mu);
}

/* Waits (lock held) until `want` entries or eof, or the deadline; when
 * gathering, also until the producer finds the ring full. */
static void wait_for(mq_ring *r, size_t want, int gathering, const struct timespec *dl)
{
    r->wake_at = want;
    r->consumer_waiting = 1;
    while (r->count < want && !r->eof && !(gathering && r->producer_waiting))
        if (pthread_cond_timedwait(&r->not_empty, &r->mu, dl) == ETIMEDOUT)
            break;
    r->consumer_waiting = 0;
}

size_t mq_ring_wait(mq_ring *r, int timeout_ms, size_t gather, int gather_us)
{
    struct timespec dl;
    pthread_mutex_lock(&r->mu);
    if (r->count == 0 && !r->eof && timeout_ms > 0) {
        dl = sluice_deadline_ms(timeout_ms);
        /* Not the producer's flag here: it stays set until the producer
         * runs again, and ending this wait early would end a drain with a
         * message about to arrive. */
        wait_for(r, 1, 0, &dl);
    }
    if (r->count && r->count < gather && !r->eof && gather_us > 0) {
        dl = sluice_deadline_ns((int64_t)gather_us * 1000);
        wait_for(r, gather, 1, &dl);
    }
    size_t n = r->count;
    pthread_mutex_unlock(&r->mu);
    return n;
}

int mq_ring_eof(mq_ring *r)
{
    pthread_mutex_lock(&r->mu);
    int e = r->eof;
    pthread_mutex_unlock(&r->mu);
    return e;
}

size_t mq_ring_count(mq_ring *r)
{
    pthread_mutex_lock(&r->mu);
    size_t n = r->count;
    pthread_mutex_unlock(&r->mu);
    return n;
}

void mq_ring_begin(mq_ring *r, mq_ring_cursor *c)
{
    pthread_mutex_lock(&r->mu);
    c->pos = r->tail;
    c->left = r->count;
    c->wrapped = r->wrapped;
    c->wrap_end = r->wrap_end;
    pthread_mutex_unlock(&r->mu);
    c->taken = 0;
    c->jumped = 0;
}

int mq_ring_peek(mq_ring *r, const mq_ring_cursor *c, mq_msg *m)
{
    if (!c->left)
        return 0;
    const entry *e = (const entry *)(const void *)(r->buf + c->pos);
    const char *body = (const char *)(r->buf + c->pos + sizeof(entry));
    if (e->ext)
        memcpy(&body, body, sizeof body);
    m->topic = body;
    m->topic_len = e->topic_len;
    m->payload = body + e->topic_len;
    m->payload_len = e->payload_len;
    m->recv_us = e->recv_us;
    m->qos = e->qos;
    m->retain = e->retain;
    return 1;
}

void mq_ring_next(mq_ring *r, mq_ring_cursor *c)
{
    if (!c->left)
        return;
    const entry *e = (const entry *)(const void *)(r->buf + c->pos);
    if (e->ext) {
        char *block;
        memcpy(&block, r->buf + c->pos + sizeof(entry), sizeof block);
        free(block);
    }
    c->pos += e->size;
    c->left--;
    c->taken++;
    if (c->wrapped && !c->jumped && c->pos == c->wrap_end) {
        c->pos = 0;
        c->jumped = 1;
    }
}

void mq_ring_commit(mq_ring *r, mq_ring_cursor *c)
{
    if (!c->taken)
        return;
    pthread_mutex_lock(&r->mu);
    r->tail = c->pos;
    r->count -= c->taken;
    if (c->jumped) {
        r->wrapped = 0;
    } else if (r->wrapped && r->tail == r->wrap_end) {
        /* The producer wrapped after the snapshot, right behind it. */
        r->tail = 0;
        r->wrapped = 0;
    }
    if (r->count == 0) {
        r->head = r->tail = 0;
        r->wrapped = 0;
    }
    if (r->producer_waiting)
        pthread_cond_signal(&r->not_full);
    pthread_mutex_unlock(&r->mu);
    c->taken = 0;
}
