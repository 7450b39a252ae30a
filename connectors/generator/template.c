#include "template.h"

#include <sluice/sluice.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    gen_seg_kind kind;
    size_t max_len;          /* longest rendering */
} placeholders[] = {
    {"seq", GEN_SEQ, 20},    /* uint64 */
    {"ts_us", GEN_TS_US, 20}, /* int64, sign included */
    {"rand", GEN_RAND, 10},  /* uint32 */
};

static int is_name_char(char c) { return (c >= 'a' && c <= 'z') || c == '_' || (c >= '0' && c <= '9'); }

static int push(gen_tpl *t, size_t *cap, gen_seg s)
{
    if (t->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        gen_seg *p = realloc(t->segs, ncap * sizeof(*p));
        if (!p)
            return -1;
        t->segs = p;
        *cap = ncap;
    }
    t->segs[t->n++] = s;
    return 0;
}

int gen_tpl_compile(gen_tpl *t, const char *src, const char *what, char *err)
{
    memset(t, 0, sizeof(*t));
    t->text = strdup(src ? src : "");
    if (!t->text)
        goto oom;
    size_t cap = 0;
    const char *p = t->text, *lit = p;
    while (*p) {
        if (*p != '{') {
            p++;
            continue;
        }
        const char *q = p + 1;
        while (is_name_char(*q))
            q++;
        if (q == p + 1 || *q != '}') {
            p++;             /* "{" not followed by "name}": literal */
            continue;
        }
        size_t nlen = (size_t)(q - p - 1);
        size_t k = 0, nk = sizeof placeholders / sizeof placeholders[0];
        while (k < nk && !(strlen(placeholders[k].name) == nlen &&
                           memcmp(placeholders[k].name, p + 1, nlen) == 0))
            k++;
        if (k == nk) {
            snprintf(err, SLUICE_ERRLEN,
                     "%s: unknown placeholder \"%.*s\" at byte %zu; known: {seq}, {ts_us}, {rand}",
                     what, (int)(nlen + 2), p, (size_t)(p - t->text));
            gen_tpl_free(t);
            return -1;
        }
        if (p > lit && push(t, &cap, (gen_seg){GEN_LIT, lit, (size_t)(p - lit)}) != 0)
            goto oom;
        if (push(t, &cap, (gen_seg){placeholders[k].kind, NULL, 0}) != 0)
            goto oom;
        t->max_len += placeholders[k].max_len;
        t->uses_rand |= placeholders[k].kind == GEN_RAND;
        p = lit = q + 1;
    }
    if (p > lit && push(t, &cap, (gen_seg){GEN_LIT, lit, (size_t)(p - lit)}) != 0)
        goto oom;
    for (size_t i = 0; i < t->n; i++)
        t->max_len += t->segs[i].len;
    return 0;
oom:
    snprintf(err, SLUICE_ERRLEN, "%s: out of memory", what);
    gen_tpl_free(t);
    return -1;
}

static size_t put_u64(char *out, uint64_t v)
{
    char buf[20];
    size_t n = 0;
    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = buf[n - 1 - i];
    return n;
}

size_t gen_tpl_render(const gen_tpl *t, char *out, uint64_t seq, int64_t ts_us, uint32_t rnd)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++) {
        const gen_seg *s = &t->segs[i];
        switch (s->kind) {
        case GEN_LIT:
            memcpy(out + n, s->lit, s->len);
            n += s->len;
            break;
        case GEN_SEQ: n += put_u64(out + n, seq); break;
        case GEN_TS_US:
            if (ts_us < 0) {
                out[n++] = '-';
                n += put_u64(out + n, 0 - (uint64_t)ts_us);
            } else {
                n += put_u64(out + n, (uint64_t)ts_us);
            }
            break;
        case GEN_RAND: n += put_u64(out + n, rnd); break;
        }
    }
    return n;
}

void gen_tpl_free(gen_tpl *t)
{
    free(t->segs);
    free(t->text);
    memset(t, 0, sizeof(*t));
}
