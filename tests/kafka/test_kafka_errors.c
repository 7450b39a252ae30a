/* Failure paths.  The sink: messages Kafka refuses for good (too large for
 * the client, too large for the broker, a template that names no valid
 * topic, a missing key field, a record the Avro schema cannot hold) are
 * failed one by one with a reason while the others are delivered; a broker
 * that cannot be reached makes the write SLUICE_RETRY and the instance not
 * ready; a fatal idempotence error (injected with librdkafka's mock
 * cluster) is SLUICE_ERR.  The source: an unreachable broker is not an init
 * failure, only not ready.  And every misconfiguration is refused at init
 * with a message naming it. */
#include "check.h"
#include "kt.h"

#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const sluice_api *api;

static sluice_record *rec(sluice_batch *b, const char *val, size_t n)
{
    sluice_record *r = api->record_new(b);
    api->set_value(b, r, val, n);
    return r;
}

static void test_too_large(void)
{
    const char *topic = kt_topic("big", 1);
    kt_inst s;
    CHECK_INT_EQ(kt_sink(&s, "topic: %s, value_converter: bytes", topic), SLUICE_OK);
    sluice_batch *b = sl_batch_new(10, 64 << 20);
    size_t big = 1500000;
    char *v = malloc(6 << 20);
    for (size_t i = 0; i < (6u << 20); i++)
        v[i] = (char)rand();
    rec(b, "small-1", 7);
    rec(b, v, big); /* above the client's message.max.bytes (1000000) */
    rec(b, "small-2", 7);
    CHECK_INT_EQ(kt_write(&s, b), SLUICE_PARTIAL);
    CHECK(b->recs[0].failure_ == NULL && b->recs[2].failure_ == NULL);
    CHECK_STR_CONTAINS(b->recs[1].failure_, "Kafka refused the message");
    CHECK_STR_CONTAINS(b->recs[1].failure_, "too large");
    kt_close(&s);

    /* Allowed by the client, refused by the broker (4 MiB there). */
    CHECK_INT_EQ(kt_sink(&s, "topic: %s, value_converter: bytes, compression: none, "
                             "properties: {message.max.bytes: \"10000000\"}", topic), SLUICE_OK);
    sl_batch_reset(b);
    rec(b, "small-3", 7);
    rec(b, v, 5u << 20);
    CHECK_INT_EQ(kt_write(&s, b), SLUICE_PARTIAL);
    if (s.err[0])
        fprintf(stderr, "%s\n", s.err);
    CHECK(b->recs[0].failure_ == NULL);
    CHECK_STR_CONTAINS(b->recs[1].failure_, "too large");
    CHECK(kt_metric(&s, SLUICE_METRIC_COUNTER, "sluice_kafka_delivery_errors_total", NULL) >= 1);
    /* The producer goes on after a refusal. */
    sl_batch_reset(b);
    rec(b, "small-4", 7);
    CHECK_INT_EQ(kt_write(&s, b), SLUICE_OK);
    kt_close(&s);
    kt_msg m[10];
    size_t n = kt_read(topic, 4, 20000, m, 10);
    CHECK_INT_EQ(n, 4);
    for (size_t i = 0; i < n; i++)
        CHECK(m[i].len == 7);
    kt_msgs_free(m, n);
    free(v);
    sl_batch_free(b);
}

static void test_record_failures(void)
{
    const char *base = kt_topic("per", 0);
    char good[256];
    snprintf(good, sizeof good, "%s-ok", base);
    kt_inst s;
    CHECK_INT_EQ(kt_sink(&s, "topic: \"%s-{field:t}\", key: \"field:k\"", base), SLUICE_OK);
    sluice_batch *b = sl_batch_new(10, 1 << 20);
    for (int i = 0; i < 4; i++) {
        sluice_record *r = api->record_new(b);
        if (i != 1) {
            sluice_field *f = api->field_add(b, r, "t", SLUICE_STRING);
            api->field_set_string(b, f, i == 2 ? "no/slash" : "ok", i == 2 ? 8 : 2);
        }
        if (i != 3)
            api->field_add(b, r, "k", SLUICE_INT)->v.i = i;
    }
    CHECK_INT_EQ(kt_write(&s, b), SLUICE_PARTIAL);
    CHECK(b->recs[0].failure_ == NULL);
    CHECK_STR_CONTAINS(b->recs[1].failure_, "no field \"t\"");
    CHECK_STR_CONTAINS(b->recs[2].failure_, "not a valid Kafka topic name");
    CHECK_STR_CONTAINS(b->recs[3].failure_, "key: the record has no field \"k\"");
    kt_close(&s);
    kt_msg m[4];
    size_t n = kt_read(good, 1, 20000, m, 4);
    CHECK_INT_EQ(n, 1);
    if (n)
        CHECK(m[0].key_len == 1 && m[0].key[0] == '0');
    kt_msgs_free(m, n);

    /* Avro: a record the schema cannot hold. */
    char avsc[4096];
    snprintf(avsc, sizeof avsc, "%s/connectors/kafka/schemas/measurement.avsc",
             getenv("SLUICE_SOURCE_DIR"));
    CHECK_INT_EQ(kt_sink(&s, "topic: %s, value_converter: avro, avro_schema: \"%s\"", good, avsc),
                 SLUICE_OK);
    sl_batch_reset(b);
    sluice_record *r = api->record_new(b);
    api->field_add(b, r, "device_id", SLUICE_INT)->v.i = 5;
    api->record_new(b); /* no fields at all */
    CHECK_INT_EQ(kt_write(&s, b), SLUICE_PARTIAL);
    CHECK_STR_CONTAINS(b->recs[0].failure_, "Avro: field \"timestamp\" is missing");
    CHECK_STR_CONTAINS(b->recs[1].failure_, "no fields to write");
    kt_close(&s);
    sl_batch_free(b);
}

static void test_unreachable(void)
{
    kt_inst s;
    /* The sink: writes fail retriably after delivery_timeout. */
    sluice_batch *b = sl_batch_new(10, 1 << 20);
    rec(b, "x", 1);
    /* bootstrap.servers belongs to the bootstrap option. */
    CHECK_INT_EQ(kt_sink(&s, "topic: t, properties: {bootstrap.servers: \"127.0.0.1:1\"}"),
                 SLUICE_ERR);
    CHECK_STR_CONTAINS(s.err, "properties: bootstrap.servers is set by the kafka plugin itself");
    kt_close(&s);
    /* Nothing listens on port 1. */
    char yaml_opts[] = "topic: t, delivery_timeout: 1500ms";
    int64_t t0 = kt_now_ms();
    kt_inst u;
    setenv("KT_BOOTSTRAP_OVERRIDE", "127.0.0.1:1", 1);
    CHECK_INT_EQ(kt_sink(&u, "%s", yaml_opts), SLUICE_OK);
    CHECK_INT_EQ(kt_write(&u, b), SLUICE_RETRY);
    CHECK_STR_CONTAINS(u.err, "not delivered");
    CHECK(kt_now_ms() - t0 < 15000);
    CHECK(!kt_ready(&u));
    kt_close(&u);

    /* The source: init succeeds, polls return nothing, not ready. */
    kt_inst src;
    CHECK_INT_EQ(kt_source(&src, "topics: [t], group: g-unreachable"), SLUICE_OK);
    sl_batch_reset(b);
    for (int i = 0; i < 15; i++)
        CHECK_INT_EQ(kt_poll(&src, b, 100), SLUICE_OK);
    CHECK_INT_EQ(b->n, 0);
    CHECK(!kt_ready(&src));
    t0 = kt_now_ms();
    kt_close(&src);
    CHECK(kt_now_ms() - t0 < 15000); /* shutting down does not hang */
    unsetenv("KT_BOOTSTRAP_OVERRIDE");
    sl_batch_free(b);
}

static void test_config_errors(void)
{
    kt_inst s;
    static const struct {
        int source;
        const char *opts, *want;
    } cases[] = {
        {1, "topics: [t], group: g, properties: {enable.auto.commit: \"true\"}",
         "enable.auto.commit is set by the kafka plugin itself"},
        {1, "topics: [t], group: g, properties: {no.such.property: \"1\"}",
         "librdkafka property no.such.property"},
        {1, "topics: [t], group: g, consumers: 2", "top-level \"lanes: 2\""},
        {1, "topics: [t], group: g, value_converter: avro", "needs avro_schema"},
        {1, "topics: [t], group: g, value_converter: avro, avro_schema: /nonexistent.avsc",
         "/nonexistent.avsc"},
        {0, "topic: t, key: bogus", "key \"bogus\": expected record, none or field:NAME"},
        {0, "topic: \"t-{sq}\"", "unknown placeholder {sq}"},
        /* A name without placeholders is checked at start, not per record. */
        {0, "topic: \"a/b\"", "topic \"a/b\" is not a valid Kafka topic name"},
        {0, "topic: t, acks: 1", "idempotence"},
        {0, "topic: t, properties: {linger.ms: \"7\"}", "linger.ms is set by the kafka plugin"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sluice_status st = cases[i].source ? kt_source(&s, "%s", cases[i].opts)
                                           : kt_sink(&s, "%s", cases[i].opts);
        CHECK_INT_EQ(st, SLUICE_ERR);
        CHECK_STR_CONTAINS(s.err, cases[i].want);
        kt_close(&s);
    }
    /* The host refuses what the declarations rule out, before init. */
    CHECK_INT_EQ(kt_sink(&s, "topic: t, compression: brotli"), SLUICE_ERR);
    CHECK_STR_CONTAINS(s.err, "compression");
    CHECK_INT_EQ(kt_source(&s, "group: g"), SLUICE_ERR);
    CHECK_STR_CONTAINS(s.err, "topics");
    /* acks 1 is possible once idempotence is off. */
    CHECK_INT_EQ(kt_sink(&s, "topic: t, acks: 1, properties: {enable.idempotence: \"false\"}"),
                 SLUICE_OK);
    kt_close(&s);
}

/* librdkafka's mock cluster injects what a real broker rarely does. */
static void test_mock_faults(void)
{
    char e[512];
    rd_kafka_conf_t *mc = rd_kafka_conf_new();
    rd_kafka_conf_set(mc, "log_level", "0", e, sizeof e);
    rd_kafka_t *mrk = rd_kafka_new(RD_KAFKA_PRODUCER, mc, e, sizeof e);
    rd_kafka_mock_cluster_t *m = rd_kafka_mock_cluster_new(mrk, 1);
    rd_kafka_mock_topic_create(m, "mt", 1, 1);
    setenv("KT_BOOTSTRAP_OVERRIDE", rd_kafka_mock_cluster_bootstraps(m), 1);
    kt_inst s;
    CHECK_INT_EQ(kt_sink(&s, "topic: mt, value_converter: bytes, delivery_timeout: 2s"),
                 SLUICE_OK);
    sluice_batch *b = sl_batch_new(10, 1 << 20);
    rec(b, "a", 1);
    CHECK_INT_EQ(kt_write(&s, b), SLUICE_OK);

    /* Replicas missing for longer than delivery_timeout: retry, later OK. */
    rd_kafka_resp_err_t nr[64];
    for (int i = 0; i < 64; i++)
        nr[i] = RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS;
    rd_kafka_mock_push_request_errors_array(m, 0 /* Produce */, 64, nr);
    CHECK_INT_EQ(kt_write(&s, b), SLUICE_RETRY);
    CHECK_STR_CONTAINS(s.err, "not delivered");
    rd_kafka_mock_clear_request_errors(m, 0);
    CHECK_INT_EQ(kt_write(&s, b), SLUICE_OK);

    /* A sequence the broker does not expect: the idempotent producer can
     * no longer guarantee order or uniqueness, which is fatal. */
    rd_kafka_mock_push_request_errors(m, 0, 1, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    sluice_status st = kt_write(&s, b);
    CHECK_INT_EQ(st, SLUICE_ERR);
    CHECK_STR_CONTAINS(s.err, "fatal Kafka producer error");
    kt_close(&s);
    unsetenv("KT_BOOTSTRAP_OVERRIDE");
    rd_kafka_mock_cluster_destroy(m);
    rd_kafka_destroy(mrk);
    sl_batch_free(b);
}

int main(void)
{
    kt_setup("errors");
    api = kt_api;
    test_too_large();
    test_record_failures();
    test_unreachable();
    test_config_errors();
    test_mock_faults();
    kt_teardown();
    return CHECK_DONE();
}
