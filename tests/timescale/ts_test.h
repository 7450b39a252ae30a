/* Shared helpers for the Timescale sink tests: the plugin loaded through
 * the host's real loader, a verification connection to the test server,
 * option sets, batches of measurements and captured log output.  What is
 * not about timescale comes from tests/lib (tl.h, tl_pg.h). */
#ifndef TS_TEST_H
#define TS_TEST_H

#include <sluice/sluice.h>
#include <libpq-fe.h>

#include "batch.h"
#include "config/config.h"
#include "ctx.h"
#include "metrics.h"
#include "plugin_registry.h"
#include "tl.h"

typedef struct tt_env {
    const sluice_api *api;
    const sluice_sink_ops *ops;
    const sluice_plugin *plugin;
    sl_registry *reg;
    int port;
    char dsn[256];
    char schema[64];
    PGconn *pg;              /* the test's own connection, for setup and checks */
} tt_env;

/* Loads the plugin, connects to 127.0.0.1:$SLUICE_TEST_PG_PORT (or `port`
 * when > 0) and recreates `schema`.  Exits non-zero when anything is
 * missing: these tests fail, never skip. */
void tt_setup(tt_env *e, const char *schema, int port);
void tt_teardown(tt_env *e);

/* Runs SQL that must succeed (the test aborts otherwise). */
void tt_sql(tt_env *e, const char *fmt, ...) SLUICE_PRINTF(2, 3);
/* First column of the first row, or NULL (SQL NULL / no row); static buffer. */
const char *tt_value(tt_env *e, const char *fmt, ...) SLUICE_PRINTF(2, 3);
long tt_long(tt_env *e, const char *fmt, ...) SLUICE_PRINTF(2, 3);

/* Options from "name=value" strings: tl_cfg (tests/lib/tl.h). */
#define tt_cfg tl_cfg
#define tt_cfg_free tl_cfg_free

typedef struct tt_sink {
    tt_env *env;
    void *inst;
    sluice_ctx *ctx;
    sluice_config *cfg;
    char err[SLUICE_ERRLEN];
    sluice_status init_status;
} tt_sink;

/* Inits a sink with the env's dsn (unless kv gives one) and the options. */
sluice_status tt_open(tt_env *e, tt_sink *s, const char *pipeline, const char *const *kv);
sluice_status tt_write(tt_sink *s, sluice_batch *b);
void tt_close(tt_sink *s);
double tt_metric(tt_sink *s, const char *name);

/* Batches of iot_measurements-shaped records, built with tests/lib. */
#define tt_batch tl_batch
#define tt_rec tl_rec
#define tt_str tl_str
#define tt_strn tl_strn
#define tt_bytes tl_bytes
#define tt_dbl tl_dbl
#define tt_int tl_int
#define tt_bool tl_bool
#define tt_ts tl_ts
#define tt_null tl_null
/* One measurement as f2_decode emits it; value NAN means a NULL value. */
sluice_record *tt_measurement(sluice_batch *b, int64_t ts_us, const char *device,
                              const char *datapoint, double value, const char *unit);

/* The iot_measurements table of sql/timeseries.sql, in the env's schema. */
void tt_create_measurements(tt_env *e, const char *table);

/* The host's log captured, and a record's failure reason: tests/lib. */
#define tt_capture_begin tl_capture_begin
#define tt_capture_end tl_capture_end
#define tt_failure tl_failure

#endif
