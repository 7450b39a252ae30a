/* The kafka plugin's converters without a broker: Avro's canonical form and
 * fingerprint against the specification's vectors, the Avro codec against
 * avro-c in both directions, corrupt Avro rejected with a reason, the
 * MQTT envelope and how the json converter reads it back, the JSON
 * validator against jansson as oracle, and topic templates. */
#include "batch.h"
#include "check.h"
#include "ctx.h"
#include "kavro.h"
#include "kconv.h"
#include "kpath.h"
#include "ktopic.h"

#include <avro.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sluice_api *api;
static sluice_batch *B;
static char err[SLUICE_ERRLEN];

static sluice_record *fresh(void)
{
    sl_batch_reset(B);
    return api->record_new(B);
}

static void add_str(sluice_record *r, const char *name, const char *s)
{
    sluice_field *f = api->field_add(B, r, name, SLUICE_STRING);
    api->field_set_string(B, f, s, strlen(s));
}

static const sluice_field *get(const sluice_record *r, const char *name)
{
    return sluice_field_get(r, name);
}

/* ---------------------------------------------------------------- */

static void test_canonical_vectors(void)
{
    /* From the Avro specification's schema-tests: input, canonical form,
     * and the fingerprint as a signed 64-bit number. */
    static const struct {
        const char *in, *canon;
        long long fp;
    } v[] = {
        {"\"null\"", "\"null\"", 7195948357588979594LL},
        {"{\"type\":\"boolean\"}", "\"boolean\"", -6970731678124411036LL},
        {"\"int\"", "\"int\"", 8247732601305521295LL},
        {"\"long\"", "\"long\"", -3434872931120570953LL},
        {"\"string\"", "\"string\"", -8142146995180207161LL},
        {"[ \"int\" , {\"type\":\"boolean\"} ]", "[\"int\",\"boolean\"]", 5392556393470105090LL},
        {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"namespace\":\"x.y\"}",
         "{\"name\":\"x.y.foo\",\"type\":\"record\",\"fields\":[]}", 5916914534497305771LL},
        {"{\"fields\":[], \"type\":\"record\", \"name\":\"a.b.foo\", \"namespace\":\"x.y\"}",
         "{\"name\":\"a.b.foo\",\"type\":\"record\",\"fields\":[]}", -4616218487480524110LL},
        {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"doc\":\"foo\", "
         "\"aliases\":[\"foo\",\"bar\"]}",
         "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", -4824392279771201922LL},
        {"{ \"fields\":[{\"type\":\"boolean\", \"aliases\":[], \"name\":\"f1\", "
         "\"default\":\"true\"}, {\"order\":\"descending\",\"name\":\"f2\",\"doc\":\"Hello\","
         "\"type\":\"int\"}], \"type\":\"record\", \"name\":\"foo\" }",
         "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\",\"type\":"
         "\"boolean\"},{\"name\":\"f2\",\"type\":\"int\"}]}", -4860222112080293046LL},
        {"{\"namespace\":\"x.y.z\", \"type\":\"enum\", \"name\":\"foo\", \"doc\":\"foo bar\", "
         "\"symbols\":[\"A1\", \"A2\"]}",
         "{\"name\":\"x.y.z.foo\",\"type\":\"enum\",\"symbols\":[\"A1\",\"A2\"]}",
         -4448647247586288245LL},
        {"{\"namespace\":\"x.y.z\", \"type\":\"fixed\", \"name\":\"foo\", \"doc\":\"foo bar\", "
         "\"size\":32}", "{\"name\":\"x.y.z.foo\",\"type\":\"fixed\",\"size\":32}",
         -3064184465700546786LL},
        {"{ \"items\":{\"type\":\"null\"}, \"type\":\"array\"}",
         "{\"type\":\"array\",\"items\":\"null\"}", -589620603366471059LL},
        {"{\"name\":\"PigValue\",\"type\":\"record\", \"fields\":[{\"name\":\"value\", "
         "\"type\":[\"null\", \"int\", \"long\", \"PigValue\"]}]}",
         "{\"name\":\"PigValue\",\"type\":\"record\",\"fields\":[{\"name\":\"value\",\"type\":"
         "[\"null\",\"int\",\"long\",\"PigValue\"]}]}", -1759257747318642341LL},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char *c = kavro_canonical_form(v[i].in, strlen(v[i].in), err, sizeof err);
        CHECK(c != NULL);
        if (!c)
            continue;
        if (strcmp(c, v[i].canon) != 0)
            fprintf(stderr, "vector %zu: canonical %s, want %s\n", i, c, v[i].canon);
        CHECK(strcmp(c, v[i].canon) == 0);
        CHECK_INT_EQ((long long)kavro_crc64(c, strlen(c)), v[i].fp);
        free(c);
    }
}

/* ---------------------------------------------------------------- */

static const char *SCHEMA =
    "{\"type\":\"record\",\"name\":\"T\",\"namespace\":\"t.ns\",\"fields\":["
    "{\"name\":\"ts\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}},"
    "{\"name\":\"ms\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}},"
    "{\"name\":\"s\",\"type\":\"string\"},"
    "{\"name\":\"i\",\"type\":\"int\"},"
    "{\"name\":\"l\",\"type\":\"long\"},"
    "{\"name\":\"d\",\"type\":\"double\"},"
    "{\"name\":\"f\",\"type\":\"float\"},"
    "{\"name\":\"b\",\"type\":\"boolean\"},"
    "{\"name\":\"raw\",\"type\":\"bytes\"},"
    "{\"name\":\"color\",\"type\":{\"type\":\"enum\",\"name\":\"Color\",\"symbols\":[\"RED\","
    "\"GREEN\"]}},"
    "{\"name\":\"color2\",\"type\":\"Color\"},"
    "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"F4\",\"size\":4}},"
    "{\"name\":\"opt\",\"type\":[\"null\",\"double\"],\"default\":null},"
    "{\"name\":\"opts\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"dflt\",\"type\":\"string\",\"default\":\"none\"}"
    "]}";

static void fill_full(sluice_record *r)
{
    api->field_add(B, r, "ts", SLUICE_TIMESTAMP)->v.ts = 1685027590543400LL;
    api->field_add(B, r, "ms", SLUICE_TIMESTAMP)->v.ts = 1685027590543000LL;
    add_str(r, "s", "héllo \"world\"");
    api->field_add(B, r, "i", SLUICE_INT)->v.i = -123456;
    api->field_add(B, r, "l", SLUICE_INT)->v.i = INT64_MIN;
    api->field_add(B, r, "d", SLUICE_DOUBLE)->v.d = 25.87;
    api->field_add(B, r, "f", SLUICE_DOUBLE)->v.d = 0.5;
    api->field_add(B, r, "b", SLUICE_BOOL)->v.b = 1;
    sluice_field *raw = api->field_add(B, r, "raw", SLUICE_BYTES);
    api->field_set_string(B, raw, "\x00\x01\xff", 3);
    add_str(r, "color", "GREEN");
    add_str(r, "color2", "RED");
    sluice_field *fx = api->field_add(B, r, "fx", SLUICE_BYTES);
    api->field_set_string(B, fx, "abcd", 4);
    api->field_add(B, r, "opt", SLUICE_DOUBLE)->v.d = -1.5;
    /* opts and dflt are missing: null and the schema default. */
}

static void check_full(const sluice_record *r)
{
    const sluice_field *f;
    CHECK_INT_EQ(r->n_fields, 15);
    CHECK((f = get(r, "ts")) && f->type == SLUICE_TIMESTAMP && f->v.ts == 1685027590543400LL);
    CHECK((f = get(r, "ms")) && f->type == SLUICE_TIMESTAMP && f->v.ts == 1685027590543000LL);
    CHECK((f = get(r, "s")) && f->type == SLUICE_STRING && strcmp(f->v.s.ptr, "héllo \"world\"") == 0);
    CHECK((f = get(r, "i")) && f->type == SLUICE_INT && f->v.i == -123456);
    CHECK((f = get(r, "l")) && f->type == SLUICE_INT && f->v.i == INT64_MIN);
    CHECK((f = get(r, "d")) && f->type == SLUICE_DOUBLE && f->v.d == 25.87);
    CHECK((f = get(r, "f")) && f->type == SLUICE_DOUBLE && f->v.d == 0.5);
    CHECK((f = get(r, "b")) && f->type == SLUICE_BOOL && f->v.b == 1);
    CHECK((f = get(r, "raw")) && f->type == SLUICE_BYTES && f->v.s.len == 3 &&
          memcmp(f->v.s.ptr, "\x00\x01\xff", 3) == 0);
    CHECK((f = get(r, "color")) && f->type == SLUICE_STRING && strcmp(f->v.s.ptr, "GREEN") == 0);
    CHECK((f = get(r, "color2")) && f->type == SLUICE_STRING && strcmp(f->v.s.ptr, "RED") == 0);
    CHECK((f = get(r, "fx")) && f->type == SLUICE_BYTES && f->v.s.len == 4);
    CHECK((f = get(r, "opt")) && f->type == SLUICE_DOUBLE && f->v.d == -1.5);
    CHECK((f = get(r, "opts")) && f->type == SLUICE_NULL);
    CHECK((f = get(r, "dflt")) && f->type == SLUICE_STRING && strcmp(f->v.s.ptr, "none") == 0);
}

static void test_avro_roundtrip(void)
{
    kavro *a = kavro_parse(SCHEMA, strlen(SCHEMA), "test.avsc", err, sizeof err);
    CHECK(a != NULL);
    if (!a) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    sluice_record *r = fresh();
    fill_full(r);
    sluice_buf out = {0};
    CHECK_INT_EQ(kavro_encode(a, r, &out, err, sizeof err), 0);
    CHECK(out.len > 10 && (unsigned char)out.p[0] == 0xC3 && out.p[1] == 0x01);
    uint64_t fp = 0;
    for (int i = 0; i < 8; i++)
        fp |= (uint64_t)(unsigned char)out.p[2 + i] << (8 * i);
    CHECK(fp == kavro_fingerprint(a));

    sluice_record *back = api->record_new(B);
    CHECK_INT_EQ(kavro_decode(a, api, B, back, out.p, out.len, err, sizeof err), 0);
    check_full(back);

    /* avro-c reads our body as the same values. */
    avro_schema_t as;
    CHECK_INT_EQ(avro_schema_from_json_length(SCHEMA, strlen(SCHEMA), &as), 0);
    avro_value_iface_t *iface = avro_generic_class_from_schema(as);
    avro_value_t v;
    avro_generic_value_new(iface, &v);
    avro_reader_t rd = avro_reader_memory(out.p + 10, (int64_t)(out.len - 10));
    CHECK_INT_EQ(avro_value_read(rd, &v), 0);
    avro_value_t fv, br;
    const char *str;
    size_t sz;
    int64_t l;
    double d;
    float fl;
    int32_t i32;
    avro_value_get_by_name(&v, "ts", &fv, NULL);
    avro_value_get_long(&fv, &l);
    CHECK(l == 1685027590543400LL);
    avro_value_get_by_name(&v, "ms", &fv, NULL);
    avro_value_get_long(&fv, &l);
    CHECK(l == 1685027590543LL);
    avro_value_get_by_name(&v, "s", &fv, NULL);
    avro_value_get_string(&fv, &str, &sz);
    CHECK(strcmp(str, "héllo \"world\"") == 0);
    avro_value_get_by_name(&v, "i", &fv, NULL);
    avro_value_get_int(&fv, &i32);
    CHECK(i32 == -123456);
    avro_value_get_by_name(&v, "f", &fv, NULL);
    avro_value_get_float(&fv, &fl);
    CHECK(fl == 0.5f);
    avro_value_get_by_name(&v, "opt", &fv, NULL);
    int disc = -1;
    avro_value_get_discriminant(&fv, &disc);
    CHECK_INT_EQ(disc, 1);
    avro_value_get_current_branch(&fv, &br);
    avro_value_get_double(&br, &d);
    CHECK(d == -1.5);
    avro_value_get_by_name(&v, "dflt", &fv, NULL);
    avro_value_get_string(&fv, &str, &sz);
    CHECK(strcmp(str, "none") == 0);
    avro_reader_free(rd);

    /* And we read what avro-c writes: change some values, write, decode. */
    avro_value_get_by_name(&v, "s", &fv, NULL);
    avro_value_set_string(&fv, "from avro-c");
    avro_value_get_by_name(&v, "opts", &fv, NULL);
    avro_value_set_branch(&fv, 1, &br);
    avro_value_set_string(&br, "branch");
    avro_value_get_by_name(&v, "color", &fv, NULL);
    avro_value_set_enum(&fv, 0);
    char body[4096];
    memcpy(body, out.p, 10);
    avro_writer_t wr = avro_writer_memory(body + 10, sizeof body - 10);
    CHECK_INT_EQ(avro_value_write(wr, &v), 0);
    size_t blen = 10 + (size_t)avro_writer_tell(wr);
    avro_writer_free(wr);
    sluice_record *c = api->record_new(B);
    CHECK_INT_EQ(kavro_decode(a, api, B, c, body, blen, err, sizeof err), 0);
    const sluice_field *f;
    CHECK((f = get(c, "s")) && strcmp(f->v.s.ptr, "from avro-c") == 0);
    CHECK((f = get(c, "opts")) && f->type == SLUICE_STRING && strcmp(f->v.s.ptr, "branch") == 0);
    CHECK((f = get(c, "color")) && strcmp(f->v.s.ptr, "RED") == 0);
    CHECK((f = get(c, "l")) && f->v.i == INT64_MIN);
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_schema_decref(as);

    /* Encoding failures name the field. */
    sluice_record *bad = fresh();
    fill_full(bad);
    add_str(bad, "color", "BLUE");
    sluice_buf_reset(&out);
    CHECK_INT_EQ(kavro_encode(a, bad, &out, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "\"color\"");
    CHECK_STR_CONTAINS(err, "BLUE");
    bad = fresh();
    fill_full(bad);
    api->field_remove(bad, "s");
    CHECK_INT_EQ(kavro_encode(a, bad, &out, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "field \"s\" is missing");
    bad = fresh();
    fill_full(bad);
    api->field_add(B, bad, "i", SLUICE_INT)->v.i = 1LL << 40;
    CHECK_INT_EQ(kavro_encode(a, bad, &out, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "\"i\"");
    bad = fresh();
    fill_full(bad);
    api->field_add(B, bad, "d", SLUICE_STRING);
    CHECK_INT_EQ(kavro_encode(a, bad, &out, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "a STRING value does not fit Avro type double");
    sluice_buf_free(&out);
    kavro_free(a);
}

static void test_avro_corrupt(void)
{
    kavro *a = kavro_parse(SCHEMA, strlen(SCHEMA), "test.avsc", err, sizeof err);
    sluice_record *r = fresh();
    fill_full(r);
    sluice_buf good = {0};
    kavro_encode(a, r, &good, err, sizeof err);
    unsigned char m[4096];
    sluice_record *x;

    x = api->record_new(B);
    CHECK_INT_EQ(kavro_decode(a, api, B, x, "{\"a\":1}", 7, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "not the single-object marker C3 01");

    x = api->record_new(B);
    CHECK_INT_EQ(kavro_decode(a, api, B, x, "\xC3\x01\x00", 3, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "shorter than the 10-byte");

    memcpy(m, good.p, good.len);
    m[5] ^= 0xFF;
    x = api->record_new(B);
    CHECK_INT_EQ(kavro_decode(a, api, B, x, m, good.len, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "schema fingerprint");
    CHECK_STR_CONTAINS(err, "t.ns.T");

    /* Truncated at every length: always a reason, never a crash. */
    for (size_t n = 10; n < good.len; n++) {
        x = api->record_new(B);
        if (!x) {
            sl_batch_reset(B);
            x = api->record_new(B);
        }
        err[0] = '\0';
        CHECK_INT_EQ(kavro_decode(a, api, B, x, good.p, n, err, sizeof err), -1);
        CHECK(err[0] != '\0');
    }
    /* Trailing garbage. */
    memcpy(m, good.p, good.len);
    m[good.len] = 0;
    x = api->record_new(B);
    CHECK_INT_EQ(kavro_decode(a, api, B, x, m, good.len + 1, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "left over");

    /* A string claiming 2^62 bytes. */
    const char *S1 = "{\"type\":\"record\",\"name\":\"S\",\"fields\":[{\"name\":\"s\",\"type\":"
                     "\"string\"},{\"name\":\"u\",\"type\":[\"null\",\"long\"]}]}";
    kavro *s1 = kavro_parse(S1, strlen(S1), "s1.avsc", err, sizeof err);
    m[0] = 0xC3;
    m[1] = 0x01;
    for (int i = 0; i < 8; i++)
        m[2 + i] = (unsigned char)(kavro_fingerprint(s1) >> (8 * i));
    const unsigned char huge[] = {0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F};
    memcpy(m + 10, huge, sizeof huge);
    x = api->record_new(B);
    CHECK_INT_EQ(kavro_decode(s1, api, B, x, m, 10 + sizeof huge, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "only 0 bytes follow");
    /* Negative length. */
    m[10] = 0x01;
    x = api->record_new(B);
    CHECK_INT_EQ(kavro_decode(s1, api, B, x, m, 11, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "negative string length");
    /* A varint of 11 bytes. */
    memset(m + 10, 0xFF, 11);
    x = api->record_new(B);
    CHECK_INT_EQ(kavro_decode(s1, api, B, x, m, 21, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "longer than 64 bits");
    /* Union branch out of range. */
    m[10] = 0x02; /* "" is 0x00; here length 1 */
    m[11] = 'a';
    m[12] = 0x08; /* branch 4 */
    x = api->record_new(B);
    CHECK_INT_EQ(kavro_decode(s1, api, B, x, m, 13, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "union branch 4 out of range");
    /* Invalid UTF-8 in a string. */
    m[10] = 0x02;
    m[11] = (char)0xC0;
    m[12] = 0x00;
    x = api->record_new(B);
    CHECK_INT_EQ(kavro_decode(s1, api, B, x, m, 13, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "not valid UTF-8");

    /* Random bytes after a good header never crash. */
    srand(7);
    for (int it = 0; it < 20000; it++) {
        size_t n = 10 + (size_t)(rand() % 40);
        memcpy(m, good.p, 10);
        for (size_t i = 10; i < n; i++)
            m[i] = (unsigned char)rand();
        if (it % 50 == 0)
            sl_batch_reset(B);
        x = api->record_new(B);
        if (!x) {
            sl_batch_reset(B);
            x = api->record_new(B);
        }
        (void)kavro_decode(a, api, B, x, m, n, err, sizeof err);
    }
    kavro_free(s1);
    sluice_buf_free(&good);
    kavro_free(a);
}

static void test_avro_schema_errors(void)
{
    CHECK(kavro_parse("{\"type\":", 8, "bad.avsc", err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, "bad.avsc: not a valid Avro schema");
    CHECK(kavro_parse("\"int\"", 5, "int.avsc", err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, "must be a record");
    const char *nested = "{\"type\":\"record\",\"name\":\"N\",\"fields\":[{\"name\":\"a\",\"type\":"
                         "{\"type\":\"array\",\"items\":\"int\"}}]}";
    CHECK(kavro_parse(nested, strlen(nested), "n.avsc", err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, "field \"a\"");
    CHECK_STR_CONTAINS(err, "not supported");
    CHECK(kavro_load("/nonexistent/x.avsc", err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, "/nonexistent/x.avsc");
    /* The shipped schema loads. */
    char path[4096];
    snprintf(path, sizeof path, "%s/connectors/kafka/schemas/measurement.avsc",
             getenv("SLUICE_SOURCE_DIR") ? getenv("SLUICE_SOURCE_DIR") : ".");
    kavro *m = kavro_load(path, err, sizeof err);
    CHECK(m != NULL);
    if (!m)
        fprintf(stderr, "%s\n", err);
    kavro_free(m);
    /* A bare name is found in the build tree's share/sluice/schemas. */
    char found[4096];
    kpath_resolve("measurement.avsc", found, sizeof found);
    CHECK_STR_CONTAINS(found, "share/sluice/schemas/measurement.avsc");
    m = kavro_load(found, err, sizeof err);
    CHECK(m != NULL);
    kavro_free(m);
    kpath_resolve("no-such.avsc", found, sizeof found);
    CHECK(strcmp(found, "no-such.avsc") == 0);
}

/* ---------------------------------------------------------------- */

static void test_envelope(void)
{
    kconv c;
    CHECK_INT_EQ(kconv_init(&c, api, "json", NULL, err, sizeof err), 0);
    sluice_buf buf = {0};
    const void *out;
    size_t len;

    /* An MQTT message: no fields, payload JSON. */
    sluice_record *r = fresh();
    const char *payload = "{ \"timestamp\": \"2023-05-25 15:13:10.543400\", \"data\": \"0A 1B\" }";
    api->set_value(B, r, payload, strlen(payload));
    api->set_key(B, r, "f2-aabbccddeeff", 15);
    r->origin.topic = "cmnd/f2-AABBCCDDEEFF/sensor-mode/J1/sensor-3";
    r->timestamp = 1685027590543400LL;
    CHECK_INT_EQ(kconv_encode(&c, B, r, &buf, &out, &len, err, sizeof err), 0);
    json_t *j = json_loadb(out, len, 0, NULL);
    CHECK(j != NULL);
    CHECK(strcmp(json_string_value(json_object_get(j, "topic")),
                 "cmnd/f2-AABBCCDDEEFF/sensor-mode/J1/sensor-3") == 0);
    CHECK(strcmp(json_string_value(json_object_get(j, "device_id")), "f2-aabbccddeeff") == 0);
    CHECK(json_is_object(json_object_get(j, "payload")));
    CHECK(strcmp(json_string_value(json_object_get(j, "received_at")),
                 "2023-05-25T15:13:10.543400Z") == 0);
    json_decref(j);

    /* Read back by the json converter: payload is the compact JSON text. */
    sluice_record *back = api->record_new(B);
    api->set_value(B, back, out, len);
    CHECK_INT_EQ(kconv_decode(&c, B, back, err, sizeof err), 0);
    const sluice_field *f;
    CHECK((f = get(back, "topic")) && f->type == SLUICE_STRING &&
          strcmp(f->v.s.ptr, "cmnd/f2-AABBCCDDEEFF/sensor-mode/J1/sensor-3") == 0);
    CHECK((f = get(back, "payload")) && f->type == SLUICE_STRING &&
          strcmp(f->v.s.ptr, "{\"timestamp\":\"2023-05-25 15:13:10.543400\",\"data\":\"0A 1B\"}") == 0);
    CHECK((f = get(back, "device_id")) && f->type == SLUICE_STRING);

    /* Not JSON, a JSON scalar, not UTF-8: strings, never embedded. */
    const struct {
        const char *v;
        size_t n;
        const char *want;
    } cases[] = {
        {"hello {", 7, "\"payload\":\"hello {\""},
        {"42", 2, "\"payload\":\"42\""},
        {"\"quoted\"", 8, "\"payload\":\"\\\"quoted\\\"\""},
        {"{\"a\":1} x", 9, "\"payload\":\"{\\\"a\\\":1} x\""},
        {"{\"n\":123456789012345678901234567890}", 36, "\"payload\":\"{"},
        {"\xff\xfe", 2, "\"payload\":\"//4=\",\"payload_encoding\":\"base64\""},
        {"[1,2,{\"x\":null}]", 16, "\"payload\":[1,2,{\"x\":null}]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        r = fresh();
        api->set_value(B, r, cases[i].v, cases[i].n);
        r->origin.topic = "t";
        sluice_buf_reset(&buf);
        CHECK_INT_EQ(kconv_encode(&c, B, r, &buf, &out, &len, err, sizeof err), 0);
        char *s = strndup(out, len);
        CHECK_STR_CONTAINS(s, cases[i].want);
        CHECK_STR_CONTAINS(s, "\"device_id\":null");
        json_t *jj = json_loadb(out, len, 0, NULL);
        CHECK(jj != NULL); /* always valid JSON for the reader */
        json_decref(jj);
        free(s);
    }
    /* Records with fields go through the host's to_json. */
    r = fresh();
    add_str(r, "a", "b");
    sluice_buf_reset(&buf);
    CHECK_INT_EQ(kconv_encode(&c, B, r, &buf, &out, &len, err, sizeof err), 0);
    CHECK(len == 9 && memcmp(out, "{\"a\":\"b\"}", 9) == 0);

    /* Invalid JSON read back: a reason, no fields. */
    r = fresh();
    api->set_value(B, r, "{oops", 5);
    CHECK_INT_EQ(kconv_decode(&c, B, r, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "invalid JSON");
    r = fresh();
    CHECK_INT_EQ(kconv_decode(&c, B, r, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "tombstone");

    sluice_buf_free(&buf);
    kconv_free(&c);

    CHECK_INT_EQ(kconv_init(&c, api, "avro", NULL, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "needs avro_schema");
    CHECK_INT_EQ(kconv_init(&c, api, "xml", NULL, err, sizeof err), -1);
}

static void test_topic_template(void)
{
    sluice_tmpl t;
    sluice_buf out = {0};
    CHECK_INT_EQ(ktopic_parse(&t, "plain", err, sizeof err), 0);
    CHECK(t.constant && strcmp(t.constant, "plain") == 0);
    sluice_tmpl_free(&t);
    CHECK_INT_EQ(ktopic_parse(&t, "a.{field:kind}-{topic}", err, sizeof err), 0);
    CHECK(t.constant == NULL);
    sluice_record *r = fresh();
    add_str(r, "kind", "temp");
    r->origin.topic = "src";
    CHECK_INT_EQ(ktopic_render(&t, r, &out, err, sizeof err), 0);
    CHECK(strcmp(out.p, "a.temp-src") == 0);
    add_str(r, "kind", "with/slash");
    CHECK_INT_EQ(ktopic_render(&t, r, &out, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "not a valid Kafka topic name");
    api->field_remove(r, "kind");
    CHECK_INT_EQ(ktopic_render(&t, r, &out, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "no field \"kind\"");
    sluice_tmpl_free(&t);
    CHECK_INT_EQ(ktopic_parse(&t, "x{nope}", err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "unknown placeholder {nope}");
    CHECK_INT_EQ(ktopic_parse(&t, "x{field:a", err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "unterminated {");
    sluice_buf_free(&out);
}

int main(void)
{
    api = sl_api();
    B = sl_batch_new(1000, 8 << 20);
    test_canonical_vectors();
    test_avro_roundtrip();
    test_avro_corrupt();
    test_avro_schema_errors();
    test_envelope();
    test_topic_template();
    sl_batch_free(B);
    return CHECK_DONE();
}
