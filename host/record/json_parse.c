/* The JSON parser behind sluice_api.from_json.
 *
 * Parsing is ours rather than jansson's: jansson malloc'd every node of
 * every parse, on the hot path of JSON sources (file format json, kafka).
 * This parser is strict RFC 8259 and writes fields straight into the arena;
 * it keeps jansson's observable behaviour (what is accepted, types, the
 * text kept for nested values, line/column in messages) so that replacing
 * it changed nothing for pipelines.  The tests use jansson as an oracle. */
#include "json_conv.h"
#include "json_jw.h"

#include <sluice/sluice_text.h>

#include "batch_api.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* jansson's limit, so documents it accepted are still accepted. */
#define JP_MAX_DEPTH 2048

typedef struct jp {
    const unsigned char *s, *end;
    char *err;
    size_t errlen;
    unsigned flags;          /* SLUICE_JSON_* */
} jp;

/* Line and column as jansson counted them (columns in characters, i.e.
 * UTF-8 lead bytes), so messages keep pointing where they used to. */
static void jp_fail(jp *j, const unsigned char *at, const unsigned char *near, int utf8,
                    const char *fmt, ...) SLUICE_PRINTF(5, 6);
static void jp_fail(jp *j, const unsigned char *at, const unsigned char *near, int utf8,
                    const char *fmt, ...)
{
    if (!j->err || !j->errlen)
        return;
    int line = 1, col = 0;
    for (const unsigned char *q = j->s; q < at; q++) {
        if (*q == '\n') {
            line++;
            col = 0;
        } else if (*q < 0x80 || (*q >= 0xC2 && *q <= 0xF4)) {
            col++;
        }
    }
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (near && at > near) {
        int nl = at - near > 64 ? 64 : (int)(at - near);
        set_err(j->err, j->errlen, "invalid JSON at line %d column %d: %s near '%.*s'%s", line,
                col, msg, nl, (const char *)near, utf8 ? " (the input is not valid UTF-8)" : "");
    } else {
        set_err(j->err, j->errlen, "invalid JSON at line %d column %d: %s%s%s", line, col, msg,
                at >= j->end ? " near end of file" : "",
                utf8 ? " (the input is not valid UTF-8)" : "");
    }
}

static inline const unsigned char *jp_ws(const unsigned char *p, const unsigned char *e)
{
    while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) {
        p++;
        /* Runs of spaces (values padded to a size, indentation) eight at a
         * time: byte by byte they were most of a padded record's parse. */
        uint64_t w;
        while (e - p >= 8 && (memcpy(&w, p, 8), w == 0x2020202020202020ull))
            p += 8;
    }
    return p;
}

/* Four hex digits at p (bounds checked by the caller), or -1. */
static long hex4(const unsigned char *p)
{
    long v = 0;
    for (int k = 0; k < 4; k++) {
        int h = sluice_hexval(p[k]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

/* Validates the string whose opening quote is at q; returns the byte after
 * its closing quote, or NULL with the error set.  *esc tells whether it has
 * escapes, so that the common case is one memcpy. */
static const unsigned char *jp_string(jp *j, const unsigned char *q, int is_key, int *esc)
{
    const unsigned char *p = q + 1, *e = j->end;
    long bad_u = 0, bad_lo = -1;
    int nul = 0;
    *esc = 0;
    for (;;) {
        while (p < e && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        if (p >= e) {
            jp_fail(j, p, q, 0, "premature end of input");
            return NULL;
        }
        unsigned c = *p;
        if (c == '"') {
            if (bad_u && bad_lo >= 0)
                jp_fail(j, p + 1, q, 0, "invalid Unicode '\\u%04lX\\u%04lX'", bad_u, bad_lo);
            else if (bad_u)
                jp_fail(j, p + 1, q, 0, "invalid Unicode '\\u%04lX'", bad_u);
            else if (nul)
                jp_fail(j, p + 1, q, 0,
                        is_key ? "NUL byte in object key not supported"
                               : "\\u0000 is not allowed");
            return bad_u || nul ? NULL : p + 1;
        }
        if (c >= 0x80) {
            size_t avail = (size_t)(e - p);
            size_t n = sluice_utf8_valid_prefix(p, avail < 4 ? avail : 4);
            /* utf8_valid_prefix stops at the first invalid sequence; a
             * valid one here is as long as its lead byte says. */
            size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            if (n < want) {
                jp_fail(j, p, q, 1, "unable to decode byte 0x%x", c);
                return NULL;
            }
            p += want;
            continue;
        }
        if (c < 0x20) {
            if (c == '\n')
                jp_fail(j, p, q, 0, "unexpected newline");
            else
                jp_fail(j, p, q, 0, "control character 0x%x", c);
            return NULL;
        }
        /* backslash */
        *esc = 1;
        if (e - p < 2) {
            jp_fail(j, e, q, 0, "premature end of input");
            return NULL;
        }
        switch (p[1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            p += 2;
            continue;
        case 'u': break;
        default:
            jp_fail(j, p + 2, q, 0, "invalid escape");
            return NULL;
        }
        long u = e - p >= 6 ? hex4(p + 2) : -1;
        if (u < 0) {
            /* jansson reported it having read the offending character. */
            const unsigned char *h = p + 2;
            while (h < e && h < p + 6 && sluice_hexval(*h) >= 0)
                h++;
            jp_fail(j, h < e ? h + 1 : h, q, 0, "invalid escape");
            return NULL;
        }
        /* Like jansson, escapes are checked one by one first and pairing
         * (and NUL in keys) once the string is complete, which decides
         * which error a bad string reports and where. */
        if (u >= 0xD800 && u <= 0xDBFF) {
            long lo = e - p >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4(p + 8) : -1;
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                p += 12;
                continue;
            }
            if (!bad_u) {
                bad_u = u;
                bad_lo = lo;
            }
        } else if (u >= 0xDC00 && u <= 0xDFFF) {
            if (!bad_u) {
                bad_u = u;
                bad_lo = -1;
            }
        } else if (u == 0 && (is_key || (j->flags & SLUICE_JSON_STRICT))) {
            nul = 1;
        }
        p += 6;
    }
}

static size_t put_utf8(char *d, unsigned long cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xC0 | cp >> 6);
        d[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xE0 | cp >> 12);
        d[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        d[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (char)(0xF0 | cp >> 18);
    d[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    d[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    d[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the escape at p (a backslash, already validated) into a code
 * point; returns the byte after it. */
static const unsigned char *unescape(const unsigned char *p, unsigned long *cp)
{
    switch (p[1]) {
    case 'b': *cp = '\b'; return p + 2;
    case 'f': *cp = '\f'; return p + 2;
    case 'n': *cp = '\n'; return p + 2;
    case 'r': *cp = '\r'; return p + 2;
    case 't': *cp = '\t'; return p + 2;
    case 'u': break;
    default: *cp = p[1]; return p + 2;
    }
    unsigned long u = (unsigned long)hex4(p + 2);
    if (u >= 0xD800 && u <= 0xDBFF) {
        unsigned long lo = (unsigned long)hex4(p + 8);
        *cp = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
        return p + 12;
    }
    *cp = u;
    return p + 6;
}

/* Decodes a validated string body [p, e) into d, which has room for e - p
 * bytes: no escape decodes to more bytes than it is written with. */
static size_t jp_decode(const unsigned char *p, const unsigned char *e, char *d)
{
    size_t n = 0;
    while (p < e) {
        const unsigned char *bs = memchr(p, '\\', (size_t)(e - p));
        if (!bs)
            bs = e;
        memcpy(d + n, p, (size_t)(bs - p));
        n += (size_t)(bs - p);
        if (bs == e)
            break;
        unsigned long cp;
        p = unescape(bs, &cp);
        n += put_utf8(d + n, cp);
    }
    return n;
}

/* Integer text (validated grammar) to int64; -1 when it does not fit. */
static int jp_int(const unsigned char *p, const unsigned char *e, int64_t *out)
{
    int neg = *p == '-';
    p += neg;
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    for (; p < e; p++) {
        unsigned dgt = (unsigned)(*p - '0');
        if (v > (lim - dgt) / 10)
            return -1;
        v = v * 10 + dgt;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* strtod needs a terminated copy; numbers are short, so the stack nearly
 * always does. */
static int jp_real(const unsigned char *p, const unsigned char *e, double *out)
{
    char buf[64], *t = buf;
    size_t n = (size_t)(e - p);
    if (n >= sizeof buf && !(t = malloc(n + 1)))
        return -1;
    memcpy(t, p, n);
    t[n] = '\0';
    errno = 0;
    double d = strtod(t, NULL);
    int rc = (d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE ? -1 : 0;
    if (t != buf)
        free(t);
    *out = d;
    return rc;
}

typedef struct jnum {
    int is_real;
    int64_t i;
    double d;
} jnum;

/* Lexes and converts a number at p; returns its end or NULL. */
static const unsigned char *jp_number(jp *j, const unsigned char *p, jnum *num)
{
    const unsigned char *q = p, *e = j->end;
    int real = 0;
    if (q < e && *q == '-')
        q++;
    if (q < e && *q == '0') {
        q++;
        if (q < e && *q >= '0' && *q <= '9') {
            jp_fail(j, q, p, 0, "invalid token");
            return NULL;
        }
    } else if (q < e && *q >= '1' && *q <= '9') {
        while (q < e && *q >= '0' && *q <= '9')
            q++;
    } else {
        jp_fail(j, q, p, 0, "invalid token");
        return NULL;
    }
    if (q < e && *q == '.') {
        real = 1;
        q++;
        if (q >= e || *q < '0' || *q > '9') {
            jp_fail(j, q, p, 0, "invalid token");
            return NULL;
        }
        while (q < e && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < e && (*q == 'e' || *q == 'E')) {
        real = 1;
        q++;
        if (q < e && (*q == '+' || *q == '-'))
            q++;
        if (q >= e || *q < '0' || *q > '9') {
            jp_fail(j, q, p, 0, "invalid token");
            return NULL;
        }
        while (q < e && *q >= '0' && *q <= '9')
            q++;
    }
    num->is_real = real;
    if (!real) {
        if (jp_int(p, q, &num->i) != 0) {
            jp_fail(j, q, p, 0, *p == '-' ? "too big negative integer" : "too big integer");
            return NULL;
        }
    } else if (jp_real(p, q, &num->d) != 0) {
        jp_fail(j, q, p, 0, "real number overflow");
        return NULL;
    }
    return q;
}

/* true/false/null, or an invalid token; *what gets 't', 'f' or 'n'. */
static const unsigned char *jp_literal(jp *j, const unsigned char *p, int *what)
{
    const unsigned char *q = p;
    while (q < j->end && ((*q | 0x20) >= 'a' && (*q | 0x20) <= 'z'))
        q++;
    size_t n = (size_t)(q - p);
    if (n == 4 && !memcmp(p, "true", 4))
        *what = 't';
    else if (n == 5 && !memcmp(p, "false", 5))
        *what = 'f';
    else if (n == 4 && !memcmp(p, "null", 4))
        *what = 'n';
    else {
        if (q == p) {
            if (p < j->end && *p >= 0x80 &&
                sluice_utf8_valid_prefix(p, (size_t)(j->end - p) < 4 ? (size_t)(j->end - p) : 4) == 0) {
                jp_fail(j, p, NULL, 1, "unable to decode byte 0x%x", *p);
                return NULL;
            }
            jp_fail(j, p < j->end ? p + 1 : p, p < j->end ? p : NULL, 0,
                    p < j->end ? "invalid token" : "unexpected token");
            return NULL;
        }
        jp_fail(j, q, p, 0, "invalid token");
        return NULL;
    }
    return q;
}

/* A scalar at p (not a container): validated, end returned. */
static const unsigned char *jp_skip_scalar(jp *j, const unsigned char *p, int is_key)
{
    int esc, what;
    jnum num;
    if (p < j->end && *p == '"')
        return jp_string(j, p, is_key, &esc);
    if (p < j->end && (*p == '-' || (*p >= '0' && *p <= '9')))
        return jp_number(j, p, &num);
    return jp_literal(j, p, &what);
}

/* Duplicate keys (SLUICE_JSON_STRICT).  An object's earlier members were
 * validated already, so they are walked again without checks; that makes
 * a check quadratic in the object's size, which is fine for nested
 * objects (small in practice).  Top-level keys are checked against the
 * fields made from them instead. */

/* The byte after the validated value at p. */
static const unsigned char *jv_skip(const unsigned char *p, const unsigned char *e)
{
    int depth = 0;
    for (;;) {
        p = jp_ws(p, e);
        unsigned c = *p;
        if (c == '{' || c == '[') {
            depth++;
            p++;
            continue;
        }
        if (c == ',' || c == ':') {
            p++;
            continue;
        }
        if (c == '}' || c == ']') {
            depth--;
            p++;
        } else if (c == '"') {
            for (p++; *p != '"'; p += *p == '\\' ? 2 : 1)
                ;
            p++;
        } else {
            while (p < e && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' &&
                   *p != '\n' && *p != '\r')
                p++;
        }
        if (depth == 0)
            return p;
    }
}

/* Next code point of a validated string body at p. */
static const unsigned char *jv_cp(const unsigned char *p, unsigned long *cp)
{
    if (*p == '\\')
        return unescape(p, cp);
    unsigned c = *p;
    if (c < 0x80) {
        *cp = c;
        return p + 1;
    }
    int n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    unsigned long v = c & (0x7Fu >> n);
    for (int k = 1; k < n; k++)
        v = v << 6 | (p[k] & 0x3Fu);
    *cp = v;
    return p + n;
}

/* Whether two validated strings (at their opening quotes, ending before
 * ae and be) are the same text once escapes are decoded. */
static int jv_str_eq(const unsigned char *a, const unsigned char *ae, const unsigned char *b,
                     const unsigned char *be)
{
    if (ae - a == be - b && memcmp(a, b, (size_t)(ae - a)) == 0)
        return 1;
    if (!memchr(a, '\\', (size_t)(ae - a)) && !memchr(b, '\\', (size_t)(be - b)))
        return 0;
    a++;
    b++;
    for (;;) {
        if (*a == '"' || *b == '"')
            return *a == *b;
        unsigned long ca, cb;
        a = jv_cp(a, &ca);
        b = jv_cp(b, &cb);
        if (ca != cb)
            return 0;
    }
}

/* Whether the key at kq (ending before ke) repeats one of the keys before
 * it in the object whose first member is at or after first. */
static int jv_dup_key(const unsigned char *first, const unsigned char *kq,
                      const unsigned char *ke, const unsigned char *e)
{
    const unsigned char *p = jp_ws(first, e);
    while (p < kq) {
        const unsigned char *q = jv_skip(p, e);
        if (jv_str_eq(p, q, kq, ke))
            return 1;
        p = jp_ws(q, e) + 1;          /* ':' */
        p = jp_ws(jv_skip(p, e), e) + 1; /* the value, then ',' */
        p = jp_ws(p, e);
    }
    return 0;
}

/* Validates any value at p whose nesting depth is depth, without recursion
 * (an explicit stack of container kinds) so that deep input cannot exhaust
 * the C stack.  Returns the byte after it, or NULL with the error set. */
static const unsigned char *jp_skip_value(jp *j, const unsigned char *p, int depth)
{
    unsigned char stack[JP_MAX_DEPTH + 1];   /* 1: object, 0: array */
    /* Where each open object's members start (SLUICE_JSON_STRICT). */
    const unsigned char *first[JP_MAX_DEPTH + 1];
    int top = 0;
    const unsigned char *e = j->end;
    enum { VALUE, AFTER, KEY } st = VALUE;
    for (;;) {
        p = jp_ws(p, e);
        if (st == KEY) {
            if (p >= e || *p != '"') {
                jp_fail(j, p < e ? p + 1 : p, NULL, 0, "string expected");
                return NULL;
            }
            int esc;
            const unsigned char *kq = p;
            if (!(p = jp_string(j, p, 1, &esc)))
                return NULL;
            if ((j->flags & SLUICE_JSON_STRICT) && jv_dup_key(first[top - 1], kq, p, e)) {
                jp_fail(j, p, kq, 0, "duplicate object key");
                return NULL;
            }
            p = jp_ws(p, e);
            if (p >= e || *p != ':') {
                jp_fail(j, p < e ? p + 1 : p, NULL, 0, "':' expected");
                return NULL;
            }
            p++;
            st = VALUE;
            continue;
        }
        if (st == VALUE) {
            if (depth + top > JP_MAX_DEPTH) {
                jp_fail(j, p, NULL, 0, "maximum parsing depth reached");
                return NULL;
            }
            if (p < e && (*p == '{' || *p == '[')) {
                int obj = *p == '{';
                first[top] = p + 1;
                stack[top++] = (unsigned char)obj;
                p = jp_ws(p + 1, e);
                if (p < e && *p == (obj ? '}' : ']')) {
                    p++;
                    top--;
                    st = AFTER;
                } else {
                    st = obj ? KEY : VALUE;
                }
                continue;
            }
            if (!(p = jp_skip_scalar(j, p, 0)))
                return NULL;
            st = AFTER;
            continue;
        }
        /* AFTER a value */
        if (top == 0)
            return p;
        int obj = stack[top - 1];
        if (p < e && *p == ',') {
            p++;
            st = obj ? KEY : VALUE;
        } else if (p < e && *p == (obj ? '}' : ']')) {
            p++;
            top--;
        } else {
            jp_fail(j, p < e ? p + 1 : p, NULL, 0, obj ? "'}' expected" : "']' expected");
            return NULL;
        }
    }
}

/* Nested values are kept as compact text written by the one text layer
 * (sluice_text.h): strings re-escaped by sluice_json_escape, integers
 * normalised, reals as sluice_json_double's shortest round-trip text, so a
 * nested 0.1 reads "0.1" here as it does in every other writer.  Input is
 * validated, so this is a plain token walk. */
static void jw_real(jw *w, double d)
{
    char buf[SLUICE_DOUBLE_MAX_TEXT];
    jw_put(w, buf, sluice_json_double(buf, d));
}

/* One unescaped code point, escaped again by the shared escaper (whose
 * quotes are dropped). */
static void jw_cp(jw *w, unsigned long cp)
{
    char d[4], t[16];
    size_t n = sluice_json_escape(t, d, put_utf8(d, cp));
    jw_put(w, t + 1, n - 2);
}

static void jp_emit(jw *w, const unsigned char *p, const unsigned char *e)
{
    while (p < e) {
        unsigned c = *p;
        switch (c) {
        case ' ': case '\t': case '\n': case '\r': p++; break;
        case '{': case '}': case '[': case ']': case ',': case ':':
            jw_ch(w, (char)c);
            p++;
            break;
        case 't': JW_LIT(w, "true"); p += 4; break;
        case 'f': JW_LIT(w, "false"); p += 5; break;
        case 'n': JW_LIT(w, "null"); p += 4; break;
        case '"': {
            jw_ch(w, '"');
            p++;
            for (;;) {
                const unsigned char *r = p;
                while (*p != '"' && *p != '\\')
                    p++;
                jw_put(w, (const char *)r, (size_t)(p - r));
                if (*p == '"')
                    break;
                unsigned long cp;
                p = unescape(p, &cp);
                jw_cp(w, cp);
            }
            jw_ch(w, '"');
            p++;
            break;
        }
        default: {
            const unsigned char *q = p;
            int real = 0;
            while (q < e && ((*q >= '0' && *q <= '9') || *q == '-' || *q == '+' || *q == '.' ||
                             *q == 'e' || *q == 'E')) {
                real |= *q == '.' || *q == 'e' || *q == 'E';
                q++;
            }
            if (real) {
                double d = 0;
                jp_real(p, q, &d);
                jw_real(w, d);
            } else {
                int64_t v = 0;
                jp_int(p, q, &v);
                jw_int(w, v);
            }
            p = q;
        }
        }
    }
}

static const char *jp_type_name(unsigned c)
{
    switch (c) {
    case '[': return "an array";
    case '"': return "a string";
    case 't': case 'f': return "a boolean";
    case 'n': return "null";
    default: return "a number";
    }
}

static sluice_field *field_put(sluice_batch *b, sluice_record *r, const char *key, int fresh,
                               sluice_field_type type)
{
    return fresh ? sl_field_append(b, r, key, type) : sl_field_add(b, r, key, type);
}

/* One pass over the top-level object.  With b NULL it only validates, which
 * sl_from_json uses when the record already has fields, since a failed
 * parse must leave those untouched. */
static int jp_object(jp *j, sluice_batch *b, sluice_record *r, const unsigned char *p)
{
    const unsigned char *e = j->end;
    const char *oom_key = "";
    char kbuf[256];
    int strict = (j->flags & SLUICE_JSON_STRICT) != 0;
    const unsigned char *first = p + 1;
    p = jp_ws(p + 1, e);
    if (p < e && *p == '}') {
        p++;
        goto done;
    }
    for (;;) {
        p = jp_ws(p, e);
        if (p >= e || *p != '"') {
            jp_fail(j, p < e ? p + 1 : p, NULL, 0, "string or '}' expected");
            return -1;
        }
        int esc;
        const unsigned char *kq = p;
        if (!(p = jp_string(j, p, 1, &esc)))
            return -1;
        char *key = NULL;
        if (b) {
            size_t raw = (size_t)(p - kq - 2);
            key = raw < sizeof kbuf ? kbuf : sl_alloc(b, raw + 1);
            if (!key)
                goto oom;
            size_t kn = esc ? jp_decode(kq + 1, p - 1, key) : (memcpy(key, kq + 1, raw), raw);
            key[kn] = '\0';
            oom_key = key;
        }
        if (strict) {
            /* With fields, against their names (r starts without fields);
             * validating only, against the text. */
            int dup = 0;
            if (b) {
                for (uint32_t i = 0; i < r->n_fields && !dup; i++)
                    dup = strcmp(r->fields[i].name, key) == 0;
            } else {
                dup = jv_dup_key(first, kq, p, e);
            }
            if (dup) {
                jp_fail(j, p, kq, 0, "duplicate object key");
                return -1;
            }
        }
        p = jp_ws(p, e);
        if (p >= e || *p != ':') {
            jp_fail(j, p < e ? p + 1 : p, NULL, 0, "':' expected");
            return -1;
        }
        p = jp_ws(p + 1, e);
        const unsigned char *v = p;
        sluice_field *f = NULL;
        if (p < e && (*p == '{' || *p == '[')) {
            if (!(p = jp_skip_value(j, p, 2)))
                return -1;
            if (b && (j->flags & SLUICE_JSON_NESTED_RAW)) {
                if (!(f = field_put(b, r, key, strict, SLUICE_BYTES)))
                    goto oom;
                f->v.s.ptr = (const char *)v;
                f->v.s.len = (size_t)(p - v);
            } else if (b) {
                jw w = {NULL, 0};
                jp_emit(&w, v, p);
                char *t;
                if (!(f = field_put(b, r, key, strict, SLUICE_STRING)) ||
                    !(t = sl_alloc(b, w.n + 1)))
                    goto oom;
                w.p = t;
                w.n = 0;
                jp_emit(&w, v, p);
                t[w.n] = '\0';
                f->v.s.ptr = t;
                f->v.s.len = w.n;
            }
        } else if (p < e && *p == '"') {
            if (!(p = jp_string(j, p, 0, &esc)))
                return -1;
            if (b) {
                size_t raw = (size_t)(p - v - 2);
                char *t;
                if (!(f = field_put(b, r, key, strict, SLUICE_STRING)) || !(t = sl_alloc(b, raw + 1)))
                    goto oom;
                size_t n = esc ? jp_decode(v + 1, p - 1, t) : (memcpy(t, v + 1, raw), raw);
                t[n] = '\0';
                f->v.s.ptr = t;
                f->v.s.len = n;
            }
        } else if (p < e && (*p == '-' || (*p >= '0' && *p <= '9'))) {
            jnum num;
            if (!(p = jp_number(j, p, &num)))
                return -1;
            if (b) {
                if (!(f = field_put(b, r, key, strict, num.is_real ? SLUICE_DOUBLE : SLUICE_INT)))
                    goto oom;
                if (num.is_real)
                    f->v.d = num.d;
                else
                    f->v.i = num.i;
            }
        } else {
            int what;
            if (!(p = jp_literal(j, p, &what)))
                return -1;
            if (b) {
                if (!(f = field_put(b, r, key, strict, what == 'n' ? SLUICE_NULL : SLUICE_BOOL)))
                    goto oom;
                if (what != 'n')
                    f->v.b = what == 't';
            }
        }
        p = jp_ws(p, e);
        if (p < e && *p == ',') {
            p++;
            continue;
        }
        if (p < e && *p == '}') {
            p++;
            break;
        }
        jp_fail(j, p < e ? p + 1 : p, NULL, 0, "'}' expected");
        return -1;
    }
done:
    p = jp_ws(p, e);
    if (p < e) {
        jp_fail(j, p + 1, p, 0, "end of file expected");
        return -1;
    }
    return 0;
oom:
    set_err(j->err, j->errlen,
            "out of batch memory while adding field \"%s\" (raise batch.max_bytes)", oom_key);
    return -2;
}

int sl_from_json(sluice_batch *b, sluice_record *r, const char *json, size_t len, char *err,
                 size_t errlen)
{
    return sl_from_json_ex(b, r, json, len, 0, err, errlen) == 0 ? 0 : -1;
}

int sl_from_json_ex(sluice_batch *b, sluice_record *r, const char *json, size_t len,
                    unsigned flags, char *err, size_t errlen)
{
    const unsigned char *s = (const unsigned char *)(json ? json : "");
    jp j = {s, s + (json ? len : 0), err, errlen, flags};
    if ((flags & SLUICE_JSON_STRICT) && r->n_fields) {
        set_err(err, errlen, "from_json_ex: SLUICE_JSON_STRICT needs a record without fields "
                             "(this one has %u)", (unsigned)r->n_fields);
        return -1;
    }
    const unsigned char *p = jp_ws(s, j.end);
    if (p >= j.end) {
        jp_fail(&j, p, NULL, 0, "'[' or '{' expected");
        return -1;
    }
    if (*p != '{') {
        /* Only a well-formed document earns "not an object". */
        const unsigned char *q = jp_skip_value(&j, p, 1);
        if (!q)
            return -1;
        q = jp_ws(q, j.end);
        if (q < j.end) {
            jp_fail(&j, q + 1, q, 0, "end of file expected");
            return -1;
        }
        set_err(err, errlen, "JSON value is %s, not an object", jp_type_name(*p));
        return -1;
    }
    uint32_t n0 = r->n_fields;
    if (n0 && jp_object(&j, NULL, r, p) != 0)
        return -1;
    int rc = jp_object(&j, b, r, p);
    if (rc != 0) {
        /* A failed parse adds nothing (the arena space is reclaimed with
         * the batch); with n0 set only running out of memory gets here. */
        if (!n0)
            r->n_fields = 0;
        return rc;
    }
    return 0;
}

/* Embedded in the envelope as a member of its object, the container sits at
 * depth 2 of the envelope; starting the count higher caps its own nesting
 * at 64 levels, far below any reader's limit (jansson 2048, Python about
 * 1000), and what is embedded always reads back through from_json. */
#define SL_EMBED_MAX_DEPTH 64

int sl_json_container(const char *s, size_t n)
{
    if (!s)
        return 0;
    const unsigned char *u = (const unsigned char *)s;
    jp j = {u, u + n, NULL, 0, 0};
    const unsigned char *p = jp_ws(u, j.end);
    if (p >= j.end || (*p != '{' && *p != '['))
        return 0;
    p = jp_skip_value(&j, p, JP_MAX_DEPTH - SL_EMBED_MAX_DEPTH);
    return p && jp_ws(p, j.end) == j.end;
}
