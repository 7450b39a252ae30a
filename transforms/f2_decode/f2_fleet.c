/* The fleet table (f2_fleet.h).  Linear probing with a load factor of at
 * most 0.8 keeps a lookup at about three probes while a 100,000-device
 * fleet fits 131,072 slots (4 MiB, ~42 bytes per device). */
#include "f2_fleet.h"

#include <stdlib.h>
#include <string.h>

#define INITIAL_SLOTS 1024u
#define TPL_EMPTY 0xFFFFu
#define TPL_MAX 0xFFFEu

_Static_assert(sizeof(f2_fleet_entry) == 32, "fleet entries are 32 bytes");

static inline size_t slot_of(uint64_t key, size_t cap)
{
    /* Fibonacci hashing: MACs of one vendor differ only in the low bits. */
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
}

/* Eight bytes a step: this runs for every reading, on ~40-byte topics. */
static uint32_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    memcpy(&w, p + i, n - i);
    h = (h ^ w ^ n) * 0x100000001b3ull;
    h ^= h >> 32;
    return (uint32_t)h;
}

int f2_fleet_init(f2_fleet *f)
{
    memset(f, 0, sizeof *f);
    if (pthread_mutex_init(&f->mu, NULL) != 0)
        return -1;
    f->slots = calloc(INITIAL_SLOTS, sizeof *f->slots);
    if (!f->slots) {
        pthread_mutex_destroy(&f->mu);
        return -1;
    }
    f->cap = INITIAL_SLOTS;
    f->gen = 1;
    return 0;
}

void f2_fleet_free(f2_fleet *f)
{
    if (!f->slots)
        return;
    for (size_t i = 0; i < f->n_tpl; i++)
        free(f->tpl[i].s);
    free(f->tpl);
    free(f->tpl_index);
    free(f->slots);
    pthread_mutex_destroy(&f->mu);
    memset(f, 0, sizeof *f);
}

static f2_fleet_entry *find(f2_fleet_entry *slots, size_t cap, uint64_t key)
{
    size_t i = slot_of(key, cap);
    for (;;) {
        if (slots[i].key == key || slots[i].key == 0)
            return &slots[i];
        i = (i + 1) & (cap - 1);
    }
}

static int grow(f2_fleet *f)
{
    size_t nc = f->cap * 2;
    f2_fleet_entry *ns = calloc(nc, sizeof *ns);
    if (!ns)
        return -1;
    for (size_t i = 0; i < f->cap; i++)
        if (f->slots[i].key)
            *find(ns, nc, f->slots[i].key) = f->slots[i];
    free(f->slots);
    f->slots = ns;
    f->cap = nc;
    return 0;
}

/* The template index of a topic, interning it on first sight. */
static uint16_t intern(f2_fleet *f, const char *topic, size_t len, size_t mac_off)
{
    if (len > F2_FLEET_TOPIC_MAX || mac_off + 12 > len)
        return F2_FLEET_NO_TOPIC;
    char t[F2_FLEET_TOPIC_MAX];
    size_t tl = len - 12;
    memcpy(t, topic, mac_off);
    memcpy(t + mac_off, topic + mac_off + 12, len - mac_off - 12);
    uint32_t h = fnv1a(t, tl) ^ (uint32_t)mac_off;
    if (f->tpl_index_cap) {
        for (size_t i = h & (f->tpl_index_cap - 1);; i = (i + 1) & (f->tpl_index_cap - 1)) {
            uint16_t k = f->tpl_index[i];
            if (k == TPL_EMPTY)
                break;
            const f2_fleet_tpl *p = &f->tpl[k];
            if (p->len == tl && p->mac_off == mac_off && memcmp(p->s, t, tl) == 0)
                return k;
        }
    }
    if (f->n_tpl >= TPL_MAX)
        return F2_FLEET_NO_TOPIC;
    /* New shape: keep the index at most half full. */
    if ((f->n_tpl + 1) * 2 > f->tpl_index_cap) {
        size_t nc = f->tpl_index_cap ? f->tpl_index_cap * 2 : 64;
        uint16_t *ni = malloc(nc * sizeof *ni);
        if (!ni)
            return F2_FLEET_NO_TOPIC;
        memset(ni, 0xFF, nc * sizeof *ni);
        for (size_t k = 0; k < f->n_tpl; k++) {
            const f2_fleet_tpl *p = &f->tpl[k];
            size_t i = (fnv1a(p->s, p->len) ^ p->mac_off) & (nc - 1);
            while (ni[i] != TPL_EMPTY)
                i = (i + 1) & (nc - 1);
            ni[i] = (uint16_t)k;
        }
        free(f->tpl_index);
        f->tpl_index = ni;
        f->tpl_index_cap = nc;
    }
    if (f->n_tpl == f->cap_tpl) {
        size_t nc = f->cap_tpl ? f->cap_tpl * 2 : 32;
        f2_fleet_tpl *nt = realloc(f->tpl, nc * sizeof *nt);
        if (!nt)
            return F2_FLEET_NO_TOPIC;
        f->tpl = nt;
        f->cap_tpl = nc;
    }
    char *s = malloc(tl + 1);
    if (!s)
        return F2_FLEET_NO_TOPIC;
    memcpy(s, t, tl);
    s[tl] = '\0';
    uint16_t k = (uint16_t)f->n_tpl++;
    f->tpl[k] = (f2_fleet_tpl){s, (uint16_t)tl, (uint16_t)mac_off};
    f->tpl_bytes += tl + 1;
    size_t i = h & (f->tpl_index_cap - 1);
    while (f->tpl_index[i] != TPL_EMPTY)
        i = (i + 1) & (f->tpl_index_cap - 1);
    f->tpl_index[i] = k;
    return k;
}

int f2_fleet_see(f2_fleet *f, uint64_t mac, int64_t now_us, const char *topic, size_t len,
                 size_t mac_off)
{
    uint64_t key = mac + 1;
    int added = 0;
    pthread_mutex_lock(&f->mu);
    f2_fleet_entry *e = find(f->slots, f->cap, key);
    if (!e->key) {
        /* At most 0.8 full; a failed doubling leaves the device untracked
         * rather than the table overfull. */
        if ((f->n + 1) * 5 > f->cap * 4) {
            if (grow(f) != 0) {
                f->full = 1;
                pthread_mutex_unlock(&f->mu);
                return -1;
            }
            e = find(f->slots, f->cap, key);
        }
        memset(e, 0, sizeof *e);
        e->key = key;
        e->topic = F2_FLEET_NO_TOPIC;
        f->n++;
        added = 1;
    }
    if (now_us > e->last_seen_us)
        e->last_seen_us = now_us;
    e->readings++;
    e->gen = f->gen;
    if (topic) {
        e->topic = intern(f, topic, len, mac_off);
        uint8_t upper = 0;
        for (size_t i = mac_off; i < mac_off + 12 && i < len; i++) {
            if (topic[i] >= 'A' && topic[i] <= 'F') {
                upper = F2_FLEET_UPPER;
                break;
            }
            if (topic[i] >= 'a' && topic[i] <= 'f')
                break;
        }
        e->flags = (uint8_t)((e->flags & ~F2_FLEET_UPPER) | upper);
    }
    pthread_mutex_unlock(&f->mu);
    return added;
}

size_t f2_fleet_bytes(f2_fleet *f)
{
    pthread_mutex_lock(&f->mu);
    size_t b = f->cap * sizeof *f->slots + f->cap_tpl * sizeof *f->tpl + f->tpl_bytes +
               f->tpl_index_cap * sizeof *f->tpl_index;
    pthread_mutex_unlock(&f->mu);
    return b;
}

size_t f2_fleet_devices(f2_fleet *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->n;
    pthread_mutex_unlock(&f->mu);
    return n;
}

void f2_fleet_scan(f2_fleet *f, int64_t now_us, int64_t silent_after_us, f2_fleet_counts *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->cap; i++) {
        f2_fleet_entry *e = &f->slots[i];
        if (!e->key)
            continue;
        int silent = now_us - e->last_seen_us >= silent_after_us;
        int was = (e->flags & F2_FLEET_SILENT) != 0;
        if (silent) {
            c->silent++;
            if (!was) {
                c->went_silent++;
                if (c->n_example < 3)
                    c->example[c->n_example++] = e->key - 1;
                e->flags |= F2_FLEET_SILENT;
            }
        } else {
            c->active++;
            if (was) {
                c->came_back++;
                e->flags &= (uint8_t)~F2_FLEET_SILENT;
            }
        }
    }
    c->full = f->full;
    pthread_mutex_unlock(&f->mu);
}

static int reserve(f2_fleet_row **rows, size_t *cap, size_t n)
{
    if (n <= *cap)
        return 0;
    f2_fleet_row *nr = realloc(*rows, n * sizeof *nr);
    if (!nr)
        return -1;
    *rows = nr;
    *cap = n;
    return 0;
}

static void to_row(const f2_fleet_entry *e, f2_fleet_row *r)
{
    r->mac = e->key - 1;
    r->last_seen_us = e->last_seen_us;
    r->readings = e->readings;
    r->delta = e->readings - e->flushed;
    r->topic = e->topic;
    r->flags = e->flags;
}

size_t f2_fleet_changed(f2_fleet *f, f2_fleet_row **rows, size_t *cap, uint32_t *gen)
{
    pthread_mutex_lock(&f->mu);
    if (reserve(rows, cap, f->n ? f->n : 1) != 0) {
        pthread_mutex_unlock(&f->mu);
        return (size_t)-1;
    }
    size_t n = 0;
    for (size_t i = 0; i < f->cap; i++) {
        const f2_fleet_entry *e = &f->slots[i];
        if (e->key && e->gen > f->flushed_gen)
            to_row(e, &(*rows)[n++]);
    }
    *gen = f->gen++;
    pthread_mutex_unlock(&f->mu);
    return n;
}

void f2_fleet_flushed(f2_fleet *f, const f2_fleet_row *rows, size_t n, uint32_t gen)
{
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < n; i++) {
        f2_fleet_entry *e = find(f->slots, f->cap, rows[i].mac + 1);
        /* Readings that arrived during the write stay counted as unflushed. */
        if (e->key && (int32_t)(rows[i].readings - e->flushed) > 0)
            e->flushed = rows[i].readings;
    }
    if (gen > f->flushed_gen)
        f->flushed_gen = gen;
    pthread_mutex_unlock(&f->mu);
}

size_t f2_fleet_all(f2_fleet *f, f2_fleet_row **rows, size_t *cap)
{
    pthread_mutex_lock(&f->mu);
    if (reserve(rows, cap, f->n ? f->n : 1) != 0) {
        pthread_mutex_unlock(&f->mu);
        return (size_t)-1;
    }
    size_t n = 0;
    for (size_t i = 0; i < f->cap; i++)
        if (f->slots[i].key)
            to_row(&f->slots[i], &(*rows)[n++]);
    pthread_mutex_unlock(&f->mu);
    return n;
}

size_t f2_fleet_topic(f2_fleet *f, const f2_fleet_row *r, char *buf, size_t cap)
{
    buf[0] = '\0';
    pthread_mutex_lock(&f->mu);
    if (r->topic == F2_FLEET_NO_TOPIC || r->topic >= f->n_tpl) {
        pthread_mutex_unlock(&f->mu);
        return 0;
    }
    const f2_fleet_tpl *t = &f->tpl[r->topic];
    size_t n = (size_t)t->len + 12;
    if (n + 1 > cap) {
        pthread_mutex_unlock(&f->mu);
        return 0;
    }
    static const char lo[] = "0123456789abcdef", up[] = "0123456789ABCDEF";
    const char *dig = (r->flags & F2_FLEET_UPPER) ? up : lo;
    memcpy(buf, t->s, t->mac_off);
    for (int i = 0; i < 12; i++)
        buf[t->mac_off + i] = dig[(r->mac >> (44 - 4 * i)) & 0xF];
    memcpy(buf + t->mac_off + 12, t->s + t->mac_off, (size_t)t->len - t->mac_off);
    buf[n] = '\0';
    pthread_mutex_unlock(&f->mu);
    return n;
}
