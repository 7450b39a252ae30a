/* What the Timescale sink says when it cannot work: bad dsn, unknown role
 * or database, unreachable server, missing table, wrong options.  Each is
 * one clear line; the permanent ones are SLUICE_ERR, the transient ones
 * SLUICE_RETRY; none shows a password. */
#include "check.h"
#include "ts_test.h"

#include <stdio.h>
#include <string.h>

#define SCHEMA "ts_errors"

static tt_env env;

/* Opens with these options, expects `want`, and returns the message. */
static const char *open_fails(sluice_status want, const char *const *kv)
{
    static char err[SLUICE_ERRLEN];
    tt_sink s;
    sluice_status st = tt_open(&env, &s, "t_errors", kv);
    CHECK_INT_EQ(st, want);
    snprintf(err, sizeof err, "%s", s.err);
    fprintf(stderr, "  -> %s\n", err);
    CHECK(strchr(err, '\n') == NULL);
    tt_close(&s);
    return err;
}

static void test_connection(void)
{
    char dsn[300];
    const char *kv[] = {dsn, "table=" SCHEMA ".m", NULL};
    const char *e0;

    snprintf(dsn, sizeof dsn, "dsn=host=127.0.0.1 nonsense");
    CHECK_STR_CONTAINS(open_fails(SLUICE_ERR, kv), "timescale: dsn: missing \"=\" after "
                                                   "\"...\" in connection info string");
    /* An unquoted space in a password: libpq quotes what follows it, which
     * is part of the password, so that part is cut from the message. */
    snprintf(dsn, sizeof dsn, "dsn=host=127.0.0.1 password=first second-half-9q");
    e0 = open_fails(SLUICE_ERR, kv);
    CHECK_STR_CONTAINS(e0, "timescale: dsn: missing \"=\" after \"...\"");
    CHECK_STR_CONTAINS(e0, "quote values with spaces");
    CHECK(strstr(e0, "second-half") == NULL);
    snprintf(dsn, sizeof dsn, "dsn=host=127.0.0.1 password=first second=half-9q");
    e0 = open_fails(SLUICE_ERR, kv);
    CHECK_STR_CONTAINS(e0, "timescale: dsn: invalid connection option \"...\"");
    CHECK(strstr(e0, "second") == NULL);
    snprintf(dsn, sizeof dsn, "dsn=postgresql://u@h:notaport/db?password=hunter2");
    const char *e = open_fails(SLUICE_ERR, kv);
    CHECK_STR_CONTAINS(e, "timescale: cannot connect to PostgreSQL: invalid integer value "
                          "\"notaport\" for connection option \"port\"");
    CHECK(strstr(e, "hunter2") == NULL);

    /* Nobody listens on port 1: worth retrying, and the password stays out. */
    snprintf(dsn, sizeof dsn, "dsn=host=127.0.0.1 port=1 user=postgres password=hunter2 "
                              "connect_timeout=2");
    e = open_fails(SLUICE_RETRY, kv);
    CHECK_STR_CONTAINS(e, "timescale: cannot connect to PostgreSQL (will retry): connection "
                          "to server at \"127.0.0.1\", port 1 failed: Connection refused");
    CHECK(strstr(e, "hunter2") == NULL);

    snprintf(dsn, sizeof dsn, "dsn=host=127.0.0.1 port=%d user=nosuchrole dbname=postgres",
             env.port);
    CHECK_STR_CONTAINS(open_fails(SLUICE_ERR, kv), "role \"nosuchrole\" does not exist");
    snprintf(dsn, sizeof dsn, "dsn=postgresql://postgres@127.0.0.1:%d/nosuchdb", env.port);
    CHECK_STR_CONTAINS(open_fails(SLUICE_ERR, kv), "database \"nosuchdb\" does not exist");
}

static void test_tables(void)
{
    const char *kv1[] = {"table=" SCHEMA ".missing", NULL};
    CHECK_STR_CONTAINS(open_fails(SLUICE_ERR, kv1),
                       "timescale: table " SCHEMA ".missing does not exist in database "
                       "\"postgres\" (create it, or set create_table: true with column_types "
                       "and primary_key)");
    const char *kv1b[] = {"table=missing_everywhere", NULL};
    CHECK_STR_CONTAINS(open_fails(SLUICE_ERR, kv1b), "table missing_everywhere does not "
                                                     "exist");
    const char *kv2[] = {"table=a.b.c", NULL};
    CHECK_STR_CONTAINS(open_fails(SLUICE_ERR, kv2), "timescale: table \"a.b.c\": unexpected \".c\"");

    tt_sql(&env, "CREATE TABLE " SCHEMA ".base (t timestamptz PRIMARY KEY, v float8, "
                 "g float8 GENERATED ALWAYS AS (v * 2) STORED)");
    tt_sql(&env, "CREATE VIEW " SCHEMA ".vw AS SELECT * FROM " SCHEMA ".base");
    const char *kv3[] = {"table=" SCHEMA ".vw", NULL};
    CHECK_STR_CONTAINS(open_fails(SLUICE_ERR, kv3), "\"" SCHEMA ".vw\" is not a table "
                                                    "(relkind 'v')");

    const char *kv4[] = {"table=" SCHEMA ".base", "columns{nope}=x", NULL};
    CHECK_STR_CONTAINS(open_fails(SLUICE_ERR, kv4), "columns: table " SCHEMA ".base has no "
                                                    "column \"nope\"");
    const char *kv5[] = {"table=" SCHEMA ".base", "columns{g}=x", NULL};
    CHECK_STR_CONTAINS(open_fails(SLUICE_ERR, kv5), "column \"g\" of table " SCHEMA ".base is "
                                                    "generated");

    tt_sql(&env, "CREATE TABLE " SCHEMA ".nokey (t timestamptz, v float8)");
    const char *kv6[] = {"table=" SCHEMA ".nokey", "conflict=update", NULL};
    CHECK_STR_CONTAINS(open_fails(SLUICE_ERR, kv6), "conflict: update needs a primary key on "
                                                    "table " SCHEMA ".nokey");
    const char *kv7[] = {"table=" SCHEMA ".base", "conflict=update", "columns{v}=value", NULL};
    CHECK_STR_CONTAINS(open_fails(SLUICE_ERR, kv7), "conflict: update needs every primary key "
                                                    "column written, and column \"t\"");

    const char *kv8[] = {"table=" SCHEMA ".new", "create_table=true", NULL};
    CHECK_STR_CONTAINS(open_fails(SLUICE_ERR, kv8), "create_table: true needs column_types");
    const char *kv9[] = {"table=" SCHEMA ".new", "create_table=true", "column_types{a}=int",
                         "primary_key[]=b", NULL};
    CHECK_STR_CONTAINS(open_fails(SLUICE_ERR, kv9), "primary_key: column \"b\" is not in "
                                                    "column_types");
    const char *kv10[] = {"table=" SCHEMA ".new", "create_table=true", "column_types{a}=nosuchtype",
                          NULL};
    CHECK_STR_CONTAINS(open_fails(SLUICE_ERR, kv10), "create_table " SCHEMA ".new: type "
                                                     "\"nosuchtype\" does not exist");

    /* A table without a key still works, with a warning about replays. */
    tt_sink s;
    const char *kv11[] = {"table=" SCHEMA ".nokey", NULL};
    tt_capture_begin();
    CHECK_INT_EQ(tt_open(&env, &s, "t_nokey", kv11), SLUICE_OK);
    CHECK_STR_CONTAINS(tt_capture_end(), "table " SCHEMA ".nokey has no primary key or unique "
                                         "index: a replayed batch will be written twice");

    /* Records none of whose fields name a column: the first write says so. */
    sluice_batch *b = tt_batch(1);
    sluice_record *r = tt_rec(b);
    tt_int(b, r, "speed", 5);
    tt_int(b, r, "rpm", 6);
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_ERR);
    CHECK_STR_CONTAINS(s.err, "no field of the first record names a column of table " SCHEMA
                              ".nokey (fields: speed, rpm); map them with `columns`");
    sl_batch_free(b);
    tt_close(&s);

    /* The table is dropped under a running sink: a clear, permanent error. */
    tt_sql(&env, "CREATE TABLE " SCHEMA ".gone (t timestamptz PRIMARY KEY, v float8)");
    const char *kv12[] = {"table=" SCHEMA ".gone", NULL};
    CHECK_INT_EQ(tt_open(&env, &s, "t_gone", kv12), SLUICE_OK);
    b = tt_batch(1);
    r = tt_rec(b);
    tt_ts(b, r, "t", 0);
    tt_dbl(b, r, "v", 1);
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    tt_sql(&env, "DROP TABLE " SCHEMA ".gone");
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_ERR);
    CHECK_STR_CONTAINS(s.err, "writing to table " SCHEMA ".gone: relation \"" SCHEMA ".gone\" "
                              "does not exist");
    sl_batch_free(b);
    tt_close(&s);
}

/* Failures no retry cures, on a running sink: SLUICE_ERR, not RETRY (the
 * host parks the pipeline with its records kept instead of retrying
 * forever). */
static void test_permanent_on_write(void)
{
    tt_sql(&env, "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
                 "'ts_errors_writer') THEN CREATE ROLE ts_errors_writer LOGIN; END IF; END$$");
    tt_sql(&env, "CREATE TABLE " SCHEMA ".perm (t timestamptz PRIMARY KEY, v float8, w float8)");
    tt_sql(&env, "GRANT USAGE ON SCHEMA " SCHEMA " TO ts_errors_writer");
    tt_sql(&env, "GRANT SELECT, INSERT ON " SCHEMA ".perm TO ts_errors_writer");
    char dsn[300];
    snprintf(dsn, sizeof dsn, "dsn=host=127.0.0.1 port=%d user=ts_errors_writer dbname=postgres",
             env.port);
    const char *kv[] = {dsn, "table=" SCHEMA ".perm", NULL};
    tt_sink s;
    CHECK_INT_EQ(tt_open(&env, &s, "t_perm", kv), SLUICE_OK);
    sluice_batch *b = tt_batch(1);
    sluice_record *r = tt_rec(b);
    tt_ts(b, r, "t", 0);
    tt_dbl(b, r, "v", 1);
    tt_dbl(b, r, "w", 2);
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    tt_sql(&env, "REVOKE INSERT ON " SCHEMA ".perm FROM ts_errors_writer");
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_ERR);   /* 42501 */
    CHECK_STR_CONTAINS(s.err, "permission denied for table perm SQLSTATE 42501");
    tt_sql(&env, "GRANT INSERT ON " SCHEMA ".perm TO ts_errors_writer");
    tt_sql(&env, "ALTER TABLE " SCHEMA ".perm DROP COLUMN w");
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_ERR);   /* 42703 */
    CHECK_STR_CONTAINS(s.err, "column \"w\" of relation \"perm\" does not exist SQLSTATE 42703");
    sl_batch_free(b);
    tt_close(&s);
    tt_sql(&env, "DROP TABLE " SCHEMA ".perm");
    tt_sql(&env, "REVOKE ALL ON SCHEMA " SCHEMA " FROM ts_errors_writer");
}

int main(void)
{
    tt_setup(&env, SCHEMA, 0);
    test_connection();
    test_tables();
    test_permanent_on_write();
    tt_teardown(&env);
    return CHECK_DONE();
}
