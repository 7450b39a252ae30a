/* The "bare" baseline of runner_bench.sh: the work of the benchmarked
 * pipeline (render {"seq":N} padded to 100 bytes into batches of 1000
 * records, then drop them) with no host, no plugins, no threads.  The ratio
 * to it is what the runner and the plugin ABI cost.
 *
 * usage: bare RECORDS [SIZE] — prints "RECORDS NANOSECONDS CHECKSUM". */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 1000

typedef struct rec {
    const char *value;
    size_t len;
    int64_t offset;
    int64_t timestamp;
} rec;

static int64_t now_ns(int clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static size_t put_u64(char *out, uint64_t v)
{
    char buf[20];
    size_t n = 0;
    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = buf[n - 1 - i];
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bare RECORDS [SIZE]\n");
        return 2;
    }
    uint64_t n = strtoull(argv[1], NULL, 10);
    size_t size = argc > 2 ? strtoul(argv[2], NULL, 10) : 100;
    /* One arena per batch, reused, like the host's. */
    char *arena = malloc(BATCH * (size + 1));
    rec *recs = malloc(BATCH * sizeof(*recs));
    char scratch[64 + 4096];
    if (!arena || !recs || size > 4096)
        return 1;
    uint64_t sum = 0, seq = 0;
    int64_t t0 = now_ns(CLOCK_MONOTONIC);
    while (seq < n) {
        int64_t ts = now_ns(CLOCK_REALTIME) / 1000;   /* once per batch */
        size_t used = 0, k = 0;
        for (; k < BATCH && seq < n; k++, seq++) {
            size_t len = 0;
            memcpy(scratch, "{\"seq\":", 7);
            len = 7 + put_u64(scratch + 7, seq);
            scratch[len++] = '}';
            if (len < size)
                memset(scratch + len, ' ', size - len);
            len = size;
            char *v = arena + used;
            memcpy(v, scratch, len);
            v[len] = '\0';
            used += len + 1;
            recs[k] = (rec){v, len, (int64_t)seq, ts};
        }
        /* "drop": look at every record, as a discarding sink counts it. */
        for (size_t i = 0; i < k; i++)
            sum += recs[i].len + (unsigned char)recs[i].value[8];
    }
    int64_t el = now_ns(CLOCK_MONOTONIC) - t0;
    printf("%llu %lld %llu\n", (unsigned long long)n, (long long)el, (unsigned long long)sum);
    free(arena);
    free(recs);
    return 0;
}
