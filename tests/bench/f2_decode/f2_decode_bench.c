/* Throughput of f2_decode with a warm cache, against the cost of the JSON
 * parse alone.  The readings are made by f2sim beforehand (1000 sample
 * controllers by default, every component), so neither generation nor SQL
 * is timed: the figure is the decoder's own cost per reading.
 *
 *   f2_decode_bench [readings] [repetitions] [devices] [fleet]
 *                                     (default 200000 5 1000 both)
 *
 * More than 65536 devices come from several f2sim seeds (its limit per
 * seed), whose parameters f2sim_sample() adds; readings of the seeds are
 * interleaved batch by batch.  `fleet` is f2_decode's option (true, false,
 * or both: two decoders timed in turns on the same readings, so the cost of
 * the fleet table is their difference under the same load); with it on,
 * the table's memory is printed (sluice_f2_fleet_bytes).
 *
 * Run through tests/bench/f2_decode_bench.sh, which provides PostgreSQL
 * and the environment (SLUICE_TEST_PG_PORT, SLUICE_PLUGIN_DIR, ...). */
#include "f2t.h"
#include "metrics.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PER_BATCH 1000
#define SEED_MAX 65536

/* CPU time of this thread, not the wall clock: on a shared machine the
 * wall clock mostly measures the other tenants (the fleet thread and the
 * database are other threads and processes, so they are not counted). */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(getenv("BENCH_WALL") ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Registering a name and label again returns the instance's series. */
static double gauge(f2t_inst *i, const char *name, const char *label)
{
    return sl_metric_value(sl_api()->metric(i->ctx, SLUICE_METRIC_GAUGE, name, "", label));
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
    long devices = argc > 3 ? atol(argv[3]) : 1000;
    const char *fl = argc > 4 ? argv[4] : "both";
    int nd = strcmp(fl, "both") == 0 ? 2 : 1;
    int fleet_of[2] = {strcmp(fl, "false") != 0, 0};
    if (devices < 1 || devices > 10L * SEED_MAX) {
        fprintf(stderr, "devices must be 1..%ld\n", 10L * SEED_MAX);
        return 2;
    }
    int seeds = (int)((devices + SEED_MAX - 1) / SEED_MAX);

    f2t t;
    f2t_open(&t, "bench", 0, 1);
    /* The sample covers seed 1's first 1000; the rest, split evenly. */
    long per_seed = (devices + seeds - 1) / seeds;
    if (devices > 1000) {
        double t0 = now_s();
        for (int s = 0; s < seeds; s++)
            f2t_sql(&t, "SELECT f2sim_sample(%d, %ld)", s + 1,
                    s == seeds - 1 ? devices - per_seed * (seeds - 1) : per_seed);
        fprintf(stderr, "parameters of %ld devices (%d seeds) added in %.1f s\n", devices, seeds,
                now_s() - t0);
    }
    f2t_inst *sim = calloc((size_t)seeds, sizeof *sim), dec[2];
    for (int s = 0; s < seeds; s++) {
        char count[64], devs[64], seed[32];
        long ds = s == seeds - 1 ? devices - per_seed * (seeds - 1) : per_seed;
        snprintf(count, sizeof count, "count: %zu", n);
        snprintf(devs, sizeof devs, "devices: %ld", ds);
        snprintf(seed, sizeof seed, "seed: %d", s + 1);
        const char *const sim_opts[] = {devs, seed, "rate: 0", count,
                                        "start_time: \"2024-01-01 00:00:00\"", NULL};
        if (f2t_sim(&t, &sim[s], sim_opts) != 0) {
            fprintf(stderr, "init failed: %s\n", sim[s].init_err);
            return 1;
        }
    }
    for (int d = 0; d < nd; d++) {
        const char *const dec_opts[] = {fleet_of[d] ? "fleet: true" : "fleet: false", NULL};
        if (f2t_decoder(&t, &dec[d], NULL, dec_opts) != 0) {
            fprintf(stderr, "init failed: %s\n", dec[d].init_err);
            return 1;
        }
    }

    /* Readings, made up front, the seeds' batches taking turns. */
    size_t nb = n / PER_BATCH;
    sluice_batch **in = calloc(nb, sizeof *in);
    char err[SLUICE_ERRLEN];
    for (size_t i = 0; i < nb; i++) {
        in[i] = sl_batch_new(PER_BATCH, 1 << 20);
        if (f2t_poll(&sim[i % (size_t)seeds], in[i], 0, err) != SLUICE_OK ||
            in[i]->n != PER_BATCH) {
            fprintf(stderr, "f2sim: %s (%zu readings)\n", err, in[i]->n);
            return 1;
        }
    }
    /* Room for the measurements of a whole input batch, as a pipeline's
     * transform stage has (8x the records). */
    sluice_batch *out = sl_batch_new(PER_BATCH * 10, 32 << 20);
    const sluice_transform_ops *ops = dec[0].plugin->transform;

    /* Warm the caches: one lookup per controller, not timed. */
    double tw = now_s();
    size_t measurements = 0;
    for (int d = 0; d < nd; d++)
        for (size_t i = 0; i < nb; i++) {
            sl_batch_reset(out);
            for (size_t k = 0; k < in[i]->n; k++)
                if (ops->process(dec[d].inst, &in[i]->recs[k], out, err) != SLUICE_OK) {
                    fprintf(stderr, "decode failed: %s\n", err);
                    return 1;
                }
        }

    if (devices > 1000)
        fprintf(stderr, "cache warmed in %.1f s\n", now_s() - tw);

    double best[2] = {1e9, 1e9}, best_json = 1e9;
    for (int r = 0; r < reps; r++) {
        double t0, dt;
        /* Alternate which decoder goes first: the first after the JSON
         * baseline finds the caches in another state. */
        for (int dd = 0; dd < nd; dd++) {
            int d = (dd + r) % nd;
            t0 = now_s();
            measurements = 0;
            for (size_t i = 0; i < nb; i++) {
                sl_batch_reset(out);
                for (size_t k = 0; k < in[i]->n; k++)
                    ops->process(dec[d].inst, &in[i]->recs[k], out, err);
                measurements += out->n;
            }
            dt = now_s() - t0;
            if (dt < best[d])
                best[d] = dt;
        }

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

    double misses = f2t_metric(&dec[0], "sluice_f2_cache_misses_total");
    printf("f2_decode bench: %zu readings (%ld controllers, 14 components each), best of %d, "
           "%s time\n",
           n, devices, reps, getenv("BENCH_WALL") ? "wall" : "CPU");
    for (int d = 0; d < nd; d++)
        printf("  f2_decode, fleet: %-5s  %10.0f readings/s  %10.0f measurements/s  %6.2f "
               "us/reading\n",
               fleet_of[d] ? "true" : "false", (double)n / best[d],
               (double)measurements / best[d], best[d] / (double)n * 1e6);
    if (nd == 2)
        printf("  fleet health costs:      %10.2f us/reading (%.1f%%)\n",
               (best[0] - best[1]) / (double)n * 1e6, (best[0] / best[1] - 1) * 100);
    printf("  jansson parse only:      %10.0f readings/s  %28s  %6.2f us/reading\n",
           (double)n / best_json, "", best_json / (double)n * 1e6);
    printf("  ratio decode/parse:      %10.2fx the time of the bare JSON parse\n",
           best[nd - 1] / best_json);
    printf("  database lookups:        %10.0f (one per controller%s, during warm-up)\n", misses,
           nd == 2 ? " and decoder" : "");
    if (fleet_of[0]) {
        /* The fleet thread publishes the gauges once a second. */
        sleep(2);
        double bytes = gauge(&dec[0], "sluice_f2_fleet_bytes", NULL);
        double seen = gauge(&dec[0], "sluice_f2_devices", "state=active") +
                      gauge(&dec[0], "sluice_f2_devices", "state=silent");
        printf("  fleet table:             %10.0f bytes for %.0f controllers: %.1f bytes each\n",
               bytes, seen, seen > 0 ? bytes / seen : 0.0);
    }

    for (size_t i = 0; i < nb; i++)
        sl_batch_free(in[i]);
    free(in);
    sl_batch_free(out);
    for (int s = 0; s < seeds; s++)
        f2t_inst_free(&sim[s]);
    free(sim);
    for (int d = 0; d < nd; d++)
        f2t_inst_free(&dec[d]);
    f2t_close(&t, 0);
    return 0;
}
