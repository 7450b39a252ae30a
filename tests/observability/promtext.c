#include "promtext.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bad(pt_doc *d, int line, const char *fmt, ...)
{
    if (d->err[0])
        return -1;
    int n = snprintf(d->err, sizeof d->err, "line %d: ", line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err + n, sizeof d->err - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static char *dupn(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static int is_name_start(char c, int colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

static int is_name_char(char c, int colon)
{
    return is_name_start(c, colon) || (c >= '0' && c <= '9');
}

/* Length of the metric (colon=1) or label (colon=0) name at s, 0 if none. */
static size_t name_len(const char *s, int colon)
{
    if (!is_name_start(*s, colon))
        return 0;
    size_t n = 1;
    while (is_name_char(s[n], colon))
        n++;
    return n;
}

static int parse_value(const char *s, double *v)
{
    if (!strcmp(s, "+Inf")) {
        *v = INFINITY;
        return 0;
    }
    if (!strcmp(s, "-Inf")) {
        *v = -INFINITY;
        return 0;
    }
    if (!strcmp(s, "NaN")) {
        *v = NAN;
        return 0;
    }
    if (!*s || *s == ' ')
        return -1;
    char *end;
    *v = strtod(s, &end);
    /* strtod also takes "inf", "nan" and hex floats; the format does not. */
    for (const char *p = s; p < end; p++)
        if (!strchr("0123456789+-.eE", *p))
            return -1;
    return *end ? -1 : 0;
}

static pt_family *fam_get(pt_doc *d, const char *name)
{
    for (size_t i = 0; i < d->nf; i++)
        if (!strcmp(d->f[i].name, name))
            return &d->f[i];
    return NULL;
}

static pt_family *fam_add(pt_doc *d, const char *name)
{
    pt_family *f = fam_get(d, name);
    if (f)
        return f;
    d->f = realloc(d->f, (d->nf + 1) * sizeof *d->f);
    f = &d->f[d->nf++];
    memset(f, 0, sizeof *f);
    f->name = strdup(name);
    return f;
}

static int parse_comment(pt_doc *d, int line, const char *l)
{
    int help = !strncmp(l, "# HELP ", 7), type = !strncmp(l, "# TYPE ", 7);
    if (!help && !type)
        return 0; /* a plain comment */
    const char *p = l + 7;
    size_t n = name_len(p, 1);
    if (!n)
        return bad(d, line, "bad metric name after # HELP/# TYPE");
    char *name = dupn(p, n);
    p += n;
    pt_family *f = fam_add(d, name);
    free(name);
    if (help) {
        if (f->help)
            return bad(d, line, "second HELP for %s", f->name);
        if (*p != ' ')
            return bad(d, line, "HELP without text for %s", f->name);
        p++;
        char *h = malloc(strlen(p) + 1), *o = h;
        for (; *p; p++) {
            if (*p == '\\') {
                p++;
                if (*p == '\\')
                    *o++ = '\\';
                else if (*p == 'n')
                    *o++ = '\n';
                else {
                    free(h);
                    return bad(d, line, "bad escape in HELP of %s", f->name);
                }
            } else {
                *o++ = *p;
            }
        }
        *o = '\0';
        f->help = h;
    } else {
        if (f->type)
            return bad(d, line, "second TYPE for %s", f->name);
        if (*p != ' ')
            return bad(d, line, "TYPE without a type for %s", f->name);
        p++;
        if (strcmp(p, "counter") && strcmp(p, "gauge") && strcmp(p, "histogram") &&
            strcmp(p, "summary") && strcmp(p, "untyped"))
            return bad(d, line, "unknown TYPE \"%s\"", p);
        f->type = strdup(p);
    }
    return 0;
}

/* The family a sample belongs to: its own name, or a histogram's name for
 * the _bucket, _sum and _count series. */
static pt_family *sample_family(pt_doc *d, const char *name)
{
    pt_family *f = fam_get(d, name);
    if (f && f->type && strcmp(f->type, "histogram"))
        return f;
    static const char *const sfx[] = {"_bucket", "_sum", "_count"};
    size_t n = strlen(name);
    for (int i = 0; i < 3; i++) {
        size_t k = strlen(sfx[i]);
        if (n > k && !strcmp(name + n - k, sfx[i])) {
            char *base = dupn(name, n - k);
            pt_family *h = fam_get(d, base);
            free(base);
            if (h && h->type && !strcmp(h->type, "histogram"))
                return h;
        }
    }
    return f;
}

static int parse_sample(pt_doc *d, int line, const char *l, const char **current)
{
    size_t n = name_len(l, 1);
    if (!n)
        return bad(d, line, "sample line does not start with a metric name: %s", l);
    pt_sample s = {0};
    s.name = dupn(l, n);
    const char *p = l + n;
    const char *lab_start = p, *lab_end = p;
    if (*p == '{') {
        p++;
        lab_start = p;
        while (*p != '}') {
            size_t ln = name_len(p, 0);
            if (!ln)
                goto fail_msg;
            if (s.n_labels == PT_MAX_LABELS)
                goto fail_msg;
            char *lname = dupn(p, ln);
            for (size_t i = 0; i < s.n_labels; i++)
                if (!strcmp(s.lname[i], lname)) {
                    free(lname);
                    goto fail_msg;
                }
            p += ln;
            if (p[0] != '=' || p[1] != '"') {
                free(lname);
                goto fail_msg;
            }
            p += 2;
            char *v = malloc(strlen(p) + 1), *o = v;
            while (*p && *p != '"') {
                if (*p == '\\') {
                    p++;
                    if (*p == '\\' || *p == '"')
                        *o++ = *p;
                    else if (*p == 'n')
                        *o++ = '\n';
                    else {
                        free(v);
                        free(lname);
                        goto fail_msg;
                    }
                    p++;
                } else {
                    *o++ = *p++;
                }
            }
            *o = '\0';
            if (*p != '"') {
                free(v);
                free(lname);
                goto fail_msg;
            }
            p++;
            s.lname[s.n_labels] = lname;
            s.lvalue[s.n_labels++] = v;
            if (*p == ',' && p[1] != '}')
                p++;
            else if (*p != '}')
                goto fail_msg;
        }
        lab_end = p;
        p++;
    }
    s.raw_labels = dupn(lab_start, (size_t)(lab_end - lab_start));
    if (*p != ' ')
        goto fail_msg;
    p++;
    if (strchr(p, ' '))
        goto fail_msg; /* sluice never writes timestamps */
    if (parse_value(p, &s.value) != 0)
        goto fail_msg;

    pt_family *f = sample_family(d, s.name);
    if (!f || !f->type || !f->help) {
        bad(d, line, "sample %s before its family's HELP and TYPE", s.name);
        goto fail;
    }
    if (!strcmp(f->type, "histogram") && !strcmp(f->name, s.name)) {
        bad(d, line, "histogram %s has a sample without _bucket/_sum/_count", s.name);
        goto fail;
    }
    s.family = strdup(f->name);
    if (!*current || strcmp(*current, f->name)) {
        for (size_t i = 0; i < d->n; i++)
            if (!strcmp(d->s[i].family, f->name)) {
                bad(d, line, "family %s is split: its samples are not contiguous", f->name);
                goto fail;
            }
    }
    *current = f->name;
    d->s = realloc(d->s, (d->n + 1) * sizeof *d->s);
    d->s[d->n++] = s;
    return 0;

fail_msg:
    bad(d, line, "malformed sample line: %s", l);
fail:
    free(s.name);
    free(s.family);
    free(s.raw_labels);
    for (size_t i = 0; i < s.n_labels; i++) {
        free(s.lname[i]);
        free(s.lvalue[i]);
    }
    return -1;
}

/* Raw labels of a bucket without its trailing le="…"; le must come last. */
static int bucket_base(const pt_sample *s, char *out, size_t room, double *le)
{
    const char *p = strstr(s->raw_labels, "le=\"");
    if (!p || (p != s->raw_labels && p[-1] != ','))
        return -1;
    const char *end = strchr(p + 4, '"');
    if (!end || end[1])
        return -1;
    char num[64];
    snprintf(num, sizeof num, "%.*s", (int)(end - p - 4), p + 4);
    if (parse_value(num, le) != 0)
        return -1;
    size_t n = (size_t)(p - s->raw_labels);
    if (n)
        n--; /* the comma */
    snprintf(out, room, "%.*s", (int)n, s->raw_labels);
    return 0;
}

static int check_histograms(pt_doc *d)
{
    for (size_t i = 0; i < d->n; i++) {
        const pt_sample *c = &d->s[i];
        pt_family *f = fam_get(d, c->family);
        if (strcmp(f->type, "histogram"))
            continue;
        size_t fl = strlen(f->name);
        if (strcmp(c->name + fl, "_count"))
            continue;
        double prev_le = -INFINITY, prev_n = 0;
        size_t buckets = 0;
        int inf = 0;
        for (size_t j = 0; j < d->n; j++) {
            const pt_sample *b = &d->s[j];
            if (strcmp(b->family, f->name) || strcmp(b->name + fl, "_bucket"))
                continue;
            char base[512];
            double le;
            if (bucket_base(b, base, sizeof base, &le) != 0)
                return bad(d, 0, "%s bucket without a final le label", f->name);
            if (strcmp(base, c->raw_labels))
                continue;
            if (le <= prev_le)
                return bad(d, 0, "%s{%s}: le not increasing", f->name, base);
            if (b->value < prev_n)
                return bad(d, 0, "%s{%s}: buckets not cumulative", f->name, base);
            prev_le = le;
            prev_n = b->value;
            inf = isinf(le) && le > 0;
            buckets++;
        }
        if (!buckets || !inf)
            return bad(d, 0, "%s{%s}: no +Inf bucket", f->name, c->raw_labels);
        if (prev_n != c->value)
            return bad(d, 0, "%s{%s}: +Inf bucket %g != _count %g", f->name, c->raw_labels,
                       prev_n, c->value);
        char sum[256];
        snprintf(sum, sizeof sum, "%s_sum", f->name);
        if (!pt_find(d, sum, c->raw_labels))
            return bad(d, 0, "%s{%s}: no _sum", f->name, c->raw_labels);
    }
    return 0;
}

int pt_parse(const char *text, pt_doc *d)
{
    memset(d, 0, sizeof *d);
    size_t len = strlen(text);
    if (len && text[len - 1] != '\n')
        return bad(d, 0, "the last line does not end with a line feed");
    const char *current = NULL;
    int line = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        char *l = dupn(p, (size_t)(nl - p));
        line++;
        int rc = 0;
        if (!*l)
            rc = bad(d, line, "empty line");
        else if (l[0] == '#')
            rc = parse_comment(d, line, l);
        else
            rc = parse_sample(d, line, l, &current);
        free(l);
        if (rc)
            return -1;
        p = nl + 1;
    }
    for (size_t i = 0; i < d->nf; i++)
        if (!d->f[i].help || !d->f[i].type)
            return bad(d, 0, "family %s lacks HELP or TYPE", d->f[i].name);
    return check_histograms(d);
}

void pt_free(pt_doc *d)
{
    for (size_t i = 0; i < d->n; i++) {
        pt_sample *s = &d->s[i];
        free(s->name);
        free(s->family);
        free(s->raw_labels);
        for (size_t j = 0; j < s->n_labels; j++) {
            free(s->lname[j]);
            free(s->lvalue[j]);
        }
    }
    for (size_t i = 0; i < d->nf; i++) {
        free(d->f[i].name);
        free(d->f[i].help);
        free(d->f[i].type);
    }
    free(d->s);
    free(d->f);
    memset(d, 0, sizeof *d);
}

const pt_sample *pt_find(const pt_doc *d, const char *name, const char *labels)
{
    for (size_t i = 0; i < d->n; i++)
        if (!strcmp(d->s[i].name, name) && !strcmp(d->s[i].raw_labels, labels))
            return &d->s[i];
    return NULL;
}

const pt_family *pt_family_find(const pt_doc *d, const char *name)
{
    for (size_t i = 0; i < d->nf; i++)
        if (!strcmp(d->f[i].name, name))
            return &d->f[i];
    return NULL;
}

const char *pt_label(const pt_sample *s, const char *l)
{
    for (size_t i = 0; i < s->n_labels; i++)
        if (!strcmp(s->lname[i], l))
            return s->lvalue[i];
    return NULL;
}
