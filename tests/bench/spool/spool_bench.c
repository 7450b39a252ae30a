/* The spool's cost: append N records of ~300 bytes in batches of 1000
 * (append_batch + sl_spool_sync per batch), then read and release them all,
 * for each fsync policy; against a bare write() of the same bytes per batch,
 * with and without fdatasync, in the same run on the same filesystem.
 *
 *   spool_bench [records (1000000)] [dir (./spool_bench.d)] */
#include "batch.h"
#include "batch_api.h"
#include "spool/spool.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define BATCH 1000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A reading like the embedded ingest pipeline's: a topic, a ~200-byte
 * payload, a few typed fields, one header. */
static void fill(sluice_batch *b)
{
    char payload[200];
    memset(payload, 'p', sizeof payload);
    for (int i = 0; i < BATCH; i++) {
        sluice_record *r = sl_record_new(b);
        r->origin.topic = "plant/17/device/4711/reading";
        r->origin.offset = i;
        r->timestamp = 1764000000000000 + i;
        sl_set_value(b, r, payload, sizeof payload);
        sl_header_add(b, r, "content-type", "application/f2", 14);
        sl_field_add(b, r, "device", SLUICE_INT)->v.i = 4711;
        sl_field_add(b, r, "temp", SLUICE_DOUBLE)->v.d = 21.5;
        sl_field_add(b, r, "ts", SLUICE_TIMESTAMP)->v.ts = r->timestamp;
    }
}

/* CPU seconds of the process (every thread): on a shared, loaded machine
 * wall time mostly measures the neighbours; CPU time is what the spool
 * costs. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void rmdir_all(const char *dir)
{
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* Bare baseline: the same bytes, one write per batch; fdatasync after each
 * (sync 1), every 100 ms (sync 2, as FSYNC_INTERVAL) or never (0). */
static double bare(const char *dir, long batches, size_t per_batch, int sync, double *cpu)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/bare.dat", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    char *buf = malloc(per_batch);
    memset(buf, 'b', per_batch);
    double t0 = now_s(), c0 = cpu_s(), last = t0;
    for (long i = 0; i < batches; i++) {
        if (write(fd, buf, per_batch) != (ssize_t)per_batch) {
            perror("bare write");
            exit(1);
        }
        if (sync == 1 || (sync == 2 && now_s() - last >= 0.1)) {
            fdatasync(fd);
            last = now_s();
        }
    }
    if (sync)
        fdatasync(fd);
    double t = now_s() - t0;
    *cpu = cpu_s() - c0;
    close(fd);
    unlink(path);
    free(buf);
    return t;
}

typedef struct writer {
    sl_spool *s;
    sluice_batch *in;
    long batches;
    int rc;
} writer;

static void *write_all(void *arg)
{
    writer *w = arg;
    char err[SLUICE_ERRLEN];
    for (long i = 0; i < w->batches && w->rc == 0; i++)
        if (sl_spool_append_batch(w->s, w->in, err, sizeof err) < 0 ||
            sl_spool_sync(w->s, err, sizeof err) < 0) {
            fprintf(stderr, "%s\n", err);
            w->rc = -1;
        }
    return NULL;
}

/* The pipeline's shape: the source thread appends and syncs while the sink
 * thread reads and releases, through a spool capped at 64 MiB. */
static int concurrent(const char *dir, sluice_batch *in, sluice_batch *out, long batches,
                      sl_spool_fsync f, const char *name)
{
    char sdir[1200], err[SLUICE_ERRLEN];
    snprintf(sdir, sizeof sdir, "%s/c", dir);
    rmdir_all(sdir);
    sl_spool_opts o = {.dir = sdir, .max_bytes = 64 << 20, .segment_bytes = 16 << 20,
                       .fsync = f, .fsync_interval_ms = 100};
    sl_spool *s;
    if (sl_spool_open(&o, &s, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    writer w = {.s = s, .in = in, .batches = batches};
    long n = batches * BATCH, got = 0;
    double t0 = now_s(), c0 = cpu_s();
    pthread_t t;
    pthread_create(&t, NULL, write_all, &w);
    while (got < n && w.rc == 0) {
        sl_batch_reset(out);
        long k = sl_spool_read(s, out, 100, err, sizeof err);
        if (k < 0 || sl_spool_release(s, err, sizeof err) < 0) {
            fprintf(stderr, "read: %s\n", err);
            break;
        }
        got += k;
    }
    pthread_join(t, NULL);
    double t1 = now_s() - t0, c1 = cpu_s() - c0;
    sl_spool_close(s);
    rmdir_all(sdir);
    printf("%-15s %12.0f records/s through (append+sync | read+release at once), %.2f cpu s\n",
           name, n / t1, c1);
    return got == n ? 0 : -1;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    const char *dir = argc > 2 ? argv[2] : "./spool_bench.d";
    long batches = (n + BATCH - 1) / BATCH;
    n = batches * BATCH;
    sluice_batch *in = sl_batch_new(BATCH, 0);
    sluice_batch *out = sl_batch_new(BATCH, 16 << 20);
    fill(in);
    static const struct { sl_spool_fsync f; const char *name; } pol[] = {
        {SL_SPOOL_FSYNC_BATCH, "batch"},
        {SL_SPOOL_FSYNC_INTERVAL, "interval 100ms"},
        {SL_SPOOL_FSYNC_NEVER, "never"}};
    printf("%ld records in batches of %d, dir %s\n", n, BATCH, dir);
    printf("%-15s %12s %8s %7s | %14s %8s %7s | %9s %7s | %6s %6s\n", "fsync",
           "append rec/s", "MB/s", "cpu s", "read+rel rec/s", "MB/s", "cpu s", "bare MB/s",
           "cpu s", "wall", "cpu");
    for (size_t p = 0; p < sizeof pol / sizeof pol[0]; p++) {
        char sdir[1200], err[SLUICE_ERRLEN];
        snprintf(sdir, sizeof sdir, "%s/%zu", dir, p);
        rmdir_all(sdir);
        sl_spool_opts o = {.dir = sdir, .max_bytes = 8ull << 30, .segment_bytes = 64 << 20,
                           .fsync = pol[p].f, .fsync_interval_ms = 100};
        sl_spool *s;
        if (sl_spool_open(&o, &s, err, sizeof err) < 0) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        double t0 = now_s(), c0 = cpu_s();
        for (long i = 0; i < batches; i++) {
            if (sl_spool_append_batch(s, in, err, sizeof err) < 0 ||
                sl_spool_sync(s, err, sizeof err) < 0) {
                fprintf(stderr, "%s\n", err);
                return 1;
            }
        }
        double ta = now_s() - t0, ca = cpu_s() - c0;
        sl_spool_stats st;
        sl_spool_stats_get(s, &st);
        double mb = (double)st.bytes / 1e6;
        t0 = now_s();
        c0 = cpu_s();
        long got = 0;
        while (got < n) {
            sl_batch_reset(out);
            long k = sl_spool_read(s, out, 1000, err, sizeof err);
            if (k <= 0 || sl_spool_release(s, err, sizeof err) < 0) {
                fprintf(stderr, "read: %s\n", k < 0 ? err : "nothing");
                return 1;
            }
            got += k;
        }
        double tr = now_s() - t0, cr = cpu_s() - c0;
        sl_spool_close(s);
        double cb;
        double tb = bare(dir, batches, (size_t)(st.bytes / (uint64_t)batches),
                         pol[p].f == SL_SPOOL_FSYNC_BATCH      ? 1
                         : pol[p].f == SL_SPOOL_FSYNC_INTERVAL ? 2
                                                               : 0,
                         &cb);
        printf("%-15s %12.0f %8.1f %7.2f | %14.0f %8.1f %7.2f | %9.1f %7.2f | %5.2fx %5.2fx\n",
               pol[p].name, n / ta, mb / ta, ca, n / tr, mb / tr, cr, mb / tb, cb, tb / ta,
               cb / ca);
        fflush(stdout);
        rmdir_all(sdir);
    }
    printf("\nconcurrent, max_bytes 64 MiB:\n");
    for (size_t p = 0; p < sizeof pol / sizeof pol[0]; p++)
        if (concurrent(dir, in, out, batches, pol[p].f, pol[p].name) < 0)
            return 1;
    printf("\nbare: one write() per batch of the same bytes; fdatasync per batch for "
           "\"batch\", every 100 ms for \"interval\", none for \"never\".\nratios: spool append / bare write, by wall "
           "time (throughput) and by CPU time (cost)\n");
    sl_batch_free(in);
    sl_batch_free(out);
    rmdir_all(dir);
    return 0;
}
