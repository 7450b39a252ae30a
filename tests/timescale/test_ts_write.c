/* The Timescale sink against a real PostgreSQL: what it writes, exactly;
 * replays; conflict modes; column mapping; every field type; rows the
 * server refuses; create_table; a connection the server terminates. */
#include "check.h"
#include "log.h"
#include "ts_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA "ts_write"
#define T0 1685027590543400LL   /* 2023-05-25 15:13:10.5434 UTC */

static tt_env env;

#define sink_opts(table) "table=" SCHEMA "." table

/* Rows i in [from, to): distinct keys, values that would show any rounding. */
static sluice_batch *measurements(size_t from, size_t to, double scale)
{
    sluice_batch *b = tt_batch(to - from + 1);
    for (size_t i = from; i < to; i++) {
        char dev[32];
        snprintf(dev, sizeof dev, "f2-aabbccdd%04zx", i % 7);
        tt_measurement(b, T0 + (int64_t)i * 1000, dev, i % 2 ? "Temperature" : "Humidity",
                       ((double)i + 0.1) * scale, i % 3 ? " \xc2\xb0" "C" : NULL);
    }
    return b;
}

/* Every row of the table matches the record that made it, field by field. */
static void check_measurements(const char *table, size_t from, size_t to, double scale)
{
    PGresult *r = PQexec(env.pg, "SELECT 1");
    PQclear(r);
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT (extract(epoch FROM \"timestamp\") * 1000000)::int8, device_id, "
             "connector_mode, component_type, pin_position, datapoint, value, value_text, "
             "unit, topic, pg_typeof(value)::text FROM " SCHEMA ".%s WHERE \"timestamp\" >= "
             "to_timestamp(%lld / 1000000.0) ORDER BY 1 LIMIT %zu", table,
             (long long)(T0 + (int64_t)from * 1000), to - from);
    r = PQexec(env.pg, sql);
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK);
    CHECK_INT_EQ(PQntuples(r), (long)(to - from));
    for (int k = 0; k < PQntuples(r); k++) {
        size_t i = from + (size_t)k;
        char dev[32];
        snprintf(dev, sizeof dev, "f2-aabbccdd%04zx", i % 7);
        CHECK_INT_EQ(atoll(PQgetvalue(r, k, 0)), T0 + (int64_t)i * 1000);
        CHECK(!strcmp(PQgetvalue(r, k, 1), dev));
        CHECK(!strcmp(PQgetvalue(r, k, 2), "sensor-mode"));
        CHECK(!strcmp(PQgetvalue(r, k, 3), "sensor"));
        CHECK(!strcmp(PQgetvalue(r, k, 4), "3"));
        CHECK(!strcmp(PQgetvalue(r, k, 5), i % 2 ? "Temperature" : "Humidity"));
        CHECK(strtod(PQgetvalue(r, k, 6), NULL) == ((double)i + 0.1) * scale);
        CHECK(PQgetisnull(r, k, 7));
        if (i % 3)
            CHECK(!strcmp(PQgetvalue(r, k, 8), " \xc2\xb0" "C"));
        else
            CHECK(PQgetisnull(r, k, 8));
        CHECK(!strcmp(PQgetvalue(r, k, 9), "cmnd/f2-aabbccddeeff/sensor-mode/1/sensor-3"));
        CHECK(!strcmp(PQgetvalue(r, k, 10), "double precision"));
    }
    PQclear(r);
}

static void test_write_and_replay(void)
{
    tt_create_measurements(&env, "m1");
    tt_sink s;
    const char *kv[] = {sink_opts("m1"), NULL};
    tt_capture_begin();
    sluice_status st = tt_open(&env, &s, "t_write", kv);
    const char *log = tt_capture_end();
    CHECK_INT_EQ(st, SLUICE_OK);
    CHECK_STR_CONTAINS(log, "timescale: connected to PostgreSQL 1");
    CHECK_STR_CONTAINS(log, "writing to a plain table "
                            SCHEMA ".m1");

    sluice_batch *b = measurements(0, 500, 1.0);
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".m1"), 500);
    check_measurements("m1", 0, 500, 1.0);
    CHECK(tt_metric(&s, "sluice_timescale_rows_written_total") == 500);
    CHECK(tt_metric(&s, "sluice_timescale_conflicts_skipped_total") == 0);

    /* The same batch again (a replay after a crash): nothing doubles.  The
     * COPY straight into the table fails on the first known key, again on
     * the next, and after 8 the batch goes through staging and ON CONFLICT
     * DO NOTHING. */
    sl_log_configure(SLUICE_LOG_DEBUG, SL_LOG_TEXT);
    tt_capture_begin();
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    CHECK_STR_CONTAINS(tt_capture_end(), "batch of 500 rows has more than 8 keys already in "
                                         "table " SCHEMA ".m1: writing through staging");
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".m1"), 500);
    CHECK(tt_metric(&s, "sluice_timescale_rows_written_total") == 500);
    CHECK(tt_metric(&s, "sluice_timescale_conflicts_skipped_total") == 500);
    sl_batch_free(b);

    /* Half old, half new; the old half keeps its first values. */
    b = measurements(250, 750, 2.0);
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".m1"), 750);
    check_measurements("m1", 0, 500, 1.0);
    check_measurements("m1", 500, 750, 2.0);
    CHECK(tt_metric(&s, "sluice_timescale_rows_written_total") == 750);
    CHECK(tt_metric(&s, "sluice_timescale_conflicts_skipped_total") == 750);
    sl_batch_free(b);

    /* A batch without conflicts leaves staging again. */
    b = measurements(750, 800, 1.0);
    tt_capture_begin();
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    CHECK_STR_CONTAINS(tt_capture_end(), "a batch with 0 conflicts: back to COPY straight "
                                         "into table " SCHEMA ".m1");
    sl_log_configure(SLUICE_LOG_INFO, SL_LOG_TEXT);
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".m1"), 800);
    check_measurements("m1", 750, 800, 1.0);
    CHECK(tt_metric(&s, "sluice_timescale_conflicts_skipped_total") == 750);
    sl_batch_free(b);

    /* The staging table is emptied at each commit: a later empty batch and
     * a small one still work, and stray rows never reach the table. */
    b = tt_batch(1);
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    sl_batch_free(b);
    tt_close(&s);

    /* A key repeated within one batch, and a conflict on a unique index
     * other than the key: the first is found by the key query, the second
     * fails the COPY of the new rows, and ON CONFLICT DO NOTHING takes
     * over. */
    tt_sql(&env, "CREATE TABLE " SCHEMA ".mu (\"timestamp\" timestamptz, device_id text, "
                 "value float8 UNIQUE, PRIMARY KEY (\"timestamp\", device_id))");
    const char *kvu[] = {sink_opts("mu"), NULL};
    CHECK_INT_EQ(tt_open(&env, &s, "t_unique", kvu), SLUICE_OK);
    b = tt_batch(4);
    tt_measurement(b, T0, "a", "x", 1, NULL);
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    sl_batch_free(b);
    b = tt_batch(4);
    tt_measurement(b, T0, "a", "x", 1, NULL);          /* key in the table */
    tt_measurement(b, T0 + 1, "a", "x", 2, NULL);
    tt_measurement(b, T0 + 1, "a", "x", 3, NULL);      /* key earlier in the batch */
    tt_measurement(b, T0 + 2, "a", "x", 4, NULL);
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    CHECK(!strcmp(tt_value(&env, "SELECT string_agg(value::text, ',' ORDER BY value) FROM "
                                 SCHEMA ".mu"), "1,2,4"));
    sl_batch_free(b);
    b = tt_batch(4);
    tt_measurement(b, T0 + 3, "a", "x", 5, NULL);
    tt_measurement(b, T0 + 4, "a", "x", 2, NULL);      /* new key, value taken */
    tt_measurement(b, T0 + 2, "a", "x", 4, NULL);      /* key in the table */
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    CHECK(!strcmp(tt_value(&env, "SELECT string_agg(value::text, ',' ORDER BY value) FROM "
                                 SCHEMA ".mu"), "1,2,4,5"));
    CHECK(tt_metric(&s, "sluice_timescale_conflicts_skipped_total") == 4);
    sl_batch_free(b);
    tt_close(&s);
}

static void test_conflict_update(void)
{
    tt_create_measurements(&env, "m2");
    tt_sink s;
    const char *kv[] = {sink_opts("m2"), "conflict=update", NULL};
    CHECK_INT_EQ(tt_open(&env, &s, "t_update", kv), SLUICE_OK);
    sluice_batch *b = measurements(0, 100, 1.0);
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    sl_batch_free(b);
    b = measurements(50, 150, 3.0);
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    sl_batch_free(b);
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".m2"), 150);
    check_measurements("m2", 0, 50, 1.0);
    check_measurements("m2", 50, 150, 3.0);

    /* One key twice in a batch: the later record wins, as it would have
     * row by row, and the earlier one counts as skipped. */
    b = tt_batch(4);
    tt_measurement(b, T0, "f2-aabbccdd0000", "Humidity", 111.0, NULL);
    tt_measurement(b, T0, "f2-aabbccdd0000", "Humidity", 222.0, NULL);
    double before = tt_metric(&s, "sluice_timescale_conflicts_skipped_total");
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    sl_batch_free(b);
    CHECK(!strcmp(tt_value(&env, "SELECT value FROM " SCHEMA ".m2 WHERE \"timestamp\" = "
                                 "to_timestamp(%lld / 1000000.0) AND device_id = "
                                 "'f2-aabbccdd0000'", (long long)T0), "222"));
    CHECK(tt_metric(&s, "sluice_timescale_conflicts_skipped_total") == before + 1);
    tt_close(&s);
}

static void test_conflict_error(void)
{
    tt_create_measurements(&env, "m3");
    tt_sink s;
    const char *kv[] = {sink_opts("m3"), "conflict=error", NULL};
    CHECK_INT_EQ(tt_open(&env, &s, "t_error", kv), SLUICE_OK);
    sluice_batch *b = measurements(0, 10, 1.0);
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    sl_batch_free(b);
    /* Rows 5..9 exist: they fail as duplicates, 10..14 are written. */
    b = measurements(5, 15, 5.0);
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_PARTIAL);
    CHECK_STR_CONTAINS(s.err, "refused 5 of 10 rows");
    for (size_t i = 0; i < 10; i++) {
        if (i < 5) {
            CHECK_STR_CONTAINS(tt_failure(b, i), "duplicate key value violates unique "
                                                 "constraint \"m3_pkey\"");
            CHECK_STR_CONTAINS(tt_failure(b, i), "SQLSTATE 23505");
        } else {
            CHECK(tt_failure(b, i) == NULL);
        }
    }
    sl_batch_free(b);
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".m3"), 15);
    check_measurements("m3", 0, 10, 1.0);
    check_measurements("m3", 10, 15, 5.0);
    CHECK(tt_metric(&s, "sluice_timescale_rows_failed_total") == 5);
    tt_close(&s);
}

static void test_column_mapping(void)
{
    tt_sql(&env, "CREATE TABLE " SCHEMA ".mapped (at timestamptz NOT NULL, dev text NOT NULL, "
                 "reading float8, origin text DEFAULT 'f2', id bigserial, "
                 "PRIMARY KEY (at, dev))");
    tt_sink s;
    const char *kv[] = {sink_opts("mapped"), "columns{at}=timestamp", "columns{dev}=device_id",
                        "columns{reading}=value", NULL};
    CHECK_INT_EQ(tt_open(&env, &s, "t_map", kv), SLUICE_OK);
    sluice_batch *b = measurements(0, 20, 1.0);
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    sl_batch_free(b);
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".mapped WHERE origin = 'f2' "
                               "AND id BETWEEN 1 AND 20"), 20);
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".mapped m WHERE reading = "
                               "(extract(epoch FROM at) * 1000000 - %lld) / 1000 + 0.1",
                         (long long)T0), 20);
    tt_close(&s);

    /* Without `columns`: same-named fields; columns with a default the
     * records do not carry keep their default; fields without a column
     * are named in a warning. */
    tt_sql(&env, "CREATE TABLE " SCHEMA ".auto (\"timestamp\" timestamptz, device_id text, "
                 "value float8, note text DEFAULT 'dflt', PRIMARY KEY (\"timestamp\", "
                 "device_id))");
    const char *kv2[] = {sink_opts("auto"), NULL};
    CHECK_INT_EQ(tt_open(&env, &s, "t_auto", kv2), SLUICE_OK);
    b = measurements(0, 5, 1.0);
    tt_capture_begin();
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    const char *log = tt_capture_end();
    sl_batch_free(b);
    CHECK_STR_CONTAINS(log, "writing columns timestamp, device_id, value of table "
                            SCHEMA ".auto");
    CHECK_STR_CONTAINS(log, "fields with no column in table " SCHEMA ".auto are not written: "
                            "connector_mode, component_type, pin_position, datapoint, "
                            "value_text, unit, topic");
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".auto WHERE note = 'dflt' "
                               "AND value IS NOT NULL"), 5);
    tt_close(&s);
}

/* One record with a value of every field type, for each kind of column. */
static const char *types_table =
    "(k int4 PRIMARY KEY, b bool, i2 int2, i4 int4, i8 int8, f4 real, f8 float8, t text, "
    "vc varchar(8), j jsonb, js json, by bytea, tz timestamptz, tsn timestamp, d date)";

static void typed_row(sluice_batch *b, int k, int variant)
{
    static const char bytes[] = {0, 1, (char)0xff, '\\', '\n', 'x'};
    sluice_record *r = tt_rec(b);
    tt_int(b, r, "k", k);
    if (variant == 0) {
        tt_bool(b, r, "b", 1);
        tt_int(b, r, "i2", -32768);
        tt_int(b, r, "i4", 2147483647);
        tt_int(b, r, "i8", INT64_MIN);
        tt_dbl(b, r, "f4", 0.5);
        tt_dbl(b, r, "f8", 0.1);
        tt_str(b, r, "t", "tab\there\nnewline \\ back \xc3\xa9");
        tt_str(b, r, "vc", "short");
        tt_str(b, r, "j", "{\"a\": [1, 2]}");
        tt_str(b, r, "js", "{\"b\":1}");
        tt_bytes(b, r, "by", bytes, sizeof bytes);
        tt_ts(b, r, "tz", T0);
        tt_ts(b, r, "tsn", -1);     /* 1969-12-31 23:59:59.999999 */
        tt_ts(b, r, "d", T0);
    } else if (variant == 1) {
        tt_int(b, r, "b", 0);       /* INT 0/1 for a bool column */
        tt_null(b, r, "i2");
        tt_null(b, r, "i4");
        tt_null(b, r, "i8");
        tt_dbl(b, r, "f4", INFINITY);
        tt_dbl(b, r, "f8", NAN);
        tt_str(b, r, "t", "");      /* empty, not NULL */
        tt_null(b, r, "vc");
        tt_int(b, r, "j", 42);      /* rendered as the JSON number 42 */
        tt_null(b, r, "js");
        tt_bytes(b, r, "by", "", 0);
        tt_ts(b, r, "tz", 0);
        tt_ts(b, r, "tsn", T0);
        tt_null(b, r, "d");
    } else {
        tt_bool(b, r, "b", 0);
        tt_int(b, r, "i2", 7);
        tt_int(b, r, "i4", -7);
        tt_int(b, r, "i8", 1);
        tt_dbl(b, r, "f4", -0.0);
        tt_dbl(b, r, "f8", -INFINITY);
        tt_int(b, r, "t", -5);      /* numbers into text: their decimal text */
        tt_dbl(b, r, "vc", 2.5);
        tt_bool(b, r, "j", 1);
        tt_str(b, r, "js", "[]");
        tt_null(b, r, "by");
        tt_null(b, r, "tz");
        tt_null(b, r, "tsn");
        tt_ts(b, r, "d", -86400000000LL);   /* 1969-12-31 */
    }
}

static const char *row_text(const char *table, int k)
{
    return tt_value(&env, "SELECT concat_ws('|', b, i2, i4, i8, f4, f8, t, vc, j, js, "
                          "encode(by, 'hex'), tz AT TIME ZONE 'UTC', tsn, d, "
                          "by IS NULL, t IS NULL) FROM " SCHEMA ".%s WHERE k = %d", table, k);
}

static void test_types(void)
{
    tt_sql(&env, "CREATE TABLE " SCHEMA ".ty_bin %s", types_table);
    tt_sql(&env, "CREATE TABLE " SCHEMA ".ty_text %s", types_table);
    tt_sink bin, txt;
    const char *kv1[] = {sink_opts("ty_bin"), NULL};
    const char *kv2[] = {sink_opts("ty_text"), "copy_format=text", NULL};
    CHECK_INT_EQ(tt_open(&env, &bin, "t_types_bin", kv1), SLUICE_OK);
    CHECK_INT_EQ(tt_open(&env, &txt, "t_types_text", kv2), SLUICE_OK);
    sluice_batch *b = tt_batch(3);
    for (int v = 0; v < 3; v++)
        typed_row(b, v, v);
    tt_capture_begin();
    CHECK_INT_EQ(tt_write(&bin, b), SLUICE_OK);
    const char *log = tt_capture_end();
    /* All of it fits binary COPY: no fallback to text. */
    CHECK(strstr(log, "sending text COPY") == NULL);
    CHECK_INT_EQ(tt_write(&txt, b), SLUICE_OK);
    sl_batch_free(b);

    const char *want[3] = {
        "t|-32768|2147483647|-9223372036854775808|0.5|0.1|tab\there\nnewline \\ back "
        "\xc3\xa9|short|{\"a\": [1, 2]}|{\"b\":1}|0001ff5c0a78|2023-05-25 15:13:10.5434|"
        "1969-12-31 23:59:59.999999|2023-05-25|f|f",
        "f|Infinity|NaN||42||1970-01-01 00:00:00|2023-05-25 15:13:10.5434|f|f",
        "f|7|-7|1|-0|-Infinity|-5|2.5|true|[]|1969-12-31|t|f"};
    for (int k = 0; k < 3; k++) {
        const char *got = row_text("ty_bin", k);
        char copy[1024];
        snprintf(copy, sizeof copy, "%s", got ? got : "(none)");
        if (strcmp(copy, want[k]))
            fprintf(stderr, "row %d (binary):\n  got  %s\n  want %s\n", k, copy, want[k]);
        CHECK(!strcmp(copy, want[k]));
        got = row_text("ty_text", k);
        if (strcmp(got ? got : "", copy))
            fprintf(stderr, "row %d (text): %s\n", k, got ? got : "(none)");
        CHECK(got && !strcmp(got, copy));
    }
    /* Exact doubles and the special values, checked by the server. */
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".ty_bin WHERE "
                               "(k = 0 AND f8 = 0.1::float8) OR (k = 1 AND f8 = 'NaN' AND "
                               "f4 = 'Infinity') OR (k = 2 AND f8 = '-Infinity')"), 3);
#define TY_COLS "k, b, i2, i4, i8, f4, f8, t, vc, j, js::text, by, tz, tsn, d"
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM (SELECT " TY_COLS " FROM " SCHEMA ".ty_bin "
                               "EXCEPT SELECT " TY_COLS " FROM " SCHEMA ".ty_text) x"), 0);
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".ty_bin WHERE by = "
                               "'\\x0001ff5c0a78'::bytea"), 1);
    tt_close(&bin);
    tt_close(&txt);

    /* Values only PostgreSQL can convert (a timestamp as text, a number
     * for numeric and uuid columns) switch the sink to text COPY. */
    tt_sql(&env, "CREATE TABLE " SCHEMA ".conv (k int4 PRIMARY KEY, tz timestamptz, "
                 "n numeric(10,3), u uuid, big int2)");
    const char *kv3[] = {sink_opts("conv"), NULL};
    CHECK_INT_EQ(tt_open(&env, &bin, "t_conv", kv3), SLUICE_OK);
    b = tt_batch(2);
    sluice_record *r = tt_rec(b);
    tt_int(b, r, "k", 1);
    tt_str(b, r, "tz", "2023-05-25 17:13:10.5+02");
    tt_dbl(b, r, "n", 12.3456);
    tt_str(b, r, "u", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    tt_int(b, r, "big", 12);
    tt_capture_begin();
    CHECK_INT_EQ(tt_write(&bin, b), SLUICE_OK);
    log = tt_capture_end();
    CHECK_STR_CONTAINS(log, "field \"tz\" is STRING and column \"tz\" is timestamp with time "
                            "zone, which only PostgreSQL can convert: sending text COPY");
    CHECK(!strcmp(tt_value(&env, "SELECT concat_ws('|', tz AT TIME ZONE 'UTC', n, u, big) FROM "
                                 SCHEMA ".conv"),
                  "2023-05-25 15:13:10.5|12.346|a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11|12"));
    sl_batch_free(b);
    tt_close(&bin);
}

static void test_bad_rows(void)
{
    tt_create_measurements(&env, "m4");
    tt_sql(&env, "ALTER TABLE " SCHEMA ".m4 ADD CONSTRAINT value_sane CHECK (value > -1000)");
    tt_sink s;
    const char *kv[] = {sink_opts("m4"), NULL};
    CHECK_INT_EQ(tt_open(&env, &s, "t_bad", kv), SLUICE_OK);
    sluice_batch *b = measurements(0, 40, 1.0);
    /* Row 3: no device (NOT NULL).  Row 17: a NUL byte in a string.
     * Row 30: violates a CHECK, which only the INSERT from staging sees. */
    tt_null(b, sl_api()->batch_at(b, 3), "device_id");
    tt_strn(b, sl_api()->batch_at(b, 17), "datapoint", "CO\0" "2", 4);
    tt_dbl(b, sl_api()->batch_at(b, 30), "value", -5000);
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_PARTIAL);
    CHECK_STR_CONTAINS(s.err, "refused 3 of 40 rows");
    for (size_t i = 0; i < 40; i++) {
        const char *f = tt_failure(b, i);
        if (i == 3) {
            CHECK_STR_CONTAINS(f, "timescale: table " SCHEMA ".m4, column \"device_id\" "
                                  "(field \"device_id\"): null value in column \"device_id\"");
            CHECK_STR_CONTAINS(f, "violates not-null constraint");
            CHECK_STR_CONTAINS(f, "SQLSTATE 23502");
        } else if (i == 17) {
            CHECK_STR_CONTAINS(f, "column \"datapoint\" (field \"datapoint\"): invalid byte "
                                  "sequence for encoding \"UTF8\": 0x00");
        } else if (i == 30) {
            CHECK_STR_CONTAINS(f, "violates check constraint \"value_sane\"");
            CHECK_STR_CONTAINS(f, "SQLSTATE 23514");
        } else {
            CHECK(f == NULL);
        }
    }
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".m4"), 37);
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".m4 WHERE \"timestamp\" IN "
                               "(to_timestamp(%lld / 1e6), to_timestamp(%lld / 1e6), "
                               "to_timestamp(%lld / 1e6))", (long long)(T0 + 3000),
                         (long long)(T0 + 17000), (long long)(T0 + 30000)), 0);
    CHECK(tt_metric(&s, "sluice_timescale_rows_failed_total") == 3);
    CHECK(tt_metric(&s, "sluice_timescale_rows_written_total") == 37);
    /* The same batch again: the good rows are skipped, the bad fail again. */
    sl_batch_reset(b);
    sl_batch_free(b);
    b = measurements(0, 40, 1.0);
    tt_null(b, sl_api()->batch_at(b, 3), "device_id");
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_PARTIAL);
    CHECK(tt_metric(&s, "sluice_timescale_conflicts_skipped_total") == 37);
    CHECK(tt_metric(&s, "sluice_timescale_rows_written_total") == 39);
    sl_batch_free(b);

    /* Every row bad: all marked, nothing written, still one transaction. */
    b = measurements(100, 164, 1.0);
    for (size_t i = 0; i < 64; i++)
        tt_null(b, sl_api()->batch_at(b, i), "datapoint");
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_PARTIAL);
    size_t marked = 0;
    for (size_t i = 0; i < 64; i++)
        marked += tt_failure(b, i) != NULL;
    CHECK_INT_EQ(marked, 64);
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".m4"), 39);
    sl_batch_free(b);
    tt_close(&s);

    /* Values a column cannot hold: a text too long for varchar(4), an
     * integer too large for int2 (which also needs text COPY). */
    tt_sql(&env, "CREATE TABLE " SCHEMA ".fit (k int4 PRIMARY KEY, code varchar(4), "
                 "small int2)");
    const char *kv2[] = {sink_opts("fit"), NULL};
    CHECK_INT_EQ(tt_open(&env, &s, "t_fit", kv2), SLUICE_OK);
    b = tt_batch(8);
    for (int k = 0; k < 6; k++) {
        sluice_record *r = tt_rec(b);
        tt_int(b, r, "k", k);
        tt_str(b, r, "code", k == 1 ? "toolong" : "ok");
        tt_int(b, r, "small", k == 4 ? 70000 : k);
    }
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_PARTIAL);
    CHECK_STR_CONTAINS(tt_failure(b, 1), "column \"code\" (field \"code\"): value too long for "
                                         "type character varying(4)");
    CHECK_STR_CONTAINS(tt_failure(b, 4), "column \"small\" (field \"small\"): value \"70000\" is "
                                         "out of range for type smallint");
    CHECK(!tt_failure(b, 0) && !tt_failure(b, 2) && !tt_failure(b, 3) && !tt_failure(b, 5));
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".fit"), 4);
    sl_batch_free(b);
    tt_close(&s);
}

static void test_create_table(void)
{
    tt_sink s;
    const char *kv[] = {sink_opts("created"), "create_table=true",
                        "column_types{timestamp}=timestamptz NOT NULL",
                        "column_types{device_id}=text NOT NULL",
                        "column_types{datapoint}=text NOT NULL",
                        "column_types{value}=double precision",
                        "primary_key[]=timestamp", "primary_key[]=device_id",
                        "primary_key[]=datapoint", NULL};
    tt_capture_begin();
    sluice_status st = tt_open(&env, &s, "t_create", kv);
    const char *log = tt_capture_end();
    CHECK_INT_EQ(st, SLUICE_OK);
    CHECK_STR_CONTAINS(log, "timescale: created table " SCHEMA ".created");
    CHECK_STR_CONTAINS(log, "writing to a plain table "
                            SCHEMA ".created");
    CHECK(!strcmp(tt_value(&env, "SELECT string_agg(a.attname || ':' || format_type(a.atttypid, "
                                 "a.atttypmod) || ':' || a.attnotnull, ',' ORDER BY a.attnum) "
                                 "FROM pg_attribute a WHERE a.attrelid = '" SCHEMA
                                 ".created'::regclass AND a.attnum > 0"),
                  "timestamp:timestamp with time zone:true,device_id:text:true,"
                  "datapoint:text:true,value:double precision:false"));
    CHECK(!strcmp(tt_value(&env, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE "
                                 "conrelid = '" SCHEMA ".created'::regclass AND contype = 'p'"),
                  "PRIMARY KEY (\"timestamp\", device_id, datapoint)"));
    sluice_batch *b = measurements(0, 30, 1.0);
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    sl_batch_free(b);
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".created"), 30);
    tt_close(&s);

    /* Existing table: create_table leaves it alone. */
    tt_capture_begin();
    st = tt_open(&env, &s, "t_create2", kv);
    log = tt_capture_end();
    CHECK_INT_EQ(st, SLUICE_OK);
    CHECK(strstr(log, "created table") == NULL);
    tt_close(&s);
}

static void test_terminated_connection(void)
{
    tt_create_measurements(&env, "m5");
    tt_sink s;
    const char *kv[] = {sink_opts("m5"), NULL};
    CHECK_INT_EQ(tt_open(&env, &s, "t_kill", kv), SLUICE_OK);
    sluice_batch *b1 = measurements(0, 50, 1.0), *b2 = measurements(50, 100, 1.0);
    CHECK_INT_EQ(tt_write(&s, b1), SLUICE_OK);
    /* An administrator (or a failover tool) ends the sink's session. */
    CHECK_INT_EQ(tt_long(&env, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE application_name = 'sluice/t_kill'"), 1);
    CHECK_INT_EQ(tt_write(&s, b2), SLUICE_RETRY);
    CHECK_STR_CONTAINS(s.err, "terminating connection due to administrator command");
    CHECK_INT_EQ(atomic_load(&s.ctx->ready), 0);
    CHECK_INT_EQ(tt_write(&s, b2), SLUICE_OK);
    CHECK_INT_EQ(atomic_load(&s.ctx->ready), 1);
    CHECK(tt_metric(&s, "sluice_timescale_reconnects_total") == 1);
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".m5"), 100);
    check_measurements("m5", 0, 100, 1.0);
    sl_batch_free(b1);
    sl_batch_free(b2);
    tt_close(&s);
}

static void test_statement_timeout(void)
{
    tt_create_measurements(&env, "m6");
    tt_sink s;
    const char *kv[] = {sink_opts("m6"), "statement_timeout=200ms", NULL};
    CHECK_INT_EQ(tt_open(&env, &s, "t_timeout", kv), SLUICE_OK);
    sluice_batch *b = measurements(0, 20, 1.0);
    /* Someone holds the table: the statement gives up, the batch is retried. */
    tt_sql(&env, "BEGIN");
    tt_sql(&env, "LOCK TABLE " SCHEMA ".m6 IN ACCESS EXCLUSIVE MODE");
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_RETRY);
    CHECK_STR_CONTAINS(s.err, "canceling statement due to statement timeout SQLSTATE 57014");
    /* The connection is fine: it is kept, and the retry goes through. */
    CHECK_INT_EQ(atomic_load(&s.ctx->ready), 1);
    tt_sql(&env, "COMMIT");
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    CHECK(tt_metric(&s, "sluice_timescale_reconnects_total") == 0);
    check_measurements("m6", 0, 20, 1.0);
    sl_batch_free(b);
    tt_close(&s);
}

int main(void)
{
    tt_setup(&env, SCHEMA, 0);
    test_write_and_replay();
    test_conflict_update();
    test_conflict_error();
    test_column_mapping();
    test_types();
    test_bad_rows();
    test_create_table();
    test_terminated_connection();
    test_statement_timeout();
    tt_teardown(&env);
    return CHECK_DONE();
}
