#include "kjson.h"

#include <errno.h>
#include <math.h>
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
