/* See ts_test.h. */
#include "ts_test.h"

#include "tl.h"
#include "tl_pg.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void tt_setup(tt_env *e, const char *schema, int port)
{
    memset(e, 0, sizeof *e);
    e->api = sl_api();
    e->port = port > 0 ? port : tl_pg_port();
    tl_pg_dsn(e->dsn, sizeof e->dsn, e->port, "postgres");
    e->pg = tl_pg_connect(e->port, "postgres");
    PQclear(PQexec(e->pg, "SET client_min_messages = warning"));
    snprintf(e->schema, sizeof e->schema, "%s", schema);
    tt_sql(e, "DROP SCHEMA IF EXISTS %s CASCADE", schema);
    tt_sql(e, "CREATE SCHEMA %s", schema);

    static const char *const names[] = {"timescale", NULL};
    e->reg = tl_registry(names);
    e->plugin = tl_plugin(e->reg, "timescale");
    if (!e->plugin->sink)
        tl_die("plugin timescale has no sink");
    e->ops = e->plugin->sink;
}

void tt_teardown(tt_env *e)
{
    if (e->pg)
        PQfinish(e->pg);
    sl_registry_free(e->reg);
    memset(e, 0, sizeof *e);
}

void tt_sql(tt_env *e, const char *fmt, ...)
{
    char sql[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    tl_pg_exec(e->pg, "%s", sql);
}

const char *tt_value(tt_env *e, const char *fmt, ...)
{
    char sql[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return tl_pg_value(e->pg, "%s", sql);
}

long tt_long(tt_env *e, const char *fmt, ...)
{
    char sql[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return tl_pg_long(e->pg, "%s", sql);
}

/* ---- the sink ----------------------------------------------------------- */

sluice_status tt_open(tt_env *e, tt_sink *s, const char *pipeline, const char *const *kv)
{
    memset(s, 0, sizeof *s);
    s->env = e;
    const char *all[64];
    size_t n = 0;
    static char dsn_opt[300];
    int has_dsn = 0;
    for (size_t i = 0; kv && kv[i]; i++)
        has_dsn |= !strncmp(kv[i], "dsn=", 4);
    if (!has_dsn) {
        snprintf(dsn_opt, sizeof dsn_opt, "dsn=%s", e->dsn);
        all[n++] = dsn_opt;
    }
    for (size_t i = 0; kv && kv[i] && n < 63; i++)
        all[n++] = kv[i];
    all[n] = NULL;
    s->cfg = tl_cfg(e->ops->options, all);
    s->init_status = tl_init(e->plugin, TL_SINK, s->cfg, pipeline, "sink", &s->ctx, &s->inst,
                             s->err);
    return s->init_status;
}

sluice_status tt_write(tt_sink *s, sluice_batch *b)
{
    s->err[0] = '\0';
    return s->env->ops->write(s->inst, b, s->err);
}

void tt_close(tt_sink *s)
{
    if (s->env)
        tl_destroy(s->env->plugin, TL_SINK, s->ctx, s->inst);
    tl_cfg_free(s->cfg);
    memset(s, 0, sizeof *s);
}

double tt_metric(tt_sink *s, const char *name)
{
    return tl_metric(s->ctx, SLUICE_METRIC_COUNTER, name, NULL);
}

/* ---- batches ---------------------------------------------------------- */

sluice_record *tt_measurement(sluice_batch *b, int64_t ts_us, const char *device,
                              const char *datapoint, double value, const char *unit)
{
    sluice_record *r = tt_rec(b);
    tt_ts(b, r, "timestamp", ts_us);
    tt_str(b, r, "device_id", device);
    tt_str(b, r, "connector_mode", "sensor-mode");
    tt_str(b, r, "component_type", "sensor");
    tt_str(b, r, "pin_position", "3");
    tt_str(b, r, "datapoint", datapoint);
    if (isnan(value))
        tt_null(b, r, "value");
    else
        tt_dbl(b, r, "value", value);
    tt_null(b, r, "value_text");
    if (unit)
        tt_str(b, r, "unit", unit);
    else
        tt_null(b, r, "unit");
    tt_str(b, r, "topic", "cmnd/f2-aabbccddeeff/sensor-mode/1/sensor-3");
    return r;
}

void tt_create_measurements(tt_env *e, const char *table)
{
    tt_sql(e,
           "CREATE TABLE %s.%s ("
           " \"timestamp\" timestamptz NOT NULL, device_id text NOT NULL,"
           " connector_mode text NOT NULL, component_type text NOT NULL,"
           " pin_position text NOT NULL DEFAULT '', datapoint text NOT NULL,"
           " value double precision, value_text text, unit text, topic text,"
           " PRIMARY KEY (\"timestamp\", device_id, connector_mode, component_type,"
           " pin_position, datapoint))",
           e->schema, table);
}
