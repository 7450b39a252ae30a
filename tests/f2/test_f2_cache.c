/* The parameter cache against a real PostgreSQL: changes reach a running
 * decoder through NOTIFY (all tables, and per device for
 * device_parameters), through the TTL when LISTEN is off, and after a lost
 * connection; cached readings cost no SQL; unknown devices are cached as
 * unknown. */
#include "check.h"
#include "f2t.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define TS "2023-05-25 15:13:10.543400"
/* Sample fleet, seed 1: controllers 0 and 1. */
#define ENV0 "cmnd/f2-02F200010000/sensor-mode/J1/sensor-1"
#define ENV1 "cmnd/f2-02F200010001/sensor-mode/J1/sensor-1"
#define STRIKE0 "stat/f2-02F200010000/access-control-mode/2/strike-1"
#define EXAMPLE "{\"timestamp\": \"" TS "\", \"data\": \"0A 1B 15 7C 01 90\"}"
#define STRIKE_PL                                                                          \
    "{\"timestamp\": \"" TS "\", \"state\": \"locked\", \"voltage\": 12.1, \"current\": 1.5}"

static sluice_batch *out;
static char err[SLUICE_ERRLEN];

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double temperature(f2t_inst *d, const char *topic)
{
    if (f2t_decode(d, topic, EXAMPLE, out, err) != SLUICE_OK)
        return NAN;
    double v = NAN;
    const sluice_record *r = f2t_find(out, "Temperature");
    if (!r || f2t_value(r, &v) != 1)
        return NAN;
    return v;
}

/* Decodes until the Temperature reads `want` or `ms` pass; 1 when it did. */
static int wait_temperature(f2t_inst *d, const char *topic, double want, int ms)
{
    for (int waited = 0; waited <= ms; waited += 20) {
        if (temperature(d, topic) == want)
            return 1;
        sleep_ms(20);
    }
    return 0;
}

static const char *unit_of(f2t_inst *d, const char *topic, const char *payload, const char *dp)
{
    if (f2t_decode(d, topic, payload, out, err) != SLUICE_OK)
        return NULL;
    const sluice_record *r = f2t_find(out, dp);
    return r ? f2t_str(r, "unit") : NULL;
}

static void test_notify(f2t *t)
{
    f2t_inst d;
    CHECK_INT_EQ(f2t_decoder(t, &d, NULL, NULL), 0);
    CHECK(temperature(&d, ENV0) == 25.87);
    CHECK(temperature(&d, ENV1) == 25.87);
    CHECK_INT_EQ(f2t_metric(&d, "sluice_f2_cache_misses_total"), 2);

    /* Cached readings cost no lookup at all. */
    for (int i = 0; i < 1000; i++)
        (void)temperature(&d, i % 2 ? ENV0 : ENV1);
    CHECK_INT_EQ(f2t_metric(&d, "sluice_f2_cache_misses_total"), 2);
    CHECK_INT_EQ(f2t_metric(&d, "sluice_f2_cache_reloads_total"), 0);
    CHECK(f2t_metric(&d, "sluice_f2_cache_hits_total") >= 1000);

    /* A template change reaches the running decoder without a restart. */
    f2t_sql(t, "UPDATE \"DataPoint\" SET \"Decimals\" = 1 WHERE \"DataPointId\" = 201");
    CHECK(wait_temperature(&d, ENV0, 258.7, 3000));
    CHECK(temperature(&d, ENV1) == 258.7);
    CHECK_INT_EQ(f2t_metric(&d, "sluice_f2_cache_reloads_total"), 2);
    f2t_sql(t, "UPDATE \"DataPoint\" SET \"Decimals\" = 2 WHERE \"DataPointId\" = 201");
    CHECK(wait_temperature(&d, ENV0, 25.87, 3000));
    CHECK(temperature(&d, ENV1) == 25.87);

    /* A device_parameters change refreshes that device only. */
    CHECK(unit_of(&d, STRIKE0, STRIKE_PL, "voltage") &&
          strcmp(unit_of(&d, STRIKE0, STRIKE_PL, "voltage"), "V") == 0);
    double reloads = f2t_metric(&d, "sluice_f2_cache_reloads_total");
    f2t_sql(t, "UPDATE device_parameters SET units = 'voltage=mV' WHERE device_id = "
               "'f2-02f200010000' AND component_type = 'strike' AND encoding_type = "
               "'number_map'");
    int changed = 0;
    for (int i = 0; i < 150 && !changed; i++) {
        const char *u = unit_of(&d, STRIKE0, STRIKE_PL, "voltage");
        changed = u && strcmp(u, "mV") == 0;
        if (!changed)
            sleep_ms(20);
    }
    CHECK(changed);
    CHECK(temperature(&d, ENV1) == 25.87);
    CHECK_INT_EQ(f2t_metric(&d, "sluice_f2_cache_reloads_total"), reloads + 1);

    /* A device added while running is found at once: the notification
     * drops the negative entry too. */
    CHECK_INT_EQ(f2t_decode(&d, "cmnd/f2-02F2000A0000/sensor-mode/J1/sensor-1", EXAMPLE, out,
                            err),
                 SLUICE_ERR);
    CHECK_STR_CONTAINS(err, "unknown device f2-02f2000a0000");
    f2t_sql(t, "SELECT f2sim_sample(10, 1)");
    int found = 0;
    for (int i = 0; i < 150 && !found; i++) {
        found = temperature(&d, "cmnd/f2-02F2000A0000/sensor-mode/J1/sensor-1") == 25.87;
        if (!found)
            sleep_ms(20);
    }
    CHECK(found);
    f2t_inst_free(&d);
}

static void test_ttl_and_negative(f2t *t)
{
    f2t_inst d;
    const char *const opts[] = {"listen: false", "ttl: 400ms", NULL};
    CHECK_INT_EQ(f2t_decoder(t, &d, NULL, opts), 0);
    CHECK(temperature(&d, ENV0) == 25.87);

    /* Without LISTEN the change waits for the TTL ... */
    f2t_sql(t, "UPDATE \"DataPoint\" SET \"Decimals\" = 3 WHERE \"DataPointId\" = 201");
    sleep_ms(150);
    CHECK(temperature(&d, ENV0) == 25.87);
    /* ... and no longer. */
    CHECK(wait_temperature(&d, ENV0, 2.587, 1500));
    f2t_sql(t, "UPDATE \"DataPoint\" SET \"Decimals\" = 2 WHERE \"DataPointId\" = 201");

    /* An unknown MAC is looked up once per TTL, however often it comes. */
    const char *unknown = "cmnd/f2-02F2000C0000/sensor-mode/J1/sensor-1";
    double misses = f2t_metric(&d, "sluice_f2_cache_misses_total");
    for (int i = 0; i < 500; i++) {
        CHECK_INT_EQ(f2t_decode(&d, unknown, EXAMPLE, out, err), SLUICE_ERR);
        if (i == 0)
            CHECK_STR_CONTAINS(err, "unknown device f2-02f2000c0000");
    }
    CHECK_INT_EQ(f2t_metric(&d, "sluice_f2_cache_misses_total"), misses + 1);
    f2t_sql(t, "SELECT f2sim_sample(12, 1)");
    CHECK_INT_EQ(f2t_decode(&d, unknown, EXAMPLE, out, err), SLUICE_ERR);
    int found = 0;
    for (int i = 0; i < 100 && !found; i++) {
        found = temperature(&d, unknown) == 25.87;
        if (!found)
            sleep_ms(20);
    }
    CHECK(found);
    f2t_inst_free(&d);
}

static void test_reconnect(f2t *t)
{
    /* Changes made while the connection is gone send notifications nobody
     * hears; the decoder must refresh everything once it is back. */
    f2t_inst d;
    CHECK_INT_EQ(f2t_decoder(t, &d, NULL, NULL), 0);
    CHECK(temperature(&d, ENV0) == 25.87);
    CHECK_INT_EQ(f2t_sql_long(t,
                              "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                              "WHERE application_name = 'sluice-f2_decode' AND datname = "
                              "current_database()"),
                 1);
    f2t_sql(t, "UPDATE \"DataPoint\" SET \"Decimals\" = 1 WHERE \"DataPointId\" = 201");
    /* Cached readings go on while the decoder notices and reconnects. */
    CHECK(wait_temperature(&d, ENV0, 258.7, 5000));
    CHECK(f2t_metric(&d, "sluice_f2_cache_reloads_total") >= 1);
    f2t_sql(t, "UPDATE \"DataPoint\" SET \"Decimals\" = 2 WHERE \"DataPointId\" = 201");
    f2t_inst_free(&d);
}

static void test_channel_and_query_errors(f2t *t)
{
    /* `channel` picks the channel: a change made with the triggers off is
     * announced by hand on it. */
    f2t_inst d;
    const char *const opts[] = {"channel: f2_custom_channel", NULL};
    CHECK_INT_EQ(f2t_decoder(t, &d, NULL, opts), 0);
    CHECK(temperature(&d, ENV0) == 25.87);
    f2t_sql(t, "ALTER TABLE \"DataPoint\" DISABLE TRIGGER sluice_notify;"
               "UPDATE \"DataPoint\" SET \"Decimals\" = 1 WHERE \"DataPointId\" = 201;"
               "ALTER TABLE \"DataPoint\" ENABLE TRIGGER sluice_notify");
    sleep_ms(250);
    CHECK(temperature(&d, ENV0) == 25.87);
    f2t_sql(t, "NOTIFY f2_custom_channel, 'DataPoint'");
    CHECK(wait_temperature(&d, ENV0, 258.7, 3000));
    f2t_sql(t, "UPDATE \"DataPoint\" SET \"Decimals\" = 2 WHERE \"DataPointId\" = 201");
    f2t_sql(t, "NOTIFY f2_custom_channel, 'DataPoint'");
    CHECK(wait_temperature(&d, ENV0, 25.87, 3000));

    /* A lookup query that fails on a live connection (the schema changed
     * under us): cached devices go on, an uncached one is retried, and
     * once the schema is back the reading goes through. */
    f2t_sql(t, "ALTER TABLE device_parameters RENAME TO device_parameters_away");
    char e[SLUICE_ERRLEN];
    CHECK_INT_EQ(f2t_decode(&d, ENV1, EXAMPLE, out, e), SLUICE_RETRY);
    CHECK_STR_CONTAINS(e, "cannot look up f2-02f200010001");
    CHECK_STR_CONTAINS(e, "device_parameters");
    CHECK(f2t_metric(&d, "sluice_f2_lookups_failed_total") >= 1);
    CHECK(temperature(&d, ENV0) == 25.87);
    f2t_sql(t, "ALTER TABLE device_parameters_away RENAME TO device_parameters");
    sluice_status st = SLUICE_RETRY;
    for (int i = 0; i < 100 && st != SLUICE_OK; i++) {
        st = f2t_decode(&d, ENV1, EXAMPLE, out, e);
        if (st != SLUICE_OK)
            sleep_ms(50);
    }
    CHECK_INT_EQ(st, SLUICE_OK);
    f2t_inst_free(&d);
}

int main(void)
{
    f2t t;
    f2t_open(&t, "cache", 0, 1);
    out = sl_batch_new(64, 1 << 20);
    test_notify(&t);
    test_ttl_and_negative(&t);
    test_reconnect(&t);
    test_channel_and_query_errors(&t);
    sl_batch_free(out);
    int rc = CHECK_DONE();
    f2t_close(&t, rc != 0);
    return rc;
}
