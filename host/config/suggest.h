/* "Did you mean" for misspelled keys, options and plugin names. */
#ifndef SL_SUGGEST_H
#define SL_SUGGEST_H

#include <stddef.h>

/* Edit distance (insert, delete, substitute, swap two neighbours), ignoring
 * case, capped: anything above `cap` reads as cap + 1. */
int sl_edit_distance(const char *a, const char *b, int cap);

/* The candidate nearest to `word`, or NULL if none is near enough to be a
 * plausible typo (distance 1 for short words, 2 for longer ones). */
const char *sl_nearest(const char *word, const char *const *cands, size_t n);

/* Writes " did you mean \"x\"?" (with its leading ';') into buf when
 * sl_nearest finds something, else "". */
void sl_did_you_mean(char *buf, size_t len, const char *word, const char *const *cands, size_t n);

/* Joins names with ", " into buf, ending in ", ..." if it does not fit. */
void sl_join_names(char *buf, size_t len, const char *const *names, size_t n);

#endif
