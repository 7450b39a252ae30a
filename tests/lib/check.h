/* A minimal assertion kit for the C tests: failures name file, line and
 * both values, and the test's exit status is the count of failures. */
#ifndef SLUICE_TEST_CHECK_H
#define SLUICE_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures __attribute__((unused));
static int check_count __attribute__((unused));

#define CHECK(cond)                                                                   \
    do {                                                                              \
        check_count++;                                                                \
        if (!(cond)) {                                                                \
            check_failures++;                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);  \
        }                                                                             \
    } while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                               \
    do {                                                                              \
        check_count++;                                                                \
        const char *h_ = (hay), *n_ = (needle);                                       \
        if (!h_ || !strstr(h_, n_)) {                                                 \
            check_failures++;                                                         \
            fprintf(stderr, "%s:%d: expected \"%s\" to contain \"%s\"\n", __FILE__,   \
                    __LINE__, h_ ? h_ : "(null)", n_);                                \
        }                                                                             \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                            \
    do {                                                                              \
        check_count++;                                                                \
        long long a_ = (long long)(a), b_ = (long long)(b);                           \
        if (a_ != b_) {                                                               \
            check_failures++;                                                         \
            fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, \
                    #a, a_, b_);                                                      \
        }                                                                             \
    } while (0)

#define CHECK_DONE()                                                                  \
    (fprintf(stderr, "%d checks, %d failed\n", check_count, check_failures),          \
     check_failures ? 1 : 0)

#endif
