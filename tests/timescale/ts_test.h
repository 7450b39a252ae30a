/* Shared helpers for the Timescale sink tests: the plugin loaded through
 * the host's real loader, a verification connection to the test server,
 * option sets, batches of measurements and captured log output. */
#ifndef TS_TEST_H
#define TS_TEST_H

#include <sluice/sluice.h>
#include <libpq-fe.h>

#include "batch.h"
#include "config/config.h"
#include "ctx.h"
#include "metrics.h"
#include "plugin_registry.h"

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

/* Options from "name=value", "name[]=item" (LIST) and "name{key}=value"
 * (MAP) strings, NULL-terminated; declared defaults apply as the host's
 * config loader applies them. */
sluice_config *tt_cfg(const sluice_option *opts, const char *const *kv);
void tt_cfg_free(sluice_config *c);

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

/* Batches of iot_measurements-shaped records. */
sluice_batch *tt_batch(size_t cap);
sluice_record *tt_rec(sluice_batch *b);
void tt_str(sluice_batch *b, sluice_record *r, const char *name, const char *v);
void tt_strn(sluice_batch *b, sluice_record *r, const char *name, const char *v, size_t n);
void tt_bytes(sluice_batch *b, sluice_record *r, const char *name, const void *v, size_t n);
void tt_dbl(sluice_batch *b, sluice_record *r, const char *name, double v);
void tt_int(sluice_batch *b, sluice_record *r, const char *name, int64_t v);
void tt_bool(sluice_batch *b, sluice_record *r, const char *name, int v);
void tt_ts(sluice_batch *b, sluice_record *r, const char *name, int64_t us);
void tt_null(sluice_batch *b, sluice_record *r, const char *name);
/* One measurement as f2_decode emits it; value NAN means a NULL value. */
sluice_record *tt_measurement(sluice_batch *b, int64_t ts_us, const char *device,
                              const char *datapoint, double value, const char *unit);

/* The iot_measurements table of sql/timeseries.sql, in the env's schema. */
void tt_create_measurements(tt_env *e, const char *table);

/* Captures what the process writes to stderr (the host's log) meanwhile. */
void tt_capture_begin(void);
const char *tt_capture_end(void);   /* static buffer, NUL-terminated */

/* The record's failure reason, NULL when it is not marked failed. */
const char *tt_failure(const sluice_batch *b, size_t i);

#endif
