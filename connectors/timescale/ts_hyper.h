/* TimescaleDB setup: whether the target is (or becomes) a hypertable, and
 * its chunk interval and policies reconciled with the options on every
 * start.  Planned as data first (the unit tests check the exact SQL and
 * what is logged), then executed. */
#ifndef TS_HYPER_H
#define TS_HYPER_H

#include "ts_sink.h"

/* What the table is now, as TimescaleDB's information views say. */
typedef struct ts_hyper_state {
    int is_hyper;
    int compressed;          /* compression enabled on the hypertable */
    char time_column[64];    /* its time dimension */
    int64_t chunk_ms;        /* -1: unknown (not a time interval) */
    int64_t compress_ms;     /* compression policy's compress_after, -1: none */
    int64_t retain_ms;       /* retention policy's drop_after, -1: none */
} ts_hyper_state;

typedef struct ts_hyper_step {
    const char *what;        /* for messages: "create_hypertable", ... */
    char change[160];        /* what it changes, for the log; "" for none */
    char *sql;
    int n_params;
    char params[3][192];
} ts_hyper_step;

typedef struct ts_hyper_plan {
    ts_hyper_step step[8];
    size_t n;
} ts_hyper_plan;

/* The column to partition by: time_column when given (checked), else the
 * first timestamptz column of the primary key.  NULL with err. */
const ts_column *ts_hyper_time_column(const ts_table *t, const char *opt, char *err,
                                      size_t errlen);

/* Plans the steps that bring table t from state st to what c asks: a
 * conversion when t is not a hypertable yet (the caller decides whether
 * that is wanted), then for each option given and different from what is
 * there, the call that changes it.  Options not given are left as they
 * are.  Returns 0, or -1 with err. */
int ts_hyper_plan_build(ts_hyper_plan *p, const ts_table *t, const ts_hyper_conf *c,
                        const ts_hyper_state *st, char *err, size_t errlen);
void ts_hyper_plan_free(ts_hyper_plan *p);

/* "7 days", "90 minutes", "1500 milliseconds". */
void ts_hyper_interval_text(char *out, size_t len, int64_t ms);

/* Reads the table's state, plans, runs and logs each change; summary says
 * what the table now is. */
sluice_status ts_hyper_setup(ts_sink *s, char *summary, size_t len, char *err);

#endif
