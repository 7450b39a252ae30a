/*
 * sluice_util.h — small, dependency-free helpers for plugin authors.
 *
 * Header-only (static inline), so using them links nothing and adds no host
 * symbol to a plugin.  The host uses the same functions, so a plugin that
 * validates text with them agrees with the host's JSON converter.
 */
#ifndef SLUICE_SLUICE_UTIL_H
#define SLUICE_SLUICE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice_time.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF) that starts at s[0], or 0 if none
 * does.  n is the number of bytes available; n must be at least 1. */
static inline size_t sluice_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t need;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (n <= need || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k <= need; k++)
        if ((s[k] & 0xC0) != 0x80)
            return 0;
    return need + 1;
}

/* Length of the longest valid UTF-8 prefix of s: n when all of it is valid,
 * otherwise the offset of the first invalid byte. */
static inline size_t sluice_utf8_valid_prefix(const void *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0;
    while (i < n) {
        /* Device payloads and topics are nearly all ASCII: skip it eight
         * bytes at a time. */
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = sluice_utf8_seq(s + i, n - i);
        if (!k)
            return i;
        i += k;
    }
    return n;
}

/* A growing byte buffer meant to be reused: it only ever grows, so a steady
 * stream of similar records or batches allocates nothing after the first.
 * A failed allocation is sticky until sluice_buf_reset: later appends do
 * nothing, so a half-built text is never mistaken for a whole one. */
typedef struct sluice_buf {
    char *p;
    size_t len, cap;
    int oom;
} sluice_buf;

static inline int sluice_buf_grow(sluice_buf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->len + extra <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + extra)
        cap *= 2;
    char *p = (char *)realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline void sluice_buf_reset(sluice_buf *b)
{
    b->len = 0;
    b->oom = 0;
}

static inline void sluice_buf_free(sluice_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static inline void sluice_buf_put(sluice_buf *b, const void *s, size_t n)
{
    if (sluice_buf_grow(b, n))
        return;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
}

static inline void sluice_buf_puts(sluice_buf *b, const char *s)
{
    sluice_buf_put(b, s, strlen(s));
}

static inline void sluice_buf_putc(sluice_buf *b, char c)
{
    if (sluice_buf_grow(b, 1))
        return;
    b->p[b->len++] = c;
}

#define SLUICE_BUF_LIT(b, s) sluice_buf_put((b), (s), sizeof(s) - 1)

/* NUL-terminates without counting the NUL; NULL if any append since the
 * last reset failed (the text is incomplete). */
static inline const char *sluice_buf_cstr(sluice_buf *b)
{
    if (sluice_buf_grow(b, 1))
        return NULL;
    b->p[b->len] = '\0';
    return b->p;
}

/* For a plugin that takes a connection string (libpq's conninfo): the
 * parse errors of such libraries quote pieces of the string — after an
 * unquoted space in a password, the rest of the password.  Copies the first
 * line of `src` into dst (len bytes) with every quoted piece replaced by
 * "...", keeping the message's shape ("missing "=" after "..." in
 * connection info string"). */
static inline void sluice_unquote_error(char *dst, size_t len, const char *src)
{
    size_t o = 0;
    int in_quote = 0;
    if (!len)
        return;
    for (const char *p = src; *p && *p != '\n' && o + 4 < len; p++) {
        if (*p == '"') {
            /* "=" names a character, not a piece of the string. */
            if (!in_quote && p[1] == '=' && p[2] == '"') {
                memcpy(dst + o, "\"=\"", 3);
                o += 3;
                p += 2;
                continue;
            }
            in_quote = !in_quote;
            dst[o++] = '"';
            if (in_quote) {
                memcpy(dst + o, "...", 3);
                o += 3;
            }
            continue;
        }
        if (!in_quote)
            dst[o++] = *p;
    }
    dst[o] = '\0';
}

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_SLUICE_UTIL_H */
