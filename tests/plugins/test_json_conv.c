/* The host's JSON converter: every field type written exactly, escaping,
 * UTF-8 checks, records without fields, parsing into typed fields, error
 * messages, round trips, and arena exhaustion. */
#include "batch.h"
#include "batch_api.h"
#include "json_conv.h"
#include "strcheck.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

static sluice_batch *B;
static char err[SLUICE_ERRLEN];

static sluice_record *rec(void)
{
    sl_batch_reset(B);
    return sl_record_new(B);
}

static const char *to_json(const sluice_record *r)
{
    size_t len = 0;
    err[0] = '\0';
    const char *s = sl_to_json(B, r, &len, err, sizeof err);
    if (s && strlen(s) != len)
        return "(length mismatch)";
    return s;
}

static void add_str(sluice_record *r, const char *name, const char *s, size_t n)
{
    sluice_field *f = sl_field_add(B, r, name, SLUICE_STRING);
    sl_field_set_string(B, f, s, n);
}

static const char *one_double(double d)
{
    sluice_record *r = rec();
    sl_field_add(B, r, "d", SLUICE_DOUBLE)->v.d = d;
    return to_json(r);
}

static const char *one_ts(int64_t us)
{
    sluice_record *r = rec();
    sl_field_add(B, r, "t", SLUICE_TIMESTAMP)->v.ts = us;
    return to_json(r);
}

static const char *one_bytes(const char *s, size_t n)
{
    sluice_record *r = rec();
    sluice_field *f = sl_field_add(B, r, "b", SLUICE_BYTES);
    sl_field_set_string(B, f, s, n);
    return to_json(r);
}

static void every_type(void)
{
    sluice_record *r = rec();
    sl_field_add(B, r, "n", SLUICE_NULL);
    sl_field_add(B, r, "t", SLUICE_BOOL)->v.b = 1;
    sl_field_add(B, r, "f", SLUICE_BOOL)->v.b = 0;
    sl_field_add(B, r, "i", SLUICE_INT)->v.i = -42;
    sl_field_add(B, r, "d", SLUICE_DOUBLE)->v.d = 21.5;
    add_str(r, "s", "hi", 2);
    sluice_field *b = sl_field_add(B, r, "b", SLUICE_BYTES);
    sl_field_set_string(B, b, "\x00\xff\x10", 3);
    sl_field_add(B, r, "ts", SLUICE_TIMESTAMP)->v.ts = 1685027590543400;
    CHECK_STR_EQ(to_json(r), "{\"n\":null,\"t\":true,\"f\":false,\"i\":-42,\"d\":21.5,"
                             "\"s\":\"hi\",\"b\":\"AP8Q\",\"ts\":\"2023-05-25T15:13:10.543400Z\"}");

    r = rec();
    sl_field_add(B, r, "min", SLUICE_INT)->v.i = INT64_MIN;
    sl_field_add(B, r, "max", SLUICE_INT)->v.i = INT64_MAX;
    sl_field_add(B, r, "zero", SLUICE_INT)->v.i = 0;
    CHECK_STR_EQ(to_json(r), "{\"min\":-9223372036854775808,\"max\":9223372036854775807,"
                             "\"zero\":0}");
}

static void doubles(void)
{
    CHECK_STR_EQ(one_double(0.1), "{\"d\":0.1}");
    CHECK_STR_EQ(one_double(3.0), "{\"d\":3.0}");          /* stays a real */
    CHECK_STR_EQ(one_double(-0.0), "{\"d\":-0.0}");
    CHECK_STR_EQ(one_double(1e300), "{\"d\":1e300}");
    CHECK_STR_EQ(one_double(1.0 / 3), "{\"d\":0.3333333333333333}");
    CHECK_STR_EQ(one_double(5e-324), "{\"d\":4.94065645841247e-324}"); /* reads back exact */
    CHECK_STR_EQ(one_double(0.30000000000000004), "{\"d\":0.30000000000000004}");
    CHECK_STR_EQ(one_double(NAN), "{\"d\":null}");
    CHECK_STR_EQ(one_double(INFINITY), "{\"d\":null}");
    CHECK_STR_EQ(one_double(-INFINITY), "{\"d\":null}");
}

static void timestamps(void)
{
    CHECK_STR_EQ(one_ts(0), "{\"t\":\"1970-01-01T00:00:00.000000Z\"}");
    CHECK_STR_EQ(one_ts(-1), "{\"t\":\"1969-12-31T23:59:59.999999Z\"}");
    CHECK_STR_EQ(one_ts(1709164800000001), "{\"t\":\"2024-02-29T00:00:00.000001Z\"}");
    CHECK_STR_EQ(one_ts(951782400000000), "{\"t\":\"2000-02-29T00:00:00.000000Z\"}");
    CHECK_STR_EQ(one_ts(253402300799999999), "{\"t\":\"9999-12-31T23:59:59.999999Z\"}");
    CHECK_STR_EQ(one_ts(253402300800000000), "{\"t\":\"+10000-01-01T00:00:00.000000Z\"}");
    CHECK_STR_EQ(one_ts(-62167219200000000), "{\"t\":\"0000-01-01T00:00:00.000000Z\"}");
    CHECK_STR_EQ(one_ts(-62167219200000001), "{\"t\":\"-0001-12-31T23:59:59.999999Z\"}");
    /* The extremes do not overflow. */
    CHECK(one_ts(INT64_MIN) != NULL);
    CHECK(one_ts(INT64_MAX) != NULL);
}

static void base64(void)
{
    CHECK_STR_EQ(one_bytes("", 0), "{\"b\":\"\"}");
    CHECK_STR_EQ(one_bytes("f", 1), "{\"b\":\"Zg==\"}");
    CHECK_STR_EQ(one_bytes("fo", 2), "{\"b\":\"Zm8=\"}");
    CHECK_STR_EQ(one_bytes("foo", 3), "{\"b\":\"Zm9v\"}");
    CHECK_STR_EQ(one_bytes("foobar", 6), "{\"b\":\"Zm9vYmFy\"}");
}

static void escaping(void)
{
    sluice_record *r = rec();
    add_str(r, "q\"k", "a\"b\\c/d", 7);
    add_str(r, "c", "\n\r\t\b\f\x01\x1f\x7f", 8);
    add_str(r, "nul", "x\0y", 3);
    add_str(r, "u", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14);
    CHECK_STR_EQ(to_json(r), "{\"q\\\"k\":\"a\\\"b\\\\c/d\",\"c\":\"\\n\\r\\t\\b\\f\\u0001\\u001f\x7f\","
                             "\"nul\":\"x\\u0000y\",\"u\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}");
}

static void invalid_utf8(void)
{
    static const struct {
        const char *s;
        size_t n;
    } bad[] = {
        {"\xff", 1},             /* never valid */
        {"ab\xc3", 3},           /* truncated sequence */
        {"\xc0\xaf", 2},         /* overlong "/" */
        {"\xed\xa0\x80", 3},     /* UTF-16 surrogate */
        {"\xf4\x90\x80\x80", 4}, /* above U+10FFFF */
        {"\xe2\x28\xa1", 3},     /* bad continuation */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sluice_record *r = rec();
        add_str(r, "name", bad[i].s, bad[i].n);
        CHECK(to_json(r) == NULL);
        CHECK_STR_CONTAINS(err, "string field \"name\" is not valid UTF-8");
    }
    sluice_record *r = rec();
    add_str(r, "s", "ab\xc3", 3);
    to_json(r);
    CHECK_STR_CONTAINS(err, "(byte 0xc3 at offset 2)");
    /* A field name must be UTF-8 too. */
    r = rec();
    sl_field_add(B, r, "bad\xfe", SLUICE_INT);
    CHECK(to_json(r) == NULL);
    CHECK_STR_CONTAINS(err, "field name");
}

static void without_fields(void)
{
    sluice_record *r = rec();
    r->origin.topic = "f2/ctl/7";
    r->origin.partition = 3;
    r->origin.offset = 99;
    sl_set_key(B, r, "dev-7", 5);
    sl_set_value(B, r, "{\"a\":1}", 7);
    r->timestamp = 1685027590543400;
    /* The envelope (docs/pipeline-reference.md, "Records as JSON"): key as
     * device_id, an object payload embedded, partition and offset not
     * written. */
    CHECK_STR_EQ(to_json(r), "{\"topic\":\"f2/ctl/7\",\"device_id\":\"dev-7\","
                             "\"payload\":{\"a\":1},"
                             "\"received_at\":\"2023-05-25T15:13:10.543400Z\"}");
    /* Starts like an object, is not one: a string. */
    sl_set_value(B, r, "{\"a\":1", 6);
    CHECK_STR_EQ(to_json(r), "{\"topic\":\"f2/ctl/7\",\"device_id\":\"dev-7\","
                             "\"payload\":\"{\\\"a\\\":1\","
                             "\"received_at\":\"2023-05-25T15:13:10.543400Z\"}");

    /* Binary value: base64 and said so; no key, topic or timestamp: null. */
    r = rec();
    sl_set_value(B, r, "\x01\x02\xff", 3);
    CHECK_STR_EQ(to_json(r), "{\"topic\":null,\"device_id\":null,"
                             "\"payload\":\"AQL/\",\"payload_encoding\":\"base64\","
                             "\"received_at\":null}");
    r = rec();
    sl_set_key(B, r, "\xc3", 1);
    sl_set_value(B, r, "", 0);
    CHECK_STR_EQ(to_json(r), "{\"topic\":null,\"device_id\":\"ww==\","
                             "\"device_id_encoding\":\"base64\",\"payload\":\"\","
                             "\"received_at\":null}");
}

/* A source may fill the arena to the brim (the mqtt source does under a
 * backlog): the envelope of every record is still written, into the spill
 * arena, and a refill after a reset needs no more memory. */
static void envelopes_of_a_full_batch(void)
{
    sluice_batch *b = sl_batch_new(1000, 256 << 10);
    char payload[4096];
    memset(payload, ' ', sizeof payload);
    memcpy(payload, "{\"data\":\"01 02\"", 15);
    payload[sizeof payload - 1] = '}';
    size_t spill_total = 0;
    for (int round = 0; round < 2; round++) {
        sl_batch_reset(b);
        size_t n = 0;
        for (sluice_record *r; (r = sl_record_new(b)); n++) {
            r->origin.topic = "cmnd/f2-0A1B2C3D4E5F/sensor-mode/J1/sensor-3";
            r->timestamp = 1685027590543400;
            if (sl_set_key(b, r, "f2-0A1B2C3D4E5F", 15) != 0 ||
                sl_set_value(b, r, payload, sizeof payload) != 0) {
                b->n--;
                break;
            }
        }
        CHECK(n > 50 && b->out_of_room);
        size_t written = 0, len;
        for (size_t i = 0; i < b->n; i++)
            if (sl_to_json(b, &b->recs[i], &len, err, sizeof err) && len == sizeof payload + 141)
                written++;
            else
                fprintf(stderr, "envelope %zu of %zu: %zu bytes; %s\n", i, b->n, len, err);
        CHECK_INT_EQ(written, b->n);
        if (round == 0)
            spill_total = b->spill.total;
        else
            CHECK_INT_EQ(b->spill.total, spill_total);
    }
    CHECK(spill_total > 0 && spill_total <= 2 * (256 << 10));
    sl_batch_free(b);
}

static const sluice_field *fld(const sluice_record *r, const char *n, sluice_field_type t)
{
    const sluice_field *f = sluice_field_get(r, n);
    if (!f || f->type != t) {
        fprintf(stderr, "field %s: missing or type %d, want %d\n", n, f ? (int)f->type : -1,
                (int)t);
        return NULL;
    }
    return f;
}

static int from(sluice_record *r, const char *json)
{
    err[0] = '\0';
    return sl_from_json(B, r, json, strlen(json), err, sizeof err);
}

static void parse_types(void)
{
    sluice_record *r = rec();
    CHECK_INT_EQ(from(r, "{\"s\":\"x\\u00e9\\n\",\"i\":-7,\"big\":9223372036854775807,"
                         "\"d\":2.5,\"e\":1e2,\"t\":true,\"f\":false,\"n\":null,"
                         "\"a\":[1, \"two\", {\"x\": null}],\"o\":{\"k\": [ ]},"
                         "\"nul\":\"a\\u0000b\"}"),
                 0);
    CHECK_INT_EQ(r->n_fields, 11);
    const sluice_field *f;
    if ((f = fld(r, "s", SLUICE_STRING)))
        CHECK_BYTES_EQ(f->v.s, "x\xc3\xa9\n");
    if ((f = fld(r, "i", SLUICE_INT)))
        CHECK_INT_EQ(f->v.i, -7);
    if ((f = fld(r, "big", SLUICE_INT)))
        CHECK(f->v.i == INT64_MAX);
    if ((f = fld(r, "d", SLUICE_DOUBLE)))
        CHECK(f->v.d == 2.5);
    if ((f = fld(r, "e", SLUICE_DOUBLE)))
        CHECK(f->v.d == 100.0);
    if ((f = fld(r, "t", SLUICE_BOOL)))
        CHECK_INT_EQ(f->v.b, 1);
    if ((f = fld(r, "f", SLUICE_BOOL)))
        CHECK_INT_EQ(f->v.b, 0);
    CHECK(fld(r, "n", SLUICE_NULL) != NULL);
    if ((f = fld(r, "a", SLUICE_STRING)))
        CHECK_BYTES_EQ(f->v.s, "[1,\"two\",{\"x\":null}]");
    if ((f = fld(r, "o", SLUICE_STRING)))
        CHECK_BYTES_EQ(f->v.s, "{\"k\":[]}");
    if ((f = fld(r, "nul", SLUICE_STRING))) {
        CHECK_INT_EQ(f->v.s.len, 3);
        CHECK(memcmp(f->v.s.ptr, "a\0b", 3) == 0);
    }
    /* Fields keep the object's member order. */
    CHECK_STR_EQ(r->fields[0].name, "s");
    CHECK_STR_EQ(r->fields[10].name, "nul");

    /* Parsing into a record that has fields replaces same-named ones. */
    r = rec();
    sl_field_add(B, r, "x", SLUICE_STRING);
    sl_field_add(B, r, "keep", SLUICE_INT)->v.i = 5;
    CHECK_INT_EQ(from(r, "{\"x\": 1}"), 0);
    CHECK_INT_EQ(r->n_fields, 2);
    CHECK(fld(r, "x", SLUICE_INT) && sluice_field_get(r, "x")->v.i == 1);
    CHECK(fld(r, "keep", SLUICE_INT) != NULL);

    /* Empty object: no fields, no error. */
    r = rec();
    CHECK_INT_EQ(from(r, " {} "), 0);
    CHECK_INT_EQ(r->n_fields, 0);
}

static void parse_errors(void)
{
    sluice_record *r = rec();
    CHECK_INT_EQ(from(r, "{\"a\": tru}"), -1);
    CHECK_STR_CONTAINS(err, "invalid JSON at line 1 column ");
    CHECK_STR_CONTAINS(err, "invalid token");
    CHECK_INT_EQ(from(r, "{\"a\":1,\n\"b\":}"), -1);
    CHECK_STR_CONTAINS(err, "invalid JSON at line 2 column");
    CHECK_INT_EQ(from(r, ""), -1);
    CHECK_STR_CONTAINS(err, "invalid JSON at line 1 column 0");
    CHECK_INT_EQ(from(r, "{\"a\":1} x"), -1);
    CHECK_STR_CONTAINS(err, "invalid JSON");
    CHECK_INT_EQ(from(r, "{\"a\":99999999999999999999}"), -1);
    CHECK_STR_CONTAINS(err, "too big integer");
    CHECK_INT_EQ(from(r, "[1,2]"), -1);
    CHECK_STR_EQ(err, "JSON value is an array, not an object");
    CHECK_INT_EQ(from(r, "42"), -1);
    CHECK_STR_EQ(err, "JSON value is a number, not an object");
    CHECK_INT_EQ(from(r, "\"s\""), -1);
    CHECK_STR_EQ(err, "JSON value is a string, not an object");
    CHECK_INT_EQ(from(r, "{\"s\":\"\xff\"}"), -1);
    CHECK_STR_EQ(err, "invalid JSON at line 1 column 6: unable to decode byte 0xff near '\"' "
                      "(the input is not valid UTF-8)");
    /* NULL with length 0 is an empty document, not a crash. */
    CHECK_INT_EQ(sl_from_json(B, r, NULL, 0, err, sizeof err), -1);
    CHECK_INT_EQ(r->n_fields, 0);
    /* Counted input: bytes after len are not read. */
    const char *doc = "{\"a\":1}garbage";
    CHECK_INT_EQ(sl_from_json(B, r, doc, 7, err, sizeof err), 0);
}

static void round_trip(void)
{
    static const char *docs[] = {
        "{\"s\":\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\",\"i\":-9223372036854775808,\"d\":0.1,"
        "\"r\":3.0,\"t\":true,\"f\":false,\"n\":null}",
        "{\"nested\":\"{\\\"a\\\":[1,2]}\"}",
        "{}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        sluice_record *r = rec();
        CHECK_INT_EQ(from(r, docs[i]), 0);
        if (r->n_fields)
            CHECK_STR_EQ(to_json(r), docs[i]);
    }
    /* Types survive to_json → from_json. */
    sluice_record *r = rec();
    sl_field_add(B, r, "d", SLUICE_DOUBLE)->v.d = 2.0;
    sl_field_add(B, r, "i", SLUICE_INT)->v.i = 2;
    const char *s = to_json(r);
    sluice_record *r2 = sl_record_new(B);
    CHECK_INT_EQ(sl_from_json(B, r2, s, strlen(s), err, sizeof err), 0);
    CHECK(fld(r2, "d", SLUICE_DOUBLE) != NULL);
    CHECK(fld(r2, "i", SLUICE_INT) != NULL);
}

static void arena_exhaustion(void)
{
    /* 1 KiB of arena: the 400-byte string fits once, its JSON copy does
     * not, and goes to the batch's spill arena (2 KiB) instead. */
    sluice_batch *small = sl_batch_new(4, 1024);
    sluice_record *r = sl_record_new(small);
    char big[800];
    memset(big, 'x', sizeof big);
    sluice_field *f = sl_field_add(small, r, "s", SLUICE_STRING);
    CHECK_INT_EQ(sl_field_set_string(small, f, big, 400), 0);
    CHECK(sl_alloc(small, 512) == NULL);          /* the arena is full */
    small->out_of_room = 0;
    size_t len;
    const char *s = sl_to_json(small, r, &len, err, sizeof err);
    CHECK(s != NULL && len == 408);
    CHECK(small->spill.total > 0);
    CHECK(!small->out_of_room);
    /* JSON beyond the spill arena too fails, with the size to raise. */
    sl_batch_reset(small);
    r = sl_record_new(small);
    memset(big, '\x01', 400);
    f = sl_field_add(small, r, "s", SLUICE_STRING);
    CHECK_INT_EQ(sl_field_set_string(small, f, big, 400), 0);
    s = sl_to_json(small, r, NULL, err, sizeof err);
    CHECK(s == NULL);
    CHECK_STR_CONTAINS(err, "out of batch memory for 2409 bytes of JSON (raise batch.max_bytes)");
    CHECK(small->out_of_room);
    memset(big, 'x', sizeof big);

    sl_batch_reset(small);
    r = sl_record_new(small);
    char doc[900];
    snprintf(doc, sizeof doc, "{\"s\":\"%.800s\"}", big);
    CHECK_INT_EQ(sl_from_json(small, r, doc, strlen(doc), err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "out of batch memory while adding field \"s\"");
    sl_batch_free(small);
}

/* Random strings over an alphabet rich in what escaping and UTF-8 checks
 * get wrong, with jansson as the oracle: if it accepts the bytes as UTF-8,
 * to_json must succeed and its output must parse back to the same bytes;
 * if not, to_json must refuse.  And from_json never crashes on any bytes. */
static void randomized(void)
{
    static const char *atoms[] = {
        "a", "\"", "\\", "/", "\n", "\x01", "\x1f", "\x7f", " ", "\xc3\xa9", "\xe2\x82\xac",
        "\xf0\x9f\x98\x80", "\xc3", "\xff", "\xed\xa0\x80", "\xc0\x80", "\0", "{", "}", "[",
        "1", "e", "-", ".", ":", ",", "true", "null", "\"k\":",
    };
    uint64_t x = 0x9E3779B97F4A7C15ull;
    int refused = 0, accepted = 0;
    for (int it = 0; it < 5000; it++) {
        char s[256];
        size_t n = 0;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int k = (int)(x % 24);
        for (int j = 0; j < k; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            const char *a = atoms[x % (sizeof atoms / sizeof atoms[0])];
            size_t al = a[0] ? strlen(a) : 1;
            memcpy(s + n, a, al);
            n += al;
        }
        sluice_record *r = rec();
        add_str(r, "s", s, n);
        const char *out = to_json(r);
        json_t *oracle = json_stringn(s, n);
        if (oracle) {
            accepted++;
            json_error_t je;
            json_t *back = out ? json_loads(out, JSON_ALLOW_NUL, &je) : NULL;
            json_t *v = back ? json_object_get(back, "s") : NULL;
            int same = v && json_string_length(v) == n && !memcmp(json_string_value(v), s, n);
            if (!same)
                fprintf(stderr, "round trip failed for output %s\n", out ? out : err);
            CHECK(same);
            json_decref(back);
            json_decref(oracle);
        } else {
            refused++;
            CHECK(out == NULL);
        }
        /* Any bytes into from_json: 0 or -1 with a message, never a crash. */
        sluice_record *r2 = sl_record_new(B);
        err[0] = '\0';
        int rc = sl_from_json(B, r2, s, n, err, sizeof err);
        CHECK(rc == 0 || (rc == -1 && err[0]));
    }
    CHECK(refused > 100 && accepted > 100);   /* both paths were exercised */
}

/* ---- the parser of our own, against jansson's behaviour ---- */

static void parse_escapes(void)
{
    sluice_record *r = rec();
    CHECK_INT_EQ(from(r, "{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20AC\\ud83d\\ude00\","
                         "\"\\u006b\":1}"),
                 0);
    const sluice_field *f;
    if ((f = fld(r, "s", SLUICE_STRING)))
        CHECK_BYTES_EQ(f->v.s, "\"\\/\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    CHECK(fld(r, "k", SLUICE_INT) != NULL);
    /* Raw UTF-8 passes through; 4-byte sequences too. */
    r = rec();
    CHECK_INT_EQ(from(r, "{\"\xc3\xa9\":\"\xf0\x9f\x98\x80\"}"), 0);
    CHECK(fld(r, "\xc3\xa9", SLUICE_STRING) != NULL);

    static const char *bad[] = {
        "{\"s\":\"\\ud83d\"}",        /* lone high surrogate */
        "{\"s\":\"\\ude00\"}",        /* lone low surrogate */
        "{\"s\":\"\\ud83d\\u0041\"}", /* high + non-low */
        "{\"s\":\"\\x41\"}",          /* unknown escape */
        "{\"s\":\"\\u12g4\"}",        /* bad hex */
        "{\"s\":\"\\u12\"}",          /* short hex */
        "{\"s\":\"a\tb\"}",           /* raw control character */
        "{\"a\\u0000b\":1}",          /* NUL in a key */
        "{\"s\":\"\xed\xa0\x80\"}",   /* UTF-8 encoded surrogate */
        "{\"s\":\"\xc0\x80\"}",       /* overlong */
        "{\"s\":\"\xf4\x90\x80\x80\"}", /* above U+10FFFF */
        "{\"s\":\"\xe2\x82\"}",       /* truncated sequence */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = rec();
        CHECK_INT_EQ(from(r, bad[i]), -1);
        CHECK_STR_CONTAINS(err, "invalid JSON at line 1 column ");
        CHECK_INT_EQ(r->n_fields, 0);
    }
    r = rec();
    from(r, "{\"s\":\"\xe2\x82\"}");
    CHECK_STR_CONTAINS(err, "(the input is not valid UTF-8)");
    from(r, "{\"a\\u0000b\":1}");
    CHECK_STR_CONTAINS(err, "NUL byte in object key not supported");
}

static void parse_numbers(void)
{
    sluice_record *r = rec();
    CHECK_INT_EQ(from(r, "{\"max\":9223372036854775807,\"min\":-9223372036854775808,"
                         "\"z\":-0,\"dz\":-0.0,\"tiny\":1e-400,\"e\":1E+2,\"f\":-1.5e-3}"),
                 0);
    const sluice_field *f;
    if ((f = fld(r, "max", SLUICE_INT)))
        CHECK(f->v.i == INT64_MAX);
    if ((f = fld(r, "min", SLUICE_INT)))
        CHECK(f->v.i == INT64_MIN);
    if ((f = fld(r, "z", SLUICE_INT)))
        CHECK(f->v.i == 0);
    if ((f = fld(r, "dz", SLUICE_DOUBLE)))
        CHECK(f->v.d == 0 && signbit(f->v.d));
    if ((f = fld(r, "tiny", SLUICE_DOUBLE)))
        CHECK(f->v.d == 0);
    if ((f = fld(r, "e", SLUICE_DOUBLE)))
        CHECK(f->v.d == 100);
    if ((f = fld(r, "f", SLUICE_DOUBLE)))
        CHECK(f->v.d == -1.5e-3);

    CHECK_INT_EQ(from(r, "{\"a\":9223372036854775808}"), -1);
    CHECK_STR_CONTAINS(err, "too big integer");
    CHECK_INT_EQ(from(r, "{\"a\":-9223372036854775809}"), -1);
    CHECK_STR_CONTAINS(err, "too big negative integer");
    CHECK_INT_EQ(from(r, "{\"a\":1e400}"), -1);
    CHECK_STR_CONTAINS(err, "real number overflow");
    /* Overflow inside a nested value is an error too, as with jansson. */
    CHECK_INT_EQ(from(r, "{\"a\":[99999999999999999999]}"), -1);
    CHECK_STR_CONTAINS(err, "too big integer");
    static const char *bad[] = {"{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":-}",
                                "{\"a\":1e}", "{\"a\":+1}", "{\"a\":1e+}", "{\"a\":0x10}",
                                "{\"a\":NaN}", "{\"a\":Infinity}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT_EQ(from(r, bad[i]), -1);
        CHECK_STR_CONTAINS(err, "invalid JSON at line 1 column ");
    }
    /* A long number still parses (strtod needs a copy longer than the
     * stack buffer). */
    char doc[400];
    snprintf(doc, sizeof doc, "{\"a\":0.%0300d1}", 0);
    r = rec();
    CHECK_INT_EQ(from(r, doc), 0);
    CHECK(fld(r, "a", SLUICE_DOUBLE) != NULL);
}

static char *nest(int levels, const char *open, const char *close)
{
    size_t n = (size_t)levels;
    char *d = malloc(n * 2 + 16);
    char *p = d;
    p += sprintf(p, "{\"a\":");
    for (size_t i = 0; i < n; i++)
        *p++ = open[0];
    for (size_t i = 0; i < n; i++)
        *p++ = close[0];
    strcpy(p, "}");
    return d;
}

static void parse_depth(void)
{
    /* The top-level object is depth 1, as jansson counts: 2047 arrays
     * inside it reach its limit of 2048, one more is refused. */
    char *d = nest(2047, "[", "]");
    sluice_record *r = rec();
    CHECK_INT_EQ(from(r, d), 0);
    json_error_t je;
    json_t *o = json_loads(d, 0, &je);
    CHECK(o != NULL);
    json_decref(o);
    free(d);
    d = nest(2048, "[", "]");
    CHECK_INT_EQ(from(r, d), -1);
    CHECK_STR_CONTAINS(err, "maximum parsing depth reached");
    o = json_loads(d, 0, &je);
    CHECK(o == NULL);
    free(d);
    /* Far deeper than any C stack would allow with recursion. */
    d = nest(1000000, "[", "]");
    CHECK_INT_EQ(from(r, d), -1);
    CHECK_STR_CONTAINS(err, "maximum parsing depth reached");
    free(d);
    /* Unclosed deep nesting is an error, not a crash. */
    d = nest(1000, "[", "[");
    CHECK_INT_EQ(from(r, d), -1);
    free(d);
}

static void parse_truncated_and_trailing(void)
{
    const char *doc = "{\"s\":\"x\\u00e9\\ud83d\\ude00\",\"n\":-12.5e3,\"t\":true,"
                      "\"a\":[1,{\"b\":null}],\"f\":false}";
    size_t n = strlen(doc);
    for (size_t k = 0; k < n; k++) {
        sluice_record *r = rec();
        CHECK_INT_EQ(sl_from_json(B, r, doc, k, err, sizeof err), -1);
        CHECK_STR_CONTAINS(err, "invalid JSON at line 1 column ");
        CHECK_INT_EQ(r->n_fields, 0);
    }
    sluice_record *r = rec();
    CHECK_INT_EQ(sl_from_json(B, r, doc, n, err, sizeof err), 0);
    CHECK_INT_EQ(r->n_fields, 5);

    static const char *trail[] = {"{} {}", "{\"a\":1}}", "{\"a\":1},", "{\"a\":1} 1",
                                  "{\"a\":1}\n\"x\"", "{\"a\":1,}", "{,}", "[1] x"};
    for (size_t i = 0; i < sizeof trail / sizeof trail[0]; i++) {
        r = rec();
        CHECK_INT_EQ(from(r, trail[i]), -1);
        CHECK_STR_CONTAINS(err, "invalid JSON at line ");
        CHECK_INT_EQ(r->n_fields, 0);
    }
    r = rec();
    CHECK_INT_EQ(from(r, "\r\n\t {\"a\":1} \r\n\t"), 0);

    /* A failed parse leaves the fields a record already had untouched. */
    r = rec();
    sl_field_add(B, r, "a", SLUICE_INT)->v.i = 7;
    CHECK_INT_EQ(from(r, "{\"a\":\"changed\",\"b\":1,\"c\":tru}"), -1);
    CHECK_INT_EQ(r->n_fields, 1);
    CHECK(fld(r, "a", SLUICE_INT) && r->fields[0].v.i == 7);

    /* Duplicate keys: the first position, the last value (jansson's). */
    r = rec();
    CHECK_INT_EQ(from(r, "{\"a\":1,\"b\":2,\"a\":\"x\"}"), 0);
    CHECK_INT_EQ(r->n_fields, 2);
    CHECK_STR_EQ(r->fields[0].name, "a");
    CHECK(fld(r, "a", SLUICE_STRING) != NULL);
}

/* Our parse of doc against jansson's: same acceptance and, when accepted,
 * the same members with the same types and values (nested ones as
 * jansson's compact text).  Returns 1 when they agree. */
static int agrees_with_jansson(const char *doc, size_t n)
{
    json_error_t je;
    json_t *o = json_loadb(doc, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    sluice_record *r = rec();
    err[0] = '\0';
    int rc = sl_from_json(B, r, doc, n, err, sizeof err);
    int ok = 1;
    if (!o || !json_is_object(o)) {
        ok = rc == -1 && err[0] && (o || strstr(err, "invalid JSON at line ") == err);
        if (o && ok)
            ok = strstr(err, "not an object") != NULL;
        if (!o && ok && json_error_code(&je) != json_error_invalid_utf8) {
            char want[64];
            snprintf(want, sizeof want, "invalid JSON at line %d column ", je.line);
            ok = strstr(err, want) == err;
        }
        json_decref(o);
        return ok;
    }
    if (rc != 0 || r->n_fields != json_object_size(o)) {
        json_decref(o);
        return 0;
    }
    const char *k;
    json_t *v;
    size_t i = 0;
    json_object_foreach(o, k, v)
    {
        const sluice_field *f = &r->fields[i++];
        if (strcmp(f->name, k) != 0) {
            ok = 0;
            break;
        }
        switch (json_typeof(v)) {
        case JSON_NULL: ok &= f->type == SLUICE_NULL; break;
        case JSON_TRUE: ok &= f->type == SLUICE_BOOL && f->v.b; break;
        case JSON_FALSE: ok &= f->type == SLUICE_BOOL && !f->v.b; break;
        case JSON_INTEGER: ok &= f->type == SLUICE_INT && f->v.i == json_integer_value(v); break;
        case JSON_REAL:
            ok &= f->type == SLUICE_DOUBLE &&
                  memcmp(&f->v.d, &(double){json_real_value(v)}, sizeof(double)) == 0;
            break;
        case JSON_STRING:
            ok &= f->type == SLUICE_STRING && f->v.s.len == json_string_length(v) &&
                  !memcmp(f->v.s.ptr, json_string_value(v), f->v.s.len);
            break;
        default: {
            /* Nested values are our own compact text (sluice_text.h's
             * escaper and shortest doubles), not jansson's: it must read
             * back, with jansson, as the value jansson parsed.  A nested
             * object's duplicate keys stay as written; jansson keeps the
             * last one either way. */
            json_t *back = f->type == SLUICE_STRING
                               ? json_loadb(f->v.s.ptr, f->v.s.len, JSON_ALLOW_NUL, &je)
                               : NULL;
            int same = back && json_equal(back, v);
            json_decref(back);
            ok &= same;
        }
        }
    }
    json_decref(o);
    return ok;
}

typedef struct gen {
    uint64_t x;
    char buf[4096];
    size_t n;
} gen;

static uint64_t rnd(gen *g)
{
    g->x ^= g->x << 13, g->x ^= g->x >> 7, g->x ^= g->x << 17;
    return g->x;
}

static void emit(gen *g, const char *s)
{
    size_t l = strlen(s);
    if (g->n + l < sizeof g->buf) {
        memcpy(g->buf + g->n, s, l);
        g->n += l;
    }
}

static void gen_ws(gen *g)
{
    static const char *ws[] = {"", "", "", " ", "\n", "\t ", "\r\n"};
    emit(g, ws[rnd(g) % 7]);
}

static void gen_string(gen *g)
{
    static const char *parts[] = {
        "a", "key", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u0000",
        "\\u001f", "\\u007f", "\\u00e9", "\\u20AC", "\\ud83d\\ude00", "\\uD800\\uDC00",
        "\\uffff", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\x7f", " ", "'", "/",
    };
    emit(g, "\"");
    for (int k = (int)(rnd(g) % 5); k > 0; k--)
        emit(g, parts[rnd(g) % (sizeof parts / sizeof parts[0])]);
    emit(g, "\"");
}

static void gen_value(gen *g, int depth)
{
    static const char *nums[] = {
        "0", "-0", "1", "-1", "42", "9223372036854775807", "-9223372036854775808",
        "9223372036854775808", "-9223372036854775809", "0.1", "-0.0", "1e5", "1E+5", "1e-5",
        "2.5e-308", "1e308", "1e309", "123456789012345678901234567890.5", "0.000001",
        "3.141592653589793", "1.7976931348623157e308", "4.9e-324", "100", "1.0",
    };
    uint64_t k = rnd(g) % (depth > 4 ? 5 : 7);
    gen_ws(g);
    switch (k) {
    case 0: emit(g, nums[rnd(g) % (sizeof nums / sizeof nums[0])]); break;
    case 1: gen_string(g); break;
    case 2: emit(g, rnd(g) & 1 ? "true" : "false"); break;
    case 3: emit(g, "null"); break;
    case 4: emit(g, nums[rnd(g) % 9]); break;
    case 5:
        emit(g, "[");
        for (int i = (int)(rnd(g) % 4); i > 0; i--) {
            gen_value(g, depth + 1);
            if (i > 1)
                emit(g, ",");
        }
        gen_ws(g);
        emit(g, "]");
        break;
    default:
        emit(g, "{");
        for (int i = (int)(rnd(g) % 4); i > 0; i--) {
            gen_ws(g);
            gen_string(g);
            gen_ws(g);
            emit(g, ":");
            gen_value(g, depth + 1);
            if (i > 1)
                emit(g, ",");
        }
        gen_ws(g);
        emit(g, "}");
    }
    gen_ws(g);
}

/* Random documents from the grammar, then the same mutated (bytes
 * replaced, dropped, inserted, cut short): jansson is the oracle. */
/* One document: mostly an object of up to five members, sometimes a bare
 * value (which from_json must refuse as jansson's object check would). */
static void gen_document(gen *g)
{
    if (rnd(g) % 8 == 0) {
        gen_value(g, 0);
        return;
    }
    emit(g, "{");
    for (int i = (int)(rnd(g) % 6); i > 0; i--) {
        gen_ws(g);
        gen_string(g);
        emit(g, ":");
        gen_value(g, 1);
        if (i > 1)
            emit(g, ",");
    }
    emit(g, "}");
}

static void parse_vs_jansson(void)
{
    static const char junk[] = "{}[]\",:\\ 0-.eE+tfnu\x01\xff\xc3\xed\x80\n";
    gen g = {.x = 0x2545F4914F6CDD1Dull};
    int accepted = 0, refused = 0;
    for (int it = 0; it < 20000; it++) {
        g.n = 0;
        gen_document(&g);
        if (it % 2 && g.n) {
            for (int m = (int)(rnd(&g) % 3) + 1; m > 0; m--) {
                size_t at = rnd(&g) % g.n;
                switch (rnd(&g) % 4) {
                case 0: g.buf[at] = junk[rnd(&g) % (sizeof junk - 1)]; break;
                case 1:
                    memmove(g.buf + at, g.buf + at + 1, g.n - at - 1);
                    g.n--;
                    break;
                case 2:
                    if (g.n + 1 < sizeof g.buf) {
                        memmove(g.buf + at + 1, g.buf + at, g.n - at);
                        g.buf[at] = junk[rnd(&g) % (sizeof junk - 1)];
                        g.n++;
                    }
                    break;
                default: g.n = at; break;
                }
                if (!g.n)
                    break;
            }
        }
        int ok = agrees_with_jansson(g.buf, g.n);
        if (!ok)
            fprintf(stderr, "disagrees with jansson on: %.*s\n  ours: %s\n", (int)g.n, g.buf,
                    err);
        CHECK(ok);
        if (err[0])
            refused++;
        else
            accepted++;
    }
    CHECK(accepted > 2000 && refused > 2000);
}

/* SLUICE_JSON_STRICT | SLUICE_JSON_NESTED_RAW (f2_decode's parse) against
 * jansson with JSON_REJECT_DUPLICATES and without JSON_ALLOW_NUL, which
 * f2_decode used: the same documents accepted, the same members, nested
 * values as their own text (reading back as jansson's value).  Returns 1
 * when they agree. */
static int strict_agrees_with_jansson(const char *doc, size_t n)
{
    json_error_t je;
    json_t *o = json_loadb(doc, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    sl_batch_reset(B);
    sluice_record r0 = {0}, *r = &r0;
    err[0] = '\0';
    int rc = sl_from_json_ex(B, r, doc, n, SLUICE_JSON_STRICT | SLUICE_JSON_NESTED_RAW, err,
                             sizeof err);
    if (!o || !json_is_object(o)) {
        int ok = rc == -1 && r->n_fields == 0 &&
                 (o ? strncmp(err, "JSON value is", 13) == 0
                    : strncmp(err, "invalid JSON at line ", 21) == 0);
        json_decref(o);
        return ok;
    }
    int ok = rc == 0 && r->n_fields == json_object_size(o);
    const char *k;
    json_t *v;
    size_t i = 0;
    json_object_foreach(o, k, v)
    {
        if (!ok)
            break;
        const sluice_field *f = &r->fields[i++];
        ok = strcmp(f->name, k) == 0;
        switch (json_typeof(v)) {
        case JSON_NULL: ok &= f->type == SLUICE_NULL; break;
        case JSON_TRUE: ok &= f->type == SLUICE_BOOL && f->v.b; break;
        case JSON_FALSE: ok &= f->type == SLUICE_BOOL && !f->v.b; break;
        case JSON_INTEGER: ok &= f->type == SLUICE_INT && f->v.i == json_integer_value(v); break;
        case JSON_REAL:
            ok &= f->type == SLUICE_DOUBLE &&
                  memcmp(&f->v.d, &(double){json_real_value(v)}, sizeof(double)) == 0;
            break;
        case JSON_STRING:
            ok &= f->type == SLUICE_STRING && f->v.s.len == json_string_length(v) &&
                  !memcmp(f->v.s.ptr, json_string_value(v), f->v.s.len);
            break;
        default: {
            /* In place, and the same value once read. */
            json_t *back = NULL;
            ok &= f->type == SLUICE_BYTES && f->v.s.ptr >= doc && f->v.s.ptr + f->v.s.len <= doc + n;
            if (ok)
                back = json_loadb(f->v.s.ptr, f->v.s.len, JSON_DECODE_ANY, &je);
            ok &= back && json_equal(back, v);
            json_decref(back);
        }
        }
    }
    json_decref(o);
    return ok;
}

/* The parse_vs_jansson generator, strict: its keys repeat often, also
 * spelt differently ("/" and "\/", "é" and "\u00e9"), at every depth. */
static void strict_vs_jansson(void)
{
    gen g = {.x = 0x9E3779B97F4A7C15ull};
    int accepted = 0, dup = 0, nul = 0;
    for (int it = 0; it < 20000; it++) {
        g.n = 0;
        gen_document(&g);
        if (it % 4 == 1 && g.n > 1)
            g.n = rnd(&g) % g.n; /* cut short */
        int ok = strict_agrees_with_jansson(g.buf, g.n);
        if (!ok)
            fprintf(stderr, "strict parse disagrees with jansson on: %.*s\n  ours: %s\n",
                    (int)g.n, g.buf, err);
        CHECK(ok);
        accepted += !err[0];
        dup += strstr(err, "duplicate object key") != NULL;
        nul += strstr(err, "u0000 is not allowed") != NULL;
    }
    CHECK(accepted > 2000 && dup > 200 && nul > 200);

    /* A record that has fields is refused; so is nothing else. */
    sl_batch_reset(B);
    sluice_record r = {0};
    CHECK_INT_EQ(sl_from_json_ex(B, &r, "{\"a\":1}", 7, SLUICE_JSON_STRICT, err, sizeof err), 0);
    CHECK_INT_EQ(sl_from_json_ex(B, &r, "{\"b\":1}", 7, SLUICE_JSON_STRICT, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "needs a record without fields");
    CHECK_INT_EQ(r.n_fields, 1);
    /* Out of memory is -2. */
    sluice_batch *tiny = sl_batch_new(4, 64);
    sluice_record t = {0};
    static const char big[] = "{\"a_long_key_name\":\"a long value to fill 64 bytes\"}";
    CHECK_INT_EQ(sl_from_json_ex(tiny, &t, big, sizeof big - 1, SLUICE_JSON_STRICT, err,
                                 sizeof err), -2);
    CHECK_STR_CONTAINS(err, "out of batch memory");
    sl_batch_free(tiny);
}

/* The envelope's validator (sl_json_container, which decides whether a
 * payload is embedded) never accepts what jansson (the reading side)
 * refuses, nor anything but an object or an array. */
static void container_oracle(void)
{
    static const char *seeds[] = {
        "{\"a\":[1,2.5,-3e2,true,false,null,\"x\\u00e9\\ud83d\\ude00\"]}",
        "[{\"k\":{\"n\":{}}},[],\"\\\\\\/\\b\\f\\n\\r\\t\"]",
        "{\"big\":9223372036854775807,\"neg\":-9223372036854775808,\"r\":1e308}",
        "  {\"sp\" : [ 1 , 2 ] }  ",
    };
    srand(11);
    int accepted = 0;
    for (int it = 0; it < 30000; it++) {
        char s[256];
        const char *seed = seeds[it % 4];
        size_t n = strlen(seed);
        memcpy(s, seed, n);
        int muts = rand() % 4;
        for (int k = 0; k < muts; k++) {
            size_t at = (size_t)rand() % n;
            static const char alphabet[] = "{}[]\":,\\u0123456789eE+-.tfn \x01\xc3\xa9\xff";
            s[at] = alphabet[rand() % (int)(sizeof alphabet - 1)];
        }
        if (rand() % 5 == 0)
            n = (size_t)rand() % n;
        int k = sl_json_container(s, n);
        json_t *j = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        if (k) {
            accepted++;
            if (!j)
                fprintf(stderr, "sl_json_container accepted what jansson refuses: %.*s\n",
                        (int)n, s);
            CHECK(json_is_object(j) || json_is_array(j));
        }
        json_decref(j);
    }
    CHECK(accepted > 1000);
    CHECK(!sl_json_container("{\"a\":\"\\ud800\"}", 13));
    CHECK(!sl_json_container("{\"a\":99999999999999999999}", 26));
    CHECK(!sl_json_container("{\"a\\u0000\":1}", 13));
    CHECK(!sl_json_container("{\"a\":1}{", 8));
    CHECK(!sl_json_container("{\"a\":1", 6));
    CHECK(!sl_json_container(NULL, 0));
    CHECK(sl_json_container(" {} \n", 5));
    CHECK(sl_json_container("[1,\"\\u0000\"]", 12));
    CHECK(!sl_json_container("1.5", 3));
    CHECK(!sl_json_container("\"{}\"", 4));
    CHECK(!sl_json_container("", 0));
}

int main(void)
{
    B = sl_batch_new(16, 1 << 20);
    every_type();
    doubles();
    timestamps();
    base64();
    escaping();
    invalid_utf8();
    without_fields();
    parse_types();
    parse_errors();
    round_trip();
    arena_exhaustion();
    envelopes_of_a_full_batch();
    randomized();
    parse_escapes();
    parse_numbers();
    parse_depth();
    parse_truncated_and_trailing();
    parse_vs_jansson();
    strict_vs_jansson();
    container_oracle();
    sl_batch_free(B);
    return CHECK_DONE();
}
