/* FNV-1a 64: enough to tell whether a pipeline's inputs changed between two
 * SIGHUPs; nothing here needs to resist an adversary. */
#ifndef SL_DIGEST_H
#define SL_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define SL_FNV_OFFSET 0xcbf29ce484222325ULL

static inline uint64_t sl_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

#endif
