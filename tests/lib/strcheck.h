/* Exact comparisons of counted and C strings for the plugin tests: a failure
 * prints both sides, so an escaping or formatting slip is visible at once. */
#ifndef SLUICE_TEST_STRCHECK_H
#define SLUICE_TEST_STRCHECK_H

#include "check.h"

#define CHECK_STR_EQ(got, want)                                                        \
    do {                                                                               \
        check_count++;                                                                 \
        const char *g_ = (got), *w_ = (want);                                          \
        if (!g_ || strcmp(g_, w_) != 0) {                                              \
            check_failures++;                                                          \
            fprintf(stderr, "%s:%d: %s\n    got:  %s\n    want: %s\n", __FILE__,       \
                    __LINE__, #got, g_ ? g_ : "(null)", w_);                           \
        }                                                                              \
    } while (0)

/* A counted string (sluice_bytes) equals a C string. */
#define CHECK_BYTES_EQ(bytes, want)                                                    \
    do {                                                                               \
        check_count++;                                                                 \
        sluice_bytes b_ = (bytes);                                                     \
        const char *w_ = (want);                                                       \
        if (b_.len != strlen(w_) || (b_.len && memcmp(b_.ptr, w_, b_.len) != 0)) {     \
            check_failures++;                                                          \
            fprintf(stderr, "%s:%d: %s\n    got:  %.*s (%zu bytes)\n    want: %s\n",   \
                    __FILE__, __LINE__, #bytes, (int)b_.len, b_.ptr ? b_.ptr : "",     \
                    b_.len, w_);                                                       \
        }                                                                              \
    } while (0)

#endif
