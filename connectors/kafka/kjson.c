#include "kjson.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Deeper documents are not embedded (they travel as a string instead), which
 * is safe and far below any parser's limit. */
#define KJ_MAX_DEPTH 64

typedef struct kj_in {
    const unsigned char *s;
    size_t n, i;
} kj_in;

static void skip_ws(kj_in *in)
{
    while (in->i < in->n) {
        unsigned char c = in->s[in->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        in->i++;
    }
}

static int hex4(kj_in *in, unsigned *v)
{
    if (in->n - in->i < 4)
        return -1;
    unsigned x = 0;
    for (int k = 0; k < 4; k++) {
        unsigned char c = in->s[in->i++];
        x <<= 4;
        if (c >= '0' && c <= '9')
            x |= c - '0';
        else if (c >= 'a' && c <= 'f')
            x |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            x |= c - 'A' + 10;
        else
            return -1;
    }
    *v = x;
    return 0;
}

/* A key may not hold \u0000: the host's from_json refuses it (as jansson
 * does), so a payload with one must travel as a string, not as JSON. */
static int string(kj_in *in, int is_key)
{
    in->i++; /* opening quote */
    for (;;) {
        if (in->i >= in->n)
            return -1;
        unsigned char c = in->s[in->i];
        if (c == '"') {
            in->i++;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            if (++in->i >= in->n)
                return -1;
            c = in->s[in->i++];
            if (c == 'u') {
                unsigned u;
                if (hex4(in, &u) != 0 || (is_key && u == 0))
                    return -1;
                if (u >= 0xDC00 && u <= 0xDFFF)
                    return -1;
                if (u >= 0xD800 && u <= 0xDBFF) {
                    unsigned lo;
                    if (in->n - in->i < 2 || in->s[in->i] != '\\' || in->s[in->i + 1] != 'u')
                        return -1;
                    in->i += 2;
                    if (hex4(in, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
                        return -1;
                }
            } else if (!strchr("\"\\/bfnrt", c) || c == '\0') {
                return -1;
            }
            continue;
        }
        if (c < 0x80) {
            in->i++;
            continue;
        }
        size_t ok = sluice_utf8_valid_prefix(in->s + in->i, in->n - in->i < 4 ? in->n - in->i : 4);
        if (ok == 0)
            return -1;
        /* ok covers at least the whole first sequence */
        size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        in->i += len;
    }
}

static int number(kj_in *in)
{
    size_t start = in->i;
    int real = 0;
    if (in->s[in->i] == '-')
        in->i++;
    if (in->i >= in->n)
        return -1;
    if (in->s[in->i] == '0') {
        in->i++;
    } else if (in->s[in->i] >= '1' && in->s[in->i] <= '9') {
        while (in->i < in->n && in->s[in->i] >= '0' && in->s[in->i] <= '9')
            in->i++;
    } else {
        return -1;
    }
    if (in->i < in->n && in->s[in->i] == '.') {
        real = 1;
        in->i++;
        size_t d = in->i;
        while (in->i < in->n && in->s[in->i] >= '0' && in->s[in->i] <= '9')
            in->i++;
        if (in->i == d)
            return -1;
    }
    if (in->i < in->n && (in->s[in->i] == 'e' || in->s[in->i] == 'E')) {
        real = 1;
        in->i++;
        if (in->i < in->n && (in->s[in->i] == '+' || in->s[in->i] == '-'))
            in->i++;
        size_t d = in->i;
        while (in->i < in->n && in->s[in->i] >= '0' && in->s[in->i] <= '9')
            in->i++;
        if (in->i == d)
            return -1;
    }
    /* Range checks as the parser on the reading side makes them. */
    char tmp[128];
    size_t len = in->i - start;
    if (len >= sizeof tmp)
        return -1;
    memcpy(tmp, in->s + start, len);
    tmp[len] = '\0';
    errno = 0;
    if (real) {
        double d = strtod(tmp, NULL);
        if (errno == ERANGE && isinf(d))
            return -1;
    } else {
        (void)strtoll(tmp, NULL, 10);
        if (errno == ERANGE)
            return -1;
    }
    return 0;
}

static int literal(kj_in *in, const char *word)
{
    size_t n = strlen(word);
    if (in->n - in->i < n || memcmp(in->s + in->i, word, n) != 0)
        return -1;
    in->i += n;
    return 0;
}

static int value(kj_in *in, int depth);

static int container(kj_in *in, int depth, unsigned char close)
{
    if (depth >= KJ_MAX_DEPTH)
        return -1;
    in->i++;
    skip_ws(in);
    if (in->i < in->n && in->s[in->i] == close) {
        in->i++;
        return 0;
    }
    for (;;) {
        skip_ws(in);
        if (close == '}') {
            if (in->i >= in->n || in->s[in->i] != '"' || string(in, 1) != 0)
                return -1;
            skip_ws(in);
            if (in->i >= in->n || in->s[in->i] != ':')
                return -1;
            in->i++;
        }
        if (value(in, depth + 1) != 0)
            return -1;
        skip_ws(in);
        if (in->i >= in->n)
            return -1;
        unsigned char c = in->s[in->i++];
        if (c == close)
            return 0;
        if (c != ',')
            return -1;
    }
}

static int value(kj_in *in, int depth)
{
    skip_ws(in);
    if (in->i >= in->n)
        return -1;
    switch (in->s[in->i]) {
    case '{': return container(in, depth, '}');
    case '[': return container(in, depth, ']');
    case '"': return string(in, 0);
    case 't': return literal(in, "true");
    case 'f': return literal(in, "false");
    case 'n': return literal(in, "null");
    default: return number(in);
    }
}

kj_kind kj_classify(const char *s, size_t n)
{
    if (!s)
        return KJ_INVALID;
    kj_in in = {(const unsigned char *)s, n, 0};
    skip_ws(&in);
    int is_container = in.i < n && (s[in.i] == '{' || s[in.i] == '[');
    if (value(&in, 0) != 0)
        return KJ_INVALID;
    skip_ws(&in);
    if (in.i != n)
        return KJ_INVALID;
    return is_container ? KJ_CONTAINER : KJ_SCALAR;
}

void kj_put_string(sluice_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    sluice_buf_putc(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        sluice_buf_put(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': SLUICE_BUF_LIT(b, "\\\""); break;
        case '\\': SLUICE_BUF_LIT(b, "\\\\"); break;
        case '\n': SLUICE_BUF_LIT(b, "\\n"); break;
        case '\r': SLUICE_BUF_LIT(b, "\\r"); break;
        case '\t': SLUICE_BUF_LIT(b, "\\t"); break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            sluice_buf_put(b, u, sizeof u);
        }
        }
    }
    sluice_buf_put(b, s + run, n - run);
    sluice_buf_putc(b, '"');
}

void kj_put_base64(sluice_buf *b, const unsigned char *s, size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    sluice_buf_putc(b, '"');
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        char q[4] = {tab[v >> 18], tab[(v >> 12) & 63], tab[(v >> 6) & 63], tab[v & 63]};
        sluice_buf_put(b, q, 4);
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        char q[4] = {tab[v >> 18], tab[(v >> 12) & 63], '=', '='};
        sluice_buf_put(b, q, 4);
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        char q[4] = {tab[v >> 18], tab[(v >> 12) & 63], tab[(v >> 6) & 63], '='};
        sluice_buf_put(b, q, 4);
    }
    sluice_buf_putc(b, '"');
}

/* Days since 1970-01-01 to a civil date (H. Hinnant's algorithm): no
 * gmtime_r, no TZ machinery, exact for any timestamp. */
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

void kj_put_time(sluice_buf *b, int64_t us)
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
    char buf[64];
    int n = snprintf(buf, sizeof buf, "\"%04" PRId64 "-%02u-%02uT%02u:%02u:%02u.%06uZ\"", y, mo, d,
                     (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60), (unsigned)(sod % 60),
                     (unsigned)frac);
    sluice_buf_put(b, buf, (size_t)n);
}
