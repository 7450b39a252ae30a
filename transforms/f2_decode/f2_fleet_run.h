/* Fleet health around the table (f2_fleet.h): options, metrics, the fleet
 * thread (state counts every second, the device_last_seen flush every
 * fleet_flush) and the /devices document. */
#ifndef F2_FLEET_RUN_H
#define F2_FLEET_RUN_H

#include "f2_fleet.h"

#include <libpq-fe.h>
#include <sluice/sluice.h>

typedef struct f2_fleet_run {
    const sluice_api *api;
    sluice_ctx *ctx;
    f2_fleet table;
    int64_t silent_after_us, flush_ms;
    const char *dsn;         /* NULL: no device_last_seen table */
    char path[64];           /* HTTP path, "" when not served */
    PGconn *conn;
    int db_failing;
    int logged_full;          /* the last flush failed (log once per outage) */
    f2_fleet_row *rows;      /* flush snapshot, reused */
    size_t rows_cap;
    size_t logged_bytes;     /* memory at the last "fleet table" line */
    pthread_t th;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int quit;
    struct {
        sluice_metric *active, *silent, *bytes, *went_silent, *flushes, *flush_failed;
    } m;
} f2_fleet_run;

/* The options f2_decode declares for it (merged into its option list). */
#define F2_FLEET_OPTIONS                                                                   \
    {"fleet", SLUICE_OPT_BOOL, 0, "true",                                                  \
     "track each controller's last reading: sluice_f2_devices, /devices, device_last_seen", \
     NULL, NULL, NULL},                                                                    \
    {"silent_after", SLUICE_OPT_DURATION, 0, "5m",                                         \
     "a controller without a reading for this long counts as silent", NULL, "1ms", NULL},  \
    {"fleet_dsn", SLUICE_OPT_SECRET, 0, NULL,                                              \
     "timeseries database for the device_last_seen table (sql/fleet.sql); absent: none",   \
     NULL, NULL, NULL},                                                                    \
    {"fleet_flush", SLUICE_OPT_DURATION, 0, "10s",                                         \
     "how often changed devices are upserted into device_last_seen (one statement)", NULL, \
     "1ms", NULL},                                                                         \
    {"fleet_path", SLUICE_OPT_STRING, 0, "/devices",                                       \
     "HTTP path of the device list on the --http endpoint; empty: not served", NULL, NULL,  \
     NULL}

/* NULL with err on bad options or exhaustion; *off = 1 when fleet: false. */
f2_fleet_run *f2_fleet_start(const sluice_api *api, const sluice_config *cfg, sluice_ctx *ctx,
                             int *off, char *err, size_t errlen);
/* Flushes once more (best effort) and frees. */
void f2_fleet_stop(f2_fleet_run *fr);

/* The /devices document (api->http_json callback). */
int f2_fleet_http(void *arg, const char *query, char *buf, size_t cap, size_t *len);

/* One upsert of every device changed since the last successful flush.
 * 0, or -1 with err (retried at the next period). */
int f2_fleet_flush(f2_fleet_run *fr, size_t *written, char *err, size_t errlen);

#endif
