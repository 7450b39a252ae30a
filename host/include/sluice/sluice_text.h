/*
 * sluice_text.h — the one text layer: how sluice writes values as text.
 *
 * The host's JSON converter (api->to_json, also the one writer of the
 * envelope of a record without fields, which the Kafka json converter
 * sends), the file sink's dead-letter envelope, the TimescaleDB renderer
 * and both topic-template sinks (MQTT, Kafka) all write through these
 * functions, so a value reads the same wherever it lands.  Before, each
 * had its own copy and they drifted
 * (a DOUBLE 0.1 was "0.1" in an MQTT topic and "0.10000000000000001" in a
 * Kafka one; one escaper dropped \b and \f; years outside 0..9999 differed).
 *
 * Why header-only (static inline) rather than new members of sluice_api:
 * the functions are pure and small, so a plugin pays no call through the
 * table, the ABI table does not grow (no SLUICE_API_HAS dance, and a plugin
 * built with them still loads into an older 1.x host), and the host compiles
 * the very same code, so host and plugins cannot disagree.
 *
 * The policies, decided once:
 *   - JSON strings: '"', '\\' and every C0 control are escaped; \b \f \n \r
 *     \t in their short forms, the others as \u00xx (lower-case hex).  DEL
 *     and everything >= 0x80 are copied.  A byte that does not start a
 *     well-formed UTF-8 sequence becomes U+FFFD, so the output is always
 *     valid JSON; writers whose data must not change check UTF-8 first and
 *     refuse (a STRING field, a field name) or write base64 instead (bytes:
 *     key, value, topic, header values — sluice_buf_json_bytes_member).
 *   - Doubles: the shortest of %.15g, %.16g, %.17g that reads back as the
 *     same double (the shortest text for every normal double), exponent
 *     without '+' or leading zeros ("1e300", "2.5e-8").  JSON adds
 *     ".0" to an integral value so that it is read back as a real, and
 *     writes NaN and ±Inf as null.  NaN and ±Inf are null everywhere:
 *     a topic template refuses them as it refuses a null field.
 *   - Integers: plain decimal, INT64_MIN included.
 *   - Times (µs since the epoch, proleptic Gregorian, UTC):
 *     "2023-05-25T15:13:10.543400Z", always six fractional digits.  Years
 *     0000..9999 have four digits (RFC 3339's range; 0000 is 1 BC).  Years
 *     outside it use ISO 8601's expanded form: an explicit sign and at
 *     least four digits ("-0001-12-31T…Z", "+10000-01-01T…Z").
 *   - Base64: RFC 4648 standard alphabet with padding.
 */
#ifndef SLUICE_SLUICE_TEXT_H
#define SLUICE_SLUICE_TEXT_H

#include <sluice/sluice.h>
#include <sluice/sluice_util.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Value of a hexadecimal digit, or -1. */
static inline int sluice_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* ------------------------------------------------------------------ */
/* Scalars                                                             */
/* ------------------------------------------------------------------ */

#define SLUICE_INT_MAX_TEXT 21      /* "-9223372036854775808" + NUL */
#define SLUICE_DOUBLE_MAX_TEXT 32   /* "-1.7976931348623157e+308" + NUL, with room */
#define SLUICE_TIME_MAX_TEXT 40     /* "-292277-01-09T04:00:54.775808Z" + NUL, with room */

/* Writes v in decimal, NUL-terminated; returns the length. */
static inline size_t sluice_fmt_int(char out[SLUICE_INT_MAX_TEXT], int64_t v)
{
    char tmp[24];
    size_t n = 0, len = 0;
    /* Negated in unsigned arithmetic, so INT64_MIN does not overflow. */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        out[len++] = '-';
    while (n)
        out[len++] = tmp[--n];
    out[len] = '\0';
    return len;
}

/* Writes the shortest text that reads back as d, NUL-terminated; returns
 * the length, or 0 (and writes "") for NaN and ±Inf, which every writer
 * treats as null.  -0.0 is "-0", 1e300 is "1e300". */
static inline size_t sluice_fmt_double(char out[SLUICE_DOUBLE_MAX_TEXT], double d)
{
    if (!isfinite(d)) {
        out[0] = '\0';
        return 0;
    }
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, SLUICE_DOUBLE_MAX_TEXT, "%.*g", prec, d);
        if (prec == 17 || strtod(out, NULL) == d)
            break;
    }
    /* The exponent without '+' or leading zeros ("1e300", "2.5e-8"):
     * shorter, still JSON and strtod, and a '+' would be a wildcard in an
     * MQTT topic and outside Kafka's topic alphabet. */
    char *e = strchr(out, 'e');
    if (e) {
        char *src = e + 1, *dst = e + 1;
        if (*src == '+')
            src++;
        else if (*src == '-')
            *dst++ = *src++;
        while (*src == '0' && src[1])
            src++;
        memmove(dst, src, strlen(src) + 1);
        n = (int)strlen(out);
    }
    return (size_t)n;
}

/* A moment split into its UTC calendar parts; year is proleptic Gregorian
 * (0 is 1 BC, -1 is 2 BC). */
typedef struct sluice_civil {
    int64_t year;
    unsigned month, day, hour, minute, second, usec;
} sluice_civil;

/* µs since 1970-01-01T00:00:00Z to calendar parts, exact for every int64
 * (H. Hinnant's days-to-civil, no gmtime_r or TZ machinery). */
static inline sluice_civil sluice_civil_from_us(int64_t us)
{
    sluice_civil c;
    int64_t secs = us / 1000000, frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs--;
    }
    int64_t z = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        z--;
    }
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    c.day = doy - (153 * mp + 2) / 5 + 1;
    c.month = mp < 10 ? mp + 3 : mp - 9;
    c.year = (int64_t)yoe + era * 400 + (c.month <= 2);
    c.hour = (unsigned)(sod / 3600);
    c.minute = (unsigned)(sod / 60 % 60);
    c.second = (unsigned)(sod % 60);
    c.usec = (unsigned)frac;
    return c;
}

static inline void sluice__put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

/* Writes "2023-05-25T15:13:10.543400Z" (see the year policy at the top),
 * NUL-terminated; returns the length. */
static inline size_t sluice_fmt_time(char out[SLUICE_TIME_MAX_TEXT], int64_t us)
{
    sluice_civil c = sluice_civil_from_us(us);
    size_t o = 0;
    if (c.year >= 0 && c.year <= 9999) {
        sluice__put2(out, (unsigned)(c.year / 100));
        sluice__put2(out + 2, (unsigned)(c.year % 100));
        o = 4;
    } else {
        /* ISO 8601 expanded year: sign, then at least four digits. */
        char num[SLUICE_INT_MAX_TEXT];
        int64_t a = c.year < 0 ? -c.year : c.year;
        size_t n = sluice_fmt_int(num, a);
        out[o++] = c.year < 0 ? '-' : '+';
        for (; n < 4; n++)
            out[o++] = '0';
        memcpy(out + o, num, strlen(num));
        o += strlen(num);
    }
    char *p = out + o;
    memcpy(p, "-00-00T00:00:00.000000Z", 24);
    sluice__put2(p + 1, c.month);
    sluice__put2(p + 4, c.day);
    sluice__put2(p + 7, c.hour);
    sluice__put2(p + 10, c.minute);
    sluice__put2(p + 13, c.second);
    sluice__put2(p + 16, c.usec / 10000);
    sluice__put2(p + 18, c.usec / 100 % 100);
    sluice__put2(p + 20, c.usec % 100);
    return o + 23;
}

/* ------------------------------------------------------------------ */
/* JSON pieces into memory: out NULL measures                          */
/* ------------------------------------------------------------------ */

/* s as a quoted JSON string (the policy at the top).  With out NULL only
 * counts, so a writer can measure first and then write into a block of
 * exactly the right size; returns the length either way. */
static inline size_t sluice_json_escape(char *out, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t o = 0, run = 0;   /* run: start of the pending copied bytes */
#define SLUICE__EMIT(src, len)                                                \
    do {                                                                      \
        if (out)                                                              \
            memcpy(out + o, (src), (len));                                    \
        o += (len);                                                           \
    } while (0)
    SLUICE__EMIT("\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t k = sluice_utf8_seq(s + i, n - i);
            if (k) {
                i += k;
                continue;
            }
            SLUICE__EMIT(s + run, i - run);
            SLUICE__EMIT("\xef\xbf\xbd", 3);
            run = ++i;
            continue;
        }
        SLUICE__EMIT(s + run, i - run);
        run = ++i;
        switch (c) {
        case '"': SLUICE__EMIT("\\\"", 2); break;
        case '\\': SLUICE__EMIT("\\\\", 2); break;
        case '\b': SLUICE__EMIT("\\b", 2); break;
        case '\f': SLUICE__EMIT("\\f", 2); break;
        case '\n': SLUICE__EMIT("\\n", 2); break;
        case '\r': SLUICE__EMIT("\\r", 2); break;
        case '\t': SLUICE__EMIT("\\t", 2); break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            SLUICE__EMIT(u, 6);
        }
        }
    }
    SLUICE__EMIT(s + run, n - run);
    SLUICE__EMIT("\"", 1);
#undef SLUICE__EMIT
    return o;
}

/* Length of the base64 text of n bytes (padded, unquoted). */
static inline size_t sluice_base64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

/* Writes the base64 of s (padded, unquoted) into out, which holds
 * sluice_base64_len(n) bytes; returns that length. */
static inline size_t sluice_base64(char *out, const void *src, size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = (const unsigned char *)src;
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = tab[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    return (size_t)(o - out);
}

/* A double as a JSON value: the shortest text, ".0" added to an integral
 * value, "null" for NaN and ±Inf.  NUL-terminated; returns the length. */
static inline size_t sluice_json_double(char out[SLUICE_DOUBLE_MAX_TEXT], double d)
{
    size_t n = sluice_fmt_double(out, d);
    if (!n) {
        memcpy(out, "null", 5);
        return 4;
    }
    if (!strpbrk(out, ".eE")) {
        memcpy(out + n, ".0", 3);
        n += 2;
    }
    return n;
}

/* ------------------------------------------------------------------ */
/* JSON pieces appended to a sluice_buf                                */
/* ------------------------------------------------------------------ */

static inline void sluice_buf_json_str(sluice_buf *b, const char *s, size_t n)
{
    size_t need = sluice_json_escape(NULL, s, n);
    if (sluice_buf_grow(b, need))
        return;
    b->len += sluice_json_escape(b->p + b->len, s, n);
}

/* Quoted base64. */
static inline void sluice_buf_json_base64(sluice_buf *b, const void *s, size_t n)
{
    if (sluice_buf_grow(b, sluice_base64_len(n) + 2))
        return;
    b->p[b->len++] = '"';
    b->len += sluice_base64(b->p + b->len, s, n);
    b->p[b->len++] = '"';
}

static inline void sluice_buf_int(sluice_buf *b, int64_t v)
{
    char t[SLUICE_INT_MAX_TEXT];
    sluice_buf_put(b, t, sluice_fmt_int(t, v));
}

static inline void sluice_buf_json_double(sluice_buf *b, double d)
{
    char t[SLUICE_DOUBLE_MAX_TEXT];
    sluice_buf_put(b, t, sluice_json_double(t, d));
}

/* Quoted time (sluice_fmt_time). */
static inline void sluice_buf_json_time(sluice_buf *b, int64_t us)
{
    char t[SLUICE_TIME_MAX_TEXT + 2];
    t[0] = '"';
    size_t n = sluice_fmt_time(t + 1, us);
    t[n + 1] = '"';
    sluice_buf_put(b, t, n + 2);
}

/* The envelope rule for bytes, shared by every envelope: member "name"
 * holds the bytes as a string when they are UTF-8, else their base64 and a
 * sibling "<name>_encoding":"base64"; null when ptr is NULL.  Lossless,
 * and it never refuses a record. */
static inline void sluice_buf_json_bytes_member(sluice_buf *b, const char *name, const void *ptr,
                                                size_t n)
{
    size_t nl = strlen(name);
    sluice_buf_putc(b, '"');
    sluice_buf_put(b, name, nl);
    SLUICE_BUF_LIT(b, "\":");
    if (!ptr) {
        SLUICE_BUF_LIT(b, "null");
        return;
    }
    if (sluice_utf8_valid_prefix(ptr, n) == n) {
        sluice_buf_json_str(b, (const char *)ptr, n);
        return;
    }
    sluice_buf_json_base64(b, ptr, n);
    SLUICE_BUF_LIT(b, ",\"");
    sluice_buf_put(b, name, nl);
    SLUICE_BUF_LIT(b, "_encoding\":\"base64\"");
}

/* ------------------------------------------------------------------ */
/* Field values as plain text (topic templates, message keys)          */
/* ------------------------------------------------------------------ */

/* Appends a field's value as text: strings and bytes as they are, numbers
 * as above (a double without ".0"), booleans true/false, timestamps in µs
 * since the epoch.  0, or -1 (nothing appended) for NULL, NaN and ±Inf. */
static inline int sluice_field_text(sluice_buf *b, const sluice_field *f)
{
    char t[SLUICE_DOUBLE_MAX_TEXT];
    switch (f->type) {
    case SLUICE_STRING:
    case SLUICE_BYTES: sluice_buf_put(b, f->v.s.ptr, f->v.s.len); return 0;
    case SLUICE_INT: sluice_buf_int(b, f->v.i); return 0;
    case SLUICE_TIMESTAMP: sluice_buf_int(b, f->v.ts); return 0;
    case SLUICE_BOOL: sluice_buf_puts(b, f->v.b ? "true" : "false"); return 0;
    case SLUICE_DOUBLE: {
        size_t n = sluice_fmt_double(t, f->v.d);
        if (!n)
            return -1;
        sluice_buf_put(b, t, n);
        return 0;
    }
    default: return -1;
    }
}

/* ------------------------------------------------------------------ */
/* Topic templates                                                     */
/* ------------------------------------------------------------------ */

/* Literal text with placeholders {key} (the record's key), {topic} (its
 * origin topic) and {field:NAME} (a field's value, sluice_field_text);
 * {{ and }} stand for braces.  Used by every sink that names a topic per
 * record; the sink then checks the result against its own naming rules. */
typedef enum sluice_tmpl_kind {
    SLUICE_TMPL_LIT,
    SLUICE_TMPL_KEY,
    SLUICE_TMPL_TOPIC,
    SLUICE_TMPL_FIELD
} sluice_tmpl_kind;

typedef struct sluice_tmpl_part {
    sluice_tmpl_kind kind;
    const char *s;           /* literal text or field name (in tmpl->text) */
    size_t len;
} sluice_tmpl_part;

typedef struct sluice_tmpl {
    sluice_tmpl_part *parts;
    size_t n;
    char *text;              /* backing store for the parts */
    const char *constant;    /* the rendered text when there is no placeholder */
} sluice_tmpl;

static inline void sluice_tmpl_free(sluice_tmpl *t)
{
    free(t->parts);
    free(t->text);
    memset(t, 0, sizeof *t);
}

static inline int sluice__tmpl_add(sluice_tmpl *t, size_t *cap, sluice_tmpl_kind k, const char *s,
                                   size_t len)
{
    if (k == SLUICE_TMPL_LIT && t->n && t->parts[t->n - 1].kind == SLUICE_TMPL_LIT &&
        t->parts[t->n - 1].s + t->parts[t->n - 1].len == s) {
        t->parts[t->n - 1].len += len;   /* adjacent literal text */
        return 0;
    }
    if (t->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        sluice_tmpl_part *np = (sluice_tmpl_part *)realloc(t->parts, nc * sizeof *np);
        if (!np)
            return -1;
        t->parts = np;
        *cap = nc;
    }
    t->parts[t->n].kind = k;
    t->parts[t->n].s = s;
    t->parts[t->n].len = len;
    t->n++;
    return 0;
}

/* 0, or -1 with a message naming the template and the bad placeholder. */
static inline int sluice_tmpl_parse(sluice_tmpl *t, const char *src, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    if (!src)
        src = "";
    size_t n = strlen(src), cap = 0;
    int constant = 1;
    /* Literal text is copied with the escapes resolved (and field names
     * NUL-terminated), so parts point into one buffer no longer than src. */
    char *w;
    t->text = (char *)malloc(n + 1);
    if (!t->text)
        goto oom;
    w = t->text;
    for (const char *p = src; *p;) {
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            *w = p[0];
            if (sluice__tmpl_add(t, &cap, SLUICE_TMPL_LIT, w, 1))
                goto oom;
            w++;
            p += 2;
            continue;
        }
        if (*p == '}') {
            snprintf(err, errlen, "topic template \"%s\": unmatched } at offset %zu (write }} "
                     "for a literal brace)", src, (size_t)(p - src));
            goto fail;
        }
        if (*p != '{') {
            *w = *p++;
            if (sluice__tmpl_add(t, &cap, SLUICE_TMPL_LIT, w, 1))
                goto oom;
            w++;
            continue;
        }
        const char *close = strchr(p, '}');
        if (!close) {
            snprintf(err, errlen, "topic template \"%s\": unterminated { at offset %zu (write "
                     "{{ for a literal brace)", src, (size_t)(p - src));
            goto fail;
        }
        const char *name = p + 1;
        size_t nl = (size_t)(close - name);
        constant = 0;
        if (nl == 3 && !memcmp(name, "key", 3)) {
            if (sluice__tmpl_add(t, &cap, SLUICE_TMPL_KEY, NULL, 0))
                goto oom;
        } else if (nl == 5 && !memcmp(name, "topic", 5)) {
            if (sluice__tmpl_add(t, &cap, SLUICE_TMPL_TOPIC, NULL, 0))
                goto oom;
        } else if (nl > 6 && !memcmp(name, "field:", 6)) {
            memcpy(w, name + 6, nl - 6);
            if (sluice__tmpl_add(t, &cap, SLUICE_TMPL_FIELD, w, nl - 6))
                goto oom;
            w += nl - 6;
            *w++ = '\0';
        } else {
            snprintf(err, errlen, "topic template \"%s\": unknown placeholder {%.*s}; expected "
                     "{key}, {topic} or {field:NAME}", src, (int)nl, name);
            goto fail;
        }
        p = close + 1;
    }
    *w = '\0';
    if (constant)
        t->constant = t->text;
    return 0;
oom:
    snprintf(err, errlen, "topic template: out of memory");
fail:
    sluice_tmpl_free(t);
    return -1;
}

/* Renders t for r into out (reset first; NUL-terminated, len without the
 * NUL).  0, or -1 with a reason: a missing key, origin topic or field, a
 * null or non-finite field, out of memory.  r may be NULL for a constant
 * template. */
static inline int sluice_tmpl_render(const sluice_tmpl *t, const sluice_record *r, sluice_buf *out,
                                     char *err, size_t errlen)
{
    sluice_buf_reset(out);
    for (size_t i = 0; i < t->n; i++) {
        const sluice_tmpl_part *pt = &t->parts[i];
        switch (pt->kind) {
        case SLUICE_TMPL_LIT: sluice_buf_put(out, pt->s, pt->len); break;
        case SLUICE_TMPL_KEY:
            if (!r || !r->key.ptr || !r->key.len) {
                snprintf(err, errlen, "the record has no key for {key} in the topic template");
                return -1;
            }
            sluice_buf_put(out, r->key.ptr, r->key.len);
            break;
        case SLUICE_TMPL_TOPIC:
            if (!r || !r->origin.topic || !*r->origin.topic) {
                snprintf(err, errlen, "the record has no origin topic for {topic} in the topic "
                         "template");
                return -1;
            }
            sluice_buf_puts(out, r->origin.topic);
            break;
        case SLUICE_TMPL_FIELD: {
            const sluice_field *f = r ? sluice_field_get(r, pt->s) : NULL;
            if (!f) {
                snprintf(err, errlen, "the record has no field \"%s\" for {field:%s} in the "
                         "topic template", pt->s, pt->s);
                return -1;
            }
            if (sluice_field_text(out, f) != 0) {
                snprintf(err, errlen, "field \"%s\" is %s; {field:%s} in the topic template "
                         "needs a value", pt->s,
                         f->type == SLUICE_DOUBLE ? (isnan(f->v.d) ? "NaN" : "infinite")
                                                  : "null",
                         pt->s);
                return -1;
            }
            break;
        }
        }
    }
    if (!sluice_buf_cstr(out)) {
        snprintf(err, errlen, "out of memory rendering the topic");
        return -1;
    }
    return 0;
}

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_SLUICE_TEXT_H */
