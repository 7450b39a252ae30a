/* Private layout of the metrics registry, shared by the registry
 * (metrics.c) and the text-format renderer (metrics_render.c) only. */
#ifndef SL_METRICS_IMPL_H
#define SL_METRICS_IMPL_H

#include "metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* Upper bounds (seconds) of the histogram buckets, +Inf implied.  They span
 * a sub-millisecond transform step up to a 30 s stalled database write, so
 * both batch write times and end-to-end latency land in a useful bucket. */
#define SL_HIST_BOUNDS                                                              \
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, \
        10.0, 30.0
#define SL_HIST_NB 15
extern const double sl_hist_bounds[SL_HIST_NB];

typedef struct sl_family sl_family;

struct sluice_metric {
    sl_family *fam;
    sluice_metric_kind kind;     /* copy of fam->kind: the hot path reads one line */
    char *labels;                /* escaped 'k="v",...' text, "" for none; sort key */
    /* Everyone who registered this series.  It lives until the last of them
     * is released, so a second registrant (a pipeline of the same name
     * started while the old one is still being torn down) never holds a
     * freed series. */
    const void **owners;
    size_t n_owners, cap_owners;
    /* Counters and gauges: the value.  Histograms: the sum.  Doubles are
     * kept as their bit pattern so a CAS on a 64-bit integer updates them. */
    _Atomic uint64_t bits;
    /* Histograms only: per-bucket (not cumulative) counts, the last is +Inf.
     * _count is rendered as their total, so it always equals the +Inf bucket. */
    _Atomic uint64_t buckets[SL_HIST_NB + 1];
};

struct sl_family {
    char *name;
    char *help;
    sluice_metric_kind kind;
    sluice_metric **series;      /* sorted by labels */
    size_t n, cap;
};

struct sl_metrics {
    /* Held by registration, release and render; never by updates. */
    pthread_mutex_t lock;
    sl_family **fams;            /* sorted by name */
    size_t n, cap;
    int process;                 /* render process and build metrics too */
};

double sl_metric_bits_to_double(uint64_t b);

#endif
