/* Text renderings.  The same function serves text columns in a binary COPY
 * and every column in a text COPY, so a value means the same thing whichever
 * format a batch goes out in. */
#include "ts_render.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

size_t ts_render_double(char *out, double d)
{
    if (isnan(d))
        return (size_t)snprintf(out, 32, "NaN");
    if (isinf(d))
        return (size_t)snprintf(out, 32, d > 0 ? "Infinity" : "-Infinity");
    /* 17 significant digits always round-trip; fewer usually do and keep
     * numeric and text columns free of noise such as 0.10000000000000001. */
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, 32, "%.*g", prec, d);
        if (prec == 17 || strtod(out, NULL) == d)
            break;
    }
    return (size_t)n;
}

size_t ts_render_int(char *out, int64_t v)
{
    char tmp[24];
    size_t n = 0;
    /* Through uint64_t, so INT64_MIN negates without overflow. */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t len = 0;
    if (v < 0)
        out[len++] = '-';
    while (n)
        out[len++] = tmp[--n];
    out[len] = '\0';
    return len;
}

/* Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
 * civil_from_days), valid far beyond PostgreSQL's timestamp range. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

size_t ts_render_timestamp(char *out, int64_t us)
{
    const int64_t day_us = 86400000000LL;
    int64_t days = us / day_us, rem = us % day_us;
    if (rem < 0) {
        rem += day_us;
        days--;
    }
    int64_t y;
    unsigned mo, d;
    civil_from_days(days, &y, &mo, &d);
    unsigned sec = (unsigned)(rem / 1000000), frac = (unsigned)(rem % 1000000);
    /* Year 0 is 1 BC in the proleptic calendar PostgreSQL uses. */
    int bc = y <= 0;
    long long year = bc ? 1 - y : y;
    return (size_t)snprintf(out, 48, "%04lld-%02u-%02u %02u:%02u:%02u.%06u+00%s", year, mo,
                            d, sec / 3600, sec / 60 % 60, sec % 60, frac, bc ? " BC" : "");
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
