/* The set of pipelines one process runs: start, stop, reload on SIGHUP,
 * and the status the HTTP endpoint shows. */
#ifndef SL_RUNNER_H
#define SL_RUNNER_H

#include "plugin_registry.h"
#include "pipeline.h"

typedef struct sl_runner {
    const sl_registry *reg;
    char **args;             /* the FILE|DIR arguments, re-read on reload */
    int nargs;
    sl_pipeline **v;
    size_t n, cap;
    pthread_mutex_t mu;      /* guards v/n against the HTTP thread */
} sl_runner;

void sl_runner_init(sl_runner *r, const sl_registry *reg, char **args, int nargs);
/* Loads every file and starts every pipeline.  On any configuration or
 * fatal init error, starts no more and returns -1 (errors printed); the
 * caller stops and joins what was started, under its shutdown deadline,
 * because a started pipeline may be retrying a sink for a long time. */
int sl_runner_start(sl_runner *r);
/* Re-reads the files: starts new and changed pipelines, stops removed and
 * changed ones; a file that no longer validates keeps its old pipeline. */
void sl_runner_reload(sl_runner *r);
/* 1 when no pipeline is running or starting any more. */
int sl_runner_all_done(sl_runner *r);
void sl_runner_stop(sl_runner *r);
void sl_runner_abort(sl_runner *r);
/* Joins every pipeline; returns 0 if all ended cleanly, 1 if any failed. */
int sl_runner_join(sl_runner *r);
void sl_runner_free(sl_runner *r);

int sl_runner_ready(void *runner);
char *sl_runner_status_json(void *runner);
/* Spool metrics and full-spool log lines of every pipeline (cheap; call
 * often, it rate-limits itself). */
void sl_runner_tick(sl_runner *r);
/* One log line per pipeline with counts and rates since the last call. */
void sl_runner_log_stats(sl_runner *r, double interval_s);

#endif
