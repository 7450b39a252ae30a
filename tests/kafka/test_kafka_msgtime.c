/* The message timestamp the sink chooses (message_time), with readings
 * dated years back (2020-01-01), as a bare librdkafka consumer sees it:
 *   produce (default): the time of producing; the reading's time, to the
 *     microsecond, in the sluice.timestamp header, from which the source
 *     restores the record's timestamp (the header does not reach the record);
 *   record: the reading's time (milliseconds), no header.
 * A topic that refuses old message timestamps (message.timestamp.before.
 * max.ms, the broker-side face of the retention risk) takes the old
 * readings with produce and refuses every one with record.  A bad value of
 * the option is refused when the pipeline is loaded. */
#include "check.h"
#include "kt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const sluice_api *api;

#define N 200
/* 2020-01-01T00:00:00.123456Z: microseconds that a millisecond message
 * timestamp cannot carry. */
static const int64_t T2020 = 1577836800123456LL;

/* N records dated 2020, one second apart: half with fields (json), half
 * without (the envelope), each with an ordinary header. */
static void fill(sluice_batch *b, int with_fields)
{
    sl_batch_reset(b);
    for (int i = 0; i < N; i++) {
        sluice_record *r = api->record_new(b);
        char v[32];
        snprintf(v, sizeof v, "{\"i\":%d}", i);
        if (with_fields)
            api->field_add(b, r, "i", SLUICE_INT)->v.i = i;
        else
            api->set_value(b, r, v, strlen(v));
        api->header_add(b, r, "h", "x", 1);
        r->timestamp = T2020 + i * 1000000LL;
    }
}

static int64_t seq_of(const sluice_record *r)
{
    const sluice_field *f = sluice_field_get(r, "i");
    if (f && f->type == SLUICE_INT)
        return f->v.i;
    /* The envelope read back: the payload field holds {"i":N}. */
    f = sluice_field_get(r, "payload");
    if (f && f->type == SLUICE_STRING && f->v.s.len > 5)
        return strtoll(f->v.s.ptr + 5, NULL, 10);
    return -1;
}

/* Writes the readings with `opts`, then checks the messages with a bare
 * consumer and the records with the kafka source. */
static void roundtrip(const char *opts, int produce_time)
{
    const char *topic = kt_topic(produce_time ? "produce" : "record", 1);
    kt_inst snk, src;
    CHECK_INT_EQ(kt_sink(&snk, "topic: %s%s", topic, opts), SLUICE_OK);
    sluice_batch *b = sl_batch_new(N, 8 << 20);
    int64_t before = api->now_us() / 1000; /* wall clock, as message times */
    for (int k = 0; k < 2; k++) {
        fill(b, k == 0);
        CHECK_INT_EQ(kt_write(&snk, b), SLUICE_OK);
    }
    int64_t after = api->now_us() / 1000;
    kt_close(&snk);

    kt_msg *m = calloc(2 * N, sizeof *m);
    size_t n = kt_read(topic, 2 * N, 30000, m, 2 * N);
    CHECK_INT_EQ(n, 2 * N);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t want_us = T2020 + (int64_t)(i % N) * 1000000LL;
        int ok = m[i].ts_type == RD_KAFKA_TIMESTAMP_CREATE_TIME;
        if (produce_time) {
            char w[32];
            snprintf(w, sizeof w, "%lld", (long long)want_us);
            /* Stamped while being written (a second of slack for clocks). */
            ok = ok && m[i].ts_ms >= before - 1000 && m[i].ts_ms <= after + 1000 &&
                 m[i].ts_header && strcmp(m[i].ts_header, w) == 0 && m[i].n_headers == 2;
        } else {
            ok = ok && m[i].ts_ms == want_us / 1000 && !m[i].ts_header && m[i].n_headers == 1;
        }
        if (!ok && bad++ < 3)
            fprintf(stderr, "message %zu: timestamp %lld (type %d), header %s, %zu headers\n", i,
                    (long long)m[i].ts_ms, (int)m[i].ts_type,
                    m[i].ts_header ? m[i].ts_header : "(none)", m[i].n_headers);
    }
    CHECK_INT_EQ(bad, 0);
    kt_msgs_free(m, n);
    free(m);

    /* Through the source: the reading's time comes back (to the
     * microsecond with produce), and the header stays out of the record. */
    CHECK_INT_EQ(kt_source(&src, "topics: [%s], group: g-mt-%d-%d", topic, (int)getpid(),
                           produce_time), SLUICE_OK);
    sluice_batch *in = sl_batch_new(2 * N, 8 << 20);
    CHECK_INT_EQ(kt_poll_until(&src, in, 2 * N, 30000), 2 * N);
    bad = 0;
    for (size_t i = 0; i < in->n; i++) {
        const sluice_record *r = &in->recs[i];
        int64_t s = seq_of(r);
        int64_t want = T2020 + s * 1000000LL;
        if (!produce_time)
            want = want / 1000 * 1000;
        int ok = s >= 0 && s < N && r->timestamp == want && r->n_headers == 1 &&
                 strcmp(r->headers[0].key, "h") == 0 && !r->failure_;
        if (!ok && bad++ < 3)
            fprintf(stderr, "record %zu (seq %lld): timestamp %lld, want %lld, %u headers\n", i,
                    (long long)s, (long long)r->timestamp, (long long)want, r->n_headers);
    }
    CHECK_INT_EQ(bad, 0);
    kt_close(&src);
    sl_batch_free(in);
    sl_batch_free(b);
}

/* A record that brings a sluice.timestamp header from an earlier hop gets
 * its own time in it, once; a record without a time gets no header; a
 * header that is not a time stays an ordinary header. */
static void test_header_edges(void)
{
    const char *topic = kt_topic("edges", 1);
    kt_inst snk, src;
    CHECK_INT_EQ(kt_sink(&snk, "topic: %s, value_converter: bytes", topic), SLUICE_OK);
    sluice_batch *b = sl_batch_new(10, 1 << 20);
    sluice_record *r = api->record_new(b);
    api->set_value(b, r, "a", 1);
    api->header_add(b, r, "sluice.timestamp", "42", 2);
    r->timestamp = T2020;
    r = api->record_new(b);
    api->set_value(b, r, "b", 1);
    r->timestamp = 0;
    CHECK_INT_EQ(kt_write(&snk, b), SLUICE_OK);
    kt_close(&snk);
    kt_produce(topic, 0, NULL, "c", 1); /* no header at all */

    kt_msg m[3];
    CHECK_INT_EQ(kt_read(topic, 3, 30000, m, 3), 3);
    CHECK(m[0].n_headers == 1 && m[0].ts_header && strcmp(m[0].ts_header, "1577836800123456") == 0);
    CHECK(m[1].n_headers == 0 && !m[1].ts_header);
    kt_msgs_free(m, 3);

    CHECK_INT_EQ(kt_source(&src, "topics: [%s], group: g-edges-%d, value_converter: bytes", topic,
                           (int)getpid()), SLUICE_OK);
    sluice_batch *in = sl_batch_new(10, 1 << 20);
    CHECK_INT_EQ(kt_poll_until(&src, in, 3, 30000), 3);
    CHECK(in->recs[0].timestamp == T2020 && in->recs[0].n_headers == 0);
    /* Without the header: the message time, the time it was produced. */
    CHECK(in->recs[1].timestamp > api->now_us() - 600000000LL);
    kt_close(&src);

    /* Not a time: an ordinary header, the message time stands. */
    const char *t2 = kt_topic("edges-bad", 1);
    CHECK_INT_EQ(kt_sink(&snk, "topic: %s, value_converter: bytes, message_time: record", t2),
                 SLUICE_OK);
    sl_batch_reset(b);
    r = api->record_new(b);
    api->set_value(b, r, "d", 1);
    api->header_add(b, r, "sluice.timestamp", "2020-01-01", 10);
    r->timestamp = T2020;
    CHECK_INT_EQ(kt_write(&snk, b), SLUICE_OK);
    kt_close(&snk);
    CHECK_INT_EQ(kt_source(&src, "topics: [%s], group: g-edges2-%d, value_converter: bytes", t2,
                           (int)getpid()), SLUICE_OK);
    sl_batch_reset(in);
    CHECK_INT_EQ(kt_poll_until(&src, in, 1, 30000), 1);
    CHECK(in->recs[0].timestamp == T2020 / 1000 * 1000 && in->recs[0].n_headers == 1 &&
          strcmp(kt_header(&in->recs[0], "sluice.timestamp"), "2020-01-01") == 0);
    kt_close(&src);
    sl_batch_free(in);
    sl_batch_free(b);
}

/* A topic created with a config (the Admin API). */
static const char *topic_with(const char *base, const char *name, const char *value)
{
    const char *t = kt_topic(base, 0);
    char e[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", kt_brokers(), e, sizeof e);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof e);
    CHECK(rk != NULL);
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(t, 1, 1, e, sizeof e);
    rd_kafka_NewTopic_set_config(nt, name, value);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    CHECK(ev != NULL);
    size_t n = 0;
    const rd_kafka_topic_result_t **res =
        ev ? rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n) : NULL;
    CHECK(ev && !rd_kafka_event_error(ev) && n == 1 && !rd_kafka_topic_result_error(res[0]));
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
    usleep(300000);
    return t;
}

/* A topic that keeps one day refuses readings stamped 2020 outright
 * (message.timestamp.before.max.ms, Kafka >= 3.6): with message_time
 * record they fail with the broker's reason; with produce they are
 * written. */
static void test_old_timestamps_refused(void)
{
    const char *topic = topic_with("day", "message.timestamp.before.max.ms", "86400000");
    kt_inst snk;
    sluice_batch *b = sl_batch_new(N, 8 << 20);
    CHECK_INT_EQ(kt_sink(&snk, "topic: %s, message_time: record", topic), SLUICE_OK);
    fill(b, 1);
    CHECK_INT_EQ(kt_write(&snk, b), SLUICE_PARTIAL);
    size_t failed = 0;
    for (size_t i = 0; i < b->n; i++)
        failed += b->recs[i].failure_ != NULL;
    CHECK_INT_EQ(failed, N);
    CHECK_STR_CONTAINS(b->recs[0].failure_, "timestamp");
    kt_close(&snk);

    CHECK_INT_EQ(kt_sink(&snk, "topic: %s", topic), SLUICE_OK);
    fill(b, 1);
    CHECK_INT_EQ(kt_write(&snk, b), SLUICE_OK);
    kt_close(&snk);
    kt_msg *m = calloc(N, sizeof *m);
    CHECK_INT_EQ(kt_read(topic, N, 30000, m, N), N);
    kt_msgs_free(m, N);
    free(m);
    sl_batch_free(b);
}

static void test_bad_option(void)
{
    kt_inst snk;
    CHECK_INT_EQ(kt_sink(&snk, "topic: t, message_time: reading"), SLUICE_ERR);
    CHECK_STR_CONTAINS(snk.err, "message_time");
    CHECK_STR_CONTAINS(snk.err, "produce");
    CHECK_STR_CONTAINS(snk.err, "record");
}

int main(void)
{
    kt_setup("msgtime");
    api = kt_api;
    roundtrip("", 1);
    roundtrip(", message_time: produce, value_converter: json", 1);
    roundtrip(", message_time: record", 0);
    test_header_edges();
    test_old_timestamps_refused();
    test_bad_option();
    kt_teardown();
    return CHECK_DONE();
}
