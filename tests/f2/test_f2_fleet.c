/* The fleet table alone: growth to 100,000 devices within the memory
 * budget, counts and topics that survive the doublings, state transitions,
 * the flush generations (a failed flush is retried, a reading during the
 * write is not lost), the /devices document's paging and errors, and a
 * reader thread beside the writer. */
#include "check.h"
#include "f2_fleet.h"
#include "f2_fleet_run.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASE_MAC 0x02F200010000ull

static void topic_of(uint64_t mac, int upper, const char *rest, char *buf, size_t cap)
{
    snprintf(buf, cap, upper ? "cmnd/f2-%012" PRIX64 "/%s" : "cmnd/f2-%012" PRIx64 "/%s", mac,
             rest);
}

static int see(f2_fleet *f, uint64_t mac, int64_t now, int upper, const char *rest)
{
    char t[128];
    topic_of(mac, upper, rest, t, sizeof t);
    return f2_fleet_see(f, mac, now, t, strlen(t), 8);
}

static const f2_fleet_row *row_of(const f2_fleet_row *rows, size_t n, uint64_t mac)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].mac == mac)
            return &rows[i];
    return NULL;
}

static void test_growth(void)
{
    f2_fleet f;
    CHECK(f2_fleet_init(&f) == 0);
    const size_t N = 100000;
    static const char *const shapes[] = {"sensor-mode/J1/sensor-1", "access-control-mode/2/strike-1",
                                         "alarm-mode/3/siren-1"};
    for (size_t i = 0; i < N; i++)
        CHECK_INT_EQ(see(&f, BASE_MAC + i, 1000, (int)(i & 1), shapes[i % 3]), 1);
    for (size_t i = 0; i < N; i += 7)
        CHECK_INT_EQ(see(&f, BASE_MAC + i, 2000, (int)(i & 1), shapes[(i + 1) % 3]), 0);
    CHECK_INT_EQ(f2_fleet_devices(&f), N);
    size_t bytes = f2_fleet_bytes(&f);
    /* 131,072 slots of 32 bytes plus three templates: under 48 a device. */
    fprintf(stderr, "100000 devices: %zu bytes, %.1f per device\n", bytes, (double)bytes / N);
    CHECK(bytes <= 48 * N);
    CHECK(bytes >= 32 * N);

    f2_fleet_row *rows = NULL;
    size_t cap = 0, n = f2_fleet_all(&f, &rows, &cap);
    CHECK_INT_EQ(n, N);
    size_t wrong = 0;
    char want[128], got[300];
    for (size_t i = 0; i < N; i += 997) {
        const f2_fleet_row *r = row_of(rows, n, BASE_MAC + i);
        int again = i % 7 == 0;
        if (!r || r->readings != (again ? 2u : 1u) || r->last_seen_us != (again ? 2000 : 1000)) {
            wrong++;
            continue;
        }
        topic_of(BASE_MAC + i, (int)(i & 1), shapes[(i + (again ? 1 : 0)) % 3], want,
                 sizeof want);
        f2_fleet_topic(&f, r, got, sizeof got);
        if (strcmp(want, got) != 0) {
            fprintf(stderr, "topic %s, expected %s\n", got, want);
            wrong++;
        }
    }
    CHECK_INT_EQ(wrong, 0);
    free(rows);
    f2_fleet_free(&f);
}

static void test_states(void)
{
    f2_fleet f;
    CHECK(f2_fleet_init(&f) == 0);
    see(&f, BASE_MAC, 1000000, 1, "a/1/b");
    see(&f, BASE_MAC + 1, 1000000, 1, "a/1/b");
    see(&f, BASE_MAC + 2, 3000000, 1, "a/1/b");
    f2_fleet_counts c;
    f2_fleet_scan(&f, 3500000, 2000000, &c);   /* 2 s: the first two are silent */
    CHECK_INT_EQ(c.active, 1);
    CHECK_INT_EQ(c.silent, 2);
    CHECK_INT_EQ(c.went_silent, 2);
    CHECK_INT_EQ(c.n_example, 2);
    f2_fleet_scan(&f, 3600000, 2000000, &c);   /* no new transition */
    CHECK_INT_EQ(c.went_silent, 0);
    CHECK_INT_EQ(c.silent, 2);
    see(&f, BASE_MAC + 1, 3700000, 1, "a/1/b"); /* comes back */
    f2_fleet_scan(&f, 3800000, 2000000, &c);
    CHECK_INT_EQ(c.came_back, 1);
    CHECK_INT_EQ(c.active, 2);
    CHECK_INT_EQ(c.silent, 1);
    /* Exactly silent_after without a reading counts as silent. */
    f2_fleet_scan(&f, 5000000, 2000000, &c);
    CHECK_INT_EQ(c.silent, 2);
    /* A reading stamped earlier (a slow clock) never moves last_seen back. */
    see(&f, BASE_MAC + 2, 100, 1, "a/1/b");
    f2_fleet_row *rows = NULL;
    size_t cap = 0, n = f2_fleet_all(&f, &rows, &cap);
    CHECK_INT_EQ(row_of(rows, n, BASE_MAC + 2)->last_seen_us, 3000000);
    free(rows);
    f2_fleet_free(&f);
}

static void test_flush_generations(void)
{
    f2_fleet f;
    CHECK(f2_fleet_init(&f) == 0);
    for (int i = 0; i < 10; i++)
        see(&f, BASE_MAC + (uint64_t)i, 1000, 0, "x/1/y");
    see(&f, BASE_MAC, 1001, 0, "x/1/y");
    f2_fleet_row *rows = NULL;
    size_t cap = 0;
    uint32_t g1;
    size_t n = f2_fleet_changed(&f, &rows, &cap, &g1);
    CHECK_INT_EQ(n, 10);
    CHECK_INT_EQ(row_of(rows, n, BASE_MAC)->delta, 2);
    /* That write failed (never confirmed): the next snapshot has them all,
     * plus what changed meanwhile, with the full delta. */
    see(&f, BASE_MAC + 20, 1002, 0, "x/1/y");
    uint32_t g2;
    n = f2_fleet_changed(&f, &rows, &cap, &g2);
    CHECK_INT_EQ(n, 11);
    CHECK(g2 > g1);
    CHECK_INT_EQ(row_of(rows, n, BASE_MAC)->delta, 2);
    /* A reading during the (successful) write stays for the next flush. */
    see(&f, BASE_MAC + 3, 1003, 0, "x/1/y");
    f2_fleet_flushed(&f, rows, n, g2);
    uint32_t g3;
    n = f2_fleet_changed(&f, &rows, &cap, &g3);
    CHECK_INT_EQ(n, 1);
    CHECK(n == 1 && rows[0].mac == BASE_MAC + 3 && rows[0].delta == 1 && rows[0].readings == 2);
    f2_fleet_flushed(&f, rows, n, g3);
    uint32_t g4;
    CHECK_INT_EQ(f2_fleet_changed(&f, &rows, &cap, &g4), 0);
    free(rows);
    f2_fleet_free(&f);
}

static int64_t g_now = 10000000;
static int64_t fake_now(void) { return g_now; }

static char *doc(f2_fleet_run *fr, const char *q, int *status)
{
    size_t cap = 64, len = 0;
    char *b = malloc(cap);
    *status = f2_fleet_http(fr, q, b, cap, &len);
    if (len >= cap) {
        /* The host's protocol: call again with what it asked for. */
        b = realloc(b, cap = len + 1);
        size_t len2 = 0;
        *status = f2_fleet_http(fr, q, b, cap, &len2);
        CHECK_INT_EQ(len2, len);
    }
    CHECK_INT_EQ(strlen(b), len);
    return b;
}

static void test_document(void)
{
    sluice_api api;
    memset(&api, 0, sizeof api);
    api.now_us = fake_now;
    f2_fleet_run fr;
    memset(&fr, 0, sizeof fr);
    fr.api = &api;
    fr.silent_after_us = 2000000;
    CHECK(f2_fleet_init(&fr.table) == 0);
    for (int i = 4; i >= 0; i--)   /* inserted out of order: listed sorted */
        see(&fr.table, BASE_MAC + (uint64_t)i, i < 2 ? 1000000 : 9500000, 1, "sensor-mode/J1/sensor-1");
    int st;
    char *b = doc(&fr, "", &st);
    CHECK_INT_EQ(st, 200);
    CHECK_STR_CONTAINS(b, "\"active\":3,\"silent\":2,\"state\":\"all\",\"total\":5,\"offset\":0,"
                          "\"limit\":100");
    CHECK_STR_CONTAINS(b, "{\"device_id\":\"f2-02f200010000\",\"state\":\"silent\","
                          "\"last_seen\":\"1970-01-01T00:00:01.000000Z\",\"seconds_since\":9.000,"
                          "\"readings\":1,\"last_topic\":\"cmnd/f2-02F200010000/sensor-mode/J1/"
                          "sensor-1\"},{\"device_id\":\"f2-02f200010001\"");
    free(b);
    b = doc(&fr, "state=silent", &st);
    CHECK_STR_CONTAINS(b, "\"total\":2");
    CHECK(!strstr(b, "f2-02f200010002"));
    free(b);
    b = doc(&fr, "state=active&offset=1&limit=1", &st);
    CHECK_STR_CONTAINS(b, "\"total\":3,\"offset\":1,\"limit\":1,\"devices\":[{\"device_id\":"
                          "\"f2-02f200010003\"");
    CHECK(!strstr(b, "f2-02f200010004"));
    free(b);
    b = doc(&fr, "offset=10", &st);
    CHECK_STR_CONTAINS(b, "\"devices\":[]");
    free(b);
    static const char *const bad[] = {"limit=0", "limit=1001", "offset=-1", "state=quiet",
                                      "limit=abc", "foo=1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        b = doc(&fr, bad[i], &st);
        CHECK_INT_EQ(st, 400);
        CHECK_STR_CONTAINS(b, "{\"error\":");
        free(b);
    }
    f2_fleet_free(&fr.table);
}

/* The HTTP thread copies while the sink thread writes (run under ASan and
 * TSan-like scrutiny by the sanitizer build). */
static f2_fleet g_f;
static _Atomic int g_stop;

static void *reader(void *arg)
{
    (void)arg;
    f2_fleet_row *rows = NULL;
    size_t cap = 0, last = 0, bad = 0;
    while (!g_stop) {
        size_t n = f2_fleet_all(&g_f, &rows, &cap);
        if (n < last)
            bad++;
        last = n;
        f2_fleet_counts c;
        f2_fleet_scan(&g_f, 5, 10, &c);
    }
    free(rows);
    return (void *)bad;
}

static void test_threads(void)
{
    CHECK(f2_fleet_init(&g_f) == 0);
    pthread_t th;
    pthread_create(&th, NULL, reader, NULL);
    for (int round = 0; round < 3; round++)
        for (uint64_t i = 0; i < 20000; i++)
            see(&g_f, BASE_MAC + i, (int64_t)i, 0, "x/1/y");
    g_stop = 1;
    void *bad;
    pthread_join(th, &bad);
    CHECK(bad == NULL);
    CHECK_INT_EQ(f2_fleet_devices(&g_f), 20000);
    f2_fleet_free(&g_f);
}

int main(void)
{
    test_growth();
    test_states();
    test_flush_generations();
    test_document();
    test_threads();
    return CHECK_DONE();
}
