/* The f2_decode instance and the pieces of one reading's decoding that the
 * files of this plugin share. */
#ifndef F2_DECODE_H
#define F2_DECODE_H

#include "f2_cache.h"
#include "f2_db.h"
#include "f2_fleet_run.h"
#include "f2_input.h"
#include "f2_park.h"
#include "f2_park_rows.h"
#include "f2_topic.h"

#include <sluice/sluice.h>

/* How often process() looks at the database connection for notifications
 * and reconnects: a clock read per record, a socket read per interval. */
#define F2_TICK_NS (100 * 1000000LL)
/* Negative entries kept before they are dropped wholesale. */
#define F2_MAX_NEGATIVE 100000
/* How long a reading that needs an uncached device waits for a due
 * reconnection before it is handed back for a retry. */
#define F2_MISS_WAIT_MS 2000

typedef struct f2_words {
    const char **w;
    size_t n;
} f2_words;

typedef struct f2_inst {
    const sluice_api *api;
    sluice_ctx *ctx;
    f2_cache cache;
    f2_db db;
    f2_db_events ev;
    int64_t ttl_ns;
    int tz_offset_s;
    size_t max_payload;
    f2_words true_words, false_words;
    int64_t last_tick_ns;
    f2_fleet_run *fleet;     /* NULL with fleet: false */
    f2_park *park;           /* NULL with unknown_device: dead_letter */
    char park_owner[200];    /* "<pipeline>/<instance>", the f2_parked rows' owner */
    f2_park_rows parked;     /* this batch's parked readings, until commit */
    struct {
        sluice_metric *readings, *measurements, *hits, *misses, *failed, *reloads;
    } m;
    uint8_t data[F2_MAX_DATA];  /* decoded RS-485 bytes of the current reading */
} f2_inst;

/* One reading being decoded, and the output record its measurements are
 * copied from (the strings every measurement shares are copied once). */
typedef struct f2_reading {
    f2_topic t;
    const sluice_record *payload;  /* the payload's members as fields */
    int64_t ts_us;
    const sluice_record *in;
    const char *topic;       /* the F2 topic text (arena) */
    size_t topic_len;
    sluice_record *first;    /* NULL until the first measurement */
    size_t emitted;
    int full;                /* `out` ran out of room (process says SLUICE_FULL) */
} f2_reading;

/* Appends one measurement.  `value` is used when has_value; text and unit
 * may be NULL.  0, or -1 with err (the output batch is full). */
int f2_emit(f2_inst *fi, f2_reading *rd, sluice_batch *out, const char *datapoint,
            int has_value, double value, const char *text, size_t text_len, const char *unit,
            char *err, size_t errlen);

/* The device model: the pin's data points over the decoded data bytes. */
int f2_apply_device_model(f2_inst *fi, f2_reading *rd, const f2_pin *pin, const uint8_t *data,
                          size_t n, sluice_batch *out, char *err, size_t errlen);

/* The device_parameters model.  0 when rows matched and measurements were
 * emitted, 1 when no row matches the reading, -1 with err on a failure. */
int f2_apply_table_model(f2_inst *fi, f2_reading *rd, const f2_device *dev, sluice_batch *out,
                         char *err, size_t errlen);

/* Finds the controller in the cache or the database (now_ns: the
 * monotonic clock, read once per reading by the caller).  SLUICE_OK with *dev
 * set (possibly a negative entry), SLUICE_RETRY when it is not cached and
 * the database cannot answer. */
sluice_status f2_lookup(f2_inst *fi, const f2_topic *t, int64_t now_ns, const f2_device **dev,
                        char *err, size_t errlen);
/* The same, but a cached "unknown" entry is looked up again (a parked
 * reading coming back: its device was registered, the cache may not have
 * heard yet). */
sluice_status f2_lookup_fresh(f2_inst *fi, const f2_topic *t, int64_t now_ns,
                              const f2_device **dev, char *err, size_t errlen);

/* Wires the database's notifications to the cache. */
void f2_events_init(f2_inst *fi);

/* Reads notifications and reconnects, at most every F2_TICK_NS. */
void f2_maybe_tick(f2_inst *fi, int64_t now_ns);

/* 1 true word, 0 false word, -1 neither (case-insensitive). */
int f2_two_state(const f2_inst *fi, const char *s, size_t n);

sluice_status f2_process(void *inst, const sluice_record *in, sluice_batch *out, char *err);

#endif
