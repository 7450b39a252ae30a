/* Updates from several threads lose nothing (the CAS loops are exact for
 * integral steps), and rendering, registration and release may run while
 * other threads update their own series. */
#include "check.h"
#include "metrics.h"
#include "promtext.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define N_PER_THREAD 1000000

static sluice_metric *g_counter, *g_gauge, *g_hist;
static atomic_int g_stop;

static void *adder(void *arg)
{
    (void)arg;
    for (int i = 0; i < N_PER_THREAD; i++) {
        sl_metric_add(g_counter, 1);
        sl_metric_add(g_gauge, (i & 1) ? 1 : -1);
        /* 0.25 is exact in binary, so the sum is exact too. */
        sl_metric_observe(g_hist, (i % 3 == 0) ? 0.25 : 0.0);
    }
    return NULL;
}

/* Renders over and over while the adders run; every render must be valid
 * text with cumulative buckets that agree with _count. */
static void *renderer(void *arg)
{
    sl_metrics *m = arg;
    int renders = 0;
    while (!atomic_load(&g_stop) || renders < 3) {
        char *text = sl_metrics_render(m, NULL);
        pt_doc doc;
        int rc = text ? pt_parse(text, &doc) : -1;
        if (rc != 0) {
            fprintf(stderr, "invalid render under load: %s\n", text ? doc.err : "NULL");
            abort();
        }
        pt_free(&doc);
        free(text);
        renders++;
    }
    return NULL;
}

/* Registers and releases its own series repeatedly, as pipelines do when
 * they restart, while others update and render. */
static void *churner(void *arg)
{
    sl_metrics *m = arg;
    static int owner;
    char name[32];
    while (!atomic_load(&g_stop)) {
        for (int i = 0; i < 20; i++) {
            snprintf(name, sizeof name, "churn_%d_total", i % 5);
            char stage[16];
            snprintf(stage, sizeof stage, "s%d", i);
            sluice_metric *s = sl_metric_register(m, SLUICE_METRIC_COUNTER, name, "churn", "p",
                                                  stage, NULL, &owner);
            sl_metric_add(s, 1);
            sluice_metric *h = sl_metric_register(m, SLUICE_METRIC_HISTOGRAM, "churn_seconds",
                                                  "churn", "p", stage, NULL, &owner);
            sl_metric_observe(h, 0.01);
        }
        sl_metrics_release(m, &owner);
    }
    return NULL;
}

int main(void)
{
    sl_metrics *m = sl_metrics_new();
    static int owner;
    g_counter = sl_metric_register(m, SLUICE_METRIC_COUNTER, "t_total", "t", "p", "sink", NULL,
                                   &owner);
    g_gauge = sl_metric_register(m, SLUICE_METRIC_GAUGE, "t_gauge", "t", "p", "sink", NULL,
                                 &owner);
    g_hist = sl_metric_register(m, SLUICE_METRIC_HISTOGRAM, "t_seconds", "t", "p", "sink", NULL,
                                &owner);
    CHECK(g_counter && g_gauge && g_hist);

    pthread_t a, b, r, c;
    pthread_create(&r, NULL, renderer, m);
    pthread_create(&c, NULL, churner, m);
    pthread_create(&a, NULL, adder, NULL);
    pthread_create(&b, NULL, adder, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    atomic_store(&g_stop, 1);
    pthread_join(r, NULL);
    pthread_join(c, NULL);

    CHECK(sl_metric_value(g_counter) == 2.0 * N_PER_THREAD);
    CHECK(sl_metric_value(g_gauge) == 0);
    CHECK_INT_EQ(sl_metric_count(g_hist), 2 * N_PER_THREAD);
    /* i % 3 == 0 for 333334 of each thread's 1e6 values. */
    CHECK(sl_metric_sum(g_hist) == 2 * 333334 * 0.25);

    char *text = sl_metrics_render(m, NULL);
    CHECK_STR_CONTAINS(text, "t_total{pipeline=\"p\",stage=\"sink\"} 2000000\n");
    CHECK_STR_CONTAINS(text, "t_seconds_bucket{pipeline=\"p\",stage=\"sink\",le=\"0.0005\"} 1333332\n");
    CHECK_STR_CONTAINS(text, "t_seconds_count{pipeline=\"p\",stage=\"sink\"} 2000000\n");
    CHECK(!strstr(text, "churn"));
    free(text);
    sl_metrics_free(m);
    return CHECK_DONE();
}
