/* f2sim: a source of simulated F2 Smart Controller readings, shaped like
 * the MQTT source's records (value = JSON payload, origin.topic = topic,
 * key = "f2-<mac>"), for demos, tests and benchmarks. */
#include "f2sim_reading.h"

#include <sluice/sluice_util.h>
#include <sluice/sluice.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const sluice_option f2sim_options[] = {
    {"devices", SLUICE_OPT_INT, 0, "10",
     "simulated controllers (the sample SQL covers 1000 of seed 1)", NULL, "1", "65536"},
    {"seed", SLUICE_OPT_INT, 0, "1", "seed of the MACs (02:F2:<seed>:<n>) and of the values",
     NULL, NULL, NULL},
    {"rate", SLUICE_OPT_DOUBLE, 0, "100", "readings per second, all devices together; 0: as "
                                          "fast as possible", NULL, "0", NULL},
    {"count", SLUICE_OPT_INT, 0, "0", "stop after this many readings; 0: never", NULL, "0",
     NULL},
    {"kinds", SLUICE_OPT_LIST, 0, NULL,
     "only these components: sensor strike door-sensors reader exit-buttons motion-sensor "
     "siren",
     NULL, NULL, NULL},
    {"start_time", SLUICE_OPT_STRING, 0, NULL,
     "timestamp of the first reading, \"YYYY-MM-DD HH:MM:SS\" UTC; readings then step by "
     "1/rate (1 ms at rate 0), so runs repeat exactly",
     NULL, NULL, NULL},
    {"bad_ratio", SLUICE_OPT_DOUBLE, 0, "0",
     "fraction of deliberately malformed readings (header f2sim.bad names the fault)", NULL,
     "0", "1"},
    SLUICE_OPTIONS_END};

typedef struct f2sim {
    const sluice_api *api;
    sluice_ctx *ctx;
    f2sim_plan plan;
    double rate;
    uint64_t count;          /* 0: unbounded */
    uint64_t k;              /* readings made */
    int fixed_start;
    int64_t start_us;        /* fixed start */
    int64_t step_us;         /* between fixed timestamps */
    int64_t last_ts_us;      /* wall-clock mode: strictly increasing */
    int64_t t0_ns;           /* pacing origin */
    uint64_t k0;             /* readings made when t0_ns was set */
    sluice_metric *m_readings, *m_bad;
} f2sim;

static void f2sim_destroy(void *inst) { free(inst); }

static sluice_status f2sim_init(const sluice_init_args *a, void **out, char *err)
{
    const sluice_api *api = a->api;
    const sluice_config *cfg = a->cfg;
    f2sim *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, SLUICE_ERRLEN, "out of memory");
        return SLUICE_ERR;
    }
    s->api = api;
    s->ctx = a->ctx;
    int64_t devices = api->opt_int(cfg, "devices");
    int64_t count = api->opt_int(cfg, "count");
    s->rate = api->opt_double(cfg, "rate");
    s->plan.seed = api->opt_int(cfg, "seed");
    s->plan.bad_ratio = api->opt_double(cfg, "bad_ratio");
    /* devices, count, rate and bad_ratio are within the option table's
     * bounds, enforced by the host. */
    s->plan.devices = (uint32_t)devices;
    s->count = (uint64_t)count;

    int want[F2SIM_KIND_COUNT] = {0};
    size_t nk = api->cfg_list_len(cfg, "kinds");
    for (size_t i = 0; i < nk; i++) {
        const char *name = api->cfg_list_at(cfg, "kinds", i);
        int k = name ? f2sim_kind_parse(name) : -1;
        if (k < 0) {
            snprintf(err, SLUICE_ERRLEN,
                     "kinds: unknown kind \"%s\" (sensor, strike, door-sensors, reader, "
                     "exit-buttons, motion-sensor, siren)",
                     name ? name : "");
            goto fail;
        }
        want[k] = 1;
    }
    for (size_t i = 0; i < f2sim_n_components; i++)
        if (nk == 0 || want[f2sim_components[i].kind])
            s->plan.comps[s->plan.n_comps++] = &f2sim_components[i];

    const char *st = api->cfg_string(cfg, "start_time");
    if (st && *st) {
        if (f2sim_parse_ts(st, &s->start_us) != 0) {
            snprintf(err, SLUICE_ERRLEN,
                     "start_time \"%s\" is not \"YYYY-MM-DD HH:MM:SS[.ffffff]\"", st);
            goto fail;
        }
        s->fixed_start = 1;
        /* Distinct microseconds for every reading: unique per stream. */
        s->step_us = s->rate > 0 && s->rate <= 1e6 ? (int64_t)(1e6 / s->rate) : 1000;
        if (s->step_us < 1)
            s->step_us = 1;
    }
    s->m_readings = api->metric(a->ctx, SLUICE_METRIC_COUNTER, "sluice_f2sim_readings_total",
                                "Simulated F2 readings produced", NULL);
    s->m_bad = api->metric(a->ctx, SLUICE_METRIC_COUNTER, "sluice_f2sim_bad_readings_total",
                           "Deliberately malformed readings produced (bad_ratio)", NULL);
    s->t0_ns = api->mono_ns();
    *out = s;
    return SLUICE_OK;
fail:
    free(s);
    return SLUICE_ERR;
}

/* Readings the pacing allows now; waits up to timeout_ms for the first. */
static uint64_t due(f2sim *s, int timeout_ms)
{
    if (s->rate <= 0)
        return UINT64_MAX;
    int64_t now = s->api->mono_ns();
    double made = (double)(s->k - s->k0);
    double allowed = (double)(now - s->t0_ns) / 1e9 * s->rate + 1;
    /* After a stall (backpressure) do not burst more than a second's worth. */
    if (allowed - made > s->rate + 1) {
        s->t0_ns = now;
        s->k0 = s->k;
        made = 0;
        allowed = 1;
    }
    if (allowed - made >= 1)
        return (uint64_t)(allowed - made);
    int64_t next_ns = s->t0_ns + (int64_t)(made / s->rate * 1e9);
    int64_t wait = next_ns - now;
    if (wait > (int64_t)timeout_ms * 1000000LL)
        wait = (int64_t)timeout_ms * 1000000LL;
    if (wait > 0)
        sluice_sleep_ns(wait);
    now = s->api->mono_ns();
    allowed = (double)(now - s->t0_ns) / 1e9 * s->rate + 1;
    return allowed - made >= 1 ? (uint64_t)(allowed - made) : 0;
}

static sluice_status f2sim_poll(void *inst, sluice_batch *out, int timeout_ms, char *err)
{
    f2sim *s = inst;
    const sluice_api *api = s->api;
    if (s->count && s->k >= s->count)
        return SLUICE_EOF;
    uint64_t n = api->batch_room(out);
    uint64_t d = due(s, timeout_ms);
    if (d < n)
        n = d;
    if (s->count && s->count - s->k < n)
        n = s->count - s->k;
    uint64_t made = 0, bad = 0;
    f2sim_reading rd;
    for (; made < n; made++) {
        int64_t ts;
        if (s->fixed_start) {
            ts = s->start_us + (int64_t)s->k * s->step_us;
        } else {
            ts = api->now_us();
            if (ts <= s->last_ts_us)
                ts = s->last_ts_us + 1;
        }
        f2sim_make(&s->plan, s->k, ts, &rd);
        /* Memory first, the record last: a full arena then leaves no
         * half-made record behind (records cannot be taken back). */
        const char *topic = api->strndup(out, rd.topic, rd.topic_len);
        const char *val = topic ? api->strndup(out, rd.payload, rd.payload_len) : NULL;
        const char *key = val ? api->strndup(out, rd.key, strlen(rd.key)) : NULL;
        if (!key) {
            if (made == 0 && api->batch_count(out) == 0) {
                snprintf(err, SLUICE_ERRLEN, "a reading does not fit an empty batch's arena");
                return SLUICE_ERR;
            }
            break; /* the rest go in the next batch */
        }
        sluice_record *r = api->record_new(out);
        if (!r)
            break;
        r->value.ptr = val;
        r->value.len = rd.payload_len;
        r->key.ptr = key;
        r->key.len = strlen(key);
        r->origin.topic = topic;
        r->origin.offset = (int64_t)s->k;
        r->timestamp = ts;
        /* Only a nearly full arena fails this; the reading stays bad anyway. */
        if (rd.bad)
            (void)api->header_add(out, r, "f2sim.bad", rd.bad, strlen(rd.bad));
        s->last_ts_us = ts;
        bad += rd.bad != NULL;
        s->k++;
    }
    api->metric_add(s->m_readings, (double)made);
    if (bad)
        api->metric_add(s->m_bad, (double)bad);
    return SLUICE_OK;
}

static const sluice_source_ops f2sim_source = {
    .struct_size = sizeof(sluice_source_ops),
    .options = f2sim_options,
    .init = f2sim_init,
    .poll = f2sim_poll,
    .destroy = f2sim_destroy,
};

static const sluice_plugin f2sim_plugin = {
    SLUICE_PLUGIN_HEAD,
    .name = "f2sim",
    .version = "1.0.0",
    .description = "Simulated F2 Smart Controllers: sensor, access-control and alarm readings",
    .source = &f2sim_source,
};

SLUICE_PLUGIN(f2sim_plugin)
