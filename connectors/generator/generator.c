/* generator: a source of synthetic records for tests, demos and benchmarks.
 * Record `seq` (0, 1, 2, ...) renders the payload and key templates; the
 * optional rate limit is computed per poll from the monotonic clock, so no
 * record costs a syscall. */
#include <sluice/sluice_util.h>
#include <sluice/sluice.h>

#include "template.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const sluice_option options[] = {
    {"count", SLUICE_OPT_INT, 0, "0", "records to emit before the source ends; 0 = unbounded",
     NULL, "0", NULL},
    {"rate", SLUICE_OPT_DOUBLE, 0, "0", "records per second; 0 = as fast as possible", NULL,
     "0", NULL},
    {"payload", SLUICE_OPT_STRING, 0, "{\"seq\":{seq}}",
     "value template; placeholders {seq}, {ts_us}, {rand}", NULL, NULL, NULL},
    {"size", SLUICE_OPT_SIZE, 0, "0",
     "pad (with spaces) or truncate every value to this many bytes; 0 = as rendered (at most "
     "64MiB)", NULL, "0", "64MiB"},
    {"topic", SLUICE_OPT_STRING, 0, "generator", "origin topic of every record", NULL, NULL,
     NULL},
    {"key", SLUICE_OPT_STRING, 0, NULL, "key template (same placeholders); no key if unset",
     NULL, NULL, NULL},
    {"seed", SLUICE_OPT_INT, 0, "0", "seed of {rand}: the same seed gives the same values",
     NULL, NULL, NULL},
    SLUICE_OPTIONS_END,
};

/* Largest value we agree to build; a typo like "size: 10GiB" must not
 * allocate gigabytes per record. */
#define GEN_MAX_VALUE (64u * 1024 * 1024)

typedef struct gen {
    const sluice_api *api;
    sluice_ctx *ctx;
    uint64_t count;          /* 0 = unbounded */
    double interval_ns;      /* 0 = no rate limit */
    size_t size;
    int direct;              /* size fixed and never exceeded: render into the arena */
    char *topic;
    gen_tpl payload, key;
    int has_key;
    uint64_t seed;
    char *scratch;           /* one rendered value or key */
    uint64_t seq;            /* next record */
    /* Rate limit: record `seq` is due at start_ns + due_ns. */
    int64_t start_ns;
    double due_ns;
} gen;

static void gen_destroy(void *p)
{
    gen *g = p;
    if (!g)
        return;
    gen_tpl_free(&g->payload);
    gen_tpl_free(&g->key);
    free(g->scratch);
    free(g->topic);
    free(g);
}

static sluice_status gen_init(const sluice_init_args *a, void **out, char *err)
{
    const sluice_api *api = a->api;
    gen *g = calloc(1, sizeof(*g));
    if (!g) {
        snprintf(err, SLUICE_ERRLEN, "out of memory");
        return SLUICE_ERR;
    }
    g->api = api;
    g->ctx = a->ctx;
    int64_t count = api->opt_int(a->cfg, "count");
    double rate = api->opt_double(a->cfg, "rate");
    int64_t size = api->opt_int(a->cfg, "size");
    /* count >= 0, rate >= 0 and size 0..64MiB (GEN_MAX_VALUE): the option
     * table's bounds, enforced by the host. */
    g->count = (uint64_t)count;
    g->interval_ns = rate > 0 ? 1e9 / rate : 0;
    g->size = (size_t)size;
    g->seed = (uint64_t)api->opt_int(a->cfg, "seed");
    const char *topic = api->cfg_string(a->cfg, "topic");
    g->topic = strdup(topic ? topic : "generator");
    const char *payload = api->cfg_string(a->cfg, "payload");
    if (gen_tpl_compile(&g->payload, payload ? payload : "{\"seq\":{seq}}", "payload", err) != 0)
        goto fail;
    const char *key = api->cfg_string(a->cfg, "key");
    if (key) {
        if (gen_tpl_compile(&g->key, key, "key", err) != 0)
            goto fail;
        g->has_key = 1;
    }
    if (g->payload.max_len > GEN_MAX_VALUE || g->key.max_len > GEN_MAX_VALUE) {
        snprintf(err, SLUICE_ERRLEN, "payload or key template longer than %u bytes",
                 GEN_MAX_VALUE);
        goto fail;
    }
    g->direct = g->size && g->payload.max_len <= g->size;
    size_t scratch = g->payload.max_len > g->size ? g->payload.max_len : g->size;
    if (g->key.max_len > scratch)
        scratch = g->key.max_len;
    g->scratch = malloc(scratch + 1);
    if (!g->topic || !g->scratch) {
        snprintf(err, SLUICE_ERRLEN, "out of memory");
        goto fail;
    }
    *out = g;
    return SLUICE_OK;
fail:
    gen_destroy(g);
    return SLUICE_ERR;
}

/* splitmix64's finaliser over (seed, seq): {rand} depends only on those two,
 * so it is reproducible whatever the batching or restarts. */
static uint32_t rand_of(uint64_t seed, uint64_t seq)
{
    uint64_t z = seed + (seq + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}

/* How many records the rate limit allows now, waiting (at most timeout_ms)
 * for the next one to fall due if none does yet. */
static uint64_t rate_allowance(gen *g, int timeout_ms)
{
    int64_t now = g->api->mono_ns();
    if (!g->start_ns) {
        g->start_ns = now;
        g->due_ns = 0;
    }
    double elapsed = (double)(now - g->start_ns);
    /* After a stall (backpressure, a slow sink) catch up by at most one
     * second's worth, not by a burst of everything missed. */
    if (elapsed - g->due_ns > 1e9) {
        g->due_ns = elapsed - 1e9;
        if (g->due_ns < 0)
            g->due_ns = 0;
    }
    if (elapsed < g->due_ns) {
        double wait = g->due_ns - elapsed;
        if (wait > (double)timeout_ms * 1e6)
            wait = (double)timeout_ms * 1e6;
        if (wait <= 0)
            return 0;
        sluice_sleep_ns((int64_t)wait);
        elapsed = (double)(g->api->mono_ns() - g->start_ns);
        if (elapsed < g->due_ns)
            return 0;
    }
    return (uint64_t)((elapsed - g->due_ns) / g->interval_ns) + 1;
}

static sluice_status gen_poll(void *p, sluice_batch *out, int timeout_ms, char *err)
{
    gen *g = p;
    const sluice_api *api = g->api;
    if (g->count && g->seq >= g->count)
        return SLUICE_EOF;
    uint64_t n = api->batch_room(out);
    if (g->count && n > g->count - g->seq)
        n = g->count - g->seq;
    if (g->interval_ns > 0 && n) {
        uint64_t allow = rate_allowance(g, timeout_ms);
        if (n > allow)
            n = allow;
    }
    if (!n)
        return SLUICE_OK;
    /* One clock read and one topic copy per poll, not per record. */
    int64_t ts = api->now_us();
    const char *topic = api->strndup(out, g->topic, strlen(g->topic));
    uint64_t done = 0;
    if (!topic)
        n = 0;
    for (; done < n; done++) {
        uint64_t seq = g->seq;
        uint32_t rnd = g->payload.uses_rand || g->key.uses_rand ? rand_of(g->seed, seq) : 0;
        /* Arena memory first, record second: a record once appended cannot
         * be taken back, so it must never be left half-built. */
        char *v;
        size_t len;
        if (g->direct) {
            /* The length is known before rendering: render in place. */
            if (!(v = api->alloc(out, g->size + 1)))
                break;
            len = gen_tpl_render(&g->payload, v, seq, ts, rnd);
            memset(v + len, ' ', g->size - len);
            len = g->size;
        } else {
            len = gen_tpl_render(&g->payload, g->scratch, seq, ts, rnd);
            if (g->size) {
                if (len < g->size)
                    memset(g->scratch + len, ' ', g->size - len);
                len = g->size;
            }
            if (!(v = api->alloc(out, len + 1)))
                break;
            memcpy(v, g->scratch, len);
        }
        v[len] = '\0';
        char *k = NULL;
        size_t klen = 0;
        if (g->has_key) {
            klen = gen_tpl_render(&g->key, g->scratch, seq, ts, rnd);
            k = api->alloc(out, klen + 1);
            if (!k)
                break;
            memcpy(k, g->scratch, klen);
            k[klen] = '\0';
        }
        sluice_record *r = api->record_new(out);
        if (!r)
            break;
        r->value.ptr = v;
        r->value.len = len;
        if (k) {
            r->key.ptr = k;
            r->key.len = klen;
        }
        r->timestamp = ts;
        r->origin.topic = topic;
        r->origin.offset = (int64_t)seq;
        g->seq++;
    }
    if (g->interval_ns > 0)
        g->due_ns += (double)done * g->interval_ns;
    if (done == 0 && api->batch_count(out) == 0)
        goto full;
    if (g->count && g->seq >= g->count)
        return SLUICE_EOF;
    return SLUICE_OK;
full:
    snprintf(err, SLUICE_ERRLEN,
             "record %llu (value of %zu bytes) does not fit in an empty batch; raise "
             "batch.max_bytes", (unsigned long long)g->seq,
             g->size ? g->size : g->payload.max_len);
    return SLUICE_ERR;
}

static const sluice_source_ops source_ops = {
    .struct_size = sizeof(sluice_source_ops),
    .options = options,
    .init = gen_init,
    .poll = gen_poll,
    .destroy = gen_destroy,
};

static const sluice_plugin generator_plugin = {
    SLUICE_PLUGIN_HEAD,
    .name = "generator",
    .version = "1.0.0",
    .description = "synthetic records from a template, bounded or endless, optionally rate-limited",
    .source = &source_ops,
};

SLUICE_PLUGIN(generator_plugin)
