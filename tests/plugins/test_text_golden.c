/* The one text layer, golden: the same values go to every writer that turns
 * them into text, and each must give the text written here by hand.
 *
 *   JSON of fields:   the host's to_json; the file sink, format json and the
 *                     "fields" of format envelope (the real plugin); the
 *                     Kafka json converter (kconv_encode)
 *   JSON envelopes:   a record without fields through the host's to_json,
 *                     the Kafka json converter and the file sink's format
 *                     json (one envelope, byte for byte), and the file
 *                     sink's dead-letter envelope (format envelope)
 *   JSON logs:        --log-format json (the message and component)
 *   plain text:       the topic templates of the MQTT sink (sluice_tmpl +
 *                     its publish check) and the Kafka sink (ktopic_render),
 *                     and TimescaleDB's text rendering (ts_render_text)
 *
 * Values: control characters (\b \f included), NUL, valid and invalid
 * UTF-8, doubles (0.1, 1e300, -0.0, integral, NaN, ±Inf), the int64 limits
 * and timestamps with years below 1 and above 9999.  Policies are those of
 * <sluice/sluice_text.h>. */
#include "harness.h"
#include "strcheck.h"

#include "json_conv.h"
#include "kconv.h"
#include "log.h"
#include "ktopic.h"
#include "mqtt_topic.h"
#include "ts_render.h"

#include <sluice/sluice_text.h>

#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const sluice_api *api;
static sluice_batch *B;
static kconv KC;
static ph_inst FJ, FE;         /* file sink: format json, format envelope */
static size_t seen_json, seen_env;
static sluice_buf out, tbuf;

/* ------------------------------------------------------------------ */
/* The writers, each returning its text (or "REFUSED: why")            */
/* ------------------------------------------------------------------ */

static char got[8][8192];

static const char *refused(char *dst, const char *why)
{
    snprintf(dst, 8192, "REFUSED: %s", why);
    return dst;
}

static const char *w_host(const sluice_record *r)
{
    char err[SLUICE_ERRLEN];
    size_t len;
    const char *j = sl_to_json(B, r, &len, err, sizeof err);
    if (!j)
        return refused(got[0], err);
    snprintf(got[0], sizeof got[0], "%.*s", (int)len, j);
    return got[0];
}

static const char *w_kconv(const sluice_record *r)
{
    char err[SLUICE_ERRLEN];
    const void *p;
    size_t len;
    sluice_buf_reset(&out);
    if (kconv_encode(&KC, B, r, &out, &p, &len, err, sizeof err) != 0)
        return refused(got[1], err);
    snprintf(got[1], sizeof got[1], "%.*s", (int)len, (const char *)p);
    return got[1];
}

/* The line the file sink appended for a batch of the one record r (without
 * its newline), or "REFUSED" when it wrote nothing and failed the record. */
static const char *w_file(ph_inst *s, const char *file, size_t *seen, const sluice_record *r,
                          char *dst)
{
    sluice_batch *b = sl_batch_new(4, 1 << 20);
    sluice_record *c = api->record_new(b);
    /* The same record in a batch of its own (the sink writes batches). */
    c->origin = r->origin;
    c->timestamp = r->timestamp;
    if (r->key.ptr)
        api->set_key(b, c, r->key.ptr, r->key.len);
    if (r->value.ptr)
        api->set_value(b, c, r->value.ptr, r->value.len);
    for (uint32_t i = 0; i < r->n_fields; i++) {
        sluice_field *f = api->field_add(b, c, r->fields[i].name, r->fields[i].type);
        if (r->fields[i].type == SLUICE_STRING || r->fields[i].type == SLUICE_BYTES)
            api->field_set_string(b, f, r->fields[i].v.s.ptr, r->fields[i].v.s.len);
        else
            f->v = r->fields[i].v;
    }
    char err[SLUICE_ERRLEN] = "";
    sluice_status st = s->st->entry->desc->sink->write(s->inst, b, err);
    sl_batch_free(b);
    char *all = ph_read_file(ph_path(file));
    size_t n = all ? strlen(all) : 0;
    if (st == SLUICE_PARTIAL && n == *seen) {
        free(all);
        return refused(dst, "(record failed)");
    }
    if (st != SLUICE_OK || n <= *seen || all[n - 1] != '\n') {
        free(all);
        return refused(dst, err[0] ? err : "(nothing written)");
    }
    snprintf(dst, 8192, "%.*s", (int)(n - *seen - 1), all + *seen);
    *seen = n;
    free(all);
    return dst;
}

static const char *w_file_json(const sluice_record *r)
{
    return w_file(&FJ, "golden.json", &seen_json, r, got[2]);
}

static const char *w_file_env(const sluice_record *r)
{
    return w_file(&FE, "golden.envelope", &seen_env, r, got[3]);
}

static const char *w_mqtt_topic(const sluice_record *r, const char *tmpl)
{
    char err[SLUICE_ERRLEN];
    sluice_tmpl t;
    CHECK_INT_EQ(sluice_tmpl_parse(&t, tmpl, err, sizeof err), 0);
    int rc = sluice_tmpl_render(&t, r, &tbuf, err, sizeof err);
    sluice_tmpl_free(&t);
    if (rc || mq_topic_check_publish(tbuf.p, tbuf.len, err, sizeof err))
        return refused(got[4], err);
    snprintf(got[4], sizeof got[4], "%s", tbuf.p);
    return got[4];
}

static const char *w_kafka_topic(const sluice_record *r, const char *tmpl)
{
    char err[SLUICE_ERRLEN];
    sluice_tmpl t;
    CHECK_INT_EQ(ktopic_parse(&t, tmpl, err, sizeof err), 0);
    int rc = ktopic_render(&t, r, &tbuf, err, sizeof err);
    sluice_tmpl_free(&t);
    if (rc)
        return refused(got[5], err);
    snprintf(got[5], sizeof got[5], "%s", tbuf.p);
    return got[5];
}

static const char *w_ts_text(const sluice_field *f)
{
    sluice_buf_reset(&out);
    ts_render_text(&out, f);
    snprintf(got[6], sizeof got[6], "%s", sluice_buf_cstr(&out));
    return got[6];
}

/* ------------------------------------------------------------------ */
/* Fields                                                              */
/* ------------------------------------------------------------------ */

/* Every JSON-of-fields writer gives {"v":<want>} (want NULL: all refuse,
 * each with `why` in its reason). */
static void check_fields(const sluice_record *r, const char *want, const char *why)
{
    char obj[4096], env[8192];
    if (want) {
        snprintf(obj, sizeof obj, "{\"v\":%s}", want);
        snprintf(env, sizeof env, "{\"origin\":{\"topic\":null,\"partition\":-1,\"offset\":-1},"
                 "\"timestamp\":null,\"key\":null,\"value\":null,\"headers\":{},\"fields\":%s}",
                 obj);
        CHECK_STR_EQ(w_host(r), obj);
        CHECK_STR_EQ(w_kconv(r), obj);
        CHECK_STR_EQ(w_file_json(r), obj);
        CHECK_STR_EQ(w_file_env(r), env);
        return;
    }
    CHECK_STR_CONTAINS(w_host(r), why);
    CHECK_STR_CONTAINS(w_kconv(r), why);
    CHECK_STR_EQ(w_file_json(r), "REFUSED: (record failed)");
    /* The dead-letter envelope never refuses: the reason goes with it. */
    CHECK_STR_CONTAINS(w_file_env(r), "\"fields\":null,\"fields_error\":\"");
    CHECK_STR_CONTAINS(got[3], strstr(why, "is not") ? strstr(why, "is not") : why);
}

/* The plain-text writers: both topic templates give `topic` (NULL: both
 * refuse with `why`; Kafka also refuses text outside its topic alphabet),
 * TimescaleDB's text gives `ts` (NULL: the same as topic). */
static void check_plain(const sluice_record *r, const char *topic, const char *why,
                        const char *ts)
{
    const char *m = w_mqtt_topic(r, "{field:v}");
    const char *k = w_kafka_topic(r, "{field:v}");
    if (topic) {
        CHECK_STR_EQ(m, topic);
        if (strspn(topic, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
            strlen(topic))
            CHECK_STR_EQ(k, topic);
        else
            CHECK_STR_CONTAINS(k, "not a valid Kafka topic name");
    } else {
        CHECK_STR_CONTAINS(m, why);
        CHECK_STR_CONTAINS(k, why);
    }
    CHECK_STR_EQ(w_ts_text(&r->fields[0]), ts ? ts : topic);
}

static sluice_record *one_field(sluice_field_type type)
{
    sl_batch_reset(B);
    sluice_record *r = api->record_new(B);
    api->field_add(B, r, "v", type);
    return r;
}

static void test_doubles(void)
{
    static const struct {
        double d;
        const char *json, *plain, *pg;
    } c[] = {
        {0.1, "0.1", "0.1", NULL},
        {1e300, "1e300", "1e300", NULL},
        {-0.0, "-0.0", "-0", NULL},
        {1.0, "1.0", "1", NULL},
        {100.0, "100.0", "100", NULL},
        {-1.5, "-1.5", "-1.5", NULL},
        {1.0 / 3, "0.3333333333333333", "0.3333333333333333", NULL},
        {123456789012345678.0, "1.2345678901234568e17", "1.2345678901234568e17", NULL},
        {DBL_MAX, "1.7976931348623157e308", "1.7976931348623157e308", NULL},
        {2.5e-8, "2.5e-8", "2.5e-8", NULL},
        {5e-324, "4.94065645841247e-324", "4.94065645841247e-324", NULL},
        /* NaN and ±Inf are null: JSON null, refused by a topic as a null
         * field is; PostgreSQL's float8 has them, so TimescaleDB keeps its
         * own spelling. */
        {NAN, "null", NULL, "NaN"},
        {INFINITY, "null", NULL, "Infinity"},
        {-INFINITY, "null", NULL, "-Infinity"},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        sluice_record *r = one_field(SLUICE_DOUBLE);
        r->fields[0].v.d = c[i].d;
        check_fields(r, c[i].json, NULL);
        check_plain(r, c[i].plain, isnan(c[i].d) ? "is NaN" : "is infinite", c[i].pg);
    }
}

static void test_ints_bools_null(void)
{
    static const struct {
        int64_t v;
        const char *text;
    } c[] = {
        {0, "0"},
        {-42, "-42"},
        {9007199254740993LL, "9007199254740993"},
        {INT64_MAX, "9223372036854775807"},
        {INT64_MIN, "-9223372036854775808"},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        sluice_record *r = one_field(SLUICE_INT);
        r->fields[0].v.i = c[i].v;
        check_fields(r, c[i].text, NULL);
        check_plain(r, c[i].text, NULL, NULL);
    }
    sluice_record *r = one_field(SLUICE_BOOL);
    r->fields[0].v.b = 1;
    check_fields(r, "true", NULL);
    check_plain(r, "true", NULL, NULL);
    r = one_field(SLUICE_NULL);
    check_fields(r, "null", NULL);
    CHECK_STR_CONTAINS(w_mqtt_topic(r, "{field:v}"), "is null");
    CHECK_STR_CONTAINS(w_kafka_topic(r, "{field:v}"), "is null");
}

/* Timestamps: JSON in RFC 3339 (expanded years outside 0000..9999), topics
 * in µs, TimescaleDB in PostgreSQL's spelling (BC years). */
static const struct {
    int64_t us;
    const char *json, *pg;
} times[] = {
    {0, "1970-01-01T00:00:00.000000Z", "1970-01-01 00:00:00.000000+00"},
    {-1, "1969-12-31T23:59:59.999999Z", "1969-12-31 23:59:59.999999+00"},
    {1685027590543400LL, "2023-05-25T15:13:10.543400Z", "2023-05-25 15:13:10.543400+00"},
    {-62135596800000000LL, "0001-01-01T00:00:00.000000Z", "0001-01-01 00:00:00.000000+00"},
    {-62135596800000001LL, "0000-12-31T23:59:59.999999Z", "0001-12-31 23:59:59.999999+00 BC"},
    {-62167219200000001LL, "-0001-12-31T23:59:59.999999Z",
     "0002-12-31 23:59:59.999999+00 BC"},
    {253402300799999999LL, "9999-12-31T23:59:59.999999Z", "9999-12-31 23:59:59.999999+00"},
    {253402300800000000LL, "+10000-01-01T00:00:00.000000Z", "10000-01-01 00:00:00.000000+00"},
    {INT64_MAX, "+294247-01-10T04:00:54.775807Z", "294247-01-10 04:00:54.775807+00"},
    {INT64_MIN, "-290308-12-21T19:59:05.224192Z", "290309-12-21 19:59:05.224192+00 BC"},
};

static void test_timestamps(void)
{
    for (size_t i = 0; i < sizeof times / sizeof *times; i++) {
        sluice_record *r = one_field(SLUICE_TIMESTAMP);
        r->fields[0].v.ts = times[i].us;
        char q[64], us[32];
        snprintf(q, sizeof q, "\"%s\"", times[i].json);
        check_fields(r, q, NULL);
        snprintf(us, sizeof us, "%lld", (long long)times[i].us);
        check_plain(r, us, NULL, times[i].pg);
    }
}

/* ------------------------------------------------------------------ */
/* The envelope of a record without fields                             */
/* ------------------------------------------------------------------ */

/* Host to_json, the Kafka json converter and the file sink's format json
 * give `want`, byte for byte, and it reads back as JSON. */
static void check_envelope(const sluice_record *r, const char *want)
{
    CHECK_STR_EQ(w_host(r), want);
    CHECK_STR_EQ(w_kconv(r), want);
    CHECK_STR_EQ(w_file_json(r), want);
    char err[SLUICE_ERRLEN];
    sluice_batch *b = sl_batch_new(4, 1 << 20);
    sluice_record *back = api->record_new(b);
    if (api->from_json(b, back, want, strlen(want), err, sizeof err) != 0) {
        fprintf(stderr, "envelope does not read back: %s\n%s\n", err, want);
        CHECK(!"envelope reads back");
    }
    /* Four members, and an "_encoding" one for each base64 member. */
    uint32_t n = 4;
    for (const char *q = want; (q = strstr(q, "_encoding\":\"base64\"")); q++)
        n++;
    CHECK_INT_EQ(back->n_fields, n);
    sl_batch_free(b);
}

static sluice_record *envelope_record(const char *topic, const char *key, const char *value,
                                      size_t vlen, int64_t ts)
{
    sl_batch_reset(B);
    sluice_record *r = api->record_new(B);
    r->origin.topic = topic ? api->strndup(B, topic, strlen(topic)) : NULL;
    if (key)
        api->set_key(B, r, key, strlen(key));
    if (value)
        api->set_value(B, r, value, vlen);
    r->timestamp = ts;
    return r;
}

static void test_envelopes(void)
{
    static const struct {
        const char *value;   /* NULL: no value */
        const char *payload; /* its text in the envelope */
    } c[] = {
        /* Objects and arrays are embedded as sent, whitespace and all
         * (line breaks become spaces: the envelope stays one line). */
        {"{\"a\":1}", "{\"a\":1}"},
        {" [1, {\"b\": [true,null,\"x\\u00e9\"]}]\r\n", " [1, {\"b\": [true,null,\"x\\u00e9\"]}]  "},
        {"{\n  \"t\": 1.50e1\n}", "{   \"t\": 1.50e1 }"},
        {"[]", "[]"},
        /* Anything else is a string, JSON scalars included. */
        {"42", "\"42\""},
        {"\"s\"", "\"\\\"s\\\"\""},
        {"true", "\"true\""},
        {"", "\"\""},
        {NULL, "null"},
        /* Starts like JSON but is not: a string, so the envelope is JSON. */
        {"{\"a\":1", "\"{\\\"a\\\":1\""},
        {"{\"a\":1}x", "\"{\\\"a\\\":1}x\""},
        {"{\"a\":1}{}", "\"{\\\"a\\\":1}{}\""},
        {"[1,]", "\"[1,]\""},
        {"{a:1}", "\"{a:1}\""},
        {"{\"a\":\"\\ud800\"}", "\"{\\\"a\\\":\\\"\\\\ud800\\\"}\""},
        {"{\"a\\u0000b\":1}", "\"{\\\"a\\\\u0000b\\\":1}\""},
        {"{\"a\":99999999999999999999}", "\"{\\\"a\\\":99999999999999999999}\""},
        {"{\"a\":\"\x01\"}", "\"{\\\"a\\\":\\\"\\u0001\\\"}\""},
        {"{\"a\":\"\xff\"}", "\"eyJhIjoi/yJ9\",\"payload_encoding\":\"base64\""},
    };
    char want[4096];
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        sluice_record *r = envelope_record("f2/t", "f2-aa", c[i].value,
                                           c[i].value ? strlen(c[i].value) : 0, times[2].us);
        snprintf(want, sizeof want, "{\"topic\":\"f2/t\",\"device_id\":\"f2-aa\",\"payload\":%s,"
                 "\"received_at\":\"%s\"}", c[i].payload, times[2].json);
        check_envelope(r, want);
    }

    /* 64 levels of nesting are embedded, 65 travel as a string. */
    for (int depth = 64; depth <= 65; depth++) {
        char v[256], p[512];
        int n = 0, o = 0;
        for (int k = 0; k < depth; k++)
            v[n++] = '[';
        v[n++] = '1';
        for (int k = 0; k < depth; k++)
            v[n++] = ']';
        v[n] = '\0';
        if (depth == 64) {
            snprintf(p, sizeof p, "%s", v);
        } else {
            p[o++] = '"';
            memcpy(p + o, v, (size_t)n);
            o += n;
            p[o++] = '"';
            p[o] = '\0';
        }
        sluice_record *r = envelope_record("t", "k", v, (size_t)n, times[2].us);
        snprintf(want, sizeof want, "{\"topic\":\"t\",\"device_id\":\"k\",\"payload\":%s,"
                 "\"received_at\":\"%s\"}", p, times[2].json);
        check_envelope(r, want);
    }

    /* Nothing at all: every member null, no timestamp null (not the clock:
     * the same record always gives the same text). */
    check_envelope(envelope_record(NULL, NULL, NULL, 0, 0),
                   "{\"topic\":null,\"device_id\":null,\"payload\":null,\"received_at\":null}");

    /* received_at in RFC 3339, expanded years outside 0000..9999; 0 is no
     * timestamp. */
    for (size_t i = 0; i < sizeof times / sizeof *times; i++) {
        sluice_record *r = envelope_record("t", "k", "{}", 2, times[i].us);
        char at[64];
        snprintf(at, sizeof at, times[i].us ? "\"%s\"" : "null", times[i].json);
        snprintf(want, sizeof want, "{\"topic\":\"t\",\"device_id\":\"k\",\"payload\":{},"
                 "\"received_at\":%s}", at);
        check_envelope(r, want);
    }

    /* Topic, key and payload not UTF-8, with control characters around. */
    sluice_record *r = envelope_record("t/\x01\xfe", "\b\xc0", "\f\xff", 2, times[5].us);
    snprintf(want, sizeof want, "{\"topic\":\"dC8B/g==\",\"topic_encoding\":\"base64\","
             "\"device_id\":\"CMA=\",\"device_id_encoding\":\"base64\",\"payload\":\"DP8=\","
             "\"payload_encoding\":\"base64\",\"received_at\":\"%s\"}", times[5].json);
    check_envelope(r, want);
}

/* ------------------------------------------------------------------ */
/* Strings and bytes                                                   */
/* ------------------------------------------------------------------ */

static const struct {
    const char *s;
    size_t n;
    const char *json;        /* NULL: not UTF-8 */
    const char *b64;
    const char *fffd;        /* the escaper's text for it */
} strs[] = {
    {"plain", 5, "\"plain\"", "cGxhaW4=", "\"plain\""},
    {"a\"b\\c\b\f\n\r\t\x01\x1f\x7f/", 14,
     "\"a\\\"b\\\\c\\b\\f\\n\\r\\t\\u0001\\u001f\x7f/\"", NULL, NULL},
    {"x\0y", 3, "\"x\\u0000y\"", NULL, NULL},
    {"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", NULL,
     NULL},
    {"ok\xff", 3, NULL, "b2v/", "\"ok\xef\xbf\xbd\""},
    {"\xc0\xaf", 2, NULL, "wK8=", "\"\xef\xbf\xbd\xef\xbf\xbd\""},
    {"\xed\xa0\x80", 3, NULL, "7aCA", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
    {"\xe2\x82", 2, NULL, "4oI=", "\"\xef\xbf\xbd\xef\xbf\xbd\""},
};

/* "name":<text>, by the bytes rule. */
static void member(char *dst, size_t cap, const char *name, size_t i)
{
    if (strs[i].json)
        snprintf(dst, cap, "\"%s\":%s", name, strs[i].json);
    else
        snprintf(dst, cap, "\"%s\":\"%s\",\"%s_encoding\":\"base64\"", name, strs[i].b64, name);
}

static void test_strings(void)
{
    char buf[512];
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) {
        /* The escaper itself; valid text escapes the same way everywhere. */
        size_t n = sluice_json_escape(NULL, strs[i].s, strs[i].n);
        CHECK(n < sizeof buf);
        CHECK_INT_EQ(sluice_json_escape(buf, strs[i].s, strs[i].n), n);
        buf[n] = '\0';
        CHECK_STR_EQ(buf, strs[i].json ? strs[i].json : strs[i].fffd);

        /* A STRING field: written exactly, or refused — never altered. */
        sluice_record *r = one_field(SLUICE_STRING);
        api->field_set_string(B, &r->fields[0], strs[i].s, strs[i].n);
        check_fields(r, strs[i].json, "string field \"v\" is not valid UTF-8");

        /* Envelopes: topic, key and value by the bytes rule. */
        sl_batch_reset(B);
        r = api->record_new(B);
        int has_nul = memchr(strs[i].s, '\0', strs[i].n) != NULL;
        if (!has_nul)
            r->origin.topic = api->strndup(B, strs[i].s, strs[i].n);
        api->set_key(B, r, strs[i].s, strs[i].n);
        api->set_value(B, r, strs[i].s, strs[i].n);
        r->timestamp = times[5].us;
        char topic[256], key[256], dev[256], value[256], payload[256];
        if (has_nul)
            snprintf(topic, sizeof topic, "\"topic\":null");
        else
            member(topic, sizeof topic, "topic", i);
        member(key, sizeof key, "key", i);
        member(dev, sizeof dev, "device_id", i);
        member(value, sizeof value, "value", i);
        member(payload, sizeof payload, "payload", i);
        char want[2048];
        snprintf(want, sizeof want, "{%s,%s,%s,\"received_at\":\"%s\"}", topic, dev, payload,
                 times[5].json);
        check_envelope(r, want);
        snprintf(want, sizeof want, "{\"origin\":{%s,\"partition\":-1,\"offset\":-1},"
                 "\"timestamp\":\"%s\",%s,%s,\"headers\":{},\"fields\":{}}", topic,
                 times[5].json, key, value);
        CHECK_STR_EQ(w_file_env(r), want);
    }

    /* BYTES fields are base64 in JSON, as they are in topics and text. */
    sluice_record *r = one_field(SLUICE_BYTES);
    api->field_set_string(B, &r->fields[0], "ok\xff", 3);
    check_fields(r, "\"b2v/\"", NULL);

    /* A string in both topic templates. */
    r = one_field(SLUICE_STRING);
    api->field_set_string(B, &r->fields[0], "plant-1", 7);
    check_plain(r, "plant-1", NULL, NULL);
}

/* --log-format json escapes with the same escaper (line breaks are blanked
 * first: a log message stays one line). */
static void test_json_log(void)
{
    const char *path = ph_path("log.json");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644), saved = dup(STDERR_FILENO);
    CHECK(fd >= 0 && saved >= 0);
    dup2(fd, STDERR_FILENO);
    sl_log_configure(SLUICE_LOG_INFO, SL_LOG_JSON);
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        if (!memchr(strs[i].s, '\0', strs[i].n))
            sl_log(SLUICE_LOG_INFO, NULL, strs[i].s, "%s", strs[i].s);
    sl_log_configure(SLUICE_LOG_INFO, SL_LOG_TEXT);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
    char *all = ph_read_file(path), *line = all;
    for (size_t i = 0; line && i < sizeof strs / sizeof *strs; i++) {
        if (memchr(strs[i].s, '\0', strs[i].n))
            continue;
        char *nl = strchr(line, '\n');
        CHECK(nl != NULL);
        if (!nl)
            break;
        *nl = '\0';
        /* The message's \n and \r became blanks (this golden text has no
         * escaped backslash before an n or r). */
        const char *text = strs[i].json ? strs[i].json : strs[i].fffd;
        char msg[256];
        size_t o = 0;
        for (const char *t = text; *t && o + 1 < sizeof msg; t++) {
            if (t[0] == '\\' && (t[1] == 'n' || t[1] == 'r')) {
                msg[o++] = ' ';
                t++;
            } else {
                msg[o++] = *t;
            }
        }
        msg[o] = '\0';
        char want[512];
        snprintf(want, sizeof want, ",\"level\":\"info\",\"component\":%s,\"msg\":%s}", text,
                 msg);
        CHECK_STR_EQ(strchr(line, ','), want);
        line = nl + 1;
    }
    free(all);
}

/* ------------------------------------------------------------------ */

static void start_file(ph_inst *s, const char *name, const char *format)
{
    char yaml[8192], err[SLUICE_ERRLEN] = "";
    snprintf(yaml, sizeof yaml, "source: { plugin: generator }\nsink: { plugin: file, path: "
             "\"%s\", format: %s, append: false }\n", ph_path(name), format);
    sl_pipeline_conf *c = ph_conf(format, yaml);
    CHECK(c != NULL);
    if (!c || ph_init(s, &c->sink, err) != SLUICE_OK) {
        fprintf(stderr, "file sink (%s): %s\n", format, err);
        exit(1);
    }
}

int main(void)
{
    ph_setup();
    api = sl_api();
    B = sl_batch_new(16, 1 << 20);
    char err[SLUICE_ERRLEN];
    if (kconv_init(&KC, api, "json", NULL, err, sizeof err) != 0) {
        fprintf(stderr, "kconv_init: %s\n", err);
        return 1;
    }
    start_file(&FJ, "golden.json", "json");
    start_file(&FE, "golden.envelope", "envelope");

    test_doubles();
    test_ints_bools_null();
    test_timestamps();
    test_strings();
    test_envelopes();
    test_json_log();

    ph_destroy(&FJ);
    ph_destroy(&FE);
    kconv_free(&KC);
    sluice_buf_free(&out);
    sluice_buf_free(&tbuf);
    sl_batch_free(B);
    return PH_DONE();
}
