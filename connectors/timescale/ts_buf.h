/* A growing byte buffer reused across batches: it only ever grows, so a
 * steady stream of similar batches allocates nothing after the first. */
#ifndef TS_BUF_H
#define TS_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct ts_buf {
    char *p;
    size_t len, cap;
    int oom;                 /* sticky: an allocation failed since the last reset */
} ts_buf;

static inline int ts_buf_grow(ts_buf *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
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

static inline void ts_buf_reset(ts_buf *b) { b->len = 0; b->oom = 0; }
static inline void ts_buf_free(ts_buf *b) { free(b->p); memset(b, 0, sizeof *b); }

static inline void ts_buf_put(ts_buf *b, const void *s, size_t n)
{
    if (ts_buf_grow(b, n))
        return;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
}

static inline void ts_buf_puts(ts_buf *b, const char *s) { ts_buf_put(b, s, strlen(s)); }

static inline void ts_buf_putc(ts_buf *b, char c)
{
    if (ts_buf_grow(b, 1))
        return;
    b->p[b->len++] = c;
}

/* Network byte order, as PostgreSQL's binary COPY wants. */
static inline void ts_buf_be16(ts_buf *b, uint16_t v)
{
    unsigned char x[2] = {(unsigned char)(v >> 8), (unsigned char)v};
    ts_buf_put(b, x, 2);
}

static inline void ts_buf_be32(ts_buf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    ts_buf_put(b, x, 4);
}

static inline void ts_buf_be64(ts_buf *b, uint64_t v)
{
    ts_buf_be32(b, (uint32_t)(v >> 32));
    ts_buf_be32(b, (uint32_t)v);
}

/* NUL-terminates without counting the NUL, for SQL text built in place;
 * NULL if any append since the last reset failed (the text is incomplete). */
static inline const char *ts_buf_cstr(ts_buf *b)
{
    if (b->oom || ts_buf_grow(b, 1))
        return NULL;
    b->p[b->len] = '\0';
    return b->p;
}

#endif
