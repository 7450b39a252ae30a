/* A bounded blocking FIFO of pointers: the backpressure between a
 * pipeline's source thread and its sink thread. */
#ifndef SL_QUEUE_H
#define SL_QUEUE_H

#include <pthread.h>
#include <stddef.h>

typedef struct sl_queue {
    void **items;
    size_t cap, head, len;
    int closed;
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
} sl_queue;

int sl_queue_init(sl_queue *q, size_t cap);
void sl_queue_destroy(sl_queue *q);
/* Blocks while full.  Returns -1 if the queue was closed. */
int sl_queue_push(sl_queue *q, void *item);
/* Blocks up to timeout_ms while empty (-1: forever).  Returns the item, or
 * NULL on timeout or when closed and empty. */
void *sl_queue_pop(sl_queue *q, int timeout_ms);
/* Wakes every waiter; pushes fail from now on, pops drain what is left. */
void sl_queue_close(sl_queue *q);
size_t sl_queue_len(sl_queue *q);

#endif
