/* The host's JSON converter: every field type written exactly, escaping,
 * UTF-8 checks, records without fields, parsing into typed fields, error
 * messages, round trips, and arena exhaustion. */
#include "batch.h"
#include "batch_api.h"
#include "json_conv.h"
#include "strcheck.h"

#include <jansson.h>
#include <math.h>
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
    CHECK_STR_EQ(one_double(1e300), "{\"d\":1e+300}");
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
    CHECK_STR_EQ(to_json(r), "{\"topic\":\"f2/ctl/7\",\"partition\":3,\"offset\":99,"
                             "\"key\":\"dev-7\",\"value\":\"{\\\"a\\\":1}\","
                             "\"timestamp\":\"2023-05-25T15:13:10.543400Z\"}");

    /* Binary value: base64 and said so; no key, topic or timestamp: null. */
    r = rec();
    sl_set_value(B, r, "\x01\x02\xff", 3);
    CHECK_STR_EQ(to_json(r), "{\"topic\":null,\"partition\":-1,\"offset\":-1,\"key\":null,"
                             "\"value\":\"AQL/\",\"value_encoding\":\"base64\","
                             "\"timestamp\":null}");
    r = rec();
    sl_set_key(B, r, "\xc3", 1);
    sl_set_value(B, r, "", 0);
    CHECK_STR_EQ(to_json(r), "{\"topic\":null,\"partition\":-1,\"offset\":-1,\"key\":\"ww==\","
                             "\"key_encoding\":\"base64\",\"value\":\"\",\"timestamp\":null}");
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
    /* 1 KiB of arena: the 400-byte string fits once, its JSON copy does not. */
    sluice_batch *small = sl_batch_new(4, 1024);
    sluice_record *r = sl_record_new(small);
    char big[800];
    memset(big, 'x', sizeof big);
    sluice_field *f = sl_field_add(small, r, "s", SLUICE_STRING);
    CHECK_INT_EQ(sl_field_set_string(small, f, big, 400), 0);
    const char *s = sl_to_json(small, r, NULL, err, sizeof err);
    CHECK(s == NULL);
    CHECK_STR_CONTAINS(err, "out of batch memory");

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
    randomized();
    sl_batch_free(B);
    return CHECK_DONE();
}
