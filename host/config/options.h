/* Validation of a mapping against a declared option table, producing a
 * typed sluice_config.  Plugin stages and the pipeline's own sections
 * (batch, retry, ...) share this code, so they share its messages. */
#ifndef SL_OPTIONS_H
#define SL_OPTIONS_H

#include "config.h"
#include "ynode.h"

typedef struct sl_optctx {
    const char *file;        /* for messages */
    const char *basedir;     /* relative secret files are found from here */
    sl_diag *d;
    uint64_t *digest;        /* secret files' contents are folded in */
    /* Names the mapping in messages: `source (plugin "mqtt")` for a stage,
     * `batch` for a section (section != 0 switches to "unknown key ... in
     * batch" and "batch.linger: ..." wording). */
    const char *where;
    int section;
} sl_optctx;

/* Checks every key of `map` (NULL: none given) against `opts` (NULL: the
 * plugin takes no options); keys listed in `skip` (NULL-terminated) belong
 * to the caller.  Declared defaults are applied.  Every problem is added to
 * x->d; missing required options are reported at line:col.  Returns the
 * config, NULL only when out of memory. */
sluice_config *sl_options_build(const sl_optctx *x, const sluice_option *opts,
                                const sl_ynode *map, const char *const *skip, int line, int col);

/* Checks an option table's own declarations that the host can judge without
 * a pipeline file: min/max only on int, double, duration and size options,
 * each parsing as a value of the option, min <= max, and a default within
 * them.  0, or -1 with one line in err naming the option (the table is
 * the plugin author's bug; the loader refuses the plugin). */
int sl_options_check(const sluice_option *opts, char *err, size_t errlen);

/* Frees what one value holds and zeroes it (secrets are wiped first). */
void sl_optval_clear(sl_optval *v);

/* Writes s into buf in double quotes, escaping control characters and
 * shortening it to keep messages on one readable line. */
void sl_quote(char *buf, size_t len, const char *s);

#endif
