/* The device_params database goes away and comes back.  A private
 * PostgreSQL (tests/infra/postgres.sh on its own port and directory) is
 * stopped under a running decoder: cached devices keep decoding, an
 * uncached one is handed back for a retry (nothing lost), readiness
 * drops; once the server is back the same reading decodes. */
#include "check.h"
#include "f2t.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#define TS "2023-05-25 15:13:10.543400"
#define EXAMPLE "{\"timestamp\": \"" TS "\", \"data\": \"0A 1B 15 7C 01 90\"}"
#define DEV0 "cmnd/f2-02F200010000/sensor-mode/J1/sensor-1"
#define DEV1 "cmnd/f2-02F200010001/sensor-mode/J1/sensor-1"
#define DEV2 "cmnd/f2-02F200010002/sensor-mode/J1/sensor-1"

static char pg_dir[1024];
static int pg_port;

static int pg(const char *action)
{
    char cmd[2300];
    snprintf(cmd, sizeof cmd, "bash '%s/tests/infra/postgres.sh' %s '%s' %d >&2",
             getenv("SLUICE_SOURCE_DIR"), action, pg_dir, pg_port);
    return system(cmd);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The first port from `from` nobody listens on (other test servers, or a
 * developer's, may sit next to the suite's). */
static int free_port(int from)
{
    for (int port = from; port < from + 50; port++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        if (fd >= 0)
            close(fd);
        if (ok)
            return port;
    }
    return from;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(void)
{
    const char *p = getenv("SLUICE_TEST_PG_PORT");
    const char *op = getenv("F2_OUTAGE_PG_PORT");
    if (!p || !getenv("SLUICE_SOURCE_DIR")) {
        fprintf(stderr, "run through ctest: SLUICE_TEST_PG_PORT and SLUICE_SOURCE_DIR\n");
        return 2;
    }
    /* Its own server: stopping the shared one would fail other tests. */
    pg_port = op ? atoi(op) : free_port(atoi(p) + 100);
    const char *var = getenv("SLUICE_TEST_VAR");
    snprintf(pg_dir, sizeof pg_dir, "%s/f2-outage-%d", var ? var : "/tmp", pg_port);
    char mk[1100];
    snprintf(mk, sizeof mk, "mkdir -p '%s'", pg_dir);
    if (system(mk) != 0 || pg("start") != 0) {
        fprintf(stderr, "cannot start the private PostgreSQL on port %d\n", pg_port);
        return 2;
    }

    f2t t;
    f2t_open(&t, "outage", pg_port, 1);
    sluice_batch *out = sl_batch_new(64, 1 << 20);
    char err[SLUICE_ERRLEN];
    f2t_inst d;
    CHECK_INT_EQ(f2t_decoder(&t, &d, NULL, NULL), 0);
    CHECK_INT_EQ(f2t_decode(&d, DEV0, EXAMPLE, out, err), SLUICE_OK);
    CHECK_INT_EQ(atomic_load(&d.ctx->ready), 1);
    /* The fixture connection would keep the server from stopping fast. */
    PQfinish(t.conn);
    t.conn = NULL;

    CHECK_INT_EQ(pg("stop"), 0);

    /* Cached: decodes as before, and the tick notices the loss. */
    for (int i = 0; i < 20; i++) {
        CHECK_INT_EQ(f2t_decode(&d, DEV0, EXAMPLE, out, err), SLUICE_OK);
        sleep_ms(20);
    }
    CHECK_INT_EQ(out->n, 3);
    CHECK_INT_EQ(atomic_load(&d.ctx->ready), 0);

    /* Not cached: RETRY, promptly, naming the device and the cause. */
    int64_t t0 = now_ms();
    CHECK_INT_EQ(f2t_decode(&d, DEV1, EXAMPLE, out, err), SLUICE_RETRY);
    CHECK_STR_CONTAINS(err, "cannot look up f2-02f200010001");
    CHECK_STR_CONTAINS(err, "device_params database");
    CHECK(now_ms() - t0 < 3000);
    CHECK(f2t_metric(&d, "sluice_f2_lookups_failed_total") >= 1);

    /* A decoder that starts while the database is down starts anyway. */
    f2t_inst d2;
    CHECK_INT_EQ(f2t_decoder(&t, &d2, NULL, NULL), 0);
    CHECK_INT_EQ(atomic_load(&d2.ctx->ready), 0);
    if (d2.inst)
        CHECK_INT_EQ(f2t_decode(&d2, DEV0, EXAMPLE, out, err), SLUICE_RETRY);

    CHECK_INT_EQ(pg("start"), 0);

    /* Retried as the host would (with a pause), the same readings go through. */
    sluice_status st = SLUICE_RETRY, st2 = SLUICE_RETRY;
    for (int i = 0; i < 150 && (st != SLUICE_OK || st2 != SLUICE_OK); i++) {
        if (st != SLUICE_OK)
            st = f2t_decode(&d, DEV1, EXAMPLE, out, err);
        if (st2 != SLUICE_OK && d2.inst)
            st2 = f2t_decode(&d2, DEV0, EXAMPLE, out, err);
        if (st != SLUICE_OK || st2 != SLUICE_OK)
            sleep_ms(100);
    }
    CHECK_INT_EQ(st, SLUICE_OK);
    CHECK_INT_EQ(st2, SLUICE_OK);
    CHECK_INT_EQ(f2t_decode(&d, DEV2, EXAMPLE, out, err), SLUICE_OK);
    CHECK_INT_EQ(out->n, 3);
    CHECK_INT_EQ(atomic_load(&d.ctx->ready), 1);
    CHECK_INT_EQ(atomic_load(&d2.ctx->ready), 1);

    f2t_inst_free(&d2);
    f2t_inst_free(&d);
    sl_batch_free(out);
    int rc = CHECK_DONE();
    f2t_close(&t, 0);
    pg("destroy"); /* leave no cluster behind in the temp directory */
    return rc;
}
