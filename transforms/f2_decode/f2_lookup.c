/* Cache policy: fresh entries are served without SQL; stale ones are
 * refreshed when the database answers and served as they are when it does
 * not; uncached ones need the database, or the reading is retried later. */
#include "f2_decode.h"

#include <stdio.h>
#include <string.h>

static void on_notify(void *arg, const char *payload)
{
    f2_inst *fi = arg;
    static const char prefix[] = "device_parameters:";
    const char *id = NULL;
    if (payload && strncmp(payload, prefix, sizeof prefix - 1) == 0)
        id = payload + sizeof prefix - 1;
    if (id) {
        /* 'f2-<mac>' or a bare MAC; anything else might be any device. */
        if (strncmp(id, "f2-", 3) == 0)
            id += 3;
        uint64_t mac = 0;
        size_t i = 0;
        for (; id[i] && i < 12; i++) {
            char c = id[i];
            int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (v < 0)
                break;
            mac = mac << 4 | (uint64_t)v;
        }
        if (i == 12 && id[i] == '\0') {
            f2_cache_invalidate(&fi->cache, mac);
            fi->api->log(fi->ctx, SLUICE_LOG_DEBUG, "device_params changed for f2-%s", id);
            return;
        }
    }
    f2_cache_invalidate_all(&fi->cache);
    fi->api->log(fi->ctx, SLUICE_LOG_DEBUG, "device_params changed (%s): cache invalidated",
                 payload ? payload : "?");
}

static void on_reconnected(void *arg)
{
    f2_inst *fi = arg;
    /* Changes made while we were away sent notifications we never got. */
    f2_cache_invalidate_all(&fi->cache);
}

void f2_events_init(f2_inst *fi)
{
    fi->ev.notify = on_notify;
    fi->ev.reconnected = on_reconnected;
    fi->ev.arg = fi;
}

void f2_maybe_tick(f2_inst *fi, int64_t now_ns)
{
    if (now_ns - fi->last_tick_ns < F2_TICK_NS)
        return;
    fi->last_tick_ns = now_ns;
    f2_db_tick(&fi->db, &fi->ev);
}

static sluice_status lookup(f2_inst *fi, const f2_topic *t, int64_t now, int negative_stale,
                            const f2_device **out, char *err, size_t errlen)
{
    const sluice_api *api = fi->api;
    f2_device *d = f2_cache_get(&fi->cache, t->mac);
    if (d && f2_device_fresh(&fi->cache, d, now, fi->ttl_ns) && (d->known || !negative_stale)) {
        api->metric_add(fi->m.hits, 1);
        *out = d;
        return SLUICE_OK;
    }
    /* A stale entry does not wait for a reconnection: it is good enough. */
    char why[SLUICE_ERRLEN];
    f2_device *nd = NULL;
    if (f2_db_ready(&fi->db, d ? 0 : F2_MISS_WAIT_MS, &fi->ev, why, sizeof why) == 0 &&
        f2_db_load(&fi->db, t->mac, t->mac_hex, &nd, why, sizeof why) == 0) {
        nd->gen = fi->cache.gen;
        nd->loaded_ns = now;
        api->metric_add(d ? fi->m.reloads : fi->m.misses, 1);
        if (!nd->known && fi->cache.n_negative >= F2_MAX_NEGATIVE)
            f2_cache_drop_negative(&fi->cache);
        if (f2_cache_put(&fi->cache, nd) != 0) {
            f2_device_free(nd);
            snprintf(err, errlen, "out of memory caching device f2-%s", t->mac_hex);
            return SLUICE_RETRY;
        }
        *out = nd;
        return SLUICE_OK;
    }
    api->metric_add(fi->m.failed, 1);
    if (d) {
        /* Keep decoding with what we have; refresh once the DB is back. */
        api->metric_add(fi->m.hits, 1);
        *out = d;
        return SLUICE_OK;
    }
    api->metric_add(fi->m.misses, 1);
    snprintf(err, errlen, "cannot look up f2-%s: %s", t->mac_hex, why);
    return SLUICE_RETRY;
}

sluice_status f2_lookup(f2_inst *fi, const f2_topic *t, int64_t now, const f2_device **out,
                        char *err, size_t errlen)
{
    return lookup(fi, t, now, 0, out, err, errlen);
}

sluice_status f2_lookup_fresh(f2_inst *fi, const f2_topic *t, int64_t now,
                              const f2_device **out, char *err, size_t errlen)
{
    return lookup(fi, t, now, 1, out, err, errlen);
}
