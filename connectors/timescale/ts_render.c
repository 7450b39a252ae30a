/* Text renderings.  The same function serves text columns in a binary COPY
 * and every column in a text COPY, so a value means the same thing whichever
 * format a batch goes out in. */
#include "ts_render.h"

#include <sluice/sluice_text.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

size_t ts_render_double(char *out, double d)
{
    if (isnan(d))
        return (size_t)snprintf(out, 32, "NaN");
    if (isinf(d))
        return (size_t)snprintf(out, 32, d > 0 ? "Infinity" : "-Infinity");
    /* The text layer's shortest round-trip text keeps numeric and text
     * columns free of noise such as 0.10000000000000001. */
    return sluice_fmt_double(out, d);
}

size_t ts_render_int(char *out, int64_t v)
{
    return sluice_fmt_int(out, v);
}

size_t ts_render_timestamp(char *out, int64_t us)
{
    /* The text layer's calendar, in PostgreSQL's input spelling: year 0 is
     * 1 BC in the proleptic calendar PostgreSQL uses. */
    sluice_civil c = sluice_civil_from_us(us);
    int bc = c.year <= 0;
    long long year = bc ? 1 - c.year : c.year;
    return (size_t)snprintf(out, 48, "%04lld-%02u-%02u %02u:%02u:%02u.%06u+00%s", year, c.month,
                            c.day, c.hour, c.minute, c.second, c.usec, bc ? " BC" : "");
}

static const char hexdig[] = "0123456789abcdef";

static void put_hex(sluice_buf *b, const char *p, size_t n)
{
    if (sluice_buf_grow(b, 2 * n))
        return;
    char *o = b->p + b->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        *o++ = hexdig[c >> 4];
        *o++ = hexdig[c & 15];
    }
    b->len += 2 * n;
}

void ts_render_text(sluice_buf *b, const sluice_field *f)
{
    char tmp[48];
    switch (f->type) {
    case SLUICE_BOOL: sluice_buf_puts(b, f->v.b ? "true" : "false"); break;
    case SLUICE_INT: sluice_buf_put(b, tmp, ts_render_int(tmp, f->v.i)); break;
    case SLUICE_DOUBLE: sluice_buf_put(b, tmp, ts_render_double(tmp, f->v.d)); break;
    case SLUICE_TIMESTAMP: sluice_buf_put(b, tmp, ts_render_timestamp(tmp, f->v.ts)); break;
    case SLUICE_STRING: sluice_buf_put(b, f->v.s.ptr, f->v.s.len); break;
    case SLUICE_BYTES:
        /* bytea's hex input form, which a text column keeps as written. */
        sluice_buf_puts(b, "\\x");
        put_hex(b, f->v.s.ptr, f->v.s.len);
        break;
    case SLUICE_NULL: break;
    }
}

/* COPY text format: backslash, newline, carriage return and tab are the
 * bytes that would end or split a value; everything else goes as is. */
static void put_escaped(sluice_buf *b, const char *p, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i], e;
        switch (c) {
        case '\\': e = '\\'; break;
        case '\n': e = 'n'; break;
        case '\r': e = 'r'; break;
        case '\t': e = 't'; break;
        default: continue;
        }
        sluice_buf_put(b, p + run, i - run);
        sluice_buf_putc(b, '\\');
        sluice_buf_putc(b, e);
        run = i + 1;
    }
    sluice_buf_put(b, p + run, n - run);
}

void ts_render_copy_text(sluice_buf *b, const sluice_field *f)
{
    if (!f || f->type == SLUICE_NULL) {
        sluice_buf_puts(b, "\\N");
        return;
    }
    switch (f->type) {
    case SLUICE_STRING: put_escaped(b, f->v.s.ptr, f->v.s.len); break;
    case SLUICE_BYTES:
        sluice_buf_puts(b, "\\\\x");
        put_hex(b, f->v.s.ptr, f->v.s.len);
        break;
    default: ts_render_text(b, f); break;
    }
}
