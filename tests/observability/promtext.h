/* A strict reader of the Prometheus text exposition format (0.0.4) for the
 * tests: it rejects what a Prometheus server would reject, and a few things
 * it would merely tolerate but that sluice promises never to emit (a family
 * split in two, a sample before its HELP/TYPE, a histogram whose buckets
 * are not cumulative or disagree with _count). */
#ifndef SLUICE_TEST_PROMTEXT_H
#define SLUICE_TEST_PROMTEXT_H

#include <stddef.h>

#define PT_MAX_LABELS 8

typedef struct pt_sample {
    char *name;               /* as written, e.g. x_bucket */
    char *family;             /* x */
    char *raw_labels;         /* text between the braces, "" if none */
    size_t n_labels;
    char *lname[PT_MAX_LABELS];
    char *lvalue[PT_MAX_LABELS]; /* unescaped */
    double value;
} pt_sample;

typedef struct pt_family {
    char *name;
    char *help;               /* unescaped */
    char *type;
} pt_family;

typedef struct pt_doc {
    pt_sample *s;
    size_t n;
    pt_family *f;
    size_t nf;
    char err[256];            /* first problem, with its line number */
} pt_doc;

/* 0 when the text is valid; -1 with doc->err set otherwise.  The document
 * holds what was read up to the problem; free it either way. */
int pt_parse(const char *text, pt_doc *doc);
void pt_free(pt_doc *doc);

/* The sample of that name whose raw label text is exactly `labels`. */
const pt_sample *pt_find(const pt_doc *doc, const char *name, const char *labels);
const pt_family *pt_family_find(const pt_doc *doc, const char *name);
/* The unescaped value of label `l` of s, or NULL. */
const char *pt_label(const pt_sample *s, const char *l);

#endif
