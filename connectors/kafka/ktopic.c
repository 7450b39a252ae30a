#include "ktopic.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int add_seg(ktopic *t, ktseg_kind kind, const char *s, size_t n)
{
    ktseg *ns = realloc(t->segs, (t->n + 1) * sizeof *ns);
    if (!ns)
        return -1;
    t->segs = ns;
    char *c = malloc(n + 1);
    if (!c)
        return -1;
    memcpy(c, s, n);
    c[n] = '\0';
    ns[t->n++] = (ktseg){kind, c, n};
    return 0;
}

int ktopic_parse(ktopic *t, const char *tmpl, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    if (!tmpl || !*tmpl) {
        snprintf(err, errlen, "topic: empty");
        return -1;
    }
    const char *p = tmpl, *lit = tmpl;
    while (*p) {
        if (*p != '{') {
            p++;
            continue;
        }
        const char *close = strchr(p, '}');
        if (!close) {
            snprintf(err, errlen, "topic \"%s\": \"{\" at byte %zu is not closed", tmpl,
                     (size_t)(p - tmpl));
            goto fail;
        }
        if (p > lit && add_seg(t, KT_LIT, lit, (size_t)(p - lit)) != 0)
            goto oom;
        size_t n = (size_t)(close - p - 1);
        if (n == 5 && strncmp(p + 1, "topic", 5) == 0) {
            if (add_seg(t, KT_TOPIC, "", 0) != 0)
                goto oom;
        } else if (n > 6 && strncmp(p + 1, "field:", 6) == 0) {
            if (add_seg(t, KT_FIELD, p + 7, n - 6) != 0)
                goto oom;
        } else {
            snprintf(err, errlen, "topic \"%s\": unknown placeholder \"%.*s\"; known: {topic}, "
                     "{field:NAME}", tmpl, (int)(n + 2), p);
            goto fail;
        }
        p = lit = close + 1;
    }
    if (p > lit && add_seg(t, KT_LIT, lit, (size_t)(p - lit)) != 0)
        goto oom;
    if (t->n == 1 && t->segs[0].kind == KT_LIT)
        t->constant = t->segs[0].text;
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    ktopic_free(t);
    return -1;
}

void ktopic_free(ktopic *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->segs[i].text);
    free(t->segs);
    memset(t, 0, sizeof *t);
}

int kfield_text(const sluice_field *f, sluice_buf *out)
{
    char num[64];
    int n;
    switch (f->type) {
    case SLUICE_STRING:
    case SLUICE_BYTES: sluice_buf_put(out, f->v.s.ptr, f->v.s.len); return 0;
    case SLUICE_INT: n = snprintf(num, sizeof num, "%" PRId64, f->v.i); break;
    case SLUICE_TIMESTAMP: n = snprintf(num, sizeof num, "%" PRId64, f->v.ts); break;
    case SLUICE_DOUBLE: n = snprintf(num, sizeof num, "%.17g", f->v.d); break;
    case SLUICE_BOOL: n = snprintf(num, sizeof num, "%s", f->v.b ? "true" : "false"); break;
    default: return -1;
    }
    sluice_buf_put(out, num, (size_t)n);
    return 0;
}

/* Kafka's rule: 1..249 of [A-Za-z0-9._-], and not "." or "..". */
static int valid_topic(const char *s, size_t n)
{
    if (n == 0 || n > 249 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int ktopic_render(const ktopic *t, const sluice_record *r, sluice_buf *out, char *err, size_t errlen)
{
    sluice_buf_reset(out);
    for (size_t i = 0; i < t->n; i++) {
        const ktseg *s = &t->segs[i];
        if (s->kind == KT_LIT) {
            sluice_buf_put(out, s->text, s->len);
        } else if (s->kind == KT_TOPIC) {
            if (!r->origin.topic) {
                snprintf(err, errlen, "topic template: the record has no origin topic");
                return -1;
            }
            sluice_buf_puts(out, r->origin.topic);
        } else {
            const sluice_field *f = sluice_field_get(r, s->text);
            if (!f) {
                snprintf(err, errlen, "topic template: the record has no field \"%s\"", s->text);
                return -1;
            }
            if (kfield_text(f, out) != 0) {
                snprintf(err, errlen, "topic template: field \"%s\" is null", s->text);
                return -1;
            }
        }
    }
    sluice_buf_putc(out, '\0');
    if (out->oom) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!valid_topic(out->p, out->len - 1)) {
        snprintf(err, errlen, "topic template gave \"%.*s\", not a valid Kafka topic name "
                 "(1 to 249 of A-Z a-z 0-9 . _ -)", (int)(out->len > 200 ? 200 : out->len - 1),
                 out->p);
        return -1;
    }
    return 0;
}
