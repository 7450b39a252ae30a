/* Value and key templates of the generator: text with {seq}, {ts_us} and
 * {rand} placeholders, compiled once at init so rendering a record is a walk
 * over a few segments with no parsing and no allocation. */
#ifndef GEN_TEMPLATE_H
#define GEN_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

typedef enum gen_seg_kind { GEN_LIT, GEN_SEQ, GEN_TS_US, GEN_RAND } gen_seg_kind;

typedef struct gen_seg {
    gen_seg_kind kind;
    const char *lit;         /* GEN_LIT: points into the template text */
    size_t len;
} gen_seg;

typedef struct gen_tpl {
    char *text;              /* owned copy of the template */
    gen_seg *segs;
    size_t n;
    size_t max_len;          /* upper bound of a rendered value */
    int uses_rand;
} gen_tpl;

/* Compiles `src`.  A "{name}" whose name is not a known placeholder is an
 * error (a typo would otherwise be emitted literally); any other "{" is
 * literal text, so JSON templates need no escaping.  Returns 0, or -1 with
 * a message naming `what` in err (SLUICE_ERRLEN bytes). */
int gen_tpl_compile(gen_tpl *t, const char *src, const char *what, char *err);
/* Renders into out, which holds at least t->max_len bytes; returns length. */
size_t gen_tpl_render(const gen_tpl *t, char *out, uint64_t seq, int64_t ts_us, uint32_t rnd);
void gen_tpl_free(gen_tpl *t);

#endif
