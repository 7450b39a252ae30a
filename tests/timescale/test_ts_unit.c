/* The Timescale sink's pure parts, without a server: the SQL it issues
 * (including TimescaleDB's, which no test server here can run), names,
 * value renderings and the binary COPY encoding. */
#include "check.h"
#include "batch.h"
#include "ctx.h"
#include "ts_hyper.h"
#include "ts_render.h"
#include "ts_sink.h"
#include "ts_sql.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static char *take(sluice_buf *b)
{
    static char out[4096];
    snprintf(out, sizeof out, "%s", sluice_buf_cstr(b) ? b->p : "(oom)");
    sluice_buf_reset(b);
    return out;
}

static void test_quoting(void)
{
    sluice_buf b = {0};
    ts_sql_ident(&b, "a\"b");
    CHECK(!strcmp(take(&b), "\"a\"\"b\""));
    ts_sql_literal(&b, "it's");
    CHECK(!strcmp(take(&b), "'it''s'"));
    ts_sql_literal(&b, "a\\b'");
    CHECK(!strcmp(take(&b), "E'a\\\\b'''"));
    sluice_buf_free(&b);
}

static void parse_ok(const char *in, const char *schema, const char *name)
{
    char *s = NULL, *n = NULL, err[256] = "";
    CHECK_INT_EQ(ts_sql_parse_qualified(in, &s, &n, err, sizeof err), 0);
    if (schema)
        CHECK(s && !strcmp(s, schema));
    else
        CHECK(s == NULL);
    CHECK(n && !strcmp(n, name));
    free(s);
    free(n);
}

static void parse_bad(const char *in, const char *msg)
{
    char *s = NULL, *n = NULL, err[256] = "";
    CHECK_INT_EQ(ts_sql_parse_qualified(in, &s, &n, err, sizeof err), -1);
    CHECK(s == NULL && n == NULL);
    CHECK_STR_CONTAINS(err, msg);
}

static void test_parse_qualified(void)
{
    parse_ok("public.iot_measurements", "public", "iot_measurements");
    parse_ok("IoT", NULL, "iot");   /* unquoted names fold, as in SQL */
    parse_ok("\"My Schema\".\"T\"\"x\"", "My Schema", "T\"x");
    parse_ok("s1.\"Mixed\"", "s1", "Mixed");
    parse_bad("a.b.c", "unexpected \".c\"");
    parse_bad("", "expected a name");
    parse_bad("\"open", "unterminated");
    parse_bad("a b", "unexpected \" b\"");
    parse_bad("x;drop table y", "unexpected \";drop");
    parse_bad("\"\"", "empty quoted identifier");
}

/* A table shaped like iot_measurements, without a server. */
static ts_column cols[] = {
    {"timestamp", "timestamp with time zone", TS_K_TIMESTAMPTZ, 1, 0, 1, 1, 1},
    {"device_id", "text", TS_K_TEXT, 1, 0, 1, 1, 2},
    {"datapoint", "text", TS_K_TEXT, 1, 0, 1, 1, 3},
    {"value", "double precision", TS_K_FLOAT8, 0, 0, 0, 1, 0},
    {"unit", "text", TS_K_TEXT, 0, 0, 0, 1, 0},
};
static ts_table table = {"public", "iot", "\"public\".\"iot\"", "public.iot", cols, 5, 3, 1};

static void map_all(ts_mapping *m, ts_target *t)
{
    for (size_t i = 0; i < 5; i++) {
        t[i].col = &cols[i];
        t[i].field = (char *)cols[i].name;
        t[i].hint = 0;
    }
    m->t = t;
    m->n = 5;
}

static void test_statements(void)
{
    ts_target t[5];
    ts_mapping m;
    map_all(&m, t);
    sluice_buf b = {0};
    ts_sql_staging(&b, &table, &m);
    CHECK(!strcmp(take(&b),
                  "CREATE TEMP TABLE \"sluice_stage_iot\" ON COMMIT DELETE ROWS AS SELECT "
                  "\"timestamp\", \"device_id\", \"datapoint\", \"value\", \"unit\" FROM "
                  "\"public\".\"iot\" WITH NO DATA; ALTER TABLE pg_temp.\"sluice_stage_iot\" "
                  "ADD COLUMN _sluice_batch_row int4, ALTER COLUMN \"timestamp\" SET NOT NULL, "
                  "ALTER COLUMN \"device_id\" SET NOT NULL, ALTER COLUMN \"datapoint\" SET NOT "
                  "NULL"));
    ts_sql_copy(&b, &table, &m, 1, 1);
    CHECK(!strcmp(take(&b), "COPY pg_temp.\"sluice_stage_iot\" (\"timestamp\", \"device_id\", "
                            "\"datapoint\", \"value\", \"unit\", _sluice_batch_row) FROM STDIN "
                            "(FORMAT binary)"));
    ts_sql_copy(&b, &table, &m, 0, 0);
    CHECK(!strcmp(take(&b), "COPY \"public\".\"iot\" (\"timestamp\", \"device_id\", "
                            "\"datapoint\", \"value\", \"unit\") FROM STDIN (FORMAT text)"));
    ts_sql_insert(&b, &table, &m, TS_CONFLICT_IGNORE, 0);
    CHECK(!strcmp(take(&b), "INSERT INTO \"public\".\"iot\" (\"timestamp\", \"device_id\", "
                            "\"datapoint\", \"value\", \"unit\") SELECT \"timestamp\", "
                            "\"device_id\", \"datapoint\", \"value\", \"unit\" FROM "
                            "pg_temp.\"sluice_stage_iot\" ON CONFLICT DO NOTHING"));
    ts_sql_insert(&b, &table, &m, TS_CONFLICT_UPDATE, 1);
    CHECK(!strcmp(take(&b),
                  "INSERT INTO \"public\".\"iot\" (\"timestamp\", \"device_id\", \"datapoint\", "
                  "\"value\", \"unit\") SELECT DISTINCT ON (\"timestamp\", \"device_id\", "
                  "\"datapoint\") \"timestamp\", \"device_id\", \"datapoint\", \"value\", "
                  "\"unit\" FROM pg_temp.\"sluice_stage_iot\" WHERE _sluice_batch_row >= $1 "
                  "AND _sluice_batch_row < $2 ORDER BY \"timestamp\", \"device_id\", "
                  "\"datapoint\", _sluice_batch_row DESC ON CONFLICT (\"timestamp\", "
                  "\"device_id\", \"datapoint\") DO UPDATE SET \"value\" = EXCLUDED.\"value\", "
                  "\"unit\" = EXCLUDED.\"unit\""));

    const char *cn[] = {"ts", "Dev"}, *ct[] = {"timestamptz NOT NULL", "text"}, *pk[] = {"ts"};
    ts_sql_create_table(&b, "s", "T", cn, ct, 2, pk, 1);
    CHECK(!strcmp(take(&b), "CREATE TABLE IF NOT EXISTS \"s\".\"T\" (\"ts\" timestamptz NOT "
                            "NULL, \"Dev\" text, PRIMARY KEY (\"ts\"))"));

    /* A staging name never exceeds PostgreSQL's 63 bytes, nor splits a
     * UTF-8 character. */
    char longname[80];
    memset(longname, 'x', 49);
    strcpy(longname + 49, "\xc3\xa9\xc3\xa9");   /* 53 bytes */
    ts_table lt = table;
    lt.name = longname;
    ts_sql_copy(&b, &lt, &m, 1, 0);
    const char *sql = take(&b);
    const char *q = strchr(sql, '"');
    const char *e = strchr(q + 1, '"');
    CHECK_INT_EQ(e - q - 1, 62);   /* 13 + 49: the 63rd byte would split the first é */
    sluice_buf_free(&b);
}

static void test_hypertable_plan(void)
{
    ts_hyper_conf c = {NULL, 86400000, 7 * 86400000LL, 90 * 86400000LL};
    ts_hyper_state none = {0, 0, "", -1, -1, -1};
    ts_hyper_plan p;
    char err[512] = "";
    CHECK_INT_EQ(ts_hyper_plan_build(&p, &table, &c, &none, err, sizeof err), 0);
    CHECK_INT_EQ(p.n, 4);
    /* The key starts with the time column: no extra (time DESC) index. */
    CHECK(!strcmp(p.step[0].sql, "SELECT create_hypertable($1::regclass, $2::name, "
                                 "chunk_time_interval => $3::interval, if_not_exists => TRUE, "
                                 "migrate_data => TRUE, create_default_indexes => FALSE)"));
    CHECK_INT_EQ(p.step[0].n_params, 3);
    CHECK(!strcmp(p.step[0].params[0], "\"public\".\"iot\""));
    CHECK(!strcmp(p.step[0].params[1], "timestamp"));
    CHECK(!strcmp(p.step[0].params[2], "1 day"));
    CHECK(!strcmp(p.step[0].change, "converted into a hypertable on \"timestamp\", "
                                    "chunk_interval 1 day"));
    CHECK(!strcmp(p.step[1].sql, "ALTER TABLE \"public\".\"iot\" SET (timescaledb.compress, "
                                 "timescaledb.compress_orderby = '\"timestamp\" DESC', "
                                 "timescaledb.compress_segmentby = '\"device_id\", "
                                 "\"datapoint\"')"));
    CHECK_INT_EQ(p.step[1].n_params, 0);
    CHECK(!strcmp(p.step[2].sql, "SELECT add_compression_policy($1::regclass, $2::interval, "
                                 "if_not_exists => TRUE)"));
    CHECK(!strcmp(p.step[2].params[1], "7 days"));
    CHECK(!strcmp(p.step[2].change, "compression policy: compress chunks older than 7 days "
                                    "(was: none)"));
    CHECK(!strcmp(p.step[3].sql, "SELECT add_retention_policy($1::regclass, $2::interval, "
                                 "if_not_exists => TRUE)"));
    CHECK(!strcmp(p.step[3].params[1], "90 days"));
    ts_hyper_plan_free(&p);

    /* Already a hypertable with exactly these settings: nothing to do. */
    ts_hyper_state same = {1, 1, "timestamp", 86400000, 7 * 86400000LL, 90 * 86400000LL};
    CHECK_INT_EQ(ts_hyper_plan_build(&p, &table, &c, &same, err, sizeof err), 0);
    CHECK_INT_EQ(p.n, 0);
    ts_hyper_plan_free(&p);

    /* Changed options: each difference, and only it, is changed. */
    ts_hyper_state old = {1, 1, "timestamp", 7 * 86400000LL, 3600000, 90 * 86400000LL};
    CHECK_INT_EQ(ts_hyper_plan_build(&p, &table, &c, &old, err, sizeof err), 0);
    CHECK_INT_EQ(p.n, 3);
    CHECK(!strcmp(p.step[0].sql, "SELECT set_chunk_time_interval($1::regclass, $2::interval)"));
    CHECK(!strcmp(p.step[0].change, "chunk_interval 1 day (was: 7 days; applies to chunks "
                                    "created from now on)"));
    CHECK(!strcmp(p.step[1].sql, "SELECT remove_compression_policy($1::regclass, if_exists => "
                                 "TRUE)"));
    CHECK(!strcmp(p.step[2].sql, "SELECT add_compression_policy($1::regclass, $2::interval, "
                                 "if_not_exists => TRUE)"));
    CHECK(!strcmp(p.step[2].change, "compression policy: compress chunks older than 7 days "
                                    "(was: 1 hour)"));
    ts_hyper_plan_free(&p);

    /* Options not given leave the table's settings alone. */
    ts_hyper_conf c3 = {NULL, -1, -1, -1};
    CHECK_INT_EQ(ts_hyper_plan_build(&p, &table, &c3, &old, err, sizeof err), 0);
    CHECK_INT_EQ(p.n, 0);
    CHECK_INT_EQ(ts_hyper_plan_build(&p, &table, &c3, &none, err, sizeof err), 0);
    CHECK_INT_EQ(p.n, 1);
    CHECK(!strcmp(p.step[0].sql, "SELECT create_hypertable($1::regclass, $2::name, "
                                 "if_not_exists => TRUE, migrate_data => TRUE, "
                                 "create_default_indexes => FALSE)"));
    CHECK_INT_EQ(p.step[0].n_params, 2);
    ts_hyper_plan_free(&p);

    ts_hyper_conf bad = {"nope", -1, -1, -1};
    CHECK_INT_EQ(ts_hyper_plan_build(&p, &table, &bad, &none, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "time_column: table public.iot has no column \"nope\"");
    ts_hyper_conf text = {"unit", -1, -1, -1};
    CHECK_INT_EQ(ts_hyper_plan_build(&p, &table, &text, &none, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "time_column \"unit\" of table public.iot is text");
    /* A key without the time column cannot partition by time. */
    ts_column c4[3] = {{"t", "timestamp with time zone", TS_K_TIMESTAMPTZ, 1, 0, 0, 1, 0},
                       {"id", "bigint", TS_K_INT8, 1, 0, 1, 1, 1},
                       {"u", "timestamp with time zone", TS_K_TIMESTAMPTZ, 1, 0, 1, 1, 2}};
    ts_table t4 = {"public", "x", "\"public\".\"x\"", "public.x", c4, 3, 2, 1};
    ts_hyper_conf ok4 = {"t", -1, -1, -1};
    CHECK_INT_EQ(ts_hyper_plan_build(&p, &t4, &ok4, &none, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "primary key of a hypertable to include its time column \"t\"");
    /* Without time_column: the key's first timestamptz column, here the
     * second key column (so TimescaleDB's time index stays). */
    const ts_column *tc = ts_hyper_time_column(&t4, NULL, err, sizeof err);
    CHECK(tc && !strcmp(tc->name, "u"));
    CHECK_INT_EQ(ts_hyper_plan_build(&p, &t4, &c3, &none, err, sizeof err), 0);
    CHECK(!strcmp(p.step[0].params[1], "u"));
    CHECK(strstr(p.step[0].sql, "create_default_indexes") == NULL);
    ts_hyper_plan_free(&p);
    t4.cols[2].kind = TS_K_INT8;
    CHECK(ts_hyper_time_column(&t4, NULL, err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, "the primary key of table public.x has no timestamptz column to "
                            "partition by: name one with time_column");
    char iv[48];
    ts_hyper_interval_text(iv, sizeof iv, 90 * 60000);
    CHECK(!strcmp(iv, "90 minutes"));
    ts_hyper_interval_text(iv, sizeof iv, 1500);
    CHECK(!strcmp(iv, "1500 milliseconds"));
}

static void test_render(void)
{
    char buf[64];
    ts_render_timestamp(buf, 0);
    CHECK(!strcmp(buf, "1970-01-01 00:00:00.000000+00"));
    ts_render_timestamp(buf, 1685027590543400LL);
    CHECK(!strcmp(buf, "2023-05-25 15:13:10.543400+00"));
    ts_render_timestamp(buf, -1);
    CHECK(!strcmp(buf, "1969-12-31 23:59:59.999999+00"));
    ts_render_timestamp(buf, 951782400000000LL);   /* leap day */
    CHECK(!strcmp(buf, "2000-02-29 00:00:00.000000+00"));
    ts_render_timestamp(buf, -62135596800000000LL - 86400000000LL);  /* a day before 1 AD */
    CHECK(!strcmp(buf, "0001-12-31 00:00:00.000000+00 BC"));
    ts_render_double(buf, 0.1);
    CHECK(!strcmp(buf, "0.1"));
    ts_render_double(buf, 1.0 / 3);
    CHECK(strtod(buf, NULL) == 1.0 / 3);
    ts_render_double(buf, NAN);
    CHECK(!strcmp(buf, "NaN"));
    ts_render_double(buf, INFINITY);
    CHECK(!strcmp(buf, "Infinity"));
    ts_render_double(buf, -INFINITY);
    CHECK(!strcmp(buf, "-Infinity"));
    ts_render_double(buf, 1e300);
    CHECK(!strcmp(buf, "1e300"));
    ts_render_int(buf, INT64_MIN);
    CHECK(!strcmp(buf, "-9223372036854775808"));

    sluice_buf b = {0};
    sluice_field f = {.name = "s", .type = SLUICE_STRING};
    f.v.s.ptr = "a\tb\nc\\d\re";
    f.v.s.len = strlen(f.v.s.ptr);
    ts_render_copy_text(&b, &f);
    CHECK(!strcmp(take(&b), "a\\tb\\nc\\\\d\\re"));
    ts_render_copy_text(&b, NULL);
    CHECK(!strcmp(take(&b), "\\N"));
    f.type = SLUICE_BYTES;
    f.v.s.ptr = "\x00\x01\xff";
    f.v.s.len = 3;
    ts_render_copy_text(&b, &f);
    CHECK(!strcmp(take(&b), "\\\\x0001ff"));
    f.type = SLUICE_BOOL;
    f.v.b = 1;
    ts_render_copy_text(&b, &f);
    CHECK(!strcmp(take(&b), "true"));
    sluice_buf_free(&b);
}

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static void test_encode(void)
{
    const sluice_api *api = sl_api();
    sluice_batch *b = sl_batch_new(4, 1 << 20);
    sluice_record *r = api->record_new(b);
    /* Fields in another order than the columns, and `unit` missing. */
    api->field_add(b, r, "value", SLUICE_DOUBLE)->v.d = 25.87;
    api->field_set_string(b, api->field_add(b, r, "datapoint", SLUICE_STRING), "T", 1);
    api->field_set_string(b, api->field_add(b, r, "device_id", SLUICE_STRING), "dev", 3);
    api->field_add(b, r, "timestamp", SLUICE_TIMESTAMP)->v.ts = 946684800000001LL;

    ts_target t[5];
    ts_mapping m;
    map_all(&m, t);
    ts_rows rows = {0};
    char why[256] = "";
    CHECK_INT_EQ(ts_encode_batch(&rows, api, b, &m, 1, 1, why, sizeof why), TS_ENC_OK);
    CHECK_INT_EQ(rows.n, 1);
    const unsigned char *p = (const unsigned char *)rows.data.p;
    CHECK_INT_EQ(be(p, 2), 6);                 /* 5 columns + the batch row */
    CHECK_INT_EQ(be(p + 2, 4), 8);             /* timestamptz: 1 µs after 2000-01-01 */
    CHECK_INT_EQ(be(p + 6, 8), 1);
    CHECK_INT_EQ(be(p + 14, 4), 3);
    CHECK(!memcmp(p + 18, "dev", 3));
    CHECK_INT_EQ(be(p + 21, 4), 1);
    CHECK(p[25] == 'T');
    CHECK_INT_EQ(be(p + 26, 4), 8);
    double d = 25.87;
    uint64_t bits;
    memcpy(&bits, &d, 8);
    CHECK(be(p + 30, 8) == bits);
    CHECK_INT_EQ(be(p + 38, 4), 0xFFFFFFFFu);  /* unit: NULL */
    CHECK_INT_EQ(be(p + 42, 4), 4);
    CHECK_INT_EQ(be(p + 46, 4), 0);            /* batch row 0 */
    CHECK_INT_EQ(rows.off[1], 50);

    /* The same record as text. */
    CHECK_INT_EQ(ts_encode_batch(&rows, api, b, &m, 0, 0, why, sizeof why), TS_ENC_OK);
    CHECK_INT_EQ(rows.data.len, strlen("2000-01-01 00:00:00.000001+00\tdev\tT\t25.87\t\\N\n"));
    CHECK(!memcmp(rows.data.p, "2000-01-01 00:00:00.000001+00\tdev\tT\t25.87\t\\N\n",
                  rows.data.len));

    /* A string for a timestamptz column: only PostgreSQL can parse it. */
    sluice_field *f = api->field_add(b, r, "timestamp", SLUICE_STRING);
    api->field_set_string(b, f, "2023-05-25 15:13:10", 19);
    CHECK_INT_EQ(ts_encode_batch(&rows, api, b, &m, 1, 1, why, sizeof why), TS_ENC_NEEDS_TEXT);
    CHECK_STR_CONTAINS(why, "field \"timestamp\" is STRING and column \"timestamp\" is "
                            "timestamp with time zone");
    CHECK_INT_EQ(ts_encode_batch(&rows, api, b, &m, 0, 1, why, sizeof why), TS_ENC_OK);
    CHECK(!memcmp(rows.data.p, "2023-05-25 15:13:10\tdev", 23));
    ts_rows_free(&rows);
    sl_batch_free(b);
}

/* libpq's multi-line messages become one line whose sentences stay apart. */
static void test_one_line(void)
{
    char b[256];
    ts_one_line(b, sizeof b, "connection to server at \"127.0.0.1\", port 1 failed: Connection "
                             "refused\n\tIs the server running on that host and accepting "
                             "TCP/IP connections?\n");
    CHECK(strcmp(b, "connection to server at \"127.0.0.1\", port 1 failed: Connection refused; "
                    "Is the server running on that host and accepting TCP/IP connections?") == 0);
    ts_one_line(b, sizeof b, "ERROR:  boom.\nDETAIL:  why\n");
    CHECK(strcmp(b, "ERROR: boom. DETAIL: why") == 0);
    ts_one_line(b, 8, "abc\ndefgh");
    CHECK(strcmp(b, "abc; de") == 0);
}

/* TimescaleDB's chunk-level names in a message, back to the table's. */
static void test_unchunk(void)
{
    ts_sink s;
    memset(&s, 0, sizeof s);
    s.table = table;
    s.table.name = "m3";
    s.is_hyper = 1;
    sluice_buf_put(&s.own_names, "m3_pkey\0m3_value_check\0", 23);
    ts_pgerr e;
    memset(&e, 0, sizeof e);
    snprintf(e.msg, sizeof e.msg, "duplicate key value violates unique constraint \"3_3_m3_pkey\"");
    snprintf(e.detail, sizeof e.detail, "new row for relation \"_hyper_4_11_chunk\" in "
             "\"compress_hyper_5_12_chunk\", \"1_m3_pkey\", \"2_other\", \"_hyper_x_chunk\"");
    ts_pgerr_unchunk(&s, &e);
    CHECK(!strcmp(e.msg, "duplicate key value violates unique constraint \"m3_pkey\""));
    CHECK(!strcmp(e.detail, "new row for relation \"m3\" in \"m3\", \"m3_pkey\", \"2_other\", "
                            "\"_hyper_x_chunk\""));
    /* Not a hypertable: names are left alone. */
    s.is_hyper = 0;
    snprintf(e.msg, sizeof e.msg, "constraint \"3_3_m3_pkey\"");
    ts_pgerr_unchunk(&s, &e);
    CHECK(!strcmp(e.msg, "constraint \"3_3_m3_pkey\""));
    sluice_buf_free(&s.own_names);
}

int main(void)
{
    test_one_line();
    test_quoting();
    test_parse_qualified();
    test_statements();
    test_hypertable_plan();
    test_unchunk();
    test_render();
    test_encode();
    return CHECK_DONE();
}
