/* Batches and the record-building half of the api table.  Everything a
 * record points to is carved from the batch's arena. */
#include "batch.h"
#include "batch_api.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK (256 * 1024)

/* Every allocation of record memory goes through here, so that a refusal
 * is remembered in the batch (see out_of_room in batch.h). */
static void *room_alloc(sluice_batch *b, size_t n)
{
    void *p = sl_arena_alloc(&b->arena, n);
    if (!p)
        b->out_of_room = 1;
    return p;
}

static int room_for_record(sluice_batch *b)
{
    if (b->n < b->cap)
        return 1;
    b->out_of_room = 1;
    return 0;
}

sluice_batch *sl_batch_new(size_t max_records, size_t arena_bytes)
{
    sluice_batch *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->cap = max_records ? max_records : 1;
    b->recs = calloc(b->cap, sizeof(*b->recs));
    if (!b->recs) {
        free(b);
        return NULL;
    }
    size_t chunk = arena_bytes && arena_bytes < ARENA_CHUNK ? arena_bytes : ARENA_CHUNK;
    sl_arena_init(&b->arena, chunk, arena_bytes);
    sl_arena_init(&b->spill, chunk, arena_bytes * 2);
    return b;
}

void sl_batch_reset(sluice_batch *b)
{
    b->n = 0;
    b->n_failed = 0;
    b->created_ns = 0;
    b->out_of_room = 0;
    sl_arena_reset(&b->arena);
    sl_arena_reset(&b->spill);
}

void sl_batch_free(sluice_batch *b)
{
    if (!b)
        return;
    sl_arena_free(&b->arena);
    sl_arena_free(&b->spill);
    free(b->recs);
    free(b);
}

size_t sl_batch_count(const sluice_batch *b) { return b->n; }

sluice_record *sl_batch_at(const sluice_batch *b, size_t i)
{
    return i < b->n ? &b->recs[i] : NULL;
}

size_t sl_batch_room(const sluice_batch *b) { return b->cap - b->n; }

void *sl_alloc(sluice_batch *b, size_t n) { return room_alloc(b, n); }

void *sl_alloc_text(sluice_batch *b, size_t n)
{
    void *p = sl_arena_alloc(&b->arena, n);
    if (!p)
        p = sl_arena_alloc(&b->spill, n);
    if (!p)
        b->out_of_room = 1;
    return p;
}

const char *sl_strndup(sluice_batch *b, const char *s, size_t len)
{
    char *p = room_alloc(b, len + 1);
    if (!p)
        return NULL;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

sluice_record *sl_record_new(sluice_batch *b)
{
    if (!room_for_record(b))
        return NULL;
    sluice_record *r = &b->recs[b->n++];
    memset(r, 0, sizeof(*r));
    r->origin.partition = -1;
    r->origin.offset = -1;
    return r;
}

sluice_record *sl_record_copy(sluice_batch *b, const sluice_record *src)
{
    if (!room_for_record(b))
        return NULL;
    sluice_field *fields = NULL;
    sluice_header *headers = NULL;
    /* Arrays are copied with spare room so a transform can add to them
     * without an immediate regrow. */
    uint32_t fcap = src->n_fields ? src->n_fields + 4 : 0;
    uint32_t hcap = src->n_headers ? src->n_headers + 2 : 0;
    if (fcap) {
        fields = room_alloc(b, fcap * sizeof(*fields));
        if (!fields)
            return NULL;
        memcpy(fields, src->fields, src->n_fields * sizeof(*fields));
    }
    if (hcap) {
        headers = room_alloc(b, hcap * sizeof(*headers));
        if (!headers)
            return NULL;
        memcpy(headers, src->headers, src->n_headers * sizeof(*headers));
    }
    sluice_record *r = &b->recs[b->n++];
    *r = *src;
    r->fields = fields;
    r->cap_fields_ = fcap;
    r->headers = headers;
    r->cap_headers_ = hcap;
    r->failure_ = NULL;
    return r;
}

int sl_set_key(sluice_batch *b, sluice_record *r, const void *p, size_t len)
{
    const char *c = sl_strndup(b, p, len);
    if (!c)
        return -1;
    r->key.ptr = c;
    r->key.len = len;
    return 0;
}

int sl_set_value(sluice_batch *b, sluice_record *r, const void *p, size_t len)
{
    const char *c = sl_strndup(b, p, len);
    if (!c)
        return -1;
    r->value.ptr = c;
    r->value.len = len;
    return 0;
}

/* Grows an arena array geometrically; the old block is abandoned to the
 * arena, which is cheap because the arena is reset wholesale. */
static void *grow(sluice_batch *b, void *old, uint32_t n, uint32_t *cap, size_t elem)
{
    if (n < *cap)
        return old;
    uint32_t ncap = *cap ? *cap * 2 : 8;
    void *p = room_alloc(b, ncap * elem);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, old, n * elem);
    *cap = ncap;
    return p;
}

int sl_header_add(sluice_batch *b, sluice_record *r, const char *key, const void *val,
                  size_t len)
{
    sluice_header *h = grow(b, r->headers, r->n_headers, &r->cap_headers_, sizeof(*h));
    if (!h)
        return -1;
    r->headers = h;
    const char *k = sl_strndup(b, key, strlen(key));
    const char *v = sl_strndup(b, val, len);
    if (!k || !v)
        return -1;
    h[r->n_headers].key = k;
    h[r->n_headers].value.ptr = v;
    h[r->n_headers].value.len = len;
    r->n_headers++;
    return 0;
}

sluice_field *sl_field_add(sluice_batch *b, sluice_record *r, const char *name,
                           sluice_field_type type)
{
    for (uint32_t i = 0; i < r->n_fields; i++) {
        if (strcmp(r->fields[i].name, name) == 0) {
            memset(&r->fields[i].v, 0, sizeof(r->fields[i].v));
            r->fields[i].type = type;
            return &r->fields[i];
        }
    }
    return sl_field_append(b, r, name, type);
}

sluice_field *sl_field_append(sluice_batch *b, sluice_record *r, const char *name,
                              sluice_field_type type)
{
    sluice_field *f = grow(b, r->fields, r->n_fields, &r->cap_fields_, sizeof(*f));
    if (!f)
        return NULL;
    r->fields = f;
    const char *n = sl_strndup(b, name, strlen(name));
    if (!n)
        return NULL;
    sluice_field *nf = &f[r->n_fields++];
    memset(nf, 0, sizeof(*nf));
    nf->name = n;
    nf->type = type;
    return nf;
}

int sl_field_set_string(sluice_batch *b, sluice_field *f, const char *s, size_t len)
{
    const char *c = sl_strndup(b, s, len);
    if (!c)
        return -1;
    f->v.s.ptr = c;
    f->v.s.len = len;
    return 0;
}

int sl_field_remove(sluice_record *r, const char *name)
{
    for (uint32_t i = 0; i < r->n_fields; i++) {
        if (strcmp(r->fields[i].name, name) == 0) {
            memmove(&r->fields[i], &r->fields[i + 1],
                    (r->n_fields - i - 1) * sizeof(r->fields[0]));
            r->n_fields--;
            return 1;
        }
    }
    return 0;
}

void sl_record_fail(sluice_batch *b, size_t i, const char *reason)
{
    if (i >= b->n)
        return;
    sluice_record *r = &b->recs[i];
    if (!r->failure_)
        b->n_failed++;
    const char *why = reason ? reason : "rejected by the sink";
    const char *c = sl_strndup(b, why, strlen(why));
    /* Out of arena memory: keep a static reason rather than lose the mark. */
    r->failure_ = c ? c : "rejected by the sink (reason lost: batch arena exhausted)";
}
