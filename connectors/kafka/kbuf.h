/* A growing byte buffer reused from record to record: it only ever grows, so
 * a steady stream of similar records allocates nothing after the first. */
#ifndef KAFKA_KBUF_H
#define KAFKA_KBUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct kbuf {
    char *p;
    size_t len, cap;
    int oom;                 /* sticky: an allocation failed since the last reset */
} kbuf;

static inline int kbuf_grow(kbuf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->len + extra <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + extra)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline void kbuf_reset(kbuf *b)
{
    b->len = 0;
    b->oom = 0;
}

static inline void kbuf_free(kbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static inline void kbuf_put(kbuf *b, const void *s, size_t n)
{
    if (kbuf_grow(b, n))
        return;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
}

static inline void kbuf_puts(kbuf *b, const char *s) { kbuf_put(b, s, strlen(s)); }

static inline void kbuf_putc(kbuf *b, char c)
{
    if (kbuf_grow(b, 1))
        return;
    b->p[b->len++] = c;
}

#define KBUF_LIT(b, s) kbuf_put((b), (s), sizeof(s) - 1)

#endif
