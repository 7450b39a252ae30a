/* ${VAR} and ${VAR:-default} expansion of scalar values. */
#ifndef SL_EXPAND_H
#define SL_EXPAND_H

#include "config.h"
#include "ynode.h"

#include <stdint.h>

/* Expands `in` into a new string (*out, malloc'ed).  Every variable looked
 * up is folded into *digest (name and value), so that a changed environment
 * changes the digest.  Returns 0, or -1 with a message in `d` at
 * file:line:col naming the variable (the value is never quoted: it may be a
 * secret). */
int sl_expand(const char *in, char **out, const char *file, int line, int col, sl_diag *d,
              uint64_t *digest);

/* Expands every scalar value in the tree in place (mapping keys are names,
 * not values, and are left alone).  Returns the number of errors. */
int sl_expand_tree(sl_ynode *n, const char *file, sl_diag *d, uint64_t *digest);

#endif
