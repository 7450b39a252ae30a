#include "queue.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <sluice/sluice_time.h>

int sl_queue_init(sl_queue *q, size_t cap)
{
    q->items = calloc(cap, sizeof(void *));
    if (!q->items)
        return -1;
    q->cap = cap;
    q->head = q->len = 0;
    q->closed = 0;
    pthread_mutex_init(&q->mu, NULL);
    sluice_cond_init_monotonic(&q->not_empty);
    sluice_cond_init_monotonic(&q->not_full);
    return 0;
}

void sl_queue_destroy(sl_queue *q)
{
    free(q->items);
    q->items = NULL;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
}

int sl_queue_push(sl_queue *q, void *item)
{
    pthread_mutex_lock(&q->mu);
    while (q->len == q->cap && !q->closed)
        pthread_cond_wait(&q->not_full, &q->mu);
    if (q->closed) {
        pthread_mutex_unlock(&q->mu);
        return -1;
    }
    q->items[(q->head + q->len) % q->cap] = item;
    q->len++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

void *sl_queue_pop(sl_queue *q, int timeout_ms)
{
    struct timespec until = sluice_deadline_ms(timeout_ms);
    pthread_mutex_lock(&q->mu);
    while (q->len == 0 && !q->closed) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&q->not_empty, &q->mu);
        } else if (pthread_cond_timedwait(&q->not_empty, &q->mu, &until) == ETIMEDOUT) {
            break;
        }
    }
    void *item = NULL;
    if (q->len) {
        item = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->len--;
        pthread_cond_signal(&q->not_full);
    }
    pthread_mutex_unlock(&q->mu);
    return item;
}

void sl_queue_close(sl_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}

size_t sl_queue_len(sl_queue *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->len;
    pthread_mutex_unlock(&q->mu);
    return n;
}
