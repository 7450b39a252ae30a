/* JSON conversion of records, behind sluice_api.to_json / from_json.
 *
 * Output is produced by a small writer of our own rather than jansson's
 * encoder: jansson would build a tree of malloc'd nodes for every record and
 * then malloc the text, while this writes straight into the batch arena.
 * The writer runs twice over a record, first measuring (and validating UTF-8),
 * then writing into an arena block of exactly the measured size, so the arena
 * never holds a worst-case-sized block.
 *
 * Parsing uses jansson.  It mallocs every node of every parse, which is a
 * known cost on the hot path of JSON sources (file format json, kafka); a
 * parser that builds fields directly in the arena would remove it. */
#include "json_conv.h"

#include "batch_api.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Writer                                                              */
/* ------------------------------------------------------------------ */

typedef struct jw {
    char *p;                 /* NULL while measuring */
    size_t n;
} jw;

static inline void jw_put(jw *w, const char *s, size_t n)
{
    if (w->p)
        memcpy(w->p + w->n, s, n);
    w->n += n;
}

static inline void jw_ch(jw *w, char c)
{
    if (w->p)
        w->p[w->n] = c;
    w->n++;
}

#define JW_LIT(w, s) jw_put((w), (s), sizeof(s) - 1)

/* Length of the longest valid UTF-8 prefix of s (RFC 3629: no overlongs,
 * no surrogates, nothing above U+10FFFF). */
static size_t utf8_valid_prefix(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else {
            return i;
        }
        if (n - i <= need)
            return i;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
        i += need + 1;
    }
    return n;
}

/* Escapes per RFC 8259: quote, backslash and C0 controls; everything else,
 * including already validated UTF-8, is copied as is. */
static void jw_str(jw *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    jw_ch(w, '"');
    size_t run = 0;          /* start of the pending unescaped run */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        jw_put(w, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': JW_LIT(w, "\\\""); break;
        case '\\': JW_LIT(w, "\\\\"); break;
        case '\n': JW_LIT(w, "\\n"); break;
        case '\r': JW_LIT(w, "\\r"); break;
        case '\t': JW_LIT(w, "\\t"); break;
        case '\b': JW_LIT(w, "\\b"); break;
        case '\f': JW_LIT(w, "\\f"); break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            jw_put(w, u, sizeof u);
        }
        }
    }
    jw_put(w, s + run, n - run);
    jw_ch(w, '"');
}

static void jw_base64(jw *w, const unsigned char *s, size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    jw_ch(w, '"');
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        char q[4] = {tab[v >> 18], tab[(v >> 12) & 63], tab[(v >> 6) & 63], tab[v & 63]};
        jw_put(w, q, 4);
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        char q[4] = {tab[v >> 18], tab[(v >> 12) & 63], '=', '='};
        jw_put(w, q, 4);
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        char q[4] = {tab[v >> 18], tab[(v >> 12) & 63], tab[(v >> 6) & 63], '='};
        jw_put(w, q, 4);
    }
    jw_ch(w, '"');
}

static void jw_int(jw *w, int64_t v)
{
    char buf[24];
    char *e = buf + sizeof buf, *p = e;
    /* Negate in unsigned arithmetic so INT64_MIN does not overflow. */
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    jw_put(w, p, (size_t)(e - p));
}

/* Shortest of %.15g/%.16g/%.17g that reads back to the same double, with
 * ".0" added to integral values so that a parser reads them back as reals
 * (a round trip keeps DOUBLE as DOUBLE). */
static void jw_double(jw *w, double d)
{
    if (!isfinite(d)) {
        JW_LIT(w, "null");
        return;
    }
    char buf[40];
    int len = 0;
    for (int prec = 15; prec <= 17; prec++) {
        len = snprintf(buf, sizeof buf - 2, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    if (!strpbrk(buf, ".eE")) {
        buf[len++] = '.';
        buf[len++] = '0';
    }
    jw_put(w, buf, (size_t)len);
}

/* Days since 1970-01-01 to a civil date (H. Hinnant's algorithm): exact for
 * every int64 microsecond timestamp, and no gmtime_r/TZ machinery. */
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

static inline void put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

/* "2023-05-25T15:13:10.543400Z" */
static void jw_timestamp(jw *w, int64_t us)
{
    int64_t secs = us / 1000000, frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs--;
    }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t y;
    unsigned mo, d;
    civil_from_days(days, &y, &mo, &d);
    char buf[48];
    if (y >= 0 && y <= 9999) {
        memcpy(buf, "\"0000-00-00T00:00:00.000000Z\"", 29);
        put2(buf + 1, (unsigned)(y / 100));
        put2(buf + 3, (unsigned)(y % 100));
        put2(buf + 6, mo);
        put2(buf + 9, d);
        put2(buf + 12, (unsigned)(sod / 3600));
        put2(buf + 15, (unsigned)(sod / 60 % 60));
        put2(buf + 18, (unsigned)(sod % 60));
        unsigned f = (unsigned)frac;
        put2(buf + 21, f / 10000);
        put2(buf + 23, f / 100 % 100);
        put2(buf + 25, f % 100);
        jw_put(w, buf, 29);
    } else {
        /* ISO 8601 expanded years, for timestamps far outside 0000..9999. */
        int n = snprintf(buf, sizeof buf, "\"%+05" PRId64 "-%02u-%02uT%02u:%02u:%02u.%06uZ\"", y,
                         mo, d, (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60),
                         (unsigned)(sod % 60), (unsigned)frac);
        jw_put(w, buf, (size_t)n);
    }
}

static void set_err(char *err, size_t errlen, const char *fmt, ...) SLUICE_PRINTF(3, 4);
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Writes a string that must be UTF-8.  Only the measuring pass validates:
 * the writing pass sees the same bytes. */
static int jw_utf8(jw *w, const char *s, size_t n, const char *what, const char *name,
                   char *err, size_t errlen)
{
    if (!w->p) {
        size_t ok = utf8_valid_prefix((const unsigned char *)s, n);
        if (ok != n) {
            set_err(err, errlen, "%s \"%s\" is not valid UTF-8 (byte 0x%02x at offset %zu)",
                    what, name, (unsigned char)s[ok], ok);
            return -1;
        }
    }
    jw_str(w, s, n);
    return 0;
}

static int write_fields(jw *w, const sluice_record *r, char *err, size_t errlen)
{
    jw_ch(w, '{');
    for (uint32_t i = 0; i < r->n_fields; i++) {
        const sluice_field *f = &r->fields[i];
        const char *name = f->name ? f->name : "";
        if (i)
            jw_ch(w, ',');
        if (jw_utf8(w, name, strlen(name), "field name", name, err, errlen) != 0)
            return -1;
        jw_ch(w, ':');
        switch (f->type) {
        case SLUICE_NULL: JW_LIT(w, "null"); break;
        case SLUICE_BOOL:
            if (f->v.b)
                JW_LIT(w, "true");
            else
                JW_LIT(w, "false");
            break;
        case SLUICE_INT: jw_int(w, f->v.i); break;
        case SLUICE_DOUBLE: jw_double(w, f->v.d); break;
        case SLUICE_STRING:
            if (jw_utf8(w, f->v.s.ptr ? f->v.s.ptr : "", f->v.s.len, "string field", name,
                        err, errlen) != 0)
                return -1;
            break;
        case SLUICE_BYTES:
            jw_base64(w, (const unsigned char *)f->v.s.ptr, f->v.s.len);
            break;
        case SLUICE_TIMESTAMP: jw_timestamp(w, f->v.ts); break;
        default:
            set_err(err, errlen, "field \"%s\" has unknown type %d", name, (int)f->type);
            return -1;
        }
    }
    jw_ch(w, '}');
    return 0;
}

/* Bytes as a string when they are UTF-8, else base64 with a sibling
 * "<name>_encoding":"base64" so a reader knows which it got. */
static void write_bytes_member(jw *w, const char *name, size_t nlen, sluice_bytes v)
{
    jw_ch(w, '"');
    jw_put(w, name, nlen);
    JW_LIT(w, "\":");
    if (!v.ptr) {
        JW_LIT(w, "null");
        return;
    }
    if (utf8_valid_prefix((const unsigned char *)v.ptr, v.len) == v.len) {
        jw_str(w, v.ptr, v.len);
        return;
    }
    jw_base64(w, (const unsigned char *)v.ptr, v.len);
    jw_ch(w, ',');
    jw_ch(w, '"');
    jw_put(w, name, nlen);
    JW_LIT(w, "_encoding\":\"base64\"");
}

static int write_envelope(jw *w, const sluice_record *r, char *err, size_t errlen)
{
    JW_LIT(w, "{\"topic\":");
    if (r->origin.topic) {
        if (jw_utf8(w, r->origin.topic, strlen(r->origin.topic), "topic", r->origin.topic,
                    err, errlen) != 0)
            return -1;
    } else {
        JW_LIT(w, "null");
    }
    JW_LIT(w, ",\"partition\":");
    jw_int(w, r->origin.partition);
    JW_LIT(w, ",\"offset\":");
    jw_int(w, r->origin.offset);
    jw_ch(w, ',');
    write_bytes_member(w, "key", 3, r->key);
    jw_ch(w, ',');
    write_bytes_member(w, "value", 5, r->value);
    JW_LIT(w, ",\"timestamp\":");
    if (r->timestamp)
        jw_timestamp(w, r->timestamp);
    else
        JW_LIT(w, "null");
    jw_ch(w, '}');
    return 0;
}

static int write_record(jw *w, const sluice_record *r, char *err, size_t errlen)
{
    return r->n_fields ? write_fields(w, r, err, errlen) : write_envelope(w, r, err, errlen);
}

const char *sl_to_json(sluice_batch *b, const sluice_record *r, size_t *len, char *err,
                       size_t errlen)
{
    jw w = {NULL, 0};
    if (write_record(&w, r, err, errlen) != 0)
        return NULL;
    size_t need = w.n;
    char *out = sl_alloc(b, need + 1);
    if (!out) {
        set_err(err, errlen, "out of batch memory for %zu bytes of JSON (raise batch.max_bytes)",
                need + 1);
        return NULL;
    }
    w.p = out;
    w.n = 0;
    write_record(&w, r, err, errlen);
    out[need] = '\0';
    if (len)
        *len = need;
    return out;
}

/* ------------------------------------------------------------------ */
/* Parsing                                                             */
/* ------------------------------------------------------------------ */

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    default: return "not an object";
    }
}

static int add_member(sluice_batch *b, sluice_record *r, const char *key, json_t *v,
                      char *err, size_t errlen)
{
    sluice_field_type t;
    switch (json_typeof(v)) {
    case JSON_NULL: t = SLUICE_NULL; break;
    case JSON_TRUE:
    case JSON_FALSE: t = SLUICE_BOOL; break;
    case JSON_INTEGER: t = SLUICE_INT; break;
    case JSON_REAL: t = SLUICE_DOUBLE; break;
    default: t = SLUICE_STRING; break;
    }
    sluice_field *f = sl_field_add(b, r, key, t);
    if (!f)
        goto oom;
    switch (json_typeof(v)) {
    case JSON_NULL: break;
    case JSON_TRUE: f->v.b = 1; break;
    case JSON_FALSE: f->v.b = 0; break;
    case JSON_INTEGER: f->v.i = (int64_t)json_integer_value(v); break;
    case JSON_REAL: f->v.d = json_real_value(v); break;
    case JSON_STRING:
        if (sl_field_set_string(b, f, json_string_value(v), json_string_length(v)) != 0)
            goto oom;
        break;
    default: {
        /* Nested values keep their JSON text: fields are flat by design. */
        const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
        size_t n = json_dumpb(v, NULL, 0, flags);
        char *p = n ? sl_alloc(b, n + 1) : NULL;
        if (!p)
            goto oom;
        json_dumpb(v, p, n, flags);
        p[n] = '\0';
        f->v.s.ptr = p;
        f->v.s.len = n;
    }
    }
    return 0;
oom:
    set_err(err, errlen, "out of batch memory while adding field \"%s\" (raise batch.max_bytes)",
            key);
    return -1;
}

int sl_from_json(sluice_batch *b, sluice_record *r, const char *json, size_t len, char *err,
                 size_t errlen)
{
    json_error_t je;
    /* DECODE_ANY so that a scalar gets our "not an object" message rather
     * than jansson's; ALLOW_NUL because strings are counted, not C strings. */
    json_t *root = json_loadb(json ? json : "", json ? len : 0,
                              JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!root) {
        /* jansson's own wording for bad UTF-8 does not say so. */
        int utf8 = json_error_code(&je) == json_error_invalid_utf8;
        set_err(err, errlen, "invalid JSON at line %d column %d: %s%s", je.line, je.column,
                je.text, utf8 ? " (the input is not valid UTF-8)" : "");
        return -1;
    }
    if (!json_is_object(root)) {
        set_err(err, errlen, "JSON value is %s, not an object", json_type_name(root));
        json_decref(root);
        return -1;
    }
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(root, key, v)
    {
        if (add_member(b, r, key, v, err, errlen) != 0) {
            rc = -1;
            break;
        }
    }
    json_decref(root);
    return rc;
}
