/* TimescaleDB setup: the statements that make the target a hypertable and
 * add its policies.  Planned as data first (tests check the exact SQL; the
 * extension is not packaged where the tests run), then executed. */
#ifndef TS_HYPER_H
#define TS_HYPER_H

#include "ts_sink.h"

typedef struct ts_hyper_step {
    const char *what;        /* for messages: "create_hypertable", ... */
    char *sql;
    int n_params;
    char params[3][192];
} ts_hyper_step;

typedef struct ts_hyper_plan {
    ts_hyper_step step[4];
    size_t n;
} ts_hyper_plan;

/* Plans the steps for table t, which is already a hypertable (is_hyper)
 * with compression on (compressed) or not.  Returns 0, or -1 with err. */
int ts_hyper_plan_build(ts_hyper_plan *p, const ts_table *t, const ts_hyper_conf *c,
                        int is_hyper, int compressed, char *err, size_t errlen);
void ts_hyper_plan_free(ts_hyper_plan *p);

/* Reads the table's state, plans and runs; summary says what was done. */
sluice_status ts_hyper_setup(ts_sink *s, char *summary, size_t len, char *err);

#endif
