/* Broker outages, on a private Mosquitto this test restarts (the suite's
 * broker is never disturbed): the source notices, says not ready, reconnects
 * with backoff, subscribes again (a clean session has lost its
 * subscriptions), and what is published after the restart arrives; the sink
 * answers RETRY while the broker is away or does not acknowledge, and
 * publishes again once it is back. */
#include "check.h"
#include "mt.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mt_env env;

#define URL "url: mqtt://127.0.0.1:%d\n"
#define FAST "reconnect_min: 100ms\nreconnect_max: 500ms\nkeepalive: 5s\n"

static int wait_ready(mt_inst *s, int want, int ms)
{
    int64_t end = mt_now_ms() + ms;
    while (mt_ready(s) != want && mt_now_ms() < end)
        mt_sleep_ms(20);
    return mt_ready(s) == want;
}

static void publish_range(int port, const char *topic, int from, int to)
{
    mt_client *p = mt_pub_open(port, 4);
    for (int i = from; i < to; i++)
        mt_pubf(p, topic, 1, "%d", i);
    mt_pub_wait(p);
    mt_client_close(p);
}

static int all_there(const mt_got *g, int from, int to)
{
    for (int i = from; i < to; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        if (mt_got_find(g, v) < 0)
            return 0;
    }
    return 1;
}

/* Polls until every value in [from, to) is there (duplicates of earlier
 * ones may come first after an unclean broker death) or ms pass. */
static void collect_all(mt_inst *s, mt_got *g, int from, int to, int ms)
{
    int64_t end = mt_now_ms() + ms;
    while (!all_there(g, from, to) && mt_now_ms() < end)
        mt_collect(s, g, 1, 100);
}

/* How many values >= from occur more than once. */
static int dups_from(const mt_got *g, int from)
{
    int d = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (atoi(g->m[i].value) < from)
            continue;
        for (size_t j = i + 1; j < g->n; j++)
            d += !strcmp(g->m[i].value, g->m[j].value);
    }
    return d;
}

static void test_source_restart(void)
{
    mt_broker b;
    mt_broker_start(&env, &b, "restart", 0, NULL, NULL);
    const char *t = mt_uniq("restart");
    char topic[256];
    snprintf(topic, sizeof topic, "%s/x", t);
    mt_inst per, cln;
    CHECK_INT_EQ(mt_source(&env, &per, "persistent", URL FAST "client_id: %s\ntopics: [\"%s/#\"]",
                           b.port, mt_uniq("per"), t), SLUICE_OK);
    CHECK_INT_EQ(mt_source(&env, &cln, "clean", URL FAST "client_id: %s\ntopics: [\"%s/#\"]\n"
                           "clean_session: true", b.port, mt_uniq("cln"), t), SLUICE_OK);
    publish_range(b.port, topic, 0, 100);
    mt_got gp = {0}, gc = {0};
    mt_collect(&per, &gp, 100, 5000);
    mt_collect(&cln, &gc, 100, 5000);
    CHECK_INT_EQ(gp.n, 100);
    CHECK_INT_EQ(gc.n, 100);

    mt_capture_begin();
    mt_broker_stop(&b);
    int went_down = wait_ready(&per, 0, 5000) && wait_ready(&cln, 0, 5000);
    CHECK(went_down);
    CHECK_INT_EQ((long long)mt_gauge(&per, "sluice_mqtt_connected"), 0);
    mt_sleep_ms(700);        /* a few failed attempts while it is down */
    mt_broker_restart(&b);
    int came_back = wait_ready(&per, 1, 10000) && wait_ready(&cln, 1, 10000);
    const char *log = mt_capture_end();
    CHECK(came_back);
    char want[200];
    snprintf(want, sizeof want, "lost the connection to mqtt://127.0.0.1:%d", b.port);
    CHECK_STR_CONTAINS(log, want);
    snprintf(want, sizeof want, "cannot reconnect to mqtt://127.0.0.1:%d (attempt 1)", b.port);
    CHECK_STR_CONTAINS(log, want);
    snprintf(want, sizeof want, "reconnected to mqtt://127.0.0.1:%d after", b.port);
    CHECK_STR_CONTAINS(log, want);
    CHECK_INT_EQ((long long)mt_metric(&per, "sluice_mqtt_reconnects_total"), 1);
    CHECK_INT_EQ((long long)mt_gauge(&per, "sluice_mqtt_connected"), 1);

    /* After the restart both receive again: the clean session only
     * because it subscribed anew.  The persistent one may see again some of
     * the first 100: PUBACKs the broker had not read when it stopped
     * (at-least-once); nothing published after the restart twice. */
    publish_range(b.port, topic, 100, 300);
    mt_collect(&per, &gp, 200, 10000);
    mt_collect(&per, &gp, 1000, 300);
    mt_collect(&cln, &gc, 200, 10000);
    CHECK_INT_EQ(gc.n, 300);
    CHECK(all_there(&gp, 0, 300));
    CHECK(all_there(&gc, 0, 300));
    CHECK_INT_EQ(dups_from(&gp, 100), 0);
    fprintf(stderr, "persistent session: %zu redelivered after the broker restart\n",
            gp.n - 300);

    /* An unclean death of the broker (SIGKILL) as well. */
    kill(b.pid, SIGKILL);
    b.pid = 0;
    CHECK(wait_ready(&per, 0, 5000));
    mt_broker_restart(&b);
    CHECK(wait_ready(&per, 1, 10000));
    /* The clean session receives only once it has subscribed anew. */
    CHECK(wait_ready(&cln, 1, 10000));
    publish_range(b.port, topic, 300, 400);
    collect_all(&per, &gp, 300, 400, 20000);
    collect_all(&cln, &gc, 300, 400, 20000);
    CHECK(all_there(&gp, 300, 400));
    CHECK(all_there(&gc, 300, 400));
    CHECK_INT_EQ((long long)mt_metric(&per, "sluice_mqtt_reconnects_total"), 2);

    mt_got_free(&gp);
    mt_got_free(&gc);
    mt_close(&per);
    mt_close(&cln);
    mt_broker_stop(&b);
}

/* A persistent session survives both sluice and the broker going away:
 * messages published while sluice was down, before a broker restart,
 * arrive after both are back. */
static void test_session_across_restart(void)
{
    mt_broker b;
    mt_broker_start(&env, &b, "session", 0, NULL, NULL);
    const char *t = mt_uniq("sess");
    const char *id = mt_uniq("sluice-sess");
    char topic[256];
    snprintf(topic, sizeof topic, "%s/x", t);
    mt_inst s;
    const char *fmt = URL FAST "client_id: %s\ntopics: [\"%s/#\"]";
    CHECK_INT_EQ(mt_source(&env, &s, "sess", fmt, b.port, id, t), SLUICE_OK);
    mt_got g = {0};
    mt_stop_drain(&s, &g);
    mt_close(&s);
    publish_range(b.port, topic, 0, 500);
    mt_broker_restart(&b);   /* a clean stop saves the queued messages */
    CHECK_INT_EQ(mt_source(&env, &s, "sess", fmt, b.port, id, t), SLUICE_OK);
    mt_collect(&s, &g, 500, 10000);
    CHECK_INT_EQ(g.n, 500);
    CHECK(all_there(&g, 0, 500));
    mt_got_free(&g);
    mt_close(&s);
    mt_broker_stop(&b);
}

static sluice_batch *batch_of(int n, int base)
{
    sluice_batch *bt = sl_batch_new((size_t)n, 1 << 20);
    for (int i = 0; i < n; i++) {
        sluice_record *r = sl_api()->record_new(bt);
        char v[16];
        int l = snprintf(v, sizeof v, "%d", base + i);
        sl_api()->set_value(bt, r, v, (size_t)l);
    }
    return bt;
}

static void test_sink_outage(void)
{
    mt_broker b;
    mt_broker_start(&env, &b, "sink", 0, NULL, NULL);
    const char *t = mt_uniq("sinkout");
    char topic[256];
    snprintf(topic, sizeof topic, "%s/x", t);
    mt_inst s;
    CHECK_INT_EQ(mt_sink(&env, &s, "sinkout", URL FAST "topic: \"%s\"\nack_timeout: 1s", b.port,
                         topic), SLUICE_OK);
    sluice_batch *bt = batch_of(10, 0);
    CHECK_INT_EQ(mt_write(&s, bt), SLUICE_OK);

    /* Broker away: RETRY at once, naming the broker and the reason. */
    mt_broker_stop(&b);
    CHECK(wait_ready(&s, 0, 5000));
    int64_t t0 = mt_now_ms();
    CHECK_INT_EQ(mt_write(&s, bt), SLUICE_RETRY);
    CHECK(mt_now_ms() - t0 < 500);
    char want[200];
    snprintf(want, sizeof want, "not connected to mqtt://127.0.0.1:%d: ", b.port);
    CHECK_STR_CONTAINS(s.err, want);

    /* Back: the same batch goes through, and a subscriber sees it. */
    mt_broker_restart(&b);
    CHECK(wait_ready(&s, 1, 10000));
    mt_client *sub = mt_sub_open(b.port, topic, 1);
    CHECK_INT_EQ(mt_write(&s, bt), SLUICE_OK);
    CHECK_INT_EQ(mt_sub_wait(sub, 10, 5000), 10);
    CHECK(all_there(mt_sub_got(sub), 0, 10));
    mt_client_close(sub);

    /* A broker that takes the messages but never acknowledges (stopped
     * process): RETRY after ack_timeout, saying how many were missing. */
    kill(b.pid, SIGSTOP);
    t0 = mt_now_ms();
    CHECK_INT_EQ(mt_write(&s, bt), SLUICE_RETRY);
    int64_t took = mt_now_ms() - t0;
    CHECK(took >= 900 && took < 5000);
    CHECK_STR_CONTAINS(s.err, "acknowledged 0 of 10 messages within ack_timeout (1000 ms)");
    kill(b.pid, SIGCONT);
    mt_sleep_ms(200);
    CHECK(wait_ready(&s, 1, 10000));
    CHECK_INT_EQ(mt_write(&s, bt), SLUICE_OK);
    sl_batch_free(bt);
    mt_close(&s);
    mt_broker_stop(&b);
}

/* Two instances with one client id throw each other off the broker; the
 * log says what is probably going on. */
static void test_duplicate_client_id(void)
{
    mt_broker b;
    mt_broker_start(&env, &b, "dupid", 0, NULL, NULL);
    const char *id = mt_uniq("twin");
    mt_inst a, c;
    mt_capture_begin();
    CHECK_INT_EQ(mt_source(&env, &a, "twin-a", URL FAST "client_id: %s\nclean_session: true",
                           b.port, id), SLUICE_OK);
    CHECK_INT_EQ(mt_source(&env, &c, "twin-b", URL FAST "client_id: %s\nclean_session: true",
                           b.port, id), SLUICE_OK);
    mt_sleep_ms(3000);
    mt_close(&a);
    mt_close(&c);
    const char *log = mt_capture_end();
    char want[200];
    snprintf(want, sizeof want, "is another client connected as \"%s\"?", id);
    CHECK_STR_CONTAINS(log, want);
    mt_broker_stop(&b);
}

/* An idle connection outlives the broker's keepalive limit (1.5 x
 * keepalive): the network thread pings on time. */
static void test_keepalive(void)
{
    mt_broker b;
    mt_broker_start(&env, &b, "keepalive", 0, NULL, NULL);
    const char *t = mt_uniq("ka");
    mt_inst s;
    CHECK_INT_EQ(mt_source(&env, &s, "ka", URL "keepalive: 5s\nclean_session: true\n"
                           "topics: [\"%s/#\"]", b.port, t), SLUICE_OK);
    char topic[256];
    snprintf(topic, sizeof topic, "%s/x", t);
    publish_range(b.port, topic, 0, 10);     /* traffic first: the fast path runs */
    mt_got g = {0};
    mt_collect(&s, &g, 10, 5000);
    mt_capture_begin();
    /* Mosquitto drops a silent client 1.5 x keepalive after its last packet,
     * checked every few seconds: gone by 11 s here when nothing pings. */
    mt_collect(&s, &g, 1, 15000);
    const char *log = mt_capture_end();
    CHECK(strstr(log, "lost the connection") == NULL);
    CHECK_INT_EQ((long long)mt_metric(&s, "sluice_mqtt_reconnects_total"), 0);
    publish_range(b.port, topic, 10, 20);
    mt_collect(&s, &g, 10, 5000);
    CHECK(all_there(&g, 0, 20));
    mt_got_free(&g);
    mt_close(&s);
    mt_broker_stop(&b);
}

int main(void)
{
    mt_setup(&env, "mqtt-restart");
    test_source_restart();
    test_session_across_restart();
    test_sink_outage();
    test_duplicate_client_id();
    test_keepalive();
    mt_teardown(&env);
    return CHECK_DONE();
}
