/* One simulated reading: topic, JSON payload, key and timestamp, as an F2
 * controller would publish it. */
#ifndef F2SIM_READING_H
#define F2SIM_READING_H

#include "f2sim_fleet.h"

#include <stddef.h>
#include <stdint.h>

typedef struct f2sim_plan {
    int64_t seed;
    uint32_t devices;
    const f2sim_component *comps[32];   /* the components `kinds` enables */
    size_t n_comps;
    double bad_ratio;
} f2sim_plan;

typedef struct f2sim_reading {
    char topic[160];
    size_t topic_len;
    char payload[768];
    size_t payload_len;
    char key[16];            /* "f2-<mac lower case>" */
    const char *bad;         /* NULL, or which malformation this reading carries */
} f2sim_reading;

/* Reading k of the plan, stamped ts_us.  Stream k mod (devices x components):
 * devices interleave, so consecutive readings come from different
 * controllers. */
void f2sim_make(const f2sim_plan *p, uint64_t k, int64_t ts_us, f2sim_reading *out);

/* "YYYY-MM-DD HH:MM:SS.ffffff" (UTC); buf of at least 27 bytes. */
void f2sim_format_ts(int64_t us, char *buf, size_t len);
/* Parses the same form (fraction optional) as UTC; 0 or -1. */
int f2sim_parse_ts(const char *s, int64_t *us);

#endif
