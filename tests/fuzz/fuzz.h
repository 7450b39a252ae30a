/* What every fuzz target shares: the libFuzzer entry points, and a check
 * that turns a broken promise (not only a crash) into a finding. */
#ifndef SLUICE_FUZZ_H
#define SLUICE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Called once before the first input (libFuzzer, or fuzz_main.c). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
/* One input; always returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort() makes libFuzzer save the input as crash-<sha1>, like a crash. */
#define FUZZ_CHECK(cond)                                                            \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                \
        }                                                                           \
    } while (0)

#endif
