/* Through a real broker: records written by the kafka sink come back from
 * the kafka source exactly (keys, every header in order, fields, values,
 * timestamps, origin), for each value converter; the MQTT envelope reaches
 * f2_decode's input shape; topic templates and key fields route; values the
 * converter cannot read are failed with the reason (api->record_fail); readiness
 * and the lag gauge follow the broker. */
#include "check.h"
#include "kt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const sluice_api *api;

static void str_field(sluice_batch *b, sluice_record *r, const char *name, const char *v)
{
    sluice_field *f = api->field_add(b, r, name, SLUICE_STRING);
    api->field_set_string(b, f, v, strlen(v));
}

/* N records with fields, keys and headers through the sink, back through
 * the source, compared one by one. */
static void test_json_fields(void)
{
    const int N = 3000;
    const char *topic = kt_topic("json", 3);
    kt_inst snk, src;
    CHECK_INT_EQ(kt_sink(&snk, "topic: %s", topic), SLUICE_OK);
    sluice_batch *b = sl_batch_new(1000, 8 << 20);
    int64_t t0 = api->now_us() / 1000 * 1000;
    for (int k = 0; k < N / 1000; k++) {
        sl_batch_reset(b);
        for (int j = 0; j < 1000; j++) {
            int i = k * 1000 + j;
            sluice_record *r = api->record_new(b);
            char key[32], name[32], hv[32];
            snprintf(key, sizeof key, "dev-%d", i % 7);
            snprintf(name, sizeof name, "r%d", i);
            snprintf(hv, sizeof hv, "v%d", i);
            api->set_key(b, r, key, strlen(key));
            api->field_add(b, r, "seq", SLUICE_INT)->v.i = i;
            str_field(b, r, "name", name);
            api->field_add(b, r, "val", SLUICE_DOUBLE)->v.d = i + 0.25;
            api->field_add(b, r, "ok", SLUICE_BOOL)->v.b = i % 2;
            api->field_add(b, r, "nothing", SLUICE_NULL);
            r->timestamp = t0 + i * 1000;
            api->header_add(b, r, "h1", hv, strlen(hv));
            /* The dead-letter headers must survive a hop through Kafka,
             * binary bytes included. */
            api->header_add(b, r, "sluice.error.reason", "bad \"thing\"\n", 12);
            api->header_add(b, r, "bin", "a\0b", 3);
        }
        CHECK_INT_EQ(kt_write(&snk, b), SLUICE_OK);
        if (snk.err[0])
            fprintf(stderr, "write: %s\n", snk.err);
    }
    CHECK_INT_EQ(kt_metric(&snk, SLUICE_METRIC_COUNTER, "sluice_kafka_messages_produced_total",
                           NULL), N);
    kt_close(&snk);

    CHECK_INT_EQ(kt_source(&src, "topics: [%s], group: g-json-%d", topic, (int)getpid()),
                 SLUICE_OK);
    sluice_batch *in = sl_batch_new(N, 32 << 20);
    CHECK_INT_EQ(kt_poll_until(&src, in, N, 30000), N);
    char *seen = calloc((size_t)N, 1);
    int64_t last_off[3] = {-1, -1, -1}, last_seq_by_key[7];
    for (int i = 0; i < 7; i++)
        last_seq_by_key[i] = -1;
    int bad = 0;
    for (size_t i = 0; i < in->n; i++) {
        const sluice_record *r = &in->recs[i];
        const sluice_field *seq = sluice_field_get(r, "seq");
        if (!seq || seq->type != SLUICE_INT || seq->v.i < 0 || seq->v.i >= N) {
            bad++;
            continue;
        }
        int s = (int)seq->v.i;
        seen[s]++;
        char want[64];
        snprintf(want, sizeof want, "dev-%d", s % 7);
        const sluice_field *name = sluice_field_get(r, "name"), *val = sluice_field_get(r, "val"),
                           *ok = sluice_field_get(r, "ok"), *no = sluice_field_get(r, "nothing");
        char wname[32], wh[32];
        snprintf(wname, sizeof wname, "r%d", s);
        snprintf(wh, sizeof wh, "v%d", s);
        int good = r->key.len == strlen(want) && memcmp(r->key.ptr, want, r->key.len) == 0 &&
                   name && name->type == SLUICE_STRING && strcmp(name->v.s.ptr, wname) == 0 &&
                   val && val->type == SLUICE_DOUBLE && val->v.d == s + 0.25 && ok &&
                   ok->type == SLUICE_BOOL && ok->v.b == s % 2 && no &&
                   no->type == SLUICE_NULL && r->n_fields == 5 && r->n_headers == 3 &&
                   strcmp(r->headers[0].key, "h1") == 0 &&
                   strcmp(kt_header(r, "h1"), wh) == 0 &&
                   strcmp(r->headers[1].key, "sluice.error.reason") == 0 &&
                   strcmp(kt_header(r, "sluice.error.reason"), "bad \"thing\"\n") == 0 &&
                   r->headers[2].value.len == 3 && memcmp(r->headers[2].value.ptr, "a\0b", 3) == 0 &&
                   r->timestamp == t0 + s * 1000 && r->origin.topic &&
                   strcmp(r->origin.topic, topic) == 0 && r->origin.partition >= 0 &&
                   r->origin.partition < 3 && r->origin.offset > last_off[r->origin.partition] &&
                   !kt_header(r, "sluice.convert.error");
        if (!good) {
            if (bad < 5)
                fprintf(stderr, "record %zu (seq %d) differs\n", i, s);
            bad++;
        }
        last_off[r->origin.partition] = r->origin.offset;
        /* One key, one partition: order per key is kept. */
        if (s <= last_seq_by_key[s % 7])
            bad++;
        last_seq_by_key[s % 7] = s;
    }
    CHECK_INT_EQ(bad, 0);
    int missing = 0;
    for (int i = 0; i < N; i++)
        missing += seen[i] != 1;
    CHECK_INT_EQ(missing, 0);
    CHECK_INT_EQ(kt_metric(&src, SLUICE_METRIC_COUNTER, "sluice_kafka_messages_consumed_total",
                           NULL), N);
    CHECK_INT_EQ(kt_ack(&src, in), SLUICE_OK);

    /* Connected, and the group coordinator known: ready (statistics come
     * every second). */
    sluice_batch *none = sl_batch_new(10, 1 << 20);
    int64_t end = kt_now_ms() + 5000;
    while (!kt_ready(&src) && kt_now_ms() < end)
        kt_poll(&src, none, 100);
    CHECK(kt_ready(&src));
    kt_close(&src);
    sl_batch_free(none);
    free(seen);
    sl_batch_free(in);
    sl_batch_free(b);
}

/* The bridge's records (no fields: MQTT payload, topic, key) become the
 * envelope, which the json source reads back as topic + payload strings:
 * exactly what f2_decode takes. */
static void test_envelope(void)
{
    const char *topic = kt_topic("raw", 1);
    kt_inst snk, src;
    CHECK_INT_EQ(kt_sink(&snk, "topic: %s, value_converter: json", topic), SLUICE_OK);
    sluice_batch *b = sl_batch_new(10, 1 << 20);
    const char *payloads[] = {
        "{\"timestamp\": \"2023-05-25 15:13:10.543400\", \"data\": \"01 03 0C 32\"}",
        "not json at all", "\xff\x00garbage"};
    size_t plen[] = {strlen(payloads[0]), strlen(payloads[1]), 9};
    for (int i = 0; i < 3; i++) {
        sluice_record *r = api->record_new(b);
        api->set_value(b, r, payloads[i], plen[i]);
        api->set_key(b, r, "f2-0a1b2c3d4e5f", 15);
        r->origin.topic = "cmnd/f2-0A1B2C3D4E5F/sensor-mode/J1/sensor-3";
        r->timestamp = 1685027590543400LL;
    }
    CHECK_INT_EQ(kt_write(&snk, b), SLUICE_OK);
    kt_close(&snk);
    CHECK_INT_EQ(kt_source(&src, "topics: [%s], group: g-env-%d", topic, (int)getpid()),
                 SLUICE_OK);
    sluice_batch *in = sl_batch_new(10, 1 << 20);
    CHECK_INT_EQ(kt_poll_until(&src, in, 3, 20000), 3);
    if (in->n == 3) {
        const sluice_record *r = &in->recs[0];
        const sluice_field *f;
        CHECK((f = sluice_field_get(r, "topic")) && f->type == SLUICE_STRING &&
              strcmp(f->v.s.ptr, "cmnd/f2-0A1B2C3D4E5F/sensor-mode/J1/sensor-3") == 0);
        CHECK((f = sluice_field_get(r, "payload")) && f->type == SLUICE_STRING &&
              strcmp(f->v.s.ptr, "{\"timestamp\":\"2023-05-25 15:13:10.543400\",\"data\":"
                                 "\"01 03 0C 32\"}") == 0);
        CHECK((f = sluice_field_get(r, "device_id")) && strcmp(f->v.s.ptr, "f2-0a1b2c3d4e5f") == 0);
        CHECK((f = sluice_field_get(r, "received_at")) &&
              strcmp(f->v.s.ptr, "2023-05-25T15:13:10.543400Z") == 0);
        CHECK(r->key.len == 15);
        CHECK((f = sluice_field_get(&in->recs[1], "payload")) && f->type == SLUICE_STRING &&
              strcmp(f->v.s.ptr, "not json at all") == 0);
        CHECK((f = sluice_field_get(&in->recs[2], "payload_encoding")) &&
              strcmp(f->v.s.ptr, "base64") == 0);
    }
    kt_ack(&src, in);
    kt_close(&src);
    sl_batch_free(in);
    sl_batch_free(b);
}

/* Measurements as f2_decode emits them, through Avro and back: typed. */
static void test_avro(void)
{
    char avsc[4096];
    snprintf(avsc, sizeof avsc, "%s/connectors/kafka/schemas/measurement.avsc",
             getenv("SLUICE_SOURCE_DIR"));
    const char *topic = kt_topic("avro", 2);
    kt_inst snk, src;
    /* A bare file name: found in sluice's schema directory. */
    CHECK_INT_EQ(kt_sink(&snk, "topic: %s, value_converter: avro, avro_schema: measurement.avsc, "
                               "key: \"field:device_id\"", topic), SLUICE_OK);
    if (snk.status)
        fprintf(stderr, "%s\n", snk.err);
    sluice_batch *b = sl_batch_new(100, 1 << 20);
    for (int i = 0; i < 100; i++) {
        sluice_record *r = api->record_new(b);
        api->field_add(b, r, "timestamp", SLUICE_TIMESTAMP)->v.ts = 1685027590543400LL + i;
        str_field(b, r, "device_id", i % 2 ? "f2-aa" : "f2-bb");
        str_field(b, r, "connector_mode", "sensor-mode");
        str_field(b, r, "component_type", "sensor");
        str_field(b, r, "pin_position", "3");
        str_field(b, r, "datapoint", "Temperature");
        if (i % 3)
            api->field_add(b, r, "value", SLUICE_DOUBLE)->v.d = 25.87 + i;
        else
            api->field_add(b, r, "value", SLUICE_NULL);
        str_field(b, r, "unit", "°C");
        str_field(b, r, "topic", "cmnd/f2-AA/sensor-mode/1/sensor-3");
    }
    CHECK_INT_EQ(kt_write(&snk, b), SLUICE_OK);
    kt_close(&snk);
    CHECK_INT_EQ(kt_source(&src, "topics: [%s], group: g-avro-%d, value_converter: avro, "
                                 "avro_schema: \"%s\"", topic, (int)getpid(), avsc), SLUICE_OK);
    sluice_batch *in = sl_batch_new(200, 4 << 20);
    CHECK_INT_EQ(kt_poll_until(&src, in, 100, 20000), 100);
    int bad = 0;
    for (size_t i = 0; i < in->n; i++) {
        const sluice_record *r = &in->recs[i];
        const sluice_field *ts = sluice_field_get(r, "timestamp"), *v = sluice_field_get(r, "value"),
                           *d = sluice_field_get(r, "device_id"), *vt = sluice_field_get(r, "value_text"),
                           *u = sluice_field_get(r, "unit");
        if (!ts || ts->type != SLUICE_TIMESTAMP || !v || !d || !vt || vt->type != SLUICE_NULL ||
            !u || strcmp(u->v.s.ptr, "°C") != 0 || r->n_fields != 10) {
            bad++;
            continue;
        }
        int k = (int)(ts->v.ts - 1685027590543400LL);
        if (k % 3 ? (v->type != SLUICE_DOUBLE || v->v.d != 25.87 + k) : v->type != SLUICE_NULL)
            bad++;
        if (r->key.len != 5 || memcmp(r->key.ptr, d->v.s.ptr, 5) != 0)
            bad++;
    }
    CHECK_INT_EQ(bad, 0);
    kt_ack(&src, in);
    kt_close(&src);
    sl_batch_free(in);
    sl_batch_free(b);
}

/* bytes both ways: binary values, a null value, exactly. */
static void test_bytes(void)
{
    const char *topic = kt_topic("bytes", 1);
    kt_inst snk, src;
    CHECK_INT_EQ(kt_sink(&snk, "topic: %s, value_converter: bytes, compression: zstd", topic),
                 SLUICE_OK);
    sluice_batch *b = sl_batch_new(300, 4 << 20);
    unsigned char v[256];
    for (int i = 0; i < 256; i++)
        v[i] = (unsigned char)(255 - i);
    for (int i = 0; i < 256; i++) {
        sluice_record *r = api->record_new(b);
        api->set_value(b, r, v, (size_t)i);
        api->field_add(b, r, "ignored", SLUICE_INT)->v.i = i; /* bytes ignores fields */
    }
    api->record_new(b); /* no value at all: a tombstone */
    CHECK_INT_EQ(kt_write(&snk, b), SLUICE_OK);
    kt_close(&snk);
    CHECK_INT_EQ(kt_source(&src, "topics: [%s], group: g-bytes-%d, value_converter: bytes",
                           topic, (int)getpid()), SLUICE_OK);
    sluice_batch *in = sl_batch_new(300, 4 << 20);
    CHECK_INT_EQ(kt_poll_until(&src, in, 257, 20000), 257);
    int bad = 0;
    for (size_t i = 0; i < in->n && i < 256; i++) {
        const sluice_record *r = &in->recs[i];
        if (r->value.len != i || (i && memcmp(r->value.ptr, v, i) != 0) || r->n_fields)
            bad++;
    }
    CHECK_INT_EQ(bad, 0);
    if (in->n == 257)
        CHECK(in->recs[256].value.ptr == NULL && in->recs[256].value.len == 0);
    kt_ack(&src, in);
    kt_close(&src);
    sl_batch_free(in);
    sl_batch_free(b);
}

/* A template routes each record by a field; {topic} by its origin. */
static void test_template(void)
{
    const char *base = kt_topic("tmpl", 0);
    char ta[256], tb[256];
    snprintf(ta, sizeof ta, "%s.temp", base);
    snprintf(tb, sizeof tb, "%s.hum", base);
    kt_inst snk;
    CHECK_INT_EQ(kt_sink(&snk, "topic: \"%s.{field:kind}\", key: none", base), SLUICE_OK);
    sluice_batch *b = sl_batch_new(100, 1 << 20);
    for (int i = 0; i < 10; i++) {
        sluice_record *r = api->record_new(b);
        str_field(b, r, "kind", i < 6 ? "temp" : "hum");
        api->field_add(b, r, "i", SLUICE_INT)->v.i = i;
        api->set_key(b, r, "dropped", 7);
    }
    CHECK_INT_EQ(kt_write(&snk, b), SLUICE_OK);
    if (snk.err[0])
        fprintf(stderr, "%s\n", snk.err);
    kt_close(&snk);
    kt_msg m[20];
    size_t n = kt_read(ta, 6, 20000, m, 20);
    CHECK_INT_EQ(n, 6);
    for (size_t i = 0; i < n; i++)
        CHECK(m[i].key == NULL);
    kt_msgs_free(m, n);
    n = kt_read(tb, 4, 20000, m, 20);
    CHECK_INT_EQ(n, 4);
    kt_msgs_free(m, n);
    sl_batch_free(b);
}

/* What the converter cannot read is taken (and acknowledged) but marked
 * failed with the reason, for the pipeline's error policy. */
static void test_convert_errors(void)
{
    const char *topic = kt_topic("badjson", 1);
    kt_produce(topic, 0, "k", "{\"ok\":1}", 8);
    kt_produce(topic, 0, "k", "{\"broken\":", 10);
    kt_produce(topic, 0, "k", "[1,2]", 5);
    kt_inst src;
    CHECK_INT_EQ(kt_source(&src, "topics: [%s], group: g-bad-%d", topic, (int)getpid()),
                 SLUICE_OK);
    sluice_batch *in = sl_batch_new(10, 1 << 20);
    CHECK_INT_EQ(kt_poll_until(&src, in, 3, 20000), 3);
    if (in->n == 3) {
        CHECK(in->recs[0].n_fields == 1 && !in->recs[0].failure_);
        CHECK(in->recs[1].n_fields == 0 && in->recs[1].value.len == 10);
        CHECK_STR_CONTAINS(in->recs[1].failure_, "invalid JSON");
        CHECK(in->recs[2].n_fields == 0);
        CHECK_STR_CONTAINS(in->recs[2].failure_, "not an object");
        CHECK_INT_EQ(in->n_failed, 2);
    }
    CHECK_INT_EQ(kt_metric(&src, SLUICE_METRIC_COUNTER, "sluice_kafka_convert_errors_total",
                           NULL), 2);
    kt_ack(&src, in);
    kt_close(&src);

    /* JSON read by an avro source; a foreign fingerprint. */
    char avsc[4096];
    snprintf(avsc, sizeof avsc, "%s/connectors/kafka/schemas/measurement.avsc",
             getenv("SLUICE_SOURCE_DIR"));
    const char *atopic = kt_topic("badavro", 1);
    kt_produce(atopic, 0, NULL, "{\"a\":1}", 7);
    kt_produce(atopic, 0, NULL, "\xC3\x01\x01\x02\x03\x04\x05\x06\x07\x08\x00", 11);
    CHECK_INT_EQ(kt_source(&src, "topics: [%s], group: g-bada-%d, value_converter: avro, "
                                 "avro_schema: \"%s\"", atopic, (int)getpid(), avsc), SLUICE_OK);
    sl_batch_reset(in);
    CHECK_INT_EQ(kt_poll_until(&src, in, 2, 20000), 2);
    if (in->n == 2) {
        CHECK_STR_CONTAINS(in->recs[0].failure_, "not the single-object marker C3 01");
        CHECK_STR_CONTAINS(in->recs[1].failure_, "schema fingerprint");
        CHECK(in->recs[0].value.len == 7 && in->recs[0].n_fields == 0);
    }
    kt_ack(&src, in);
    kt_close(&src);
    sl_batch_free(in);
}

/* The lag gauge: what the group has not committed, per partition. */
static void test_lag(void)
{
    const char *topic = kt_topic("lag", 1);
    for (int i = 0; i < 100; i++)
        kt_produce(topic, 0, NULL, "{}", 2);
    kt_inst src;
    char group[64];
    snprintf(group, sizeof group, "g-lag-%d", (int)getpid());
    CHECK_INT_EQ(kt_source(&src, "topics: [%s], group: %s", topic, group), SLUICE_OK);
    sluice_batch *in = sl_batch_new(10, 1 << 20);
    CHECK_INT_EQ(kt_poll_until(&src, in, 10, 20000), 10);
    CHECK_INT_EQ(kt_ack(&src, in), SLUICE_OK);
    char label[256];
    snprintf(label, sizeof label, "partition=%s/0", topic);
    /* Statistics come every second; the commit lands within it. */
    int64_t end = kt_now_ms() + 8000;
    double lag = -1;
    sluice_batch *none = sl_batch_new(1, 1 << 20);
    while (kt_now_ms() < end) {
        lag = kt_metric(&src, SLUICE_METRIC_GAUGE, "sluice_kafka_consumer_lag", label);
        if (lag == 90)
            break;
        /* Polls serve the statistics; what they read is not acknowledged,
         * so the committed offset, and the lag, stay. */
        sl_batch_reset(none);
        kt_poll(&src, none, 200);
    }
    CHECK_INT_EQ((long long)lag, 90);
    CHECK_INT_EQ(kt_committed(group, topic, 0), 10);
    kt_close(&src);
    sl_batch_free(none);
    sl_batch_free(in);
}

int main(void)
{
    kt_setup("roundtrip");
    api = kt_api;
    test_json_fields();
    test_envelope();
    test_avro();
    test_bytes();
    test_template();
    test_convert_errors();
    test_lag();
    kt_teardown();
    return CHECK_DONE();
}
