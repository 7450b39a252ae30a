/* The file source's reader of dead-letter envelopes (connectors/file/
 * envelope_read.c: env_parse), which `sluice redrive` feeds whatever file
 * it is given.
 *
 * Input: one line, as the file source hands it over (without its newline).
 *
 * Checks beyond "no crash, no leak": a refused line has a reason naming the
 * column; an accepted one describes spans inside the scratch buffer and a
 * "fields" text inside the line; and written again the way the file sink
 * writes envelopes (json_out.c, as put_envelope does) it reads back to the
 * same record (origin, timestamp, key, value, headers). */
#include "fuzz.h"

#include "envelope_read.h"
#include "json_out.h"

#include <string.h>

static env_rec R1, R2;
static jbuf J;

static void teardown(void)
{
    env_rec_free(&R1);
    env_rec_free(&R2);
    jb_free(&J);
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

/* A member "name": bytes as the sink writes it (string, or base64 with a
 * "<name>_encoding" sibling), or null. */
static int put_bytes(jbuf *o, const char *name, const char *sc, env_span s)
{
    if (JB_LIT(o, "\"") || jb_put(o, name, strlen(name)) || JB_LIT(o, "\":"))
        return -1;
    if (s.null)
        return JB_LIT(o, "null");
    if (utf8_valid(sc + s.off, s.len))
        return jb_str(o, sc + s.off, s.len);
    return jb_base64(o, (const unsigned char *)sc + s.off, s.len) || JB_LIT(o, ",\"") ||
           jb_put(o, name, strlen(name)) || JB_LIT(o, "_encoding\":\"base64\"");
}

static int rewrite(jbuf *o, const env_rec *r, const char *sc)
{
    o->len = 0;
    if (JB_LIT(o, "{\"origin\":{\"topic\":") ||
        (r->topic.null ? JB_LIT(o, "null") : jb_str(o, sc + r->topic.off, r->topic.len)) ||
        JB_LIT(o, ",\"partition\":") || jb_int(o, r->partition) || JB_LIT(o, ",\"offset\":") ||
        jb_int(o, r->offset) || JB_LIT(o, "},\"timestamp\":") ||
        (r->timestamp ? jb_timestamp(o, r->timestamp) : JB_LIT(o, "null")) ||
        JB_LIT(o, ",") || put_bytes(o, "key", sc, r->key) || JB_LIT(o, ",") ||
        put_bytes(o, "value", sc, r->value) || JB_LIT(o, ",\"headers\":{"))
        return -1;
    for (size_t i = 0; i < r->n_headers; i++) {
        const env_header *h = &r->headers[i];
        if ((i && JB_LIT(o, ",")) || jb_str(o, sc + h->key.off, h->key.len) || JB_LIT(o, ":"))
            return -1;
        int bad = utf8_valid(sc + h->value.off, h->value.len)
                      ? jb_str(o, sc + h->value.off, h->value.len)
                      : JB_LIT(o, "{\"base64\":") ||
                            jb_base64(o, (const unsigned char *)sc + h->value.off,
                                      h->value.len) ||
                            JB_LIT(o, "}");
        if (bad)
            return -1;
    }
    return JB_LIT(o, "},\"fields\":{}}");
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
