/* A bump allocator made of chunks that are kept across resets, so a batch
 * that is refilled with similar records stops calling malloc after warm-up. */
#ifndef SL_ARENA_H
#define SL_ARENA_H

#include <stddef.h>

typedef struct sl_arena_chunk sl_arena_chunk;

typedef struct sl_arena {
    sl_arena_chunk *head;    /* chunk being filled */
    sl_arena_chunk *first;   /* list of every chunk, in order */
    size_t chunk_size;       /* size of ordinary chunks */
    size_t limit;            /* total bytes the arena may hold; 0 = none */
    size_t total;            /* bytes held in chunks */
} sl_arena;

void sl_arena_init(sl_arena *a, size_t chunk_size, size_t limit);
/* Returns 16-byte aligned memory, or NULL if the limit would be exceeded. */
void *sl_arena_alloc(sl_arena *a, size_t n);
/* Forgets every allocation but keeps the chunks for reuse. */
void sl_arena_reset(sl_arena *a);
void sl_arena_free(sl_arena *a);

#endif
