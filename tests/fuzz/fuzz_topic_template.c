/* The topic-template engine (sluice_tmpl in <sluice/sluice_text.h>: {key},
 * {topic}, {field:NAME}, {{ }}) as the MQTT sink (then mqtt_topic.c's
 * publish check) and the Kafka sink (ktopic.c's name check) use it, both
 * fed the same template and record.
 *
 * Input: NUL-separated parts
 *     template \0 origin topic \0 key \0 value of field "s" \0 value of "v"
 * Missing parts are absent from the record (no origin topic, no key, no
 * field).  The record also carries fields of every other type: n (int),
 * d (double), t (timestamp), b (bool), z (null).  The template is
 * operator-written configuration; the record's values come from devices,
 * so a template like "out/{field:s}" renders hostile text.
 *
 * Checks beyond "no crash, no leak": a rendered topic is NUL-terminated at
 * its length; the Kafka sink's rendering is the MQTT sink's text (one
 * engine) and passed the name check; topic segments stay inside the
 * topic. */
#include "fuzz.h"

#include "batch.h"
#include "ctx.h"
#include "ktopic.h"
#include "mqtt_topic.h"

#include <string.h>

static sluice_batch *B;
static sluice_buf mbuf;
static sluice_buf kbuf;

static void teardown(void)
{
    sl_batch_free(B);
    sluice_buf_free(&mbuf);
    sluice_buf_free(&kbuf);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    B = sl_batch_new(2, 1 << 20);
    if (!B)
        abort();
    atexit(teardown);
    return 0;
}

/* The next NUL-terminated part of data[*at, size), or NULL when there is
 * none (*at past the end: the previous part had no NUL after it). */
static const char *part(const uint8_t *data, size_t size, size_t *at, size_t *len)
{
    if (*at > size)
        return NULL;
    const uint8_t *nul = memchr(data + *at, '\0', size - *at);
    size_t stop = nul ? (size_t)(nul - data) : size;
    const char *s = (const char *)data + *at;
    *len = stop - *at;
    *at = stop + 1;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const sluice_api *api = sl_api();
    size_t at = 0, tl = 0, ol = 0, kl = 0, sl = 0, vl = 0;
    const char *tmpl_raw = part(data, size, &at, &tl);
    const char *origin = part(data, size, &at, &ol);
    const char *key = part(data, size, &at, &kl);
    const char *s = part(data, size, &at, &sl);
    const char *v = part(data, size, &at, &vl);

    sl_batch_reset(B);
    sluice_record *r = api->record_new(B);
    FUZZ_CHECK(r != NULL);
    const char *tmpl = api->strndup(B, tmpl_raw ? tmpl_raw : "", tmpl_raw ? tl : 0);
    FUZZ_CHECK(tmpl != NULL);
    if (origin)
        r->origin.topic = api->strndup(B, origin, ol);
    if (key)
        FUZZ_CHECK(api->set_key(B, r, key, kl) == 0);
    if (s) {
        sluice_field *f = api->field_add(B, r, "s", SLUICE_STRING);
        FUZZ_CHECK(f && api->field_set_string(B, f, s, sl) == 0);
    }
    if (v) {
        sluice_field *f = api->field_add(B, r, "v", SLUICE_BYTES);
        FUZZ_CHECK(f && api->field_set_string(B, f, v, vl) == 0);
    }
    api->field_add(B, r, "n", SLUICE_INT)->v.i = -42;
    api->field_add(B, r, "d", SLUICE_DOUBLE)->v.d = 0.1;
    api->field_add(B, r, "t", SLUICE_TIMESTAMP)->v.ts = 1685027590543400LL;
    api->field_add(B, r, "b", SLUICE_BOOL)->v.b = 1;
    api->field_add(B, r, "z", SLUICE_NULL);

    char err[SLUICE_ERRLEN];

    /* MQTT */
    sluice_tmpl mt;
    int mrc = -1;
    err[0] = '\0';
    if (sluice_tmpl_parse(&mt, tmpl, err, sizeof err) == 0) {
        err[0] = '\0';
        mrc = sluice_tmpl_render(&mt, r, &mbuf, err, sizeof err);
        if (mrc == 0) {
            FUZZ_CHECK(mbuf.p && mbuf.len < mbuf.cap && mbuf.p[mbuf.len] == '\0');
            if (mt.constant)
                FUZZ_CHECK(strlen(mbuf.p) == mbuf.len && !strcmp(mt.constant, mbuf.p));
            err[0] = '\0';
            if (mq_topic_check_publish(mbuf.p, mbuf.len, err, sizeof err) != 0)
                FUZZ_CHECK(err[0] != '\0');
            for (int idx = 0; idx < 4; idx++) {
                size_t off, seg;
                if (mq_topic_segment(mbuf.p, mbuf.len, idx, &off, &seg))
                    FUZZ_CHECK(off <= mbuf.len && seg <= mbuf.len - off);
            }
        } else {
            FUZZ_CHECK(err[0] != '\0');
        }
        sluice_tmpl_free(&mt);
    } else {
        FUZZ_CHECK(err[0] != '\0');
    }

    /* Kafka */
    sluice_tmpl kt;
    err[0] = '\0';
    if (ktopic_parse(&kt, tmpl, err, sizeof err) == 0) {
        err[0] = '\0';
        if (ktopic_render(&kt, r, &kbuf, err, sizeof err) == 0) {
            FUZZ_CHECK(kbuf.p && kbuf.p[kbuf.len] == '\0');
            FUZZ_CHECK(strlen(kbuf.p) == kbuf.len && kbuf.len >= 1 && kbuf.len <= 249);
            /* One engine: what Kafka accepted, MQTT rendered the same. */
            FUZZ_CHECK(mrc == 0 && mbuf.len == kbuf.len && !memcmp(mbuf.p, kbuf.p, kbuf.len));
            if (kt.constant)
                FUZZ_CHECK(strcmp(kt.constant, kbuf.p) == 0);
        } else {
            FUZZ_CHECK(err[0] != '\0');
        }
        sluice_tmpl_free(&kt);
    } else {
        FUZZ_CHECK(err[0] != '\0');
    }
    return 0;
}
