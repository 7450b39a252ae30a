/* The host's JSON parser (json_parse.c, behind sluice_api.from_json): any
 * bytes into a record's fields, in the batch arena.
 *
 * Beyond "no crash, no leak", the parser's promises are checked with
 * jansson as the oracle, as tests/plugins/test_json_conv.c does for
 * generated documents:
 *   - it accepts exactly the objects jansson accepts, with the same members
 *     (names, types, values; nested values as jansson's compact text);
 *   - a failed parse leaves a record's existing fields untouched;
 *   - what to_json writes, from_json reads back.
 * And the validator that decides whether the envelope embeds a payload as
 * JSON (sl_json_container) is at least as strict as jansson on UTF-8 text;
 * and the envelope of a record without fields (to_json; the kafka sink's
 * json converter writes it too) with these bytes as its payload reads back
 * through the kafka source's json converter (from_json), with the payload
 * intact: what the sink writes, the source can read. */
#include "fuzz.h"

#include "batch.h"
#include "ctx.h"
#include "json_conv.h"

#include <sluice/sluice_text.h>

#include <jansson.h>
#include <string.h>

static sluice_batch *B;

static void teardown(void)
{
    sl_batch_free(B);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    /* Room for the largest input libFuzzer is given here several times
     * over (three parses and a to_json); see README.md for -max_len. */
    B = sl_batch_new(4, 16 << 20);
    if (!B)
        abort();
    atexit(teardown);
    return 0;
}

/* Same members as jansson's object, in the same order. */
static void same_as_jansson(const sluice_record *r, json_t *o)
{
    FUZZ_CHECK(r->n_fields == json_object_size(o));
    const char *k;
    json_t *v;
    size_t i = 0;
    json_object_foreach(o, k, v)
    {
        const sluice_field *f = &r->fields[i++];
        FUZZ_CHECK(strcmp(f->name, k) == 0);
        switch (json_typeof(v)) {
        case JSON_NULL: FUZZ_CHECK(f->type == SLUICE_NULL); break;
        case JSON_TRUE: FUZZ_CHECK(f->type == SLUICE_BOOL && f->v.b); break;
        case JSON_FALSE: FUZZ_CHECK(f->type == SLUICE_BOOL && !f->v.b); break;
        case JSON_INTEGER:
            FUZZ_CHECK(f->type == SLUICE_INT && f->v.i == json_integer_value(v));
            break;
        case JSON_REAL: {
            double d = json_real_value(v);
            FUZZ_CHECK(f->type == SLUICE_DOUBLE && memcmp(&f->v.d, &d, sizeof d) == 0);
            break;
        }
        case JSON_STRING:
            FUZZ_CHECK(f->type == SLUICE_STRING && f->v.s.len == json_string_length(v) &&
                       memcmp(f->v.s.ptr, json_string_value(v), f->v.s.len) == 0);
            break;
        default: {
            FUZZ_CHECK(f->type == SLUICE_STRING);
            /* Nested values are our own compact text (sluice_text.h's
             * escaper and shortest doubles), not jansson's: it must read
             * back, with jansson, as the value jansson parsed.  A nested
             * object's duplicate keys stay as written; jansson keeps the
             * last one either way. */
            json_error_t je;
            json_t *back = json_loadb(f->v.s.ptr, f->v.s.len, JSON_ALLOW_NUL, &je);
            int same = back && json_equal(back, v);
            json_decref(back);
            FUZZ_CHECK(same);
        }
        }
    }
}

static void envelope_reads_back(const uint8_t *data, size_t size)
{
    const sluice_api *api = sl_api();
    char err[SLUICE_ERRLEN];
    sl_batch_reset(B);
    sluice_record *m = api->record_new(B);
    FUZZ_CHECK(m != NULL);
    m->origin.topic = "tele/f2-a1b2c3d4e5f6/sensor-mode/J3/sensor-12";
    m->timestamp = 1685027590543400LL;
    FUZZ_CHECK(api->set_key(B, m, "f2-a1b2c3d4e5f6", 15) == 0);
    FUZZ_CHECK(api->set_value(B, m, data, size) == 0);
    size_t len;
    const char *env = sl_to_json(B, m, &len, err, sizeof err);
    FUZZ_CHECK(env != NULL);

    sluice_record *back = api->record_new(B);
    FUZZ_CHECK(back != NULL);
    if (sl_from_json(B, back, env, len, err, sizeof err) != 0) {
        fprintf(stderr, "the envelope does not read back: %s\n%.*s\n", err, (int)len, env);
        FUZZ_CHECK(!"envelope unreadable");
    }
    const sluice_field *t = sluice_field_get(back, "topic");
    FUZZ_CHECK(t && t->type == SLUICE_STRING && strcmp(t->v.s.ptr, m->origin.topic) == 0);
    const sluice_field *p = sluice_field_get(back, "payload");
    FUZZ_CHECK(p && p->type == SLUICE_STRING);
    const sluice_field *enc = sluice_field_get(back, "payload_encoding");
    if (sluice_utf8_valid_prefix(data, size) != size) {
        FUZZ_CHECK(enc && enc->type == SLUICE_STRING && strcmp(enc->v.s.ptr, "base64") == 0);
    } else {
        FUZZ_CHECK(!enc);
        /* Text that is not a JSON object or array travels as it is; one
         * that is reads back as the same JSON. */
        if (!sl_json_container((const char *)data, size)) {
            FUZZ_CHECK(p->v.s.len == size && memcmp(p->v.s.ptr, data, size) == 0);
        } else {
            json_error_t je;
            json_t *a = json_loadb((const char *)data, size, JSON_ALLOW_NUL, &je),
                   *b = json_loadb(p->v.s.ptr, p->v.s.len, JSON_ALLOW_NUL, &je);
            FUZZ_CHECK(a && b && json_equal(a, b));
            json_decref(a);
            json_decref(b);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *doc = (const char *)data;
    const sluice_api *api = sl_api();
    char err[SLUICE_ERRLEN];
    sl_batch_reset(B);
    sluice_record *r = api->record_new(B);
    FUZZ_CHECK(r != NULL);
    err[0] = '\0';
    int rc = sl_from_json(B, r, doc, size, err, sizeof err);
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK(rc == 0 || (err[0] && memchr(err, '\0', sizeof err)));

    json_error_t je;
    if (memchr(data, '\0', size)) {
        /* A raw NUL byte is invalid anywhere in JSON text.  jansson is no
         * oracle here: it takes a NUL right after a number for nothing
         * ("[1\0]" loads), or after a top-level scalar for the end. */
        if (rc == 0)
            fprintf(stderr, "from_json accepts a raw NUL byte\n");
        FUZZ_CHECK(rc == -1);
    } else {
        json_t *o = json_loadb(doc, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        if (json_is_object(o)) {
            if (rc != 0)
                fprintf(stderr, "jansson accepts the object, from_json says: %s\n", err);
            FUZZ_CHECK(rc == 0);
            same_as_jansson(r, o);
        } else {
            if (rc == 0)
                fprintf(stderr, "from_json accepts what jansson refuses: %s\n",
                        o ? "not an object" : je.text);
            FUZZ_CHECK(rc == -1);
            FUZZ_CHECK(o ? strstr(err, "not an object") != NULL
                         : strncmp(err, "invalid JSON at line ", 21) == 0);
        }
        json_decref(o);
    }

    /* Again into the same record: a failed parse leaves its fields as they
     * are, and a good one sets the same names again (field_add replaces a
     * field of the same name), so the count stays either way. */
    uint32_t n0 = r->n_fields;
    FUZZ_CHECK(sl_from_json(B, r, doc, size, err, sizeof err) == rc);
    FUZZ_CHECK(r->n_fields == n0);

    /* What to_json writes reads back with as many fields (a record without
     * fields is written as the envelope of its value instead). */
    if (rc == 0 && n0 > 0) {
        sluice_record *one = api->record_new(B);
        FUZZ_CHECK(one && sl_from_json(B, one, doc, size, err, sizeof err) == 0);
        size_t len;
        const char *text = sl_to_json(B, one, &len, err, sizeof err);
        if (text) {
            sluice_record *back = api->record_new(B);
            FUZZ_CHECK(back != NULL);
            if (sl_from_json(B, back, text, len, err, sizeof err) != 0)
                fprintf(stderr, "to_json wrote what from_json refuses: %s\n%.*s\n", err,
                        (int)len, text);
            FUZZ_CHECK(back->n_fields == one->n_fields);
        }
    }

    envelope_reads_back(data, size);

    /* The envelope's validator: never more lenient than jansson on UTF-8
     * text, and only for an object or an array. */
    if (sluice_utf8_valid_prefix(data, size) == size && sl_json_container(doc, size)) {
        json_t *any = json_loadb(doc, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        if (!any)
            fprintf(stderr, "sl_json_container accepts what jansson refuses: %s\n", je.text);
        FUZZ_CHECK(json_is_object(any) || json_is_array(any));
        json_decref(any);
    }
    return 0;
}
