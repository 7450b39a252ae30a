/* The sink against a real TimescaleDB (run by test_ts_timescaledb.sh,
 * never on plain PostgreSQL): conversion only when asked, the time column
 * from the key, policies reconciled on restart, late and out-of-order
 * readings into compressed chunks, refused rows named by the user's table
 * and constraint (never a chunk's), the decompression limit and a slow
 * conversion as permanent errors that say what to do. */
#include "check.h"
#include "log.h"
#include "ts_test.h"

#include <stdio.h>
#include <string.h>

#define SCHEMA "ts_hyper"
#define DAY_US 86400000000LL
#define T0 1704067200000000LL   /* 2024-01-01 00:00:00 UTC */

static tt_env env;

/* n readings from `from`, one a minute, over 4 devices and 2 data points. */
static sluice_batch *readings(int64_t from_us, size_t n, double scale)
{
    sluice_batch *b = tt_batch(n + 8);   /* room for a few more */
    for (size_t i = 0; i < n; i++) {
        char dev[32];
        snprintf(dev, sizeof dev, "f2-00000000000%zu", i % 4);
        tt_measurement(b, from_us + (int64_t)(i / 8) * 60000000LL, dev,
                       (i / 4) % 2 ? "Temperature" : "Humidity", (double)i * scale, "C");
    }
    return b;
}

static long is_hypertable(const char *table)
{
    return tt_long(&env, "SELECT count(*) FROM timescaledb_information.hypertables WHERE "
                         "hypertable_schema = '" SCHEMA "' AND hypertable_name = '%s'", table);
}

static const char *open_log(tt_sink *s, const char *const *kv, sluice_status want)
{
    static char log[16384];
    tt_capture_begin();
    sluice_status st = tt_open(&env, s, "t_hyper", kv);
    snprintf(log, sizeof log, "%s", tt_capture_end());
    CHECK_INT_EQ(st, want);
    if (st != SLUICE_OK)
        fprintf(stderr, "  -> %s\n", s->err);
    return log;
}

static void test_convert_only_when_asked(void)
{
    tt_create_measurements(&env, "m");
    tt_sink s;
    /* The default converts nothing. */
    const char *kv0[] = {"table=" SCHEMA ".m", NULL};
    const char *log = open_log(&s, kv0, SLUICE_OK);
    CHECK_STR_CONTAINS(log, "with timescaledb 2.");
    CHECK_STR_CONTAINS(log, "writing to a plain table " SCHEMA ".m (not a hypertable; "
                            "hypertable: true would convert it)");
    tt_close(&s);
    CHECK_INT_EQ(is_hypertable("m"), 0);
    /* Policies on a plain table, without asking for a conversion: refused. */
    const char *kv1[] = {"table=" SCHEMA ".m", "compress_after=2d", NULL};
    open_log(&s, kv1, SLUICE_ERR);
    CHECK_STR_CONTAINS(s.err, "table " SCHEMA ".m is a plain table; the sink converts a table "
                              "only when asked: set hypertable: true");
    tt_close(&s);
    CHECK_INT_EQ(is_hypertable("m"), 0);

    /* The README's device_state: no time column in its key.  Written as it
     * is by default; hypertable: true says why it cannot be one. */
    tt_sql(&env, "CREATE TABLE " SCHEMA ".device_state (device_id text PRIMARY KEY, "
                 "updated_at timestamptz, state text)");
    const char *kv2[] = {"table=" SCHEMA ".device_state", "conflict=update",
                         "columns{device_id}=device_id", "columns{updated_at}=timestamp",
                         "columns{state}=value_text", NULL};
    open_log(&s, kv2, SLUICE_OK);
    sluice_batch *b = readings(T0, 8, 1);
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    sl_batch_free(b);
    tt_close(&s);
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".device_state"), 4);
    const char *kv3[] = {"table=" SCHEMA ".device_state", "hypertable=true", NULL};
    open_log(&s, kv3, SLUICE_ERR);
    CHECK_STR_CONTAINS(s.err, "the primary key of table " SCHEMA ".device_state has no "
                              "timestamptz column to partition by");
    tt_close(&s);

    /* Asked: converted on the key's time column, with the policies, and no
     * (time DESC) index next to a key that starts with time. */
    tt_sql(&env, "INSERT INTO " SCHEMA ".m (\"timestamp\", device_id, connector_mode, "
                 "component_type, datapoint, value) SELECT '2024-01-01'::timestamptz + "
                 "i * interval '1 minute', 'd', 'c', 't', 'p', i FROM generate_series(1, 100) i");
    const char *kv4[] = {"table=" SCHEMA ".m", "hypertable=true", "chunk_interval=1d",
                         "compress_after=2d", "retain=3650d", NULL};
    log = open_log(&s, kv4, SLUICE_OK);
    CHECK_STR_CONTAINS(log, "table " SCHEMA ".m: converted into a hypertable on \"timestamp\", "
                            "chunk_interval 1 day");
    CHECK_STR_CONTAINS(log, "compression enabled (segmentby \"device_id\", \"connector_mode\", "
                            "\"component_type\", \"pin_position\", \"datapoint\", orderby "
                            "\"timestamp\" DESC)");
    CHECK_STR_CONTAINS(log, "compression policy: compress chunks older than 2 days (was: none)");
    CHECK_STR_CONTAINS(log, "retention policy: drop chunks older than 3650 days (was: none)");
    CHECK_STR_CONTAINS(log, "table " SCHEMA ".m is a hypertable on \"timestamp\" "
                            "(chunk_interval 1 day, compress after 2 days, retain 3650 days)");
    tt_close(&s);
    CHECK_INT_EQ(is_hypertable("m"), 1);
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".m"), 100);
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM pg_indexes WHERE schemaname = '" SCHEMA
                               "' AND tablename = 'm'"), 1);

    /* The same options again: nothing changes, and the log says nothing
     * changed. */
    log = open_log(&s, kv4, SLUICE_OK);
    CHECK(strstr(log, "(was:") == NULL);
    CHECK(strstr(log, "converted") == NULL);
    tt_close(&s);
    /* Changed options: each is changed, and logged. */
    const char *kv5[] = {"table=" SCHEMA ".m", "chunk_interval=6h", "compress_after=3d",
                         "retain=400d", NULL};
    log = open_log(&s, kv5, SLUICE_OK);
    CHECK_STR_CONTAINS(log, "chunk_interval 6 hours (was: 1 day; applies to chunks created "
                            "from now on)");
    CHECK_STR_CONTAINS(log, "compression policy: compress chunks older than 3 days (was: 2 "
                            "days)");
    CHECK_STR_CONTAINS(log, "retention policy: drop chunks older than 400 days (was: 3650 "
                            "days)");
    tt_close(&s);
    CHECK(!strcmp(tt_value(&env, "SELECT time_interval::text FROM "
                                 "timescaledb_information.dimensions WHERE hypertable_schema = '"
                                 SCHEMA "' AND hypertable_name = 'm'"), "06:00:00"));
    CHECK(!strcmp(tt_value(&env, "SELECT string_agg(proc_name || '=' || COALESCE(config->>"
                                 "'compress_after', config->>'drop_after'), ',' ORDER BY "
                                 "proc_name) FROM timescaledb_information.jobs WHERE "
                                 "hypertable_schema = '" SCHEMA "' AND hypertable_name = 'm'"),
                  "policy_compression=3 days,policy_retention=400 days"));
    /* An option left out leaves its setting alone. */
    const char *kv6[] = {"table=" SCHEMA ".m", NULL};
    log = open_log(&s, kv6, SLUICE_OK);
    CHECK_STR_CONTAINS(log, "(chunk_interval 6 hours, compress after 3 days, retain 400 days)");
    tt_close(&s);
}

/* The tables' compression policies are set far enough out (3650 days) that
 * their background jobs leave these 2024 rows alone: a job compressing the
 * same chunk meanwhile would abort this one. */
static void compress_all(const char *table)
{
    tt_sql(&env, "SELECT count(compress_chunk(c, if_not_compressed => true)) FROM "
                 "show_chunks('" SCHEMA ".%s') c", table);
}

static long compressed_chunks(const char *table)
{
    return tt_long(&env, "SELECT count(*) FROM timescaledb_information.chunks WHERE "
                         "hypertable_schema = '" SCHEMA "' AND hypertable_name = '%s' AND "
                         "is_compressed", table);
}

/* Readings days late, out of order, into chunks already compressed: new
 * keys land, replayed ones are skipped (conflict: ignore) or overwritten
 * (conflict: update). */
static void test_late_into_compressed(void)
{
    tt_create_measurements(&env, "late");
    tt_sink s;
    const char *kv[] = {"table=" SCHEMA ".late", "hypertable=true", "chunk_interval=1d",
                        "compress_after=3650d", NULL};
    open_log(&s, kv, SLUICE_OK);
    /* Three days of readings, every other minute (the odd minutes come late). */
    for (int d = 0; d < 3; d++) {
        sluice_batch *b = tt_batch(800);
        for (int i = 0; i < 720; i++)
            tt_measurement(b, T0 + d * DAY_US + (int64_t)i * 120000000LL, "f2-a", "Temperature",
                           d * 1000 + i, "C");
        CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
        sl_batch_free(b);
    }
    compress_all("late");
    CHECK_INT_EQ(compressed_chunks("late"), 3);

    /* The odd minutes, newest day first and backwards within each day,
     * with every tenth reading a replay of one already stored. */
    sluice_batch *b = tt_batch(2400);
    size_t n_new = 0, n_old = 0;
    for (int d = 2; d >= 0; d--)
        for (int i = 719; i >= 0; i--) {
            int64_t at = T0 + d * DAY_US + (int64_t)i * 120000000LL;
            if (i % 10 == 0) {
                tt_measurement(b, at, "f2-a", "Temperature", -1, "C");   /* replay */
                n_old++;
            }
            tt_measurement(b, at + 60000000LL, "f2-a", "Temperature", d * 1000 + i + 0.5, "C");
            n_new++;
        }
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    CHECK(tt_metric(&s, "sluice_timescale_conflicts_skipped_total") == (double)n_old);
    /* A replay of the whole late batch writes nothing. */
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    sl_batch_free(b);
    tt_close(&s);
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".late"), 2160 + (long)n_new);
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".late WHERE value < 0"), 0);
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".late WHERE value <> "
                               "floor(value) AND floor(value) <> (extract(day FROM \"timestamp\") "
                               "- 1) * 1000 + floor(extract(epoch FROM \"timestamp\"::time) / "
                               "120)"), 0);
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".late WHERE value <> "
                               "floor(value)"), (long)n_new);
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".late WHERE \"timestamp\" < "
                               "'2024-01-01' OR \"timestamp\" >= '2024-01-04'"), 0);

    /* conflict: update rewrites readings inside compressed chunks. */
    compress_all("late");
    const char *kvu[] = {"table=" SCHEMA ".late", "conflict=update", NULL};
    open_log(&s, kvu, SLUICE_OK);
    b = tt_batch(20);
    for (int i = 0; i < 10; i++)
        tt_measurement(b, T0 + DAY_US + (int64_t)i * 120000000LL, "f2-a", "Temperature",
                       42.25, "C");
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    sl_batch_free(b);
    tt_close(&s);
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".late WHERE value = 42.25"), 10);
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".late"), 2160 + (long)n_new);
}

/* A few taken keys in a batch for a hypertable: the rows the failed COPYs
 * name are left out, the rest goes in by COPY, without staging. */
static void test_few_conflicts(void)
{
    tt_create_measurements(&env, "few");
    tt_sink s;
    const char *kv[] = {"table=" SCHEMA ".few", "hypertable=true", "chunk_interval=1h", NULL};
    open_log(&s, kv, SLUICE_OK);
    sluice_batch *b = readings(T0, 400, 1);
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    sl_batch_free(b);
    /* 400 new rows, then the 3 keys of rows 0, 100 and 399 again, spread
     * over chunks. */
    b = readings(T0 + 50 * 60000000LL, 400, 2);   /* minutes 50..99: 0..399 */
    tt_measurement(b, T0, "f2-000000000000", "Humidity", -1, "C");
    tt_measurement(b, T0 + 12 * 60000000LL, "f2-000000000000", "Humidity", -1, "C");
    tt_measurement(b, T0 + 49 * 60000000LL, "f2-000000000003", "Temperature", -1, "C");
    sl_log_configure(SLUICE_LOG_DEBUG, SL_LOG_TEXT);
    tt_capture_begin();
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    const char *log = tt_capture_end();
    sl_log_configure(SLUICE_LOG_INFO, SL_LOG_TEXT);
    CHECK(strstr(log, "writing through staging") == NULL);
    CHECK(tt_metric(&s, "sluice_timescale_conflicts_skipped_total") == 3);
    CHECK(tt_metric(&s, "sluice_timescale_rows_written_total") == 800);
    sl_batch_free(b);
    tt_close(&s);
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".few"), 800);
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".few WHERE value < 0"), 0);
    CHECK(tt_long(&env, "SELECT count(*) FROM show_chunks('" SCHEMA ".few')") >= 2);
}

static void no_chunk_names(const char *reason)
{
    fprintf(stderr, "  reason: %s\n", reason ? reason : "(none)");
    CHECK(reason && strstr(reason, "_hyper_") == NULL);
    CHECK(reason && strstr(reason, "\"1_") == NULL && strstr(reason, "\"2_") == NULL &&
          strstr(reason, "_chunk") == NULL);
}

static void test_reasons_name_the_table(void)
{
    tt_sql(&env, "CREATE TABLE " SCHEMA ".cn (\"timestamp\" timestamptz NOT NULL, device_id "
                 "text NOT NULL, datapoint text NOT NULL, value float8 CHECK (value < 1000), "
                 "PRIMARY KEY (\"timestamp\", device_id, datapoint))");
    tt_sink s;
    const char *kv[] = {"table=" SCHEMA ".cn", "hypertable=true", "conflict=error", NULL};
    open_log(&s, kv, SLUICE_OK);
    sluice_batch *b = readings(T0, 8, 1);
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    sl_batch_free(b);
    /* A duplicate key (conflict: error), a CHECK violation: in an
     * uncompressed chunk, then in a compressed one. */
    tt_sql(&env, "ALTER TABLE " SCHEMA ".cn SET (timescaledb.compress, "
                 "timescaledb.compress_segmentby = 'device_id')");
    for (int pass = 0; pass < 2; pass++) {
        if (pass)
            compress_all("cn");
        b = readings(T0, 2, 5000);
        CHECK_INT_EQ(tt_write(&s, b), SLUICE_PARTIAL);
        const char *r0 = tt_failure(b, 0), *r1 = tt_failure(b, 1);
        no_chunk_names(r0);
        no_chunk_names(r1);
        /* row 0 has value 0: only its key is wrong; row 1 both */
        CHECK_STR_CONTAINS(r0, "timescale: table " SCHEMA ".cn: duplicate key value violates "
                               "unique constraint \"cn_pkey\"");
        CHECK_STR_CONTAINS(r1, "timescale: table " SCHEMA ".cn");
        CHECK(strstr(r1, "\"cn_pkey\"") || strstr(r1, "\"cn_value_check\""));
        sl_batch_free(b);
    }
    tt_close(&s);

    /* conflict: ignore goes through staging: a CHECK refused by the INSERT
     * names the hypertable too. */
    const char *kv2[] = {"table=" SCHEMA ".cn", NULL};
    open_log(&s, kv2, SLUICE_OK);
    b = readings(T0 + DAY_US, 3, 600);   /* 0, 600, 1200 */
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_PARTIAL);
    CHECK(tt_failure(b, 0) == NULL && tt_failure(b, 1) == NULL);
    no_chunk_names(tt_failure(b, 2));
    CHECK_STR_CONTAINS(tt_failure(b, 2), "new row for relation \"cn\" violates check "
                                         "constraint \"cn_value_check\"");
    sl_batch_free(b);
    tt_close(&s);
}

/* An upsert that would decompress more rows than TimescaleDB allows: the
 * same limit on every retry, so a permanent error saying what to do. */
static void test_decompression_limit(void)
{
    tt_create_measurements(&env, "lim");
    tt_sink s;
    const char *kv[] = {"table=" SCHEMA ".lim", "hypertable=true", "compress_after=3650d", NULL};
    open_log(&s, kv, SLUICE_OK);
    sluice_batch *b = readings(T0, 400, 1);
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    tt_close(&s);
    compress_all("lim");
    char dsn[400];
    snprintf(dsn, sizeof dsn, "dsn=%s options='-c "
             "timescaledb.max_tuples_decompressed_per_dml_transaction=10'", env.dsn);
    const char *kvu[] = {dsn, "table=" SCHEMA ".lim", "conflict=update", NULL};
    open_log(&s, kvu, SLUICE_OK);
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_ERR);
    fprintf(stderr, "  -> %s\n", s.err);
    CHECK_STR_CONTAINS(s.err, "SQLSTATE 53400");
    CHECK_STR_CONTAINS(s.err, "raise timescaledb.max_tuples_decompressed_per_dml_transaction");
    sl_batch_free(b);
    tt_close(&s);
}

/* Converting a table whose rows take longer to move than statement_timeout
 * fails at once, with the way out, instead of retrying forever. */
static void test_slow_conversion(void)
{
    tt_create_measurements(&env, "big");
    tt_sql(&env, "INSERT INTO " SCHEMA ".big (\"timestamp\", device_id, connector_mode, "
                 "component_type, datapoint, value) SELECT '2024-01-01'::timestamptz + i * "
                 "interval '1 second', 'd', 'c', 't', 'p', i FROM generate_series(1, 200000) i");
    tt_sink s;
    const char *kv[] = {"table=" SCHEMA ".big", "hypertable=true", "statement_timeout=300ms",
                        NULL};
    open_log(&s, kv, SLUICE_ERR);
    CHECK_STR_CONTAINS(s.err, "SQLSTATE 57014");
    CHECK_STR_CONTAINS(s.err, "convert it once by hand (SELECT create_hypertable('" SCHEMA
                              ".big', 'timestamp', migrate_data => true)");
    tt_close(&s);
    CHECK_INT_EQ(is_hypertable("big"), 0);
}

int main(void)
{
    tt_setup(&env, SCHEMA, 0);
    if (!tt_value(&env, "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")) {
        fprintf(stderr, "FATAL: the test database has no timescaledb extension: run this "
                        "through test_ts_timescaledb.sh\n");
        return 2;
    }
    test_convert_only_when_asked();
    test_late_into_compressed();
    test_few_conflicts();
    test_reasons_name_the_table();
    test_decompression_limit();
    test_slow_conversion();
    tt_sql(&env, "DROP SCHEMA " SCHEMA " CASCADE");
    tt_teardown(&env);
    return CHECK_DONE();
}
