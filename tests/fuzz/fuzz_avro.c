/* The kafka plugin's Avro decoder (kavro_codec.c): a message from the
 * broker, which anyone who can produce to the topic controls.
 *
 * Input: one selector byte, then the message.
 *   selector & 0x80: the message is used as it is (the single-object header
 *                    C3 01 + fingerprint included, so wrong headers are
 *                    fuzzed too);
 *   otherwise:       the harness puts the right header in front, so the
 *                    mutations go into the body;
 *   selector & 0x7F, modulo the number of schemas, picks the schema.
 *   selector 0xFF:   the rest is schema text instead (kavro_parse and the
 *                    Parsing Canonical Form), which comes from the operator's
 *                    .avsc file: less hostile, but cheap to cover.
 *
 * Beyond "no crash, no leak": a message that decodes encodes back, and what
 * that writes decodes to as many fields. */
#include "fuzz.h"

#include "batch.h"
#include "ctx.h"
#include "kavro.h"

#include <string.h>

static const char *const schemas[] = {
    /* Every kind the codec knows, as in tests/kafka/test_kafka_unit.c. */
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
    "]}",
    /* The measurement schema the plugin ships (connectors/kafka/schemas). */
    "{\"type\":\"record\",\"name\":\"Measurement\",\"namespace\":\"io.sluice.f2\",\"fields\":["
    "{\"name\":\"timestamp\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}},"
    "{\"name\":\"device_id\",\"type\":\"string\"},"
    "{\"name\":\"connector_mode\",\"type\":\"string\"},"
    "{\"name\":\"component_type\",\"type\":\"string\"},"
    "{\"name\":\"pin_position\",\"type\":\"string\",\"default\":\"\"},"
    "{\"name\":\"datapoint\",\"type\":\"string\"},"
    "{\"name\":\"value\",\"type\":[\"null\",\"double\"],\"default\":null},"
    "{\"name\":\"value_text\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"unit\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"topic\",\"type\":[\"null\",\"string\"],\"default\":null}"
    "]}",
    /* Wide unions, and an empty record. */
    "{\"type\":\"record\",\"name\":\"U\",\"fields\":["
    "{\"name\":\"u\",\"type\":[\"null\",\"boolean\",\"int\",\"long\",\"float\",\"double\","
    "\"bytes\",\"string\",{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\",\"C\"]},"
    "{\"type\":\"fixed\",\"name\":\"F1\",\"size\":1}]},"
    "{\"name\":\"m\",\"type\":[{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"},"
    "\"null\"]}"
    "]}",
    "{\"type\":\"record\",\"name\":\"Empty\",\"fields\":[]}",
};
#define N_SCHEMAS (sizeof schemas / sizeof *schemas)

/* avro-c 1.11 (Debian 12) leaks on some of its schema parser's error paths,
 * e.g. a named type defined twice (corpus/avro/leak_avro_c_redefined):
 * third-party code, reached only from the operator's .avsc file, once at
 * start.  The decoder, which sees the broker's bytes, never calls avro-c. */
__attribute__((visibility("default"), used)) const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libavro.so\n"; }

static kavro *compiled[N_SCHEMAS];
static sluice_batch *B;
static sluice_buf msg, again;

static void teardown(void)
{
    for (size_t i = 0; i < N_SCHEMAS; i++)
        kavro_free(compiled[i]);
    sl_batch_free(B);
    sluice_buf_free(&msg);
    sluice_buf_free(&again);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char err[SLUICE_ERRLEN];
    for (size_t i = 0; i < N_SCHEMAS; i++) {
        compiled[i] = kavro_parse(schemas[i], strlen(schemas[i]), "fuzz.avsc", err, sizeof err);
        if (!compiled[i]) {
            fprintf(stderr, "fuzz_avro: schema %zu: %s\n", i, err);
            abort();
        }
    }
    B = sl_batch_new(4, 4 << 20);
    if (!B)
        abort();
    atexit(teardown);
    return 0;
}

static void fuzz_schema(const char *text, size_t len)
{
    char err[SLUICE_ERRLEN];
    kavro *a = kavro_parse(text, len, "fuzz.avsc", err, sizeof err);
    if (a) {
        const char *c = kavro_canonical(a);
        FUZZ_CHECK(c != NULL);
        /* The canonical form is its own canonical form. */
        char *cc = kavro_canonical_form(c, strlen(c), err, sizeof err);
        FUZZ_CHECK(cc != NULL && strcmp(cc, c) == 0);
        FUZZ_CHECK(kavro_crc64(c, strlen(c)) == kavro_fingerprint(a));
        free(cc);
        kavro_free(a);
    } else {
        FUZZ_CHECK(err[0] != '\0');
    }
    free(kavro_canonical_form(text, len, err, sizeof err));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t sel = data[0];
    data++, size--;
    if (sel == 0xFF) {
        fuzz_schema((const char *)data, size);
        return 0;
    }
    const kavro *a = compiled[(sel & 0x7F) % N_SCHEMAS];
    sluice_buf_reset(&msg);
    if (!(sel & 0x80)) {
        uint64_t fp = kavro_fingerprint(a);
        unsigned char head[10] = {0xC3, 0x01};
        for (int i = 0; i < 8; i++)
            head[2 + i] = (unsigned char)(fp >> (8 * i));
        sluice_buf_put(&msg, head, sizeof head);
    }
    sluice_buf_put(&msg, data, size);
    FUZZ_CHECK(!msg.oom);

    const sluice_api *api = sl_api();
    char err[SLUICE_ERRLEN];
    sl_batch_reset(B);
    sluice_record *r = api->record_new(B);
    FUZZ_CHECK(r != NULL);
    err[0] = '\0';
    /* An exact-size copy, so that ASan sees any read past the end. */
    uint8_t *m = malloc(msg.len ? msg.len : 1);
    FUZZ_CHECK(m != NULL);
    if (msg.len)
        memcpy(m, msg.p, msg.len);
    int rc = kavro_decode(a, api, B, r, m, msg.len, err, sizeof err);
    free(m);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc != 0) {
        FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof err));
        return 0;
    }
    sluice_buf_reset(&again);
    if (kavro_encode(a, r, &again, err, sizeof err) != 0) {
        fprintf(stderr, "a decoded message does not encode back: %s\n", err);
        FUZZ_CHECK(!"encode(decode(m)) failed");
    }
    sluice_record *back = api->record_new(B);
    FUZZ_CHECK(back != NULL);
    if (kavro_decode(a, api, B, back, again.p, again.len, err, sizeof err) != 0) {
        fprintf(stderr, "what encode wrote does not decode: %s\n", err);
        FUZZ_CHECK(!"decode(encode(decode(m))) failed");
    }
    FUZZ_CHECK(back->n_fields == r->n_fields);
    return 0;
}
