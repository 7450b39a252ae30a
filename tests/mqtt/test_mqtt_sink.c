/* The MQTT sink against the suite's Mosquitto, observed by an independent
 * subscriber: topic templates, value and JSON payloads, every QoS, retained
 * messages, a batch larger than the in-flight window, records whose topic
 * cannot be made (PARTIAL, each with its reason, the others published), and
 * init errors (a dead broker is RETRY, a bad topic is ERR). */
#include "check.h"
#include "mt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mt_env env;

#define URL "url: mqtt://127.0.0.1:%d\n"

static sluice_record *rec(sluice_batch *b, const char *key, const char *value, const char *site)
{
    const sluice_api *api = sl_api();
    sluice_record *r = api->record_new(b);
    if (!r)
        mt_die("batch full");
    if (key)
        api->set_key(b, r, key, strlen(key));
    api->set_value(b, r, value, strlen(value));
    if (site)
        api->field_set_string(b, api->field_add(b, r, "site", SLUICE_STRING), site, strlen(site));
    return r;
}

static void test_template(void)
{
    const char *t = mt_uniq("sink-tmpl");
    char filter[256];
    snprintf(filter, sizeof filter, "%s/#", t);
    mt_client *sub = mt_sub_open(env.port, filter, 1);
    mt_inst s;
    CHECK_INT_EQ(mt_sink(&env, &s, "tmpl", URL "topic: \"%s/{field:site}/{key}/data\"",
                         env.port, t), SLUICE_OK);
    CHECK_INT_EQ(mt_ready(&s), 1);
    sluice_batch *b = sl_batch_new(100, 1 << 20);
    rec(b, "f2-aa", "v1", "plant-1");
    rec(b, "f2-bb", "v2", "plant-2");
    rec(b, "f2-aa", "v3", "plant-1");
    CHECK_INT_EQ(mt_write(&s, b), SLUICE_OK);
    CHECK_INT_EQ(mt_sub_wait(sub, 3, 5000), 3);
    const mt_got *g = mt_sub_got(sub);
    const char *want_topic[] = {"plant-1/f2-aa/data", "plant-2/f2-bb/data", "plant-1/f2-aa/data"};
    for (size_t i = 0; i < 3 && i < g->n; i++) {
        char want[256];
        snprintf(want, sizeof want, "%s/%s", t, want_topic[i]);
        CHECK(!strcmp(g->m[i].topic, want));
        char v[8];
        snprintf(v, sizeof v, "v%zu", i + 1);
        CHECK(!strcmp(g->m[i].value, v));
    }
    CHECK_INT_EQ((long long)mt_metric(&s, "sluice_mqtt_messages_published_total"), 3);
    CHECK_INT_EQ((long long)mt_metric(&s, "sluice_mqtt_bytes_published_total"), 6);
    sl_batch_free(b);
    mt_close(&s);
    mt_client_close(sub);
}

/* {topic} mirrors the origin topic under a prefix; payload: json writes
 * the fields as one object, and a record without fields as the host's
 * envelope (the bytes the kafka json converter sends). */
static void test_json_mirror(void)
{
    const char *t = mt_uniq("sink-json");
    char filter[256];
    snprintf(filter, sizeof filter, "%s/#", t);
    mt_client *sub = mt_sub_open(env.port, filter, 1);
    mt_inst s;
    CHECK_INT_EQ(mt_sink(&env, &s, "json", URL "topic: \"%s/{topic}\"\npayload: json",
                         env.port, t), SLUICE_OK);
    sluice_batch *b = sl_batch_new(10, 1 << 20);
    const sluice_api *api = sl_api();
    sluice_record *r = rec(b, NULL, "ignored", "plant-1");
    r->origin.topic = api->strndup(b, "stat/f2-aa/door", 15);
    api->field_add(b, r, "n", SLUICE_INT)->v.i = 7;
    api->field_add(b, r, "ok", SLUICE_BOOL)->v.b = 0;
    r = rec(b, "f2-aa", "{\"t\": 1}", NULL);
    r->origin.topic = api->strndup(b, "stat/f2-aa/door", 15);
    r->timestamp = 1685027590543400LL;
    CHECK_INT_EQ(mt_write(&s, b), SLUICE_OK);
    CHECK_INT_EQ(mt_sub_wait(sub, 2, 5000), 2);
    const mt_got *g = mt_sub_got(sub);
    const char *env_want = "{\"topic\":\"stat/f2-aa/door\",\"device_id\":\"f2-aa\","
                           "\"payload\":{\"t\": 1},\"received_at\":\"2023-05-25T15:13:10.543400Z\"}";
    if (mt_got_find(g, env_want) < 0) {
        fprintf(stderr, "no envelope %s among:\n", env_want);
        for (size_t i = 0; i < g->n; i++)
            fprintf(stderr, "  %s\n", g->m[i].value);
        CHECK(!"the envelope of a record without fields");
    }
    if (g->n) {
        char want[256];
        snprintf(want, sizeof want, "%s/stat/f2-aa/door", t);
        CHECK(!strcmp(g->m[0].topic, want));
        CHECK(!strcmp(g->m[0].value, "{\"site\":\"plant-1\",\"n\":7,\"ok\":false}"));
        if (strcmp(g->m[0].value, "{\"site\":\"plant-1\",\"n\":7,\"ok\":false}"))
            fprintf(stderr, "json payload: %s\n", g->m[0].value);
    }
    sl_batch_free(b);
    mt_close(&s);
    mt_client_close(sub);
}

/* Every QoS publishes the whole batch, in order; a batch larger than the
 * in-flight window (max_inflight) waits for acknowledgements as it goes. */
static void test_qos_and_volume(void)
{
    for (int q = 0; q <= 2; q++) {
        const char *t = mt_uniq("sink-qos");
        char filter[256];
        snprintf(filter, sizeof filter, "%s/#", t);
        mt_client *sub = mt_sub_open(env.port, filter, 2);
        mt_inst s;
        CHECK_INT_EQ(mt_sink(&env, &s, "qos", URL "topic: \"%s/x\"\nqos: %d\nmax_inflight: 20",
                             env.port, t, q), SLUICE_OK);
        const size_t N = 5000;
        sluice_batch *b = sl_batch_new(N, 4 << 20);
        for (size_t i = 0; i < N; i++) {
            char v[32];
            snprintf(v, sizeof v, "%zu", i);
            rec(b, NULL, v, NULL);
        }
        CHECK_INT_EQ(mt_write(&s, b), SLUICE_OK);
        CHECK_INT_EQ(mt_sub_wait(sub, N, 20000), N);
        const mt_got *g = mt_sub_got(sub);
        int in_order = g->n == N;
        for (size_t i = 0; i < g->n && in_order; i++)
            in_order = (size_t)atol(g->m[i].value) == i;
        CHECK(in_order);
        CHECK_INT_EQ((long long)mt_metric(&s, "sluice_mqtt_messages_published_total"), N);
        sl_batch_free(b);
        mt_close(&s);
        mt_client_close(sub);
    }
}

static void test_retain(void)
{
    const char *t = mt_uniq("sink-retain");
    mt_inst s;
    CHECK_INT_EQ(mt_sink(&env, &s, "retain", URL "topic: \"%s/state\"\nretain: true", env.port, t),
                 SLUICE_OK);
    sluice_batch *b = sl_batch_new(10, 1 << 20);
    rec(b, NULL, "kept", NULL);
    CHECK_INT_EQ(mt_write(&s, b), SLUICE_OK);
    /* A subscriber that comes later still gets it. */
    char topic[256];
    snprintf(topic, sizeof topic, "%s/state", t);
    mt_client *sub = mt_sub_open(env.port, topic, 1);
    CHECK_INT_EQ(mt_sub_wait(sub, 1, 5000), 1);
    if (mt_sub_got(sub)->n)
        CHECK(!strcmp(mt_sub_got(sub)->m[0].value, "kept"));
    mt_client_close(sub);
    /* An empty retained message clears it from the shared broker. */
    sl_batch_reset(b);
    rec(b, NULL, "", NULL);
    CHECK_INT_EQ(mt_write(&s, b), SLUICE_OK);
    sl_batch_free(b);
    mt_close(&s);
}

/* Records whose topic cannot be made fail one by one, with the reason; the
 * others are published. */
static void test_partial(void)
{
    const char *t = mt_uniq("sink-partial");
    char filter[256];
    snprintf(filter, sizeof filter, "%s/#", t);
    mt_client *sub = mt_sub_open(env.port, filter, 1);
    mt_inst s;
    CHECK_INT_EQ(mt_sink(&env, &s, "partial", URL "topic: \"%s/{field:site}/{key}\"", env.port,
                         t), SLUICE_OK);
    sluice_batch *b = sl_batch_new(10, 1 << 20);
    rec(b, "ok-1", "a", "s1");
    rec(b, "k", "b", NULL);                /* no field site */
    rec(b, "bad+key", "c", "s1");          /* a wildcard in the topic */
    rec(b, NULL, "d", "s1");               /* no key */
    rec(b, "k", "e", "s\xff");             /* not UTF-8 */
    rec(b, "ok-2", "f", "s2");
    CHECK_INT_EQ(mt_write(&s, b), SLUICE_PARTIAL);
    const char *want[] = {NULL, "no field \"site\"", "contains a wildcard", "has no key",
                          "not valid UTF-8", NULL};
    for (size_t i = 0; i < 6; i++) {
        const char *f = sl_api()->batch_at(b, i)->failure_;
        if (!want[i]) {
            CHECK(f == NULL);
        } else {
            CHECK_STR_CONTAINS(f, want[i]);
            CHECK_STR_CONTAINS(f, "mqtt sink: topic template");
        }
    }
    CHECK_INT_EQ(mt_sub_wait(sub, 2, 5000), 2);
    mt_sub_wait(sub, 3, 300);
    CHECK_INT_EQ(mt_sub_got(sub)->n, 2);
    if (mt_sub_got(sub)->n == 2) {
        CHECK(!strcmp(mt_sub_got(sub)->m[0].value, "a"));
        CHECK(!strcmp(mt_sub_got(sub)->m[1].value, "f"));
    }
    sl_batch_free(b);
    mt_close(&s);
    mt_client_close(sub);
}

static void test_init_errors(void)
{
    mt_inst s;
    int port = mt_free_port();
    CHECK_INT_EQ(mt_sink(&env, &s, "dead", URL "topic: x\nconnect_timeout: 2s", port),
                 SLUICE_RETRY);
    CHECK_STR_CONTAINS(s.err, "cannot connect to mqtt://127.0.0.1:");
    CHECK_STR_CONTAINS(s.err, "Connection refused");
    mt_close(&s);
    struct { const char *opts, *want; } cases[] = {
        {"topic: \"a/#\"", "topic: topic \"a/#\" contains a wildcard"},
        {"topic: \"a/{nope}\"", "unknown placeholder {nope}"},
        {"topic: \"\"", "topic: the topic is empty"},
        {"topic: x\nmax_inflight: 0", "option \"max_inflight\": 0 is out of range; expected 1..65535"},
        {"topic: x\nack_timeout: 0", "option \"ack_timeout\": 0 is out of range; expected at least 1ms"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        CHECK_INT_EQ(mt_sink(&env, &s, "bad", URL "%s", env.port, cases[i].opts), SLUICE_ERR);
        CHECK_STR_CONTAINS(s.err, cases[i].want);
        mt_close(&s);
    }
}

int main(void)
{
    mt_setup(&env, "mqtt-sink");
    test_template();
    test_json_mirror();
    test_qos_and_volume();
    test_retain();
    test_partial();
    test_init_errors();
    mt_teardown(&env);
    return CHECK_DONE();
}
