/* The in-memory copy of the device parameters, one entry per controller
 * MAC.  An entry holds everything a reading of that controller can need
 * (its pins with their data points, its device_parameters rows), so a
 * reading costs one hash lookup and no SQL.  Entries are loaded on first
 * use, refreshed when stale (TTL, NOTIFY, reconnect), and kept for unknown
 * MACs too (negative caching). */
#ifndef F2_CACHE_H
#define F2_CACHE_H

#include "f2_encoding.h"

#include <stddef.h>
#include <stdint.h>

typedef struct f2_datapoint {
    char *label;
    char *encoding;          /* DataEncoding as stored, for messages */
    int enc_ok;              /* encoding parsed into `enc` */
    f2_binenc enc;
    int offset, length, decimals;
    char *unit;              /* trimmed Prepend and Append, NULL when both empty */
} f2_datapoint;

typedef struct f2_pin {
    int connector, position;
    char *template_name;
    f2_datapoint *dps;
    size_t n_dps;
} f2_pin;

typedef struct f2_unit {
    char *field;
    char *unit;
} f2_unit;

typedef struct f2_param {
    char *mode, *ctype;
    char *cid;               /* NULL: any ID */
    char *encoding;          /* encoding_type as stored */
    f2_tenc enc;
    double scale;            /* scaling_factor */
    char *unit;              /* `units` when it is one unit for every field */
    f2_unit *units;          /* `units` when it is "field=unit,..." */
    size_t n_units;
} f2_param;

typedef struct f2_device {
    struct f2_device *next;  /* hash chain */
    uint64_t mac;
    int known;               /* 0: negative entry (no such device) */
    uint64_t gen;            /* cache generation it was loaded in */
    int64_t loaded_ns;
    f2_pin *pins;
    size_t n_pins;
    f2_param *params;
    size_t n_params;
} f2_device;

typedef struct f2_cache {
    f2_device **buckets;
    size_t cap;              /* power of two */
    size_t n, n_negative;
    uint64_t gen;            /* bumped to invalidate every entry at once */
} f2_cache;

int f2_cache_init(f2_cache *c);
void f2_cache_free(f2_cache *c);
f2_device *f2_cache_get(const f2_cache *c, uint64_t mac);
/* Inserts d, replacing (and freeing) an entry of the same MAC.  -1 on OOM. */
int f2_cache_put(f2_cache *c, f2_device *d);
/* Every entry becomes stale; each is reloaded on its next use. */
void f2_cache_invalidate_all(f2_cache *c);
void f2_cache_invalidate(f2_cache *c, uint64_t mac);
/* Drops negative entries, so a flood of distinct unknown MACs cannot grow
 * the cache without bound. */
void f2_cache_drop_negative(f2_cache *c);

/* A device is fresh when loaded in the current generation within ttl_ns. */
static inline int f2_device_fresh(const f2_cache *c, const f2_device *d, int64_t now_ns,
                                  int64_t ttl_ns)
{
    return d->gen == c->gen && now_ns - d->loaded_ns < ttl_ns;
}

void f2_device_free(f2_device *d);

const f2_pin *f2_device_pin(const f2_device *d, int connector, int position);

#endif
