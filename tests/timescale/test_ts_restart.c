/* The Timescale sink across PostgreSQL outages, on a private server that
 * tests/infra/postgres.sh starts, restarts and stops (the suite's shared
 * server is never disturbed): restarts between writes and in the middle of
 * one, a server that is down at init and at write time, and a wrong
 * password.  Every outage ends in SLUICE_RETRY, then success, with every
 * row written exactly once. */
#include "check.h"
#include "ts_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#define SCHEMA "ts_restart"
#define T0 1685027590543400LL

static tt_env env;
static char script[1024], dir[1024];
static int port, started;

static int pg_ctl(const char *cmd)
{
    char line[2600];
    snprintf(line, sizeof line, "bash '%s' %s '%s' %d 1>&2", script, cmd, dir, port);
    int rc = system(line);
    if (rc != 0)
        fprintf(stderr, "postgres.sh %s failed (%d)\n", cmd, rc);
    return rc;
}

static void stop_server(void)
{
    if (started)
        pg_ctl("stop");
}

static int port_free(int p)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void reconnect_env(void)
{
    PQreset(env.pg);
    CHECK(PQstatus(env.pg) == CONNECTION_OK);
    PQclear(PQexec(env.pg, "SET client_min_messages = warning"));
}

static sluice_batch *rows(size_t from, size_t to)
{
    sluice_batch *b = tt_batch(to - from + 1);
    for (size_t i = from; i < to; i++)
        tt_measurement(b, T0 + (int64_t)i * 1000, "f2-001122334455", "CO2", (double)i, "ppm");
    return b;
}

/* Exactly the rows [0, n), each once, with its own value. */
static void check_rows(const char *table, long n)
{
    CHECK_INT_EQ(tt_long(&env, "SELECT count(*) FROM " SCHEMA ".%s", table), n);
    CHECK_INT_EQ(tt_long(&env, "SELECT count(DISTINCT value) FROM " SCHEMA ".%s WHERE value = "
                               "((extract(epoch FROM \"timestamp\") * 1000000)::int8 - %lld) "
                               "/ 1000", table, (long long)T0), n);
}

static void test_restart_between_writes(void)
{
    tt_create_measurements(&env, "between");
    tt_sink s;
    const char *kv[] = {"table=" SCHEMA ".between", NULL};
    CHECK_INT_EQ(tt_open(&env, &s, "t_between", kv), SLUICE_OK);
    sluice_batch *b1 = rows(0, 1000), *b2 = rows(1000, 2000);
    CHECK_INT_EQ(tt_write(&s, b1), SLUICE_OK);

    CHECK_INT_EQ(pg_ctl("restart"), 0);
    reconnect_env();
    /* The connection died with the server: this write finds out and says
     * retry; the host retries the same batch, which reconnects. */
    CHECK_INT_EQ(tt_write(&s, b2), SLUICE_RETRY);
    fprintf(stderr, "  -> %s\n", s.err);
    CHECK_STR_CONTAINS(s.err, "timescale: writing to table " SCHEMA ".between:");
    CHECK_INT_EQ(atomic_load(&s.ctx->ready), 0);
    CHECK_INT_EQ(tt_write(&s, b2), SLUICE_OK);
    CHECK_INT_EQ(atomic_load(&s.ctx->ready), 1);
    check_rows("between", 2000);
    CHECK(tt_metric(&s, "sluice_timescale_reconnects_total") == 1);
    sl_batch_free(b1);
    sl_batch_free(b2);
    tt_close(&s);
}

struct writer {
    tt_sink *s;
    sluice_batch *b;
    sluice_status st;
};

static void *write_thread(void *arg)
{
    struct writer *w = arg;
    w->st = tt_write(w->s, w->b);
    return NULL;
}

static void test_restart_within_write(void)
{
    tt_create_measurements(&env, "within");
    tt_sink s;
    const char *kv[] = {"table=" SCHEMA ".within", NULL};
    CHECK_INT_EQ(tt_open(&env, &s, "t_within", kv), SLUICE_OK);
    sluice_batch *b1 = rows(0, 500), *b2 = rows(500, 3000);
    CHECK_INT_EQ(tt_write(&s, b1), SLUICE_OK);

    /* Hold the table so that the sink's write is caught half way: its
     * COPY into the staging table done, its INSERT waiting. */
    PGconn *locker = PQconnectdb(env.dsn);
    CHECK(PQstatus(locker) == CONNECTION_OK);
    PQclear(PQexec(locker, "BEGIN"));
    PQclear(PQexec(locker, "LOCK TABLE " SCHEMA ".within IN ACCESS EXCLUSIVE MODE"));
    struct writer w = {&s, b2, SLUICE_OK};
    pthread_t th;
    pthread_create(&th, NULL, write_thread, &w);
    long waiting = 0;
    for (int i = 0; i < 100 && !waiting; i++) {
        sleep_ms(50);
        waiting = tt_long(&env, "SELECT count(*) FROM pg_stat_activity WHERE application_name "
                                "= 'sluice/t_within' AND wait_event_type = 'Lock'");
    }
    CHECK_INT_EQ(waiting, 1);
    CHECK_INT_EQ(pg_ctl("restart"), 0);
    pthread_join(th, NULL);
    PQfinish(locker);
    reconnect_env();
    CHECK_INT_EQ(w.st, SLUICE_RETRY);
    fprintf(stderr, "  -> %s\n", s.err);
    CHECK_STR_CONTAINS(s.err, "terminating connection due to administrator command");
    /* Nothing of the interrupted batch landed... */
    check_rows("within", 500);
    /* ...and the retry writes all of it. */
    CHECK_INT_EQ(tt_write(&s, b2), SLUICE_OK);
    check_rows("within", 3000);
    sl_batch_free(b1);
    sl_batch_free(b2);
    tt_close(&s);
}

static void test_server_down(void)
{
    tt_create_measurements(&env, "down");
    tt_sink s;
    const char *kv[] = {"table=" SCHEMA ".down", "connect_timeout=2s", NULL};
    CHECK_INT_EQ(tt_open(&env, &s, "t_down", kv), SLUICE_OK);
    sluice_batch *b1 = rows(0, 100), *b2 = rows(100, 200);
    CHECK_INT_EQ(tt_write(&s, b1), SLUICE_OK);
    CHECK_INT_EQ(pg_ctl("stop"), 0);

    /* Down: the write is retried, as often as it takes; so is an init. */
    CHECK_INT_EQ(tt_write(&s, b2), SLUICE_RETRY);
    CHECK_INT_EQ(tt_write(&s, b2), SLUICE_RETRY);
    fprintf(stderr, "  -> %s\n", s.err);
    CHECK_STR_CONTAINS(s.err, "timescale: cannot connect to PostgreSQL (will retry)");
    CHECK_INT_EQ(atomic_load(&s.ctx->ready), 0);
    tt_sink s2;
    CHECK_INT_EQ(tt_open(&env, &s2, "t_down2", kv), SLUICE_RETRY);
    CHECK_STR_CONTAINS(s2.err, "Connection refused");
    tt_close(&s2);

    CHECK_INT_EQ(pg_ctl("start"), 0);
    reconnect_env();
    CHECK_INT_EQ(tt_write(&s, b2), SLUICE_OK);
    CHECK_INT_EQ(atomic_load(&s.ctx->ready), 1);
    check_rows("down", 200);
    sl_batch_free(b1);
    sl_batch_free(b2);
    tt_close(&s);
}

static void test_wrong_password(void)
{
    /* The suite's servers trust loopback; this one asks pwuser for a
     * password, so that the refusal is PostgreSQL's real one. */
    tt_create_measurements(&env, "pw");
    tt_sql(&env, "DROP ROLE IF EXISTS pwuser");
    tt_sql(&env, "CREATE ROLE pwuser LOGIN PASSWORD 'right'");
    tt_sql(&env, "GRANT USAGE ON SCHEMA " SCHEMA " TO pwuser");
    tt_sql(&env, "GRANT SELECT, INSERT ON " SCHEMA ".pw TO pwuser");
    char hba[1024];
    snprintf(hba, sizeof hba, "%s", tt_value(&env, "SHOW hba_file"));
    FILE *f = fopen(hba, "r");
    CHECK(f != NULL);
    if (!f)
        return;
    static char old[1 << 16];
    size_t n = fread(old, 1, sizeof old - 1, f);
    old[n] = '\0';
    fclose(f);
    f = fopen(hba, "w");
    fprintf(f, "host all pwuser 127.0.0.1/32 scram-sha-256\n%s", old);
    fclose(f);
    tt_sql(&env, "SELECT pg_reload_conf()");
    sleep_ms(500);

    char dsn[300];
    const char *kv[] = {dsn, "table=" SCHEMA ".pw", NULL};
    tt_sink s;
    snprintf(dsn, sizeof dsn, "dsn=host=127.0.0.1 port=%d dbname=postgres user=pwuser "
                              "password=wrong", port);
    CHECK_INT_EQ(tt_open(&env, &s, "t_pw", kv), SLUICE_ERR);
    fprintf(stderr, "  -> %s\n", s.err);
    CHECK_STR_CONTAINS(s.err, "timescale: cannot connect to PostgreSQL: connection to server "
                              "at \"127.0.0.1\", port");
    CHECK_STR_CONTAINS(s.err, "password authentication failed for user \"pwuser\"");
    CHECK(strstr(s.err, "wrong") == NULL);
    tt_close(&s);

    snprintf(dsn, sizeof dsn, "dsn=host=127.0.0.1 port=%d dbname=postgres user=pwuser", port);
    CHECK_INT_EQ(tt_open(&env, &s, "t_pw", kv), SLUICE_ERR);
    CHECK_STR_CONTAINS(s.err, "no password supplied");
    tt_close(&s);

    snprintf(dsn, sizeof dsn, "dsn=postgresql://pwuser:right@127.0.0.1:%d/postgres", port);
    CHECK_INT_EQ(tt_open(&env, &s, "t_pw", kv), SLUICE_OK);
    sluice_batch *b = rows(0, 10);
    CHECK_INT_EQ(tt_write(&s, b), SLUICE_OK);
    check_rows("pw", 10);
    sl_batch_free(b);
    tt_close(&s);

    f = fopen(hba, "w");
    fputs(old, f);
    fclose(f);
    tt_sql(&env, "SELECT pg_reload_conf()");
}

int main(void)
{
    const char *src = getenv("SLUICE_SOURCE_DIR");
    const char *build = getenv("SLUICE_BUILD_DIR");
    if (!src || !build) {
        fprintf(stderr, "FATAL: SLUICE_SOURCE_DIR and SLUICE_BUILD_DIR must be set (ctest "
                        "sets them)\n");
        return 2;
    }
    snprintf(script, sizeof script, "%s/tests/infra/postgres.sh", src);
    snprintf(dir, sizeof dir, "%s/var/timescale_restart", build);
    for (port = 25432 + (int)(getpid() % 500); !port_free(port); port++)
        ;
    if (pg_ctl("start") != 0) {
        fprintf(stderr, "FATAL: cannot start a private PostgreSQL with %s\n", script);
        return 2;
    }
    started = 1;
    atexit(stop_server);
    tt_setup(&env, SCHEMA, port);
    test_restart_between_writes();
    test_restart_within_write();
    test_server_down();
    test_wrong_password();
    tt_teardown(&env);
    return CHECK_DONE();
}
