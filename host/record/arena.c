#include "arena.h"

#include <stdint.h>
#include <stdlib.h>

struct sl_arena_chunk {
    sl_arena_chunk *next;
    size_t size;             /* usable bytes in data[] */
    size_t used;
    _Alignas(16) unsigned char data[];
};

#define ALIGN16(n) (((n) + 15u) & ~(size_t)15u)

void sl_arena_init(sl_arena *a, size_t chunk_size, size_t limit)
{
    a->head = a->first = NULL;
    a->chunk_size = chunk_size ? chunk_size : 64 * 1024;
    a->limit = limit;
    a->total = 0;
}

/* Frees every chunk nothing is allocated from, to make room under the
 * limit for a request of another size.  Chunks after head are unused by
 * construction, so afterwards head (if unused, its predecessor) is the tail. */
static void drop_unused(sl_arena *a)
{
    sl_arena_chunk **pp = &a->first, *prev = NULL;
    while (*pp) {
        sl_arena_chunk *c = *pp;
        if (c->used == 0) {
            *pp = c->next;
            a->total -= c->size;
            if (c == a->head)
                a->head = prev;
            free(c);
        } else {
            prev = c;
            pp = &c->next;
        }
    }
}

static sl_arena_chunk *chunk_new(sl_arena *a, size_t need)
{
    size_t size = need > a->chunk_size ? need : a->chunk_size;
    if (a->limit && a->total + size > a->limit) {
        drop_unused(a);
        if (a->total + size > a->limit)
            return NULL;
    }
    sl_arena_chunk *c = malloc(sizeof(*c) + size);
    if (!c)
        return NULL;
    c->next = NULL;
    c->size = size;
    c->used = 0;
    a->total += size;
    return c;
}

void *sl_arena_alloc(sl_arena *a, size_t n)
{
    n = ALIGN16(n ? n : 1);
    /* Walk forward through chunks kept from earlier fills before growing:
     * after a reset, head restarts at the first chunk. */
    while (a->head && a->head->size - a->head->used < n) {
        if (!a->head->next)
            break;
        a->head = a->head->next;
    }
    if (!a->head || a->head->size - a->head->used < n) {
        sl_arena_chunk *c = chunk_new(a, n);
        if (!c)
            return NULL;
        if (a->head) {
            /* Insert after head so later, still-unused chunks stay reachable. */
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->first;
            a->first = c;
        }
        a->head = c;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

void sl_arena_reset(sl_arena *a)
{
    for (sl_arena_chunk *c = a->first; c; c = c->next)
        c->used = 0;
    a->head = a->first;
}

void sl_arena_free(sl_arena *a)
{
    sl_arena_chunk *c = a->first;
    while (c) {
        sl_arena_chunk *n = c->next;
        free(c);
        c = n;
    }
    a->head = a->first = NULL;
    a->total = 0;
}
