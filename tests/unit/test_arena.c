/* The arena reuses its chunks after a reset (no malloc in steady state),
 * aligns, honours its limit, and serves allocations larger than a chunk. */
#include "arena.h"
#include "check.h"

#include <stdint.h>

int main(void)
{
    sl_arena a;
    sl_arena_init(&a, 1024, 8192);
    void *p1 = sl_arena_alloc(&a, 10);
    void *p2 = sl_arena_alloc(&a, 10);
    CHECK(p1 && p2 && p1 != p2);
    CHECK(((uintptr_t)p1 & 15) == 0 && ((uintptr_t)p2 & 15) == 0);
    for (int i = 0; i < 100; i++)
        CHECK(sl_arena_alloc(&a, 50) != NULL);
    size_t total = a.total;
    sl_arena_reset(&a);
    /* The same fill again must not grow the arena. */
    CHECK(sl_arena_alloc(&a, 10) == p1);
    sl_arena_alloc(&a, 10);
    for (int i = 0; i < 100; i++)
        sl_arena_alloc(&a, 50);
    CHECK_INT_EQ(a.total, total);
    /* Larger than a chunk: its own chunk, within the limit. */
    sl_arena_reset(&a);
    CHECK(sl_arena_alloc(&a, 3000) != NULL);
    /* Past the limit: NULL, not a crash. */
    CHECK(sl_arena_alloc(&a, 100000) == NULL);
    sl_arena_free(&a);

    sl_arena_init(&a, 0, 0); /* defaults, no limit */
    CHECK(sl_arena_alloc(&a, 1 << 20) != NULL);
    CHECK(sl_arena_alloc(&a, 0) != NULL);
    sl_arena_free(&a);
    return CHECK_DONE();
}
