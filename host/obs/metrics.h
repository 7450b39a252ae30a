/* The metrics registry behind sluice_api.metric*: counters, gauges and
 * histograms labelled by pipeline and stage, rendered in the Prometheus
 * text format.  Updates are lock-free atomics; registration takes a lock. */
#ifndef SL_METRICS_H
#define SL_METRICS_H

#include <sluice/sluice.h>
#include <stddef.h>

typedef struct sl_metrics sl_metrics;

sl_metrics *sl_metrics_new(void);
void sl_metrics_free(sl_metrics *m);
/* The process-wide registry that pipelines register into. */
sl_metrics *sl_metrics_global(void);

/* Registers (or finds) a series.  `pipeline`, `stage` and `extra` ("k=v")
 * may be NULL.  `owner` tags the series so that sl_metrics_release(owner)
 * removes every series an instance registered. */
sluice_metric *sl_metric_register(sl_metrics *m, sluice_metric_kind kind, const char *name,
                                  const char *help, const char *pipeline, const char *stage,
                                  const char *extra, const void *owner);
void sl_metrics_release(sl_metrics *m, const void *owner);

void sl_metric_add(sluice_metric *s, double v);
void sl_metric_set(sluice_metric *s, double v);
void sl_metric_observe(sluice_metric *s, double v);
double sl_metric_value(const sluice_metric *s);   /* counters and gauges */

/* Histograms: observations so far and their sum (0 for other kinds);
 * sl_metric_value of a histogram is its count. */
uint64_t sl_metric_count(const sluice_metric *s);
double sl_metric_sum(const sluice_metric *s);

/* Whether render adds sluice_build_info and the process_* metrics of the
 * Prometheus process collector (on for sl_metrics_global, off otherwise). */
void sl_metrics_enable_process(sl_metrics *m, int on);

/* Renders every series; returns a malloc'd NUL-terminated string. */
char *sl_metrics_render(sl_metrics *m, size_t *len);

#endif
