/* Records to COPY rows.  Binary COPY is the default: numbers, timestamps
 * and bytes go as PostgreSQL stores them, with no escaping on our side and
 * no parsing on the server's.  A value whose conversion only PostgreSQL
 * knows (a string for a timestamptz column, anything for numeric or uuid)
 * makes the batch go out as text instead, where the server's input
 * functions decide; the two forms accept and refuse the same values. */
#include "ts_sink.h"
#include "ts_render.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

const char ts_copy_binary_header[19] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r',
                                        '\n', '\0', 0, 0, 0, 0, 0, 0, 0, 0};
const char ts_copy_binary_trailer[2] = {'\377', '\377'};

/* 2000-01-01 00:00:00 UTC, PostgreSQL's timestamp epoch, in Unix µs. */
#define PG_EPOCH_US 946684800000000LL
#define PG_EPOCH_DAYS 10957

static const char *type_name(sluice_field_type t)
{
    switch (t) {
    case SLUICE_NULL: return "NULL";
    case SLUICE_BOOL: return "BOOL";
    case SLUICE_INT: return "INT";
    case SLUICE_DOUBLE: return "DOUBLE";
    case SLUICE_STRING: return "STRING";
    case SLUICE_BYTES: return "BYTES";
    case SLUICE_TIMESTAMP: return "TIMESTAMP";
    }
    return "?";
}

/* Records of one stream usually carry their fields in the same order, so
 * the position found last time is tried first. */
static const sluice_field *find_field(const sluice_record *r, ts_target *t)
{
    uint32_t h = t->hint;
    if (h < r->n_fields && strcmp(r->fields[h].name, t->field) == 0)
        return &r->fields[h];
    for (uint32_t i = 0; i < r->n_fields; i++) {
        if (strcmp(r->fields[i].name, t->field) == 0) {
            t->hint = i;
            return &r->fields[i];
        }
    }
    return NULL;
}

static void put_len_text(sluice_buf *b, const sluice_field *f, int jsonb)
{
    size_t at = b->len;
    ts_buf_be32(b, 0);
    if (jsonb)
        sluice_buf_putc(b, 1);   /* jsonb's binary format: version 1, then text */
    if (f->type == SLUICE_STRING)
        sluice_buf_put(b, f->v.s.ptr, f->v.s.len);
    else
        ts_render_text(b, f);
    if (b->oom)
        return;
    uint32_t n = (uint32_t)(b->len - at - 4);
    unsigned char *p = (unsigned char *)b->p + at;
    p[0] = (unsigned char)(n >> 24);
    p[1] = (unsigned char)(n >> 16);
    p[2] = (unsigned char)(n >> 8);
    p[3] = (unsigned char)n;
}

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* Appends one non-NULL value in binary.  TS_ENC_NEEDS_TEXT: this field
 * type needs PostgreSQL's conversion for this column; TS_ENC_OUT_OF_RANGE:
 * the type fits, this value does not, so PostgreSQL should be the one to
 * refuse it. */
static ts_encode_rc put_binary(sluice_buf *b, ts_kind k, const sluice_field *f)
{
    switch (k) {
    case TS_K_BOOL:
        if (f->type == SLUICE_BOOL || (f->type == SLUICE_INT && (f->v.i == 0 || f->v.i == 1))) {
            ts_buf_be32(b, 1);
            sluice_buf_putc(b, (char)(f->type == SLUICE_BOOL ? f->v.b != 0 : f->v.i != 0));
            return TS_ENC_OK;
        }
        return f->type == SLUICE_INT ? TS_ENC_OUT_OF_RANGE : TS_ENC_NEEDS_TEXT;
    case TS_K_INT2:
        if (f->type != SLUICE_INT)
            return TS_ENC_NEEDS_TEXT;
        if (f->v.i < INT16_MIN || f->v.i > INT16_MAX)
            return TS_ENC_OUT_OF_RANGE;
        ts_buf_be32(b, 2);
        ts_buf_be16(b, (uint16_t)(int16_t)f->v.i);
        return TS_ENC_OK;
    case TS_K_INT4:
        if (f->type != SLUICE_INT)
            return TS_ENC_NEEDS_TEXT;
        if (f->v.i < INT32_MIN || f->v.i > INT32_MAX)
            return TS_ENC_OUT_OF_RANGE;
        ts_buf_be32(b, 4);
        ts_buf_be32(b, (uint32_t)(int32_t)f->v.i);
        return TS_ENC_OK;
    case TS_K_INT8:
        if (f->type != SLUICE_INT)
            return TS_ENC_NEEDS_TEXT;
        ts_buf_be32(b, 8);
        ts_buf_be64(b, (uint64_t)f->v.i);
        return TS_ENC_OK;
    case TS_K_FLOAT4: {
        double d;
        if (f->type == SLUICE_DOUBLE)
            d = f->v.d;
        else if (f->type == SLUICE_INT)
            d = (double)f->v.i;
        else
            return TS_ENC_NEEDS_TEXT;
        float x = (float)d;
        /* real's input refuses what overflows or underflows to zero; so
         * must we, or binary would keep what text refuses. */
        if ((isinf(x) && !isinf(d)) || (x == 0.0f && d != 0.0))
            return TS_ENC_OUT_OF_RANGE;
        uint32_t u;
        memcpy(&u, &x, sizeof u);
        ts_buf_be32(b, 4);
        ts_buf_be32(b, u);
        return TS_ENC_OK;
    }
    case TS_K_FLOAT8:
        if (f->type == SLUICE_DOUBLE) {
            ts_buf_be32(b, 8);
            ts_buf_be64(b, dbits(f->v.d));
            return TS_ENC_OK;
        }
        if (f->type == SLUICE_INT) {
            ts_buf_be32(b, 8);
            ts_buf_be64(b, dbits((double)f->v.i));
            return TS_ENC_OK;
        }
        return TS_ENC_NEEDS_TEXT;
    case TS_K_TEXT:
    case TS_K_JSONB:
        /* Bytes as text would need bytea's escaping rules to mean the same
         * thing in both formats; leave those to the server. */
        if (f->type == SLUICE_BYTES)
            return TS_ENC_NEEDS_TEXT;
        put_len_text(b, f, k == TS_K_JSONB);
        return TS_ENC_OK;
    case TS_K_BYTEA:
        if (f->type != SLUICE_BYTES || f->v.s.len > INT32_MAX)
            return TS_ENC_NEEDS_TEXT;
        ts_buf_be32(b, (uint32_t)f->v.s.len);
        sluice_buf_put(b, f->v.s.ptr, f->v.s.len);
        return TS_ENC_OK;
    case TS_K_TIMESTAMPTZ:
    case TS_K_TIMESTAMP: {
        int64_t v;
        if (f->type != SLUICE_TIMESTAMP)
            return TS_ENC_NEEDS_TEXT;
        if (__builtin_sub_overflow(f->v.ts, PG_EPOCH_US, &v))
            return TS_ENC_OUT_OF_RANGE;
        ts_buf_be32(b, 8);
        ts_buf_be64(b, (uint64_t)v);
        return TS_ENC_OK;
    }
    case TS_K_DATE: {
        if (f->type != SLUICE_TIMESTAMP)
            return TS_ENC_NEEDS_TEXT;
        int64_t day_us = 86400000000LL, days = f->v.ts / day_us;
        if (f->v.ts % day_us < 0)
            days--;
        days -= PG_EPOCH_DAYS;
        if (days < INT32_MIN || days > INT32_MAX)
            return TS_ENC_OUT_OF_RANGE;
        ts_buf_be32(b, 4);
        ts_buf_be32(b, (uint32_t)(int32_t)days);
        return TS_ENC_OK;
    }
    case TS_K_OTHER:
        return TS_ENC_NEEDS_TEXT;
    }
    return TS_ENC_NEEDS_TEXT;
}

static int grow_offsets(ts_rows *out, size_t n)
{
    if (n + 1 <= out->cap_off)
        return 0;
    size_t cap = out->cap_off ? out->cap_off : 256;
    while (cap < n + 1)
        cap *= 2;
    size_t *p = realloc(out->off, cap * sizeof *p);
    if (!p)
        return -1;
    out->off = p;
    out->cap_off = cap;
    return 0;
}

ts_encode_rc ts_encode_batch(ts_rows *out, const sluice_api *api, const sluice_batch *b,
                             ts_mapping *m, int binary, int staging, char *why, size_t whylen)
{
    size_t n = api->batch_count(b);
    out->n = 0;
    out->binary = binary;
    out->staging = staging;
    int with_ord = staging;
    sluice_buf_reset(&out->data);
    if (grow_offsets(out, n))
        return TS_ENC_NOMEM;
    sluice_buf *d = &out->data;
    uint16_t ncols = (uint16_t)(m->n + (with_ord ? 1 : 0));
    for (size_t i = 0; i < n; i++) {
        const sluice_record *r = api->batch_at(b, i);
        out->off[i] = d->len;
        if (binary)
            ts_buf_be16(d, ncols);
        for (size_t c = 0; c < m->n; c++) {
            ts_target *t = &m->t[c];
            /* A record without the field writes NULL: COPY has no per-row
             * DEFAULT, and NOT NULL columns then refuse just that row. */
            const sluice_field *f = find_field(r, t);
            if (binary) {
                if (!f || f->type == SLUICE_NULL) {
                    ts_buf_be32(d, 0xFFFFFFFFu);
                    continue;
                }
                ts_encode_rc rc = put_binary(d, t->col->kind, f);
                switch (rc) {
                case TS_ENC_OK:
                    continue;
                case TS_ENC_NEEDS_TEXT:
                    snprintf(why, whylen, "field \"%s\" is %s and column \"%s\" is %s",
                             t->field, type_name(f->type), t->col->name, t->col->type);
                    return rc;
                case TS_ENC_OUT_OF_RANGE:
                    snprintf(why, whylen, "field \"%s\" of record %zu is out of range for "
                             "column \"%s\" (%s)", t->field, i, t->col->name, t->col->type);
                    return rc;
                case TS_ENC_NOMEM:
                    return rc;
                }
            } else {
                if (c)
                    sluice_buf_putc(d, '\t');
                ts_render_copy_text(d, f);
            }
        }
        if (with_ord) {
            if (binary) {
                ts_buf_be32(d, 4);
                ts_buf_be32(d, (uint32_t)i);
            } else {
                char tmp[24];
                sluice_buf_putc(d, '\t');
                sluice_buf_put(d, tmp, ts_render_int(tmp, (int64_t)i));
            }
        }
        if (!binary)
            sluice_buf_putc(d, '\n');
        if (d->oom)
            return TS_ENC_NOMEM;
    }
    out->off[n] = d->len;
    out->n = n;
    return TS_ENC_OK;
}

void ts_rows_free(ts_rows *r)
{
    sluice_buf_free(&r->data);
    free(r->off);
    memset(r, 0, sizeof *r);
}
