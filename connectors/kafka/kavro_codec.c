/* The Avro binary body of a flat record, both ways.  Every read is checked
 * against the bytes that are there, so a corrupt message yields a reason,
 * never a wild allocation or read. */
#include "kavro_int.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Encoding                                                            */
/* ------------------------------------------------------------------ */

static void put_long(sluice_buf *o, int64_t v)
{
    uint64_t n = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    unsigned char buf[10];
    size_t k = 0;
    while (n & ~(uint64_t)0x7F) {
        buf[k++] = (unsigned char)((n & 0x7F) | 0x80);
        n >>= 7;
    }
    buf[k++] = (unsigned char)n;
    sluice_buf_put(o, buf, k);
}

static void put_bytes(sluice_buf *o, const char *p, size_t n)
{
    put_long(o, (int64_t)n);
    sluice_buf_put(o, p, n);
}

static void put_le(sluice_buf *o, uint64_t v, int n)
{
    unsigned char buf[8];
    for (int i = 0; i < n; i++)
        buf[i] = (unsigned char)(v >> (8 * i));
    sluice_buf_put(o, buf, (size_t)n);
}

static long enum_index(const av_type *t, const sluice_field *f)
{
    for (size_t i = 0; i < t->n_symbols; i++)
        if (strlen(t->symbols[i]) == f->v.s.len && memcmp(t->symbols[i], f->v.s.ptr, f->v.s.len) == 0)
            return (long)i;
    return -1;
}

/* How well field f fits type t: 2 exactly, 1 after a conversion, 0 not. */
static int fits(const av_type *t, const sluice_field *f)
{
    switch (f->type) {
    case SLUICE_NULL: return t->kind == AV_NULL ? 2 : 0;
    case SLUICE_BOOL: return t->kind == AV_BOOLEAN ? 2 : 0;
    case SLUICE_INT:
        if (t->kind == AV_LONG)
            return t->logical == AV_LT_NONE ? 2 : 1;
        if (t->kind == AV_INT)
            return f->v.i >= INT32_MIN && f->v.i <= INT32_MAX ? 2 : 0;
        return t->kind == AV_DOUBLE || t->kind == AV_FLOAT ? 1 : 0;
    case SLUICE_DOUBLE:
        if (t->kind == AV_DOUBLE)
            return 2;
        if (t->kind == AV_FLOAT)
            return !isfinite(f->v.d) || fabs(f->v.d) <= FLT_MAX ? 1 : 0;
        return 0;
    case SLUICE_STRING:
        if (t->kind == AV_STRING)
            return 2;
        if (t->kind == AV_ENUM)
            return enum_index(t, f) >= 0 ? 2 : 0;
        if (t->kind == AV_BYTES)
            return 1;
        return t->kind == AV_FIXED && f->v.s.len == t->size ? 1 : 0;
    case SLUICE_BYTES:
        if (t->kind == AV_BYTES)
            return 2;
        return t->kind == AV_FIXED && f->v.s.len == t->size ? 2 : 0;
    case SLUICE_TIMESTAMP:
        if (t->kind == AV_LONG)
            return t->logical != AV_LT_NONE ? 2 : 1;
        return 0;
    }
    return 0;
}

static const char *field_type_name(sluice_field_type t)
{
    static const char *const names[] = {"NULL", "BOOL", "INT", "DOUBLE", "STRING", "BYTES",
                                        "TIMESTAMP"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Writes f as type t; the caller checked fits(t, f) > 0. */
static int put_value(sluice_buf *o, const av_type *t, const sluice_field *f, const char *name,
                     char *err, size_t errlen)
{
    switch (t->kind) {
    case AV_NULL: return 0;
    case AV_BOOLEAN: sluice_buf_putc(o, f->v.b ? 1 : 0); return 0;
    case AV_INT:
    case AV_LONG: {
        int64_t v = f->v.i;
        if (f->type == SLUICE_TIMESTAMP)
            v = t->logical == AV_LT_TS_MILLIS ? floor_div(f->v.ts, 1000) : f->v.ts;
        put_long(o, v);
        return 0;
    }
    case AV_FLOAT: {
        float x = f->type == SLUICE_INT ? (float)f->v.i : (float)f->v.d;
        uint32_t u;
        memcpy(&u, &x, 4);
        put_le(o, u, 4);
        return 0;
    }
    case AV_DOUBLE: {
        double x = f->type == SLUICE_INT ? (double)f->v.i : f->v.d;
        uint64_t u;
        memcpy(&u, &x, 8);
        put_le(o, u, 8);
        return 0;
    }
    case AV_STRING:
        if (sluice_utf8_valid_prefix((const unsigned char *)f->v.s.ptr, f->v.s.len) != f->v.s.len) {
            snprintf(err, errlen, "Avro: field \"%s\": string is not valid UTF-8", name);
            return -1;
        }
        put_bytes(o, f->v.s.ptr, f->v.s.len);
        return 0;
    case AV_BYTES: put_bytes(o, f->v.s.ptr, f->v.s.len); return 0;
    case AV_FIXED: sluice_buf_put(o, f->v.s.ptr, f->v.s.len); return 0;
    case AV_ENUM: put_long(o, enum_index(t, f)); return 0;
    case AV_UNION: break;
    }
    snprintf(err, errlen, "Avro: field \"%s\": internal error (type %s)", name,
             av_kind_name(t->kind));
    return -1;
}

static int encode_field(sluice_buf *o, const av_field *af, const sluice_field *f, char *err,
                        size_t errlen)
{
    static const sluice_field null_field = {NULL, SLUICE_NULL, {0}};
    const av_type *t = &af->type;
    if (!f) {
        if (af->has_default) {
            if (t->kind == AV_UNION) {
                put_long(o, 0);
                t = &t->branches[0];
            }
            if (fits(t, &af->def) > 0)
                return put_value(o, t, &af->def, af->name, err, errlen);
            snprintf(err, errlen, "Avro: field \"%s\": the schema's default does not fit its "
                     "type", af->name);
            return -1;
        }
        f = &null_field;
    }
    if (t->kind != AV_UNION) {
        if (fits(t, f) > 0)
            return put_value(o, t, f, af->name, err, errlen);
    } else {
        size_t best = t->n_branches;
        int score = 0;
        for (size_t i = 0; i < t->n_branches && score < 2; i++) {
            int s = fits(&t->branches[i], f);
            if (s > score) {
                score = s;
                best = i;
            }
        }
        if (score > 0) {
            put_long(o, (int64_t)best);
            return put_value(o, &t->branches[best], f, af->name, err, errlen);
        }
    }
    if (f == &null_field)
        snprintf(err, errlen, "Avro: field \"%s\" is missing, and its type is not nullable and "
                 "has no default", af->name);
    else if (f->type == SLUICE_STRING && (t->kind == AV_ENUM))
        snprintf(err, errlen, "Avro: field \"%s\": \"%.*s\" is not a symbol of the enum",
                 af->name, (int)(f->v.s.len > 64 ? 64 : f->v.s.len), f->v.s.ptr);
    else
        snprintf(err, errlen, "Avro: field \"%s\": a %s value does not fit Avro type %s",
                 af->name, field_type_name(f->type), av_kind_name(t->kind));
    return -1;
}

int kavro_encode(const kavro *a, const sluice_record *r, sluice_buf *out, char *err, size_t errlen)
{
    size_t start = out->len;
    sluice_buf_put(out, a->header, sizeof a->header);
    for (size_t i = 0; i < a->n_fields; i++) {
        const av_field *af = &a->fields[i];
        if (encode_field(out, af, sluice_field_get(r, af->name), err, errlen) != 0) {
            out->len = start;
            return -1;
        }
    }
    if (out->oom) {
        snprintf(err, errlen, "Avro: out of memory");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Decoding                                                            */
/* ------------------------------------------------------------------ */

typedef struct rd {
    const unsigned char *p;
    size_t n, i;
    const char *field;
    char *err;
    size_t errlen;
} rd;

static int truncated(rd *r, const char *what)
{
    snprintf(r->err, r->errlen, "Avro: field \"%s\": message ends at byte %zu inside %s",
             r->field, r->n, what);
    return -1;
}

static int get_long(rd *r, int64_t *v)
{
    uint64_t x = 0;
    size_t at = r->i;
    for (int k = 0; k < 10; k++) {
        if (r->i >= r->n)
            return truncated(r, "a number");
        unsigned char b = r->p[r->i++];
        if (k == 9 && b > 1)
            break;
        x |= (uint64_t)(b & 0x7F) << (7 * k);
        if (!(b & 0x80)) {
            *v = (int64_t)((x >> 1) ^ (0 - (x & 1)));
            return 0;
        }
    }
    snprintf(r->err, r->errlen, "Avro: field \"%s\": number at byte %zu is longer than 64 bits",
             r->field, at);
    return -1;
}

static int get_len(rd *r, size_t *len, const char *what)
{
    int64_t v;
    size_t at = r->i;
    if (get_long(r, &v) != 0)
        return -1;
    if (v < 0) {
        snprintf(r->err, r->errlen, "Avro: field \"%s\": negative %s length %lld at byte %zu",
                 r->field, what, (long long)v, at);
        return -1;
    }
    if ((uint64_t)v > r->n - r->i) {
        snprintf(r->err, r->errlen, "Avro: field \"%s\": %s of %lld bytes at byte %zu, but only "
                 "%zu bytes follow", r->field, what, (long long)v, at, r->n - r->i);
        return -1;
    }
    *len = (size_t)v;
    return 0;
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int decode_value(rd *r, const av_type *t, const sluice_api *api, sluice_batch *b,
                        sluice_record *rec)
{
    const char *name = r->field;
    sluice_field *f;
    int64_t v;
    switch (t->kind) {
    case AV_NULL:
        return api->field_add(b, rec, name, SLUICE_NULL) ? 0 : -2;
    case AV_BOOLEAN:
        if (r->i >= r->n)
            return truncated(r, "a boolean");
        if (r->p[r->i] > 1) {
            snprintf(r->err, r->errlen, "Avro: field \"%s\": boolean byte 0x%02x at byte %zu is "
                     "neither 0 nor 1", name, r->p[r->i], r->i);
            return -1;
        }
        if (!(f = api->field_add(b, rec, name, SLUICE_BOOL)))
            return -2;
        f->v.b = r->p[r->i++];
        return 0;
    case AV_INT:
    case AV_LONG:
        if (get_long(r, &v) != 0)
            return -1;
        if (t->kind == AV_INT && (v < INT32_MIN || v > INT32_MAX)) {
            snprintf(r->err, r->errlen, "Avro: field \"%s\": %lld is out of range for int", name,
                     (long long)v);
            return -1;
        }
        if (t->logical == AV_LT_NONE) {
            if (!(f = api->field_add(b, rec, name, SLUICE_INT)))
                return -2;
            f->v.i = v;
            return 0;
        }
        if (t->logical == AV_LT_TS_MILLIS && (v > INT64_MAX / 1000 || v < INT64_MIN / 1000)) {
            snprintf(r->err, r->errlen, "Avro: field \"%s\": timestamp-millis %lld is out of "
                     "range", name, (long long)v);
            return -1;
        }
        if (!(f = api->field_add(b, rec, name, SLUICE_TIMESTAMP)))
            return -2;
        f->v.ts = t->logical == AV_LT_TS_MILLIS ? v * 1000 : v;
        return 0;
    case AV_FLOAT:
    case AV_DOUBLE: {
        int n = t->kind == AV_FLOAT ? 4 : 8;
        if (r->n - r->i < (size_t)n)
            return truncated(r, av_kind_name(t->kind));
        uint64_t u = get_le(r->p + r->i, n);
        r->i += (size_t)n;
        if (!(f = api->field_add(b, rec, name, SLUICE_DOUBLE)))
            return -2;
        if (n == 4) {
            uint32_t u32 = (uint32_t)u;
            float x;
            memcpy(&x, &u32, 4);
            f->v.d = x;
        } else {
            memcpy(&f->v.d, &u, 8);
        }
        return 0;
    }
    case AV_STRING:
    case AV_BYTES:
    case AV_FIXED: {
        size_t len = t->size;
        if (t->kind != AV_FIXED) {
            if (get_len(r, &len, t->kind == AV_STRING ? "string" : "bytes") != 0)
                return -1;
        } else if (r->n - r->i < len) {
            return truncated(r, "a fixed");
        }
        const char *p = (const char *)r->p + r->i;
        if (t->kind == AV_STRING &&
            sluice_utf8_valid_prefix((const unsigned char *)p, len) != len) {
            snprintf(r->err, r->errlen, "Avro: field \"%s\": string at byte %zu is not valid "
                     "UTF-8", name, r->i);
            return -1;
        }
        r->i += len;
        f = api->field_add(b, rec, name, t->kind == AV_STRING ? SLUICE_STRING : SLUICE_BYTES);
        if (!f || api->field_set_string(b, f, p, len) != 0)
            return -2;
        return 0;
    }
    case AV_ENUM:
        if (get_long(r, &v) != 0)
            return -1;
        if (v < 0 || (uint64_t)v >= t->n_symbols) {
            snprintf(r->err, r->errlen, "Avro: field \"%s\": enum index %lld out of range (%zu "
                     "symbols)", name, (long long)v, t->n_symbols);
            return -1;
        }
        f = api->field_add(b, rec, name, SLUICE_STRING);
        if (!f || api->field_set_string(b, f, t->symbols[v], strlen(t->symbols[v])) != 0)
            return -2;
        return 0;
    case AV_UNION:
        if (get_long(r, &v) != 0)
            return -1;
        if (v < 0 || (uint64_t)v >= t->n_branches) {
            snprintf(r->err, r->errlen, "Avro: field \"%s\": union branch %lld out of range (%zu "
                     "branches)", name, (long long)v, t->n_branches);
            return -1;
        }
        return decode_value(r, &t->branches[v], api, b, rec);
    }
    return -1;
}

int kavro_decode(const kavro *a, const sluice_api *api, sluice_batch *b, sluice_record *r,
                 const void *msg, size_t len, char *err, size_t errlen)
{
    const unsigned char *p = msg;
    if (!p || len < 2 || p[0] != 0xC3 || p[1] != 0x01) {
        if (!p || len == 0)
            snprintf(err, errlen, "Avro: empty message (expected single-object encoding C3 01 ...)");
        else
            snprintf(err, errlen, "Avro: message starts with 0x%02x%s%02x, not the "
                     "single-object marker C3 01", p[0], len > 1 ? " 0x" : "",
                     len > 1 ? p[1] : 0);
        return -1;
    }
    if (len < sizeof a->header) {
        snprintf(err, errlen, "Avro: message of %zu bytes is shorter than the 10-byte "
                 "single-object header", len);
        return -1;
    }
    if (memcmp(p + 2, a->header + 2, 8) != 0) {
        snprintf(err, errlen, "Avro: schema fingerprint 0x%016llx of the message is not the "
                 "fingerprint 0x%016llx of %s (%s)", (unsigned long long)get_le(p + 2, 8),
                 (unsigned long long)a->fingerprint, a->name, a->origin);
        return -1;
    }
    rd in = {p, len, sizeof a->header, "", err, errlen};
    for (size_t i = 0; i < a->n_fields; i++) {
        in.field = a->fields[i].name;
        int rc = decode_value(&in, &a->fields[i].type, api, b, r);
        if (rc == -2) {
            snprintf(err, errlen, "Avro: out of batch memory while decoding field \"%s\" (raise "
                     "batch.max_bytes)", in.field);
            return -1;
        }
        if (rc != 0)
            return -1;
    }
    if (in.i != len) {
        snprintf(err, errlen, "Avro: %zu bytes left over after the last field (byte %zu of %zu)",
                 len - in.i, in.i, len);
        return -1;
    }
    return 0;
}
