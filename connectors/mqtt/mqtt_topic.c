/* See mqtt_topic.h. */
#include "mqtt_topic.h"

#include <inttypes.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int add_part(mq_tmpl *t, size_t *cap, mq_tpart_kind k, const char *s, size_t len)
{
    if (k == MQ_T_LIT && t->n && t->parts[t->n - 1].kind == MQ_T_LIT &&
        t->parts[t->n - 1].s + t->parts[t->n - 1].len == s) {
        t->parts[t->n - 1].len += len;   /* adjacent literal text */
        return 0;
    }
    if (t->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        mq_tpart *np = realloc(t->parts, nc * sizeof *np);
        if (!np)
            return -1;
        t->parts = np;
        *cap = nc;
    }
    t->parts[t->n++] = (mq_tpart){k, s, len};
    return 0;
}

int mq_tmpl_parse(mq_tmpl *t, const char *src, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    size_t n = strlen(src), cap = 0;
    /* Literal text is copied with the escapes resolved, so parts can point
     * into one buffer. */
    t->text = malloc(n + 1);
    if (!t->text) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char *w = t->text;
    t->constant = 1;
    for (const char *p = src; *p;) {
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            *w = p[0];
            if (add_part(t, &cap, MQ_T_LIT, w, 1))
                goto oom;
            w++;
            p += 2;
            continue;
        }
        if (*p == '}') {
            snprintf(err, errlen, "topic template \"%s\": unmatched } at offset %zu (write }} for "
                     "a literal brace)", src, (size_t)(p - src));
            goto fail;
        }
        if (*p != '{') {
            *w = *p++;
            if (add_part(t, &cap, MQ_T_LIT, w, 1))
                goto oom;
            w++;
            continue;
        }
        const char *close = strchr(p, '}');
        if (!close) {
            snprintf(err, errlen, "topic template \"%s\": unterminated { at offset %zu", src,
                     (size_t)(p - src));
            goto fail;
        }
        const char *name = p + 1;
        size_t nl = (size_t)(close - name);
        t->constant = 0;
        if (nl == 3 && !memcmp(name, "key", 3)) {
            if (add_part(t, &cap, MQ_T_KEY, NULL, 0))
                goto oom;
        } else if (nl == 5 && !memcmp(name, "topic", 5)) {
            if (add_part(t, &cap, MQ_T_TOPIC, NULL, 0))
                goto oom;
        } else if (nl > 6 && !memcmp(name, "field:", 6)) {
            memcpy(w, name + 6, nl - 6);
            if (add_part(t, &cap, MQ_T_FIELD, w, nl - 6))
                goto oom;
            w += nl - 6;
            *w++ = '\0';     /* field names are looked up as C strings */
        } else {
            snprintf(err, errlen, "topic template \"%s\": unknown placeholder {%.*s}; expected "
                     "{key}, {topic} or {field:NAME}", src, (int)nl, name);
            goto fail;
        }
        p = close + 1;
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    mq_tmpl_free(t);
    return -1;
}

void mq_tmpl_free(mq_tmpl *t)
{
    free(t->parts);
    free(t->text);
    memset(t, 0, sizeof *t);
}

static int reserve(mq_buf *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return 0;
    size_t nc = b->cap ? b->cap : 256;
    while (nc < b->len + more + 1)
        nc *= 2;
    char *np = realloc(b->p, nc);
    if (!np)
        return -1;
    b->p = np;
    b->cap = nc;
    return 0;
}

static int put(mq_buf *b, const char *s, size_t n)
{
    if (reserve(b, n))
        return -1;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

/* A field's value as topic text. */
static int put_field(mq_buf *b, const sluice_field *f, char *err, size_t errlen)
{
    char num[64];
    int n;
    switch (f->type) {
    case SLUICE_STRING:
    case SLUICE_BYTES: return put(b, f->v.s.ptr, f->v.s.len);
    case SLUICE_INT: n = snprintf(num, sizeof num, "%" PRId64, f->v.i); break;
    case SLUICE_TIMESTAMP: n = snprintf(num, sizeof num, "%" PRId64, f->v.ts); break;
    case SLUICE_BOOL: n = snprintf(num, sizeof num, "%s", f->v.b ? "true" : "false"); break;
    case SLUICE_DOUBLE:
        /* The shortest text that reads back as the same number. */
        n = snprintf(num, sizeof num, "%.15g", f->v.d);
        if (strtod(num, NULL) != f->v.d)
            n = snprintf(num, sizeof num, "%.17g", f->v.d);
        break;
    default:
        snprintf(err, errlen, "field \"%s\" is null", f->name);
        return -1;
    }
    return put(b, num, (size_t)n);
}

int mq_tmpl_render(const mq_tmpl *t, const sluice_record *r, mq_buf *b, char *err,
                   size_t errlen)
{
    b->len = 0;
    if (reserve(b, 0))
        goto oom;
    b->p[0] = '\0';
    for (size_t i = 0; i < t->n; i++) {
        const mq_tpart *pt = &t->parts[i];
        int rc = 0;
        switch (pt->kind) {
        case MQ_T_LIT: rc = put(b, pt->s, pt->len); break;
        case MQ_T_KEY:
            if (!r->key.ptr || !r->key.len) {
                snprintf(err, errlen, "the record has no key for {key} in the topic template");
                return -1;
            }
            rc = put(b, r->key.ptr, r->key.len);
            break;
        case MQ_T_TOPIC:
            if (!r->origin.topic || !*r->origin.topic) {
                snprintf(err, errlen, "the record has no origin topic for {topic} in the topic "
                         "template");
                return -1;
            }
            rc = put(b, r->origin.topic, strlen(r->origin.topic));
            break;
        case MQ_T_FIELD: {
            const sluice_field *f = sluice_field_get(r, pt->s);
            if (!f) {
                snprintf(err, errlen, "the record has no field \"%s\" for {field:%s} in the "
                         "topic template", pt->s, pt->s);
                return -1;
            }
            if (f->type == SLUICE_NULL) {
                snprintf(err, errlen, "field \"%s\" is null; {field:%s} in the topic template "
                         "needs a value", pt->s, pt->s);
                return -1;
            }
            if (put_field(b, f, err, errlen))
                return -1;
            break;
        }
        }
        if (rc)
            goto oom;
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory rendering the topic");
    return -1;
}

void mq_buf_free(mq_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

int mq_topic_check_publish(const char *topic, size_t len, char *err, size_t errlen)
{
    if (len == 0) {
        snprintf(err, errlen, "the topic is empty");
        return -1;
    }
    if (memchr(topic, '\0', len) || len > 65535) {
        snprintf(err, errlen, "topic \"%.*s\" %s", (int)(len > 200 ? 200 : len), topic,
                 len > 65535 ? "is longer than 65535 bytes" : "contains a NUL byte");
        return -1;
    }
    /* The same checks libmosquitto and the broker apply: a topic they refuse
     * would otherwise cost the connection, not just this record. */
    if (mosquitto_validate_utf8(topic, (int)len) != MOSQ_ERR_SUCCESS) {
        snprintf(err, errlen, "topic \"%.*s\" is not valid UTF-8 (or holds control "
                 "characters)", (int)(len > 200 ? 200 : len), topic);
        return -1;
    }
    if (mosquitto_pub_topic_check2(topic, len) != MOSQ_ERR_SUCCESS) {
        snprintf(err, errlen, "topic \"%.*s\" contains a wildcard (+ or #), which is not "
                 "allowed when publishing", (int)(len > 200 ? 200 : len), topic);
        return -1;
    }
    return 0;
}

int mq_topic_segment(const char *topic, size_t len, int idx, size_t *off, size_t *seg_len)
{
    if (idx < 0)
        return 0;
    size_t start = 0;
    for (int i = 0;; i++) {
        const char *slash = memchr(topic + start, '/', len - start);
        size_t end = slash ? (size_t)(slash - topic) : len;
        if (i == idx) {
            *off = start;
            *seg_len = end - start;
            return 1;
        }
        if (!slash)
            return 0;
        start = end + 1;
    }
}
