#include "envelope_read.h"

#include <sluice/sluice_util.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Nesting allowed inside "fields" and unknown members; deeper lines are
 * refused rather than recursed into. */
#define MAX_DEPTH 64

typedef struct P {
    const char *s;
    size_t n, i;
    char *scr;               /* decoded strings go here */
    size_t used;
    char *why;
    size_t wl;
    int oom;
} P;

static int bad(P *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(P *p, const char *fmt, ...)
{
    int k = snprintf(p->why, p->wl, "column %zu: ", p->i + 1);
    if (k > 0 && (size_t)k < p->wl) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->why + k, p->wl - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void ws(P *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\r' ||
                           p->s[p->i] == '\n'))
        p->i++;
}

static int peek(P *p)
{
    ws(p);
    return p->i < p->n ? (unsigned char)p->s[p->i] : -1;
}

static int expect(P *p, char c, const char *what)
{
    if (peek(p) != (unsigned char)c)
        return p->i < p->n ? bad(p, "expected %s", what) : bad(p, "line ends; expected %s", what);
    p->i++;
    return 0;
}

static int word(P *p, const char *w)
{
    size_t k = strlen(w);
    if (p->n - p->i < k || memcmp(p->s + p->i, w, k) != 0)
        return bad(p, "expected a JSON value");
    p->i += k;
    return 0;
}

static int hex4(P *p, unsigned *out)
{
    if (p->n - p->i < 4)
        return bad(p, "\\u needs four hex digits");
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p->s[p->i + (size_t)k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return bad(p, "\\u needs four hex digits");
    }
    p->i += 4;
    *out = v;
    return 0;
}

static void put_utf8(P *p, unsigned cp)
{
    char *o = p->scr + p->used;
    if (cp < 0x80) {
        o[0] = (char)cp;
        p->used += 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        p->used += 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        p->used += 3;
    } else {
        o[0] = (char)(0xF0 | cp >> 18);
        o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        p->used += 4;
    }
}

/* A JSON string, decoded into the scratch buffer.  Decoding never makes a
 * string longer than its JSON text, so the scratch (as long as the line)
 * cannot overflow. */
static int str(P *p, env_span *out)
{
    if (peek(p) != '"')
        return bad(p, "expected a string");
    p->i++;
    out->off = p->used;
    out->null = 0;
    for (;;) {
        if (p->i >= p->n)
            return bad(p, "line ends inside a string");
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == '"') {
            p->i++;
            break;
        }
        if (c < 0x20)
            return bad(p, "control character 0x%02x in a string", c);
        if (c >= 0x80) {
            size_t k = sluice_utf8_seq((const unsigned char *)p->s + p->i, p->n - p->i);
            if (!k)
                return bad(p, "invalid UTF-8 in a string");
            memcpy(p->scr + p->used, p->s + p->i, k);
            p->used += k;
            p->i += k;
            continue;
        }
        if (c != '\\') {
            p->scr[p->used++] = (char)c;
            p->i++;
            continue;
        }
        if (++p->i >= p->n)
            return bad(p, "line ends inside a string");
        char e = p->s[p->i++];
        switch (e) {
        case '"': case '\\': case '/': p->scr[p->used++] = e; break;
        case 'b': p->scr[p->used++] = '\b'; break;
        case 'f': p->scr[p->used++] = '\f'; break;
        case 'n': p->scr[p->used++] = '\n'; break;
        case 'r': p->scr[p->used++] = '\r'; break;
        case 't': p->scr[p->used++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(p, &cp))
                return -1;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return bad(p, "lone low surrogate \\u%04x", cp);
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (p->n - p->i < 2 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u')
                    return bad(p, "high surrogate \\u%04x without its low half", cp);
                p->i += 2;
                if (hex4(p, &lo))
                    return -1;
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return bad(p, "high surrogate \\u%04x without its low half", cp);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            put_utf8(p, cp);
            break;
        }
        default:
            p->i--;
            return bad(p, "unknown escape \\%c", e);
        }
    }
    out->len = p->used - out->off;
    return 0;
}

static int str_or_null(P *p, env_span *out)
{
    if (peek(p) == 'n') {
        out->off = out->len = 0;
        out->null = 1;
        return word(p, "null");
    }
    return str(p, out);
}

static int integer(P *p, int64_t min, int64_t max, int64_t *out)
{
    ws(p);
    size_t at = p->i;
    int neg = p->i < p->n && p->s[p->i] == '-';
    if (neg)
        p->i++;
    if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9')
        return bad(p, "expected an integer");
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        unsigned d = (unsigned)(p->s[p->i] - '0');
        if (v > (lim - d) / 10) {
            p->i = at;
            return bad(p, "integer out of range");
        }
        v = v * 10 + d;
        p->i++;
    }
    if (p->i < p->n && (p->s[p->i] == '.' || p->s[p->i] == 'e' || p->s[p->i] == 'E'))
        return bad(p, "expected an integer");
    int64_t x = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    if (x < min || x > max) {
        p->i = at;
        return bad(p, "integer out of range");
    }
    *out = x;
    return 0;
}

/* Any JSON value, checked and skipped (unknown members, "fields"). */
static int skip(P *p, int depth)
{
    if (depth > MAX_DEPTH)
        return bad(p, "nested deeper than %d levels", MAX_DEPTH);
    int c = peek(p);
    size_t keep = p->used;
    env_span sp;
    int rc = 0;
    switch (c) {
    case '"':
        rc = str(p, &sp);
        break;
    case '{':
    case '[': {
        char close = c == '{' ? '}' : ']';
        p->i++;
        if (peek(p) == close) {
            p->i++;
            break;
        }
        for (;;) {
            if (c == '{' && (str(p, &sp) || expect(p, ':', "':' after a member name")))
                return -1;
            if (skip(p, depth + 1))
                return -1;
            int d = peek(p);
            p->i += d >= 0;
            if (d == close)
                break;
            if (d != ',') {
                p->i -= d >= 0;
                return bad(p, "expected ',' or '%c'", close);
            }
        }
        break;
    }
    case 't': rc = word(p, "true"); break;
    case 'f': rc = word(p, "false"); break;
    case 'n': rc = word(p, "null"); break;
    default: {
        /* A number: -?digits[.digits][e[+-]digits] */
        size_t at = p->i;
        if (p->i < p->n && p->s[p->i] == '-')
            p->i++;
        size_t d0 = p->i;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
        if (p->i == d0) {
            p->i = at;
            return bad(p, "expected a JSON value");
        }
        if (p->i < p->n && p->s[p->i] == '.') {
            size_t f0 = ++p->i;
            while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
                p->i++;
            if (p->i == f0)
                return bad(p, "expected digits after '.'");
        }
        if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
            p->i++;
            if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
                p->i++;
            size_t e0 = p->i;
            while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
                p->i++;
            if (p->i == e0)
                return bad(p, "expected digits in the exponent");
        }
    }
    }
    p->used = keep;          /* skipped strings need no room */
    return rc;
}

/* Walks the members of an object; `member` is called with the decoded
 * name (NUL-terminated in the scratch, then forgotten) and parses the
 * value.  Returns 0 or -1. */
typedef int (*member_fn)(P *p, const char *name, void *arg);

static int object(P *p, member_fn member, void *arg, const char *what)
{
    if (peek(p) != '{')
        return bad(p, "expected %s (a JSON object)", what);
    p->i++;
    if (peek(p) == '}') {
        p->i++;
        return 0;
    }
    for (;;) {
        size_t mark = p->used;
        env_span name;
        if (str(p, &name) || expect(p, ':', "':' after a member name"))
            return -1;
        /* The name is needed only until its value is parsed; copy it out
         * so the value's strings may reuse its room. */
        char nm[32];
        size_t k = name.len < sizeof nm - 1 ? name.len : sizeof nm - 1;
        memcpy(nm, p->scr + name.off, k);
        nm[k] = '\0';
        int known_len = name.len < sizeof nm - 1 && !memchr(nm, '\0', k);
        p->used = mark;
        if (member(p, known_len ? nm : "", arg))
            return -1;
        int d = peek(p);
        if (d == '}') {
            p->i++;
            return 0;
        }
        if (d != ',')
            return bad(p, "expected ',' or '}' in %s", what);
        p->i++;
    }
}

typedef struct envctx {
    env_rec *r;
    int has_origin, has_value;
    int key_b64, value_b64, topic_b64;
} envctx;

static int encoding(P *p, int *b64, const char *name);

static int origin_member(P *p, const char *name, void *arg)
{
    envctx *x = arg;
    env_rec *r = x->r;
    int64_t v;
    if (!strcmp(name, "topic"))
        return str_or_null(p, &r->topic);
    /* A topic that is not UTF-8 is written as bytes are (sluice_text.h). */
    if (!strcmp(name, "topic_encoding"))
        return encoding(p, &x->topic_b64, name);
    if (!strcmp(name, "partition")) {
        if (integer(p, INT32_MIN, INT32_MAX, &v))
            return -1;
        r->partition = (int32_t)v;
        return 0;
    }
    if (!strcmp(name, "offset"))
        return integer(p, INT64_MIN, INT64_MAX, &r->offset);
    return skip(p, 1);
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, size_t n, size_t *i, size_t k, unsigned *out)
{
    unsigned v = 0;
    for (size_t j = 0; j < k; j++, (*i)++) {
        if (*i >= n || s[*i] < '0' || s[*i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[*i] - '0');
    }
    *out = v;
    return 0;
}

/* "2023-05-25T15:13:10.543400Z" as the sink writes it (years beyond 0..9999
 * with a sign); 1 to 9 fraction digits, microseconds kept. */
static int parse_time(const char *s, size_t n, int64_t *us)
{
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    int64_t y = 0;
    size_t y0 = i;
    while (i < n && s[i] >= '0' && s[i] <= '9' && i - y0 < 6)
        y = y * 10 + (s[i++] - '0');
    /* Beyond +-290000 years the microseconds would not fit an int64. */
    if (i - y0 < 4 || y > 290000)
        return -1;
    if (neg)
        y = -y;
    unsigned mo, d, h, mi, se;
    if (i >= n || s[i++] != '-' || digits(s, n, &i, 2, &mo) || i >= n || s[i++] != '-' ||
        digits(s, n, &i, 2, &d) || i >= n || s[i++] != 'T' || digits(s, n, &i, 2, &h) ||
        i >= n || s[i++] != ':' || digits(s, n, &i, 2, &mi) || i >= n || s[i++] != ':' ||
        digits(s, n, &i, 2, &se))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return -1;
    int64_t frac = 0;
    if (i < n && s[i] == '.') {
        i++;
        size_t f0 = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (i - f0 < 6)
                frac = frac * 10 + (s[i] - '0');
            i++;
        }
        size_t nd = i - f0;
        if (nd < 1 || nd > 9)
            return -1;
        for (size_t k = nd; k < 6; k++)
            frac *= 10;
    }
    if (i + 1 != n || s[i] != 'Z')
        return -1;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    *us = secs * 1000000 + frac;
    return 0;
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decodes base64 in place (padding optional); -1 when it is not base64. */
static int b64_decode(char *s, size_t *len)
{
    size_t n = *len;
    while (n && s[n - 1] == '=')
        n--;
    if (*len - n > 2 || n % 4 == 1)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val(s[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            s[o++] = (char)(acc >> bits & 0xFF);
        }
    }
    *len = o;
    return 0;
}

static int encoding(P *p, int *b64, const char *name)
{
    env_span e;
    size_t at;
    ws(p);
    at = p->i;
    if (str(p, &e))
        return -1;
    if (e.len != 6 || memcmp(p->scr + e.off, "base64", 6) != 0) {
        p->i = at;
        return bad(p, "%s: only \"base64\" is known", name);
    }
    *b64 = 1;
    return 0;
}

static int headers(P *p, env_rec *r);

static int env_member(P *p, const char *name, void *arg)
{
    envctx *x = arg;
    env_rec *r = x->r;
    if (!strcmp(name, "origin")) {
        x->has_origin = 1;
        return object(p, origin_member, x, "\"origin\"");
    }
    if (!strcmp(name, "timestamp")) {
        if (peek(p) == 'n') {
            r->timestamp = 0;
            return word(p, "null");
        }
        ws(p);
        size_t at = p->i, mark = p->used;
        env_span t;
        if (str(p, &t))
            return -1;
        p->used = mark;
        if (parse_time(p->scr + t.off, t.len, &r->timestamp)) {
            p->i = at;
            return bad(p, "timestamp: expected a time such as \"2023-05-25T15:13:10.543400Z\"");
        }
        return 0;
    }
    if (!strcmp(name, "key"))
        return str_or_null(p, &r->key);
    if (!strcmp(name, "value")) {
        x->has_value = 1;
        return str_or_null(p, &r->value);
    }
    if (!strcmp(name, "key_encoding"))
        return encoding(p, &x->key_b64, name);
    if (!strcmp(name, "value_encoding"))
        return encoding(p, &x->value_b64, name);
    if (!strcmp(name, "headers"))
        return headers(p, r);
    if (!strcmp(name, "fields")) {
        int c = peek(p);
        if (c == 'n') {
            r->fields = NULL;
            return word(p, "null");
        }
        if (c != '{')
            return bad(p, "fields: expected an object or null");
        size_t at = p->i;
        if (skip(p, 1))
            return -1;
        /* "{}" (and "{ }") means no fields: nothing to convert. */
        size_t k = at + 1;
        while (k < p->i && (p->s[k] == ' ' || p->s[k] == '\t'))
            k++;
        r->fields = p->s[k] == '}' ? NULL : p->s + at;
        r->fields_len = r->fields ? p->i - at : 0;
        return 0;
    }
    return skip(p, 1);
}

/* "headers": {"key": "value" | {"base64": "..."}, ...}.  Keys may be of
 * any length, so this walks the object itself rather than through object(). */
static int headers(P *p, env_rec *r)
{
    r->n_headers = 0;
    if (peek(p) != '{')
        return bad(p, "expected \"headers\" (a JSON object)");
    p->i++;
    if (peek(p) == '}') {
        p->i++;
        return 0;
    }
    for (;;) {
        if (r->n_headers == r->cap_headers) {
            size_t ncap = r->cap_headers ? r->cap_headers * 2 : 16;
            env_header *h = realloc(r->headers, ncap * sizeof(*h));
            if (!h) {
                p->oom = 1;
                return bad(p, "out of memory");
            }
            r->headers = h;
            r->cap_headers = ncap;
        }
        env_header *h = &r->headers[r->n_headers];
        if (str(p, &h->key) || expect(p, ':', "':' after a header name"))
            return -1;
        if (memchr(p->scr + h->key.off, '\0', h->key.len))
            return bad(p, "a header name holds a NUL character");
        if (peek(p) == '{') {
            /* {"base64":"..."}: a value that is not UTF-8 */
            p->i++;
            env_span nm;
            size_t mark = p->used;
            if (str(p, &nm) || expect(p, ':', "':' after a member name"))
                return -1;
            int ok = nm.len == 6 && !memcmp(p->scr + nm.off, "base64", 6);
            p->used = mark;
            if (!ok)
                return bad(p, "a header value object must be {\"base64\": \"...\"}");
            if (str(p, &h->value) || expect(p, '}', "'}' after a base64 header value"))
                return -1;
            if (b64_decode(p->scr + h->value.off, &h->value.len))
                return bad(p, "a header value is not valid base64");
            p->used = h->value.off + h->value.len;
        } else if (str(p, &h->value)) {
            return -1;
        }
        r->n_headers++;
        int d = peek(p);
        if (d == '}') {
            p->i++;
            return 0;
        }
        if (d != ',')
            return bad(p, "expected ',' or '}' in \"headers\"");
        p->i++;
    }
}

int env_parse(const char *line, size_t n, char *scratch, env_rec *r, char *why, size_t whylen)
{
    P p = {.s = line, .n = n, .scr = scratch, .why = why, .wl = whylen};
    size_t keep_cap = r->cap_headers;
    env_header *keep_h = r->headers;
    memset(r, 0, sizeof(*r));
    r->headers = keep_h;
    r->cap_headers = keep_cap;
    r->topic.null = r->key.null = r->value.null = 1;
    r->partition = -1;
    r->offset = -1;
    envctx x = {.r = r};
    if (peek(&p) != '{')
        return bad(&p, "not an envelope: expected a JSON object");
    if (object(&p, env_member, &x, "the envelope"))
        return p.oom ? -2 : -1;
    if (peek(&p) >= 0)
        return bad(&p, "text after the envelope's closing '}'");
    if (!x.has_origin || !x.has_value) {
        p.i = 0;
        return bad(&p, "not an envelope: no \"%s\" member", x.has_origin ? "value" : "origin");
    }
    if (x.topic_b64 && !r->topic.null && b64_decode(scratch + r->topic.off, &r->topic.len)) {
        p.i = 0;
        return bad(&p, "\"origin\".\"topic\" is not valid base64 (topic_encoding says it is)");
    }
    if (x.key_b64 && !r->key.null && b64_decode(scratch + r->key.off, &r->key.len)) {
        p.i = 0;
        return bad(&p, "\"key\" is not valid base64 (key_encoding says it is)");
    }
    if (x.value_b64 && !r->value.null && b64_decode(scratch + r->value.off, &r->value.len)) {
        p.i = 0;
        return bad(&p, "\"value\" is not valid base64 (value_encoding says it is)");
    }
    return 0;
}

void env_rec_free(env_rec *r)
{
    free(r->headers);
    r->headers = NULL;
    r->n_headers = r->cap_headers = 0;
}
