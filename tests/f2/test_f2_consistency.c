/* The key consistency test: every reading f2sim makes (1000 controllers of
 * seed 1, every component, twice over) decodes against
 * sql/device_params_sample.sql, into the expected number of measurements
 * with plausible values; and every malformed reading fails with the reason
 * for its fault. */
#include "check.h"
#include "f2t.h"

#include <stdio.h>
#include <string.h>

static char err[SLUICE_ERRLEN];

static const struct {
    const char *dp;
    double lo, hi;
} ranges[] = {
    {"Temperature", -20, 35},      {"Humidity", 30, 70},       {"CO2", 400, 1500},
    {"Voltage", 220, 240},         {"Current", -10, 10},       {"Energy", 0, 1e8},
    {"PowerFactor", 0.8, 1.0},     {"Pressure", 950, 1050},    {"WindSpeed", 0, 25.5},
    {"Tilt", -90, 90},             {"Battery", 0, 100},        {"Depth", -100, 0},
    {"Uptime", 0, 4e9},            {"Position", -1e12, 1e12},  {"Pulses", 0, 9007199254740991.0},
    {"Conductivity", 100, 2000},   {"pH", 4, 10},              {"Drift", -500, 500},
    {"data", 0, 4e8},              {"state", 0, 1},            {"voltage", 11.5, 12.5},
    {"current", 0.1, 2.0},         {"door_1", 0, 1},           {"door_2", 0, 1},
    {"tamper", 0, 1},              {"signal_strength", 40, 100}, {"button_pressed", 0, 1},
    {"button_id", 1, 4},           {"motion_detected", 0, 1},  {"sensitivity", 1, 10},
    {"volume", 60, 100},
};
/* Text-only measurements. */
static const char *const texts[] = {"card_id", "read_type", "zone", "pattern"};

/* Measurements per component, from the sample data. */
static size_t expected(const char *topic)
{
    static const struct {
        const char *suffix;
        size_t n;
    } per[] = {{"/J1/sensor-1", 3},   {"/J1/sensor-2", 4},        {"/J1/sensor-3", 3},
               {"/J1/sensor-4", 9},   {"/2/strike-1", 3},          {"/2/strike-2", 1},
               {"/2/door-sensors", 3}, {"/2/reader-1", 3},         {"/2/exit-buttons", 2},
               {"/3/motion-sensor-1", 3}, {"/3/motion-sensor-2", 3}, {"/3/siren-1", 3},
               {"/J4/sensor-1", 3},   {"/J4/sensor-3", 1}};
    size_t tl = strlen(topic);
    for (size_t i = 0; i < sizeof per / sizeof *per; i++) {
        size_t sl = strlen(per[i].suffix);
        if (tl > sl && strcmp(topic + tl - sl, per[i].suffix) == 0)
            return per[i].n;
    }
    return 0;
}

static int plausible(const sluice_record *r)
{
    const char *dp = f2t_str(r, "datapoint");
    double v;
    int has = f2t_value(r, &v);
    for (size_t i = 0; i < sizeof ranges / sizeof *ranges; i++)
        if (strcmp(dp, ranges[i].dp) == 0)
            return has == 1 && v >= ranges[i].lo && v <= ranges[i].hi;
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
        if (strcmp(dp, texts[i]) == 0)
            return has == 0 && f2t_str(r, "value_text") != NULL;
    return 0;
}

static const char *header(const sluice_record *r, const char *key)
{
    for (uint32_t i = 0; i < r->n_headers; i++)
        if (strcmp(r->headers[i].key, key) == 0)
            return r->headers[i].value.ptr;
    return NULL;
}

static void run(f2t *t, const char *const *sim_opts, size_t total, int with_bad)
{
    f2t_inst sim, dec;
    CHECK_INT_EQ(f2t_sim(t, &sim, sim_opts), 0);
    CHECK_INT_EQ(f2t_decoder(t, &dec, NULL, NULL), 0);
    if (!sim.inst || !dec.inst) {
        f2t_inst_free(&sim);
        f2t_inst_free(&dec);
        return;
    }
    sluice_batch *in = sl_batch_new(1000, 8 << 20), *out = sl_batch_new(64, 1 << 20);
    size_t readings = 0, ok = 0, failed = 0, measurements = 0, wrong_count = 0, implausible = 0,
           wrong_reason = 0, bad_seen = 0, dup = 0;
    int64_t last_ts = 0;
    sluice_status st;
    while ((st = f2t_poll(&sim, in, 100, err)) == SLUICE_OK && in->n) {
        for (size_t i = 0; i < in->n; i++) {
            const sluice_record *r = &in->recs[i];
            const char *bad = header(r, "f2sim.bad");
            readings++;
            CHECK(r->timestamp > last_ts);
            last_ts = r->timestamp;
            sluice_status ds = f2t_decode_rec(&dec, r, out, err);
            if (bad) {
                static const char *const why[][2] = {
                    {"not_json", "payload is not JSON"},
                    {"bad_hex", "\"data\" is not hex"},
                    {"short_data", "needs bytes 4..6, data has 5 bytes"},
                    {"unknown_mac", "unknown device f2-0bad"},
                    {"no_timestamp", "payload has no \"timestamp\""},
                    {"bad_topic", "unknown topic shape"},
                    {"bad_utf8", "payload is not valid UTF-8"}};
                bad_seen++;
                int matched = 0;
                for (size_t k = 0; k < sizeof why / sizeof *why; k++)
                    if (strcmp(bad, why[k][0]) == 0)
                        matched = ds == SLUICE_ERR && strstr(err, why[k][1]) != NULL;
                if (!matched && wrong_reason++ < 5)
                    fprintf(stderr, "%s reading: status %d, \"%s\"\n", bad, ds, err);
                continue;
            }
            if (ds != SLUICE_OK) {
                if (failed++ < 5)
                    fprintf(stderr, "%s %.*s: %s\n", r->origin.topic, (int)r->value.len,
                            r->value.ptr, err);
                continue;
            }
            ok++;
            measurements += out->n;
            if (out->n != expected(r->origin.topic) && wrong_count++ < 5)
                fprintf(stderr, "%s: %zu measurements, expected %zu\n", r->origin.topic,
                        out->n, expected(r->origin.topic));
            for (size_t m = 0; m < out->n; m++) {
                if (!plausible(&out->recs[m]) && implausible++ < 5) {
                    double v = 0;
                    f2t_value(&out->recs[m], &v);
                    fprintf(stderr, "%s: implausible %s = %g\n", r->origin.topic,
                            f2t_str(&out->recs[m], "datapoint"), v);
                }
                /* One reading's measurements must not share a primary key. */
                for (size_t k = 0; k < m; k++)
                    dup += strcmp(f2t_str(&out->recs[m], "datapoint"),
                                  f2t_str(&out->recs[k], "datapoint")) == 0;
                CHECK_INT_EQ(out->recs[m].timestamp, r->timestamp);
            }
        }
    }
    CHECK_INT_EQ(st, SLUICE_EOF);
    CHECK_INT_EQ(readings, total);
    CHECK_INT_EQ(failed, 0);
    CHECK_INT_EQ(wrong_count, 0);
    CHECK_INT_EQ(implausible, 0);
    CHECK_INT_EQ(wrong_reason, 0);
    CHECK_INT_EQ(dup, 0);
    if (!with_bad) {
        CHECK_INT_EQ(ok, total);
        /* 44 measurements per controller and round (see expected()). */
        CHECK_INT_EQ(measurements, total / 14 * 44);
        CHECK_INT_EQ(f2t_metric(&dec, "sluice_f2_readings_decoded_total"), total);
        CHECK_INT_EQ(f2t_metric(&dec, "sluice_f2_measurements_total"), measurements);
        /* One lookup per controller, however many readings it sends. */
        CHECK_INT_EQ(f2t_metric(&dec, "sluice_f2_cache_misses_total"), total / 28);
    } else {
        CHECK(bad_seen > total / 10 && bad_seen < total / 2);
        CHECK(ok > total / 2);
    }
    fprintf(stderr, "%zu readings: %zu decoded into %zu measurements, %zu malformed\n",
            readings, ok, measurements, bad_seen);
    sl_batch_free(in);
    sl_batch_free(out);
    f2t_inst_free(&sim);
    f2t_inst_free(&dec);
}

int main(void)
{
    f2t t;
    f2t_open(&t, "consistency", 0, 1);
    /* Every stream of the covered fleet, twice. */
    const char *const all[] = {"devices: 1000", "seed: 1", "rate: 0", "count: 28000",
                               "start_time: \"2024-01-01 00:00:00\"", NULL};
    run(&t, all, 28000, 0);
    const char *const bad[] = {"devices: 50", "rate: 0", "count: 3000", "bad_ratio: 0.25",
                               NULL};
    run(&t, bad, 3000, 1);
    int rc = CHECK_DONE();
    f2t_close(&t, rc != 0);
    return rc;
}
