/* The file source's reader of dead-letter envelopes (connectors/file/
 * envelope_read.c: env_parse), which `sluice redrive` feeds whatever file
 * it is given.
 *
 * Input: one line, as the file source hands it over (without its newline).
 *
 * Checks beyond "no crash, no leak": a refused line has a reason naming the
 * column; an accepted one describes spans inside the scratch buffer and a
 * "fields" text inside the line; and written again the way the file sink
 * writes envelopes (the text layer, <sluice/sluice_text.h>, as put_envelope
 * does) it reads back to the same record (origin, timestamp, key, value, headers). */
#include "fuzz.h"

#include "envelope_read.h"

#include <sluice/sluice_text.h>

#include <string.h>

static env_rec R1, R2;
static sluice_buf J;

static void teardown(void)
{
    env_rec_free(&R1);
    env_rec_free(&R2);
    sluice_buf_free(&J);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    atexit(teardown);
    return 0;
}

static int span_ok(env_span s, size_t cap)
{
    return s.null ? s.len == 0 : s.off <= cap && s.len <= cap - s.off;
}

static void put_bytes(sluice_buf *o, const char *name, const char *sc, env_span s)
{
    sluice_buf_json_bytes_member(o, name, s.null ? NULL : sc + s.off, s.len);
}

static int rewrite(sluice_buf *o, const env_rec *r, const char *sc)
{
    sluice_buf_reset(o);
    SLUICE_BUF_LIT(o, "{\"origin\":{");
    put_bytes(o, "topic", sc, r->topic);
    SLUICE_BUF_LIT(o, ",\"partition\":");
    sluice_buf_int(o, r->partition);
    SLUICE_BUF_LIT(o, ",\"offset\":");
    sluice_buf_int(o, r->offset);
    SLUICE_BUF_LIT(o, "},\"timestamp\":");
    if (r->timestamp)
        sluice_buf_json_time(o, r->timestamp);
    else
        SLUICE_BUF_LIT(o, "null");
    sluice_buf_putc(o, ',');
    put_bytes(o, "key", sc, r->key);
    sluice_buf_putc(o, ',');
    put_bytes(o, "value", sc, r->value);
    SLUICE_BUF_LIT(o, ",\"headers\":{");
    for (size_t i = 0; i < r->n_headers; i++) {
        const env_header *h = &r->headers[i];
        if (i)
            sluice_buf_putc(o, ',');
        sluice_buf_json_str(o, sc + h->key.off, h->key.len);
        sluice_buf_putc(o, ':');
        if (sluice_utf8_valid_prefix(sc + h->value.off, h->value.len) == h->value.len) {
            sluice_buf_json_str(o, sc + h->value.off, h->value.len);
        } else {
            SLUICE_BUF_LIT(o, "{\"base64\":");
            sluice_buf_json_base64(o, sc + h->value.off, h->value.len);
            sluice_buf_putc(o, '}');
        }
    }
    SLUICE_BUF_LIT(o, "},\"fields\":{}}");
    return o->oom ? -1 : 0;
}

static int same_bytes(const char *a, env_span x, const char *b, env_span y)
{
    return x.null == y.null && x.len == y.len && (!x.len || !memcmp(a + x.off, b + y.off, x.len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *line = (const char *)data;
    char *sc = malloc(size + 1);
    if (!sc)
        return 0;
    char why[512] = "";
    int rc = env_parse(line, size, sc, &R1, why, sizeof why);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc == -1) {
        FUZZ_CHECK(!strncmp(why, "column ", 7));
        free(sc);
        return 0;
    }
    FUZZ_CHECK(span_ok(R1.topic, size) && span_ok(R1.key, size) && span_ok(R1.value, size));
    for (size_t i = 0; i < R1.n_headers; i++) {
        FUZZ_CHECK(span_ok(R1.headers[i].key, size) && span_ok(R1.headers[i].value, size));
        FUZZ_CHECK(!memchr(sc + R1.headers[i].key.off, '\0', R1.headers[i].key.len));
    }
    if (R1.fields) {
        FUZZ_CHECK(R1.fields >= line && R1.fields_len >= 2 &&
                   R1.fields_len <= size - (size_t)(R1.fields - line));
        FUZZ_CHECK(R1.fields[0] == '{' && R1.fields[R1.fields_len - 1] == '}');
    }
    FUZZ_CHECK(rewrite(&J, &R1, sc) == 0);
    char *sc2 = malloc(J.len + 1);
    FUZZ_CHECK(sc2 != NULL);
    rc = env_parse(J.p, J.len, sc2, &R2, why, sizeof why);
    if (rc != 0)
        fprintf(stderr, "rewritten envelope refused: %s\n%.*s\n", why, (int)J.len, J.p);
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(R2.partition == R1.partition && R2.offset == R1.offset);
    FUZZ_CHECK(R2.timestamp == R1.timestamp);
    FUZZ_CHECK(same_bytes(sc, R1.topic, sc2, R2.topic));
    FUZZ_CHECK(same_bytes(sc, R1.key, sc2, R2.key));
    FUZZ_CHECK(same_bytes(sc, R1.value, sc2, R2.value));
    FUZZ_CHECK(R2.n_headers == R1.n_headers);
    for (size_t i = 0; i < R1.n_headers; i++) {
        FUZZ_CHECK(same_bytes(sc, R1.headers[i].key, sc2, R2.headers[i].key));
        FUZZ_CHECK(same_bytes(sc, R1.headers[i].value, sc2, R2.headers[i].value));
    }
    free(sc2);
    free(sc);
    return 0;
}
