/* Harness of the F2 tests: a scratch database with sql/ applied on the test
 * PostgreSQL (SLUICE_TEST_PG_PORT), the real plugins loaded through the
 * host's registry, their options through the host's configuration loader,
 * and small helpers to feed readings and inspect measurements.  What is not
 * about F2 comes from tests/lib (tl.h, tl_pg.h). */
#ifndef F2T_H
#define F2T_H

#include "batch.h"
#include "config/config.h"
#include "ctx.h"
#include "plugin_registry.h"

#include <libpq-fe.h>

typedef struct f2t {
    sl_registry *reg;
    int port;
    char db[64];
    char dsn[256];           /* of the scratch database */
    PGconn *conn;            /* to the scratch database, for fixtures */
} f2t;

/* Creates database f2t_<tag>_<pid> on host=127.0.0.1 port=`port` (0: from
 * SLUICE_TEST_PG_PORT) and applies sql/device_params.sql, and the sample
 * data when `sample`.  Exits 2 (a failed test) when anything is missing. */
void f2t_open(f2t *t, const char *tag, int port, int sample);
/* Only the plugins, no database (f2sim tests). */
void f2t_open_plugins(f2t *t);
/* Drops the database (kept when the test failed, for a look). */
void f2t_close(f2t *t, int keep);

/* Runs SQL on the scratch database; exits on error. */
void f2t_sql(f2t *t, const char *fmt, ...) SLUICE_PRINTF(2, 3);
/* First column of the first row as a long (-1 if none). */
long f2t_sql_long(f2t *t, const char *fmt, ...) SLUICE_PRINTF(2, 3);
/* Runs a whole SQL file from the source tree (sql/...). */
void f2t_sql_file(f2t *t, const char *relpath);

/* One plugin instance initialised from a pipeline file built of the given
 * YAML option lines (each "key: value", two-space indented by the helper). */
typedef struct f2t_inst {
    const sluice_plugin *plugin;
    sl_pipeline_conf *conf;
    sluice_ctx *ctx;
    void *inst;
    sluice_status init_status;
    char init_err[SLUICE_ERRLEN];
} f2t_inst;

/* f2_decode with params_dsn of the scratch database plus `opts` (NULL-
 * terminated option lines).  A NULL `dsn` uses the scratch database's. */
int f2t_decoder(f2t *t, f2t_inst *out, const char *dsn, const char *const *opts);
/* f2sim with `opts`. */
int f2t_sim(f2t *t, f2t_inst *out, const char *const *opts);
void f2t_inst_free(f2t_inst *i);

/* Loads a pipeline file text; NULL with the diagnostics printed. */
sl_pipeline_conf *f2t_load_conf(f2t *t, const char *yaml);

/* Feeds one MQTT-shaped reading; `out` is reset first. */
sluice_status f2t_decode(f2t_inst *d, const char *topic, const char *payload,
                         sluice_batch *out, char *err);
/* Feeds a record as it is. */
sluice_status f2t_decode_rec(f2t_inst *d, const sluice_record *in, sluice_batch *out,
                             char *err);

/* The output record whose datapoint is `dp`, or NULL. */
const sluice_record *f2t_find(const sluice_batch *out, const char *dp);
/* A field's string (NULL when absent or NULL-typed). */
const char *f2t_str(const sluice_record *r, const char *field);
/* The value field: 1 with *v when DOUBLE, 0 when NULL, -1 when absent. */
int f2t_value(const sluice_record *r, double *v);

/* Polls a source instance once into `b` (reset first). */
sluice_status f2t_poll(f2t_inst *s, sluice_batch *b, int timeout_ms, char *err);

/* A counter of the instance by name. */
double f2t_metric(f2t_inst *i, const char *name);

/* Checks one measurement: value (NaN: expect NULL), unit (NULL: expect NULL). */
#define CHECK_MEAS(out, dp, val, unit_) CHECK(f2t_meas_ok(__FILE__, __LINE__, out, dp, val, unit_))
int f2t_meas_ok(const char *file, int line, const sluice_batch *out, const char *dp, double val,
                const char *unit);

#endif
