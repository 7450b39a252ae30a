/* The spool's record format: a frame header and a body holding everything a
 * sluice_record carries (key, value, timestamp, origin, headers, typed
 * fields), so that a replayed record is the record the source handed over.
 *
 * Body, integers in host byte order, strings counted (u32 length; the length
 * NONE marks a NULL pointer, so NULL and "" survive the round trip):
 *   timestamp i64 | partition i32 | offset i64 | topic | key | value
 *   n_headers u32, each: key, value | n_fields u32, each: name, type u8, value
 * A field value is nothing (NULL), u8 (BOOL), 8 bytes (INT, DOUBLE,
 * TIMESTAMP) or a counted string (STRING, BYTES). */
#include "spool_internal.h"

#include "batch_api.h"

#include <string.h>

#define NONE 0xffffffffu

static size_t str_size(const void *p, size_t len) { return 4 + (p ? len : 0); }

size_t sl_spool_body_size(const sluice_record *r)
{
    size_t n = 8 + 4 + 8;
    n += str_size(r->origin.topic, r->origin.topic ? strlen(r->origin.topic) : 0);
    n += str_size(r->key.ptr, r->key.len) + str_size(r->value.ptr, r->value.len);
    n += 4;
    for (uint32_t i = 0; i < r->n_headers; i++) {
        const sluice_header *h = &r->headers[i];
        n += 4 + (h->key ? strlen(h->key) : 0) + 4 + (h->value.ptr ? h->value.len : 0);
    }
    n += 4;
    for (uint32_t i = 0; i < r->n_fields; i++) {
        const sluice_field *f = &r->fields[i];
        n += 4 + (f->name ? strlen(f->name) : 0) + 1;
        switch (f->type) {
        case SLUICE_BOOL: n += 1; break;
        case SLUICE_INT:
        case SLUICE_DOUBLE:
        case SLUICE_TIMESTAMP: n += 8; break;
        case SLUICE_STRING:
        case SLUICE_BYTES: n += str_size(f->v.s.ptr, f->v.s.len); break;
        default: break;
        }
    }
    return n;
}

static unsigned char *put(unsigned char *o, const void *p, size_t n)
{
    if (n)
        memcpy(o, p, n);
    return o + n;
}

static unsigned char *put_u32(unsigned char *o, uint32_t v) { return put(o, &v, 4); }

static unsigned char *put_str(unsigned char *o, const void *p, size_t len)
{
    if (!p)
        return put_u32(o, NONE);
    o = put_u32(o, (uint32_t)len);
    return put(o, p, len);
}

void sl_spool_body_encode(const sluice_record *r, unsigned char *o)
{
    o = put(o, &r->timestamp, 8);
    o = put(o, &r->origin.partition, 4);
    o = put(o, &r->origin.offset, 8);
    o = put_str(o, r->origin.topic, r->origin.topic ? strlen(r->origin.topic) : 0);
    o = put_str(o, r->key.ptr, r->key.len);
    o = put_str(o, r->value.ptr, r->value.len);
    o = put_u32(o, r->n_headers);
    for (uint32_t i = 0; i < r->n_headers; i++) {
        const sluice_header *h = &r->headers[i];
        o = put_str(o, h->key ? h->key : "", h->key ? strlen(h->key) : 0);
        o = put_str(o, h->value.ptr ? h->value.ptr : "", h->value.ptr ? h->value.len : 0);
    }
    o = put_u32(o, r->n_fields);
    for (uint32_t i = 0; i < r->n_fields; i++) {
        const sluice_field *f = &r->fields[i];
        o = put_str(o, f->name ? f->name : "", f->name ? strlen(f->name) : 0);
        unsigned char t = f->type <= SLUICE_TIMESTAMP ? (unsigned char)f->type : SLUICE_NULL;
        *o++ = t;
        switch (t) {
        case SLUICE_BOOL: *o++ = f->v.b ? 1 : 0; break;
        case SLUICE_INT: o = put(o, &f->v.i, 8); break;
        case SLUICE_DOUBLE: o = put(o, &f->v.d, 8); break;
        case SLUICE_TIMESTAMP: o = put(o, &f->v.ts, 8); break;
        case SLUICE_STRING:
        case SLUICE_BYTES: o = put_str(o, f->v.s.ptr, f->v.s.len); break;
        default: break;
        }
    }
}

typedef struct rd {
    const unsigned char *p, *end;
} rd;

static int get(rd *d, void *out, size_t n)
{
    if ((size_t)(d->end - d->p) < n)
        return -1;
    memcpy(out, d->p, n);
    d->p += n;
    return 0;
}

/* A counted string: *ptr stays NULL for NONE. */
static int get_str(rd *d, const unsigned char **ptr, size_t *len)
{
    uint32_t n;
    if (get(d, &n, 4) < 0)
        return -1;
    *ptr = NULL;
    *len = 0;
    if (n == NONE)
        return 0;
    if ((size_t)(d->end - d->p) < n)
        return -1;
    *ptr = d->p;
    *len = n;
    d->p += n;
    return 0;
}

/* Copies a counted string into the arena (NUL-terminated); -1 exhausted. */
static int dup_str(sluice_batch *b, const unsigned char *p, size_t len, const char **out)
{
    if (!p) {
        *out = NULL;
        return 0;
    }
    *out = sl_strndup(b, (const char *)p, len);
    return *out ? 0 : -1;
}

#define BAD -2
#define FULL -1

int sl_spool_body_decode(const unsigned char *p, size_t len, sluice_batch *b,
                         sluice_record *r)
{
    rd d = {p, p + len};
    const unsigned char *s;
    size_t n;
    if (get(&d, &r->timestamp, 8) < 0 || get(&d, &r->origin.partition, 4) < 0 ||
        get(&d, &r->origin.offset, 8) < 0)
        return BAD;
    if (get_str(&d, &s, &n) < 0)
        return BAD;
    if (dup_str(b, s, n, &r->origin.topic) < 0)
        return FULL;
    if (get_str(&d, &s, &n) < 0)
        return BAD;
    if (dup_str(b, s, n, &r->key.ptr) < 0)
        return FULL;
    r->key.len = n;
    if (get_str(&d, &s, &n) < 0)
        return BAD;
    if (dup_str(b, s, n, &r->value.ptr) < 0)
        return FULL;
    r->value.len = n;

    uint32_t nh, nf;
    if (get(&d, &nh, 4) < 0 || nh > (size_t)(d.end - d.p) / 8)
        return BAD;
    if (nh) {
        r->headers = sl_alloc(b, nh * sizeof(*r->headers));
        if (!r->headers)
            return FULL;
        r->cap_headers_ = nh;
    }
    for (uint32_t i = 0; i < nh; i++) {
        sluice_header *h = &r->headers[i];
        if (get_str(&d, &s, &n) < 0 || !s)
            return BAD;
        if (dup_str(b, s, n, &h->key) < 0)
            return FULL;
        if (get_str(&d, &s, &n) < 0 || !s)
            return BAD;
        if (dup_str(b, s, n, &h->value.ptr) < 0)
            return FULL;
        h->value.len = n;
        r->n_headers = i + 1;
    }

    if (get(&d, &nf, 4) < 0 || nf > (size_t)(d.end - d.p) / 5)
        return BAD;
    if (nf) {
        r->fields = sl_alloc(b, nf * sizeof(*r->fields));
        if (!r->fields)
            return FULL;
        r->cap_fields_ = nf;
    }
    for (uint32_t i = 0; i < nf; i++) {
        sluice_field *f = &r->fields[i];
        memset(f, 0, sizeof(*f));
        unsigned char t;
        if (get_str(&d, &s, &n) < 0 || !s || get(&d, &t, 1) < 0)
            return BAD;
        if (dup_str(b, s, n, &f->name) < 0)
            return FULL;
        f->type = (sluice_field_type)t;
        switch (t) {
        case SLUICE_NULL: break;
        case SLUICE_BOOL: {
            unsigned char v;
            if (get(&d, &v, 1) < 0)
                return BAD;
            f->v.b = v;
            break;
        }
        case SLUICE_INT:
            if (get(&d, &f->v.i, 8) < 0)
                return BAD;
            break;
        case SLUICE_DOUBLE:
            if (get(&d, &f->v.d, 8) < 0)
                return BAD;
            break;
        case SLUICE_TIMESTAMP:
            if (get(&d, &f->v.ts, 8) < 0)
                return BAD;
            break;
        case SLUICE_STRING:
        case SLUICE_BYTES:
            if (get_str(&d, &s, &n) < 0)
                return BAD;
            if (dup_str(b, s, n, &f->v.s.ptr) < 0)
                return FULL;
            f->v.s.len = n;
            break;
        default: return BAD;
        }
        r->n_fields = i + 1;
    }
    return d.p == d.end ? 0 : BAD;
}

void sl_spool_frame_put(unsigned char *h, uint32_t len, int64_t time_us, uint64_t seq)
{
    uint32_t magic = SL_SPOOL_MAGIC, zero = 0;
    memcpy(h, &magic, 4);
    memcpy(h + 4, &len, 4);
    memcpy(h + 12, &zero, 4);
    memcpy(h + 16, &time_us, 8);
    memcpy(h + 24, &seq, 8);
    uint32_t crc = sl_crc32c(0, h + 12, SL_SPOOL_HDR - 12);
    crc = sl_crc32c(crc, h + SL_SPOOL_HDR, len);
    memcpy(h + 8, &crc, 4);
}

int sl_spool_frame_get(const unsigned char *h, sl_spool_frame *f)
{
    uint32_t magic;
    memcpy(&magic, h, 4);
    memcpy(&f->len, h + 4, 4);
    memcpy(&f->crc, h + 8, 4);
    memcpy(&f->time_us, h + 16, 8);
    memcpy(&f->seq, h + 24, 8);
    if (magic != SL_SPOOL_MAGIC || f->len > SL_SPOOL_MAX_BODY)
        return -1;
    return 0;
}

int sl_spool_frame_ok(const unsigned char *h, const unsigned char *body)
{
    uint32_t len, want;
    memcpy(&len, h + 4, 4);
    memcpy(&want, h + 8, 4);
    uint32_t crc = sl_crc32c(0, h + 12, SL_SPOOL_HDR - 12);
    return sl_crc32c(crc, body, len) == want;
}

void sl_spool_body_origin(const unsigned char *p, size_t len, sluice_batch *b,
                          sluice_record *r)
{
    rd d = {p, p + len};
    const unsigned char *s;
    size_t n;
    if (get(&d, &r->timestamp, 8) < 0 || get(&d, &r->origin.partition, 4) < 0 ||
        get(&d, &r->origin.offset, 8) < 0 || get_str(&d, &s, &n) < 0)
        return;
    /* A topic too long for the arena is left out rather than fail the mark. */
    if (dup_str(b, s, n, &r->origin.topic) < 0)
        r->origin.topic = NULL;
}
