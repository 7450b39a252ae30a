#include "f2_cache.h"

#include <stdlib.h>

int f2_cache_init(f2_cache *c)
{
    c->cap = 64;
    c->buckets = calloc(c->cap, sizeof(*c->buckets));
    c->n = c->n_negative = 0;
    c->gen = 1;
    return c->buckets ? 0 : -1;
}

void f2_device_free(f2_device *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_pins; i++) {
        f2_pin *p = &d->pins[i];
        for (size_t k = 0; k < p->n_dps; k++) {
            free(p->dps[k].label);
            free(p->dps[k].encoding);
            free(p->dps[k].unit);
        }
        free(p->dps);
        free(p->template_name);
    }
    free(d->pins);
    for (size_t i = 0; i < d->n_params; i++) {
        f2_param *p = &d->params[i];
        free(p->mode);
        free(p->ctype);
        free(p->cid);
        free(p->encoding);
        free(p->unit);
        for (size_t k = 0; k < p->n_units; k++) {
            free(p->units[k].field);
            free(p->units[k].unit);
        }
        free(p->units);
    }
    free(d->params);
    free(d);
}

void f2_cache_free(f2_cache *c)
{
    for (size_t i = 0; i < c->cap; i++) {
        f2_device *d = c->buckets[i];
        while (d) {
            f2_device *nx = d->next;
            f2_device_free(d);
            d = nx;
        }
    }
    free(c->buckets);
    c->buckets = NULL;
    c->cap = c->n = c->n_negative = 0;
}

/* MACs of one vendor share their high bytes: mix before masking. */
static size_t slot(uint64_t mac, size_t cap)
{
    uint64_t h = mac * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (cap - 1);
}

f2_device *f2_cache_get(const f2_cache *c, uint64_t mac)
{
    for (f2_device *d = c->buckets[slot(mac, c->cap)]; d; d = d->next)
        if (d->mac == mac)
            return d;
    return NULL;
}

static int grow(f2_cache *c)
{
    size_t ncap = c->cap * 2;
    f2_device **nb = calloc(ncap, sizeof(*nb));
    if (!nb)
        return -1;
    for (size_t i = 0; i < c->cap; i++) {
        f2_device *d = c->buckets[i];
        while (d) {
            f2_device *nx = d->next;
            size_t s = slot(d->mac, ncap);
            d->next = nb[s];
            nb[s] = d;
            d = nx;
        }
    }
    free(c->buckets);
    c->buckets = nb;
    c->cap = ncap;
    return 0;
}

int f2_cache_put(f2_cache *c, f2_device *d)
{
    f2_device **pp = &c->buckets[slot(d->mac, c->cap)];
    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->mac == d->mac) {
            f2_device *old = *pp;
            d->next = old->next;
            *pp = d;
            if (!old->known)
                c->n_negative--;
            if (!d->known)
                c->n_negative++;
            f2_device_free(old);
            return 0;
        }
    }
    if (c->n + 1 > c->cap && grow(c) != 0)
        return -1;
    size_t s = slot(d->mac, c->cap);
    d->next = c->buckets[s];
    c->buckets[s] = d;
    c->n++;
    c->n_negative += !d->known;
    return 0;
}

void f2_cache_invalidate_all(f2_cache *c) { c->gen++; }

void f2_cache_invalidate(f2_cache *c, uint64_t mac)
{
    f2_device *d = f2_cache_get(c, mac);
    if (d)
        d->gen = 0;
}

void f2_cache_drop_negative(f2_cache *c)
{
    for (size_t i = 0; i < c->cap; i++) {
        f2_device **pp = &c->buckets[i];
        while (*pp) {
            f2_device *d = *pp;
            if (!d->known) {
                *pp = d->next;
                f2_device_free(d);
                c->n--;
                c->n_negative--;
            } else {
                pp = &d->next;
            }
        }
    }
}

const f2_pin *f2_device_pin(const f2_device *d, int connector, int position)
{
    for (size_t i = 0; i < d->n_pins; i++)
        if (d->pins[i].connector == connector && d->pins[i].position == position)
            return &d->pins[i];
    return NULL;
}
