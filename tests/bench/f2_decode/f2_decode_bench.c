/* Throughput of f2_decode with a warm cache, against the cost of the JSON
 * parse alone.  The readings are made by f2sim beforehand (1000 sample
 * controllers, every component), so neither generation nor SQL is timed:
 * the figure is the decoder's own cost per reading.
 *
 *   f2_decode_bench [readings] [repetitions]      (default 200000 5)
 *
 * Run through tests/bench/f2_decode_bench.sh, which provides PostgreSQL
 * and the environment (SLUICE_TEST_PG_PORT, SLUICE_PLUGIN_DIR, ...). */
#include "f2t.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PER_BATCH 1000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 200000;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    if (n < PER_BATCH)
        n = PER_BATCH;
    n -= n % PER_BATCH;
    if (reps < 1)
        reps = 1;

    f2t t;
    f2t_open(&t, "bench", 0, 1);
    char count[64];
    snprintf(count, sizeof count, "count: %zu", n);
    const char *const sim_opts[] = {"devices: 1000", "rate: 0", count,
                                    "start_time: \"2024-01-01 00:00:00\"", NULL};
    f2t_inst sim, dec;
    if (f2t_sim(&t, &sim, sim_opts) != 0 || f2t_decoder(&t, &dec, NULL, NULL) != 0) {
        fprintf(stderr, "init failed: %s%s\n", sim.init_err, dec.init_err);
        return 1;
    }

    /* Readings, made up front. */
    size_t nb = n / PER_BATCH;
    sluice_batch **in = calloc(nb, sizeof *in);
    char err[SLUICE_ERRLEN];
    for (size_t i = 0; i < nb; i++) {
        in[i] = sl_batch_new(PER_BATCH, 1 << 20);
        if (f2t_poll(&sim, in[i], 0, err) != SLUICE_OK || in[i]->n != PER_BATCH) {
            fprintf(stderr, "f2sim: %s (%zu readings)\n", err, in[i]->n);
            return 1;
        }
    }
    /* Room for the measurements of a whole input batch, as a pipeline's
     * transform stage has (8x the records). */
    sluice_batch *out = sl_batch_new(PER_BATCH * 10, 32 << 20);
    const sluice_transform_ops *ops = dec.plugin->transform;

    /* Warm the cache: one lookup per controller, not timed. */
    size_t measurements = 0;
    for (size_t i = 0; i < nb; i++) {
        sl_batch_reset(out);
        for (size_t k = 0; k < in[i]->n; k++)
            if (ops->process(dec.inst, &in[i]->recs[k], out, err) != SLUICE_OK) {
                fprintf(stderr, "decode failed: %s\n", err);
                return 1;
            }
    }

    double best_dec = 1e9, best_json = 1e9;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        measurements = 0;
        for (size_t i = 0; i < nb; i++) {
            sl_batch_reset(out);
            for (size_t k = 0; k < in[i]->n; k++)
                ops->process(dec.inst, &in[i]->recs[k], out, err);
            measurements += out->n;
        }
        double dt = now_s() - t0;
        if (dt < best_dec)
            best_dec = dt;

        /* Baseline: the JSON parse of the same payloads, nothing else. */
        t0 = now_s();
        size_t objects = 0;
        for (size_t i = 0; i < nb; i++)
            for (size_t k = 0; k < in[i]->n; k++) {
                json_error_t je;
                json_t *j = json_loadb(in[i]->recs[k].value.ptr, in[i]->recs[k].value.len, 0,
                                       &je);
                objects += j != NULL;
                json_decref(j);
            }
        dt = now_s() - t0;
        if (dt < best_json)
            best_json = dt;
        if (objects != n)
            fprintf(stderr, "baseline parsed %zu of %zu\n", objects, n);
    }

    double misses = f2t_metric(&dec, "sluice_f2_cache_misses_total");
    printf("f2_decode bench: %zu readings (1000 controllers, 14 components each), best of %d\n",
           n, reps);
    printf("  f2_decode (warm cache):  %10.0f readings/s  %10.0f measurements/s  %6.2f us/reading\n",
           (double)n / best_dec, (double)measurements / best_dec, best_dec / (double)n * 1e6);
    printf("  jansson parse only:      %10.0f readings/s  %28s  %6.2f us/reading\n",
           (double)n / best_json, "", best_json / (double)n * 1e6);
    printf("  ratio decode/parse:      %10.2fx the time of the bare JSON parse\n",
           best_dec / best_json);
    printf("  database lookups:        %10.0f (one per controller, during warm-up)\n", misses);

    for (size_t i = 0; i < nb; i++)
        sl_batch_free(in[i]);
    free(in);
    sl_batch_free(out);
    f2t_inst_free(&sim);
    f2t_inst_free(&dec);
    f2t_close(&t, 0);
    return 0;
}
