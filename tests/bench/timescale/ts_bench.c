/* Throughput harness for the Timescale sink.  Two jobs, so that both sides
 * of the comparison see the very same rows:
 *   ts_bench csv FILE ROWS
 *       writes ROWS iot_measurements rows as CSV (for psql's \copy);
 *   ts_bench sink DSN TABLE ROWS BATCH PLUGIN_DIR [--overlap] [option=value...]
 *       builds the same rows as records in batches of BATCH (f2_decode's
 *       fields), then times the sink's init plus one write() per batch
 *       and prints "rows seconds".  --overlap starts every batch after the
 *       first with the previous batch's last row again, so that every
 *       batch has a key already in the table: the sink's ON CONFLICT path
 *       for (nearly) all-new rows.
 * Row i: timestamp T0 + i ms, one of 100 devices, 3 data points, a double
 * with all its digits; unique keys, so nothing conflicts. */
#include <sluice/sluice.h>

#include "batch.h"
#include "config/config.h"
#include "ctx.h"
#include "plugin_registry.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define T0 1685027590543400LL

static const char *const datapoints[] = {"Temperature", "Humidity", "CO2"};
static const char *const units[] = {" \xc2\xb0" "C", " %", " ppm"};

static void row(size_t i, int64_t *ts, char *dev, size_t devlen, char *pin, const char **dp,
                double *v, const char **unit, char *topic, size_t topiclen)
{
    *ts = T0 + (int64_t)i * 1000;
    snprintf(dev, devlen, "f2-%012zx", 0xa0b0c0d00000 + i % 100);
    snprintf(pin, 4, "%zu", 1 + i % 4);
    *dp = datapoints[i % 3];
    *unit = units[i % 3];
    *v = (double)(i % 5000) / 7.0;
    snprintf(topic, topiclen, "cmnd/%s/sensor-mode/%zu/sensor-%s", dev, 1 + i % 4, pin);
}

static int do_csv(const char *path, size_t n)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t ts;
        char dev[32], pin[4], topic[128];
        const char *dp, *unit;
        double v;
        row(i, &ts, dev, sizeof dev, pin, &dp, &v, &unit, topic, sizeof topic);
        time_t s = (time_t)(ts / 1000000);
        struct tm tm;
        gmtime_r(&s, &tm);
        char when[64];
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
        /* value_text is NULL: an unquoted empty CSV field. */
        fprintf(f, "%s.%06lld+00,%s,sensor-mode,sensor,%s,%s,%.17g,,%s,%s\n", when,
                (long long)(ts % 1000000), dev, pin, dp, v, unit, topic);
    }
    return fclose(f) != 0;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void set_opt(sluice_config *c, const char *name, const char *text)
{
    for (size_t i = 0; i < c->n; i++) {
        sl_optval *v = &c->vals[i];
        if (strcmp(v->opt->name, name))
            continue;
        free(v->str);
        v->str = strdup(text);
        v->set = 1;
        if (v->opt->type == SLUICE_OPT_DURATION)
            v->i = sl_parse_duration_ms(text);
        else if (v->opt->type == SLUICE_OPT_BOOL)
            v->i = !strcmp(text, "true");
        return;
    }
    fprintf(stderr, "ts_bench: unknown option %s\n", name);
    exit(2);
}

static int do_sink(int argc, char **argv)
{
    const char *dsn = argv[2], *table = argv[3], *dir = argv[6];
    size_t n = strtoull(argv[4], NULL, 10), bs = strtoull(argv[5], NULL, 10);
    const sluice_api *api = sl_api();

    char path[1024], err[SLUICE_ERRLEN] = "";
    snprintf(path, sizeof path, "%s/timescale.so", dir);
    sl_registry *reg = sl_registry_new();
    if (sl_registry_load_file(reg, path, err, sizeof err)) {
        fprintf(stderr, "ts_bench: %s\n", err);
        return 1;
    }
    const sluice_sink_ops *ops = sl_registry_find(reg, "timescale")->desc->sink;

    /* The batches, built before the clock starts: the pipeline hands the
     * sink finished batches too. */
    int overlap = 0;
    for (int a = 7; a < argc; a++)
        overlap |= !strcmp(argv[a], "--overlap");
    size_t nb = (n + bs - 1) / bs;
    sluice_batch **batches = calloc(nb, sizeof *batches);
    for (size_t b = 0; b < nb; b++) {
        batches[b] = sl_batch_new(bs + 1, 64u << 20);
        size_t first = overlap && b > 0 ? b * bs - 1 : b * bs;
        for (size_t i = first; i < n && i < (b + 1) * bs; i++) {
            int64_t ts;
            char dev[32], pin[4], topic[128];
            const char *dp, *unit;
            double v;
            row(i, &ts, dev, sizeof dev, pin, &dp, &v, &unit, topic, sizeof topic);
            sluice_batch *B = batches[b];
            sluice_record *r = api->record_new(B);
            api->field_add(B, r, "timestamp", SLUICE_TIMESTAMP)->v.ts = ts;
            api->field_set_string(B, api->field_add(B, r, "device_id", SLUICE_STRING), dev,
                                  strlen(dev));
            api->field_set_string(B, api->field_add(B, r, "connector_mode", SLUICE_STRING),
                                  "sensor-mode", 11);
            api->field_set_string(B, api->field_add(B, r, "component_type", SLUICE_STRING),
                                  "sensor", 6);
            api->field_set_string(B, api->field_add(B, r, "pin_position", SLUICE_STRING), pin,
                                  strlen(pin));
            api->field_set_string(B, api->field_add(B, r, "datapoint", SLUICE_STRING), dp,
                                  strlen(dp));
            api->field_add(B, r, "value", SLUICE_DOUBLE)->v.d = v;
            api->field_add(B, r, "value_text", SLUICE_NULL);
            api->field_set_string(B, api->field_add(B, r, "unit", SLUICE_STRING), unit,
                                  strlen(unit));
            api->field_set_string(B, api->field_add(B, r, "topic", SLUICE_STRING), topic,
                                  strlen(topic));
        }
    }

    size_t nopt = 0;
    while (ops->options[nopt].name)
        nopt++;
    sluice_config cfg = {calloc(nopt, sizeof(sl_optval)), nopt};
    for (size_t i = 0; i < nopt; i++) {
        cfg.vals[i].opt = &ops->options[i];
        if (ops->options[i].def)
            set_opt(&cfg, ops->options[i].name, ops->options[i].def);
    }
    set_opt(&cfg, "dsn", dsn);
    set_opt(&cfg, "table", table);
    for (int a = 7; a < argc; a++) {
        char name[64];
        const char *eq = strchr(argv[a], '=');
        if (!eq)
            continue;
        snprintf(name, sizeof name, "%.*s", (int)(eq - argv[a]), argv[a]);
        set_opt(&cfg, name, eq + 1);
    }

    sluice_ctx *ctx = sl_ctx_new("bench", "sink", "timescale");
    sluice_init_args ia = {sizeof ia, api, &cfg, ctx, "bench", "sink"};
    void *inst = NULL;
    double t0 = now();
    if (ops->init(&ia, &inst, err) != SLUICE_OK) {
        fprintf(stderr, "ts_bench: init: %s\n", err);
        return 1;
    }
    for (size_t b = 0; b < nb; b++) {
        sluice_status st;
        while ((st = ops->write(inst, batches[b], err)) == SLUICE_RETRY)
            fprintf(stderr, "ts_bench: retry: %s\n", err);
        if (st != SLUICE_OK) {
            fprintf(stderr, "ts_bench: write: %s\n", err);
            return 1;
        }
    }
    double secs = now() - t0;
    printf("%zu %.3f\n", n, secs);
    ops->destroy(inst);
    sl_ctx_free(ctx);
    for (size_t b = 0; b < nb; b++)
        sl_batch_free(batches[b]);
    free(batches);
    sl_registry_free(reg);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "csv"))
        return do_csv(argv[2], strtoull(argv[3], NULL, 10));
    if (argc >= 7 && !strcmp(argv[1], "sink"))
        return do_sink(argc, argv);
    fprintf(stderr, "usage: ts_bench csv FILE ROWS\n"
                    "       ts_bench sink DSN TABLE ROWS BATCH PLUGIN_DIR [option=value...]\n");
    return 2;
}
