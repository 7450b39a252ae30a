/* file source: lines (CRLF, empty, unterminated last), start_line, json
 * format with a bad line passed on raw, batch boundaries over a file larger
 * than the read buffer, max_line truncation, follow (appends, partial
 * lines, truncation, rotation), and errors. */
#include "harness.h"
#include "strcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const sluice_api *api;
static char err[SLUICE_ERRLEN];

static int start(ph_inst *s, const char *name, const char *file, const char *opts)
{
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "source: { plugin: file, path: \"%s\"%s%s }\nsink: { plugin: file, discard: true }\n",
             ph_path(file), *opts ? ", " : "", opts);
    sl_pipeline_conf *c = ph_conf(name, yaml);
    CHECK(c != NULL);
    if (!c)
        return -1;
    sluice_status st = ph_init(s, &c->source, err);
    return st == SLUICE_OK ? 0 : -(int)st;
}

static sluice_status poll(ph_inst *s, sluice_batch *b, int timeout_ms)
{
    err[0] = '\0';
    return s->st->entry->desc->source->poll(s->inst, b, timeout_ms, err);
}

static const char *header(const sluice_record *r, const char *key)
{
    for (uint32_t i = 0; i < r->n_headers; i++)
        if (!strcmp(r->headers[i].key, key))
            return r->headers[i].value.ptr;
    return NULL;
}

static void lines(void)
{
    ph_write_file("l.txt", "alpha\nbeta\r\n\nlast");
    ph_inst s;
    if (start(&s, "lines", "l.txt", "") != 0)
        return;
    sluice_batch *b = sl_batch_new(100, 1 << 20);
    CHECK_INT_EQ(poll(&s, b, 100), SLUICE_EOF);
    CHECK_INT_EQ(api->batch_count(b), 4);
    if (api->batch_count(b) == 4) {
        const char *want[] = {"alpha", "beta", "", "last"};
        for (size_t i = 0; i < 4; i++) {
            const sluice_record *r = api->batch_at(b, i);
            CHECK_BYTES_EQ(r->value, want[i]);
            CHECK_INT_EQ(r->origin.offset, (long long)i + 1);
            CHECK_STR_EQ(r->origin.topic, ph_path("l.txt"));
            CHECK_INT_EQ(r->n_fields, 0);
            CHECK(r->timestamp > 0);
        }
    }
    sl_batch_reset(b);
    CHECK_INT_EQ(poll(&s, b, 100), SLUICE_EOF);
    CHECK_INT_EQ(api->batch_count(b), 0);
    ph_destroy(&s);

    if (start(&s, "start", "l.txt", "start_line: 3") == 0) {
        sl_batch_reset(b);
        CHECK_INT_EQ(poll(&s, b, 100), SLUICE_EOF);
        CHECK_INT_EQ(api->batch_count(b), 2);
        if (api->batch_count(b) == 2) {
            CHECK_BYTES_EQ(api->batch_at(b, 0)->value, "");
            CHECK_INT_EQ(api->batch_at(b, 0)->origin.offset, 3);
            CHECK_INT_EQ(api->batch_at(b, 1)->origin.offset, 4);
        }
        ph_destroy(&s);
    }
    ph_write_file("empty.txt", "");
    if (start(&s, "empty", "empty.txt", "") == 0) {
        sl_batch_reset(b);
        CHECK_INT_EQ(poll(&s, b, 100), SLUICE_EOF);
        CHECK_INT_EQ(api->batch_count(b), 0);
        ph_destroy(&s);
    }
    sl_batch_free(b);
}

static void json_lines(void)
{
    ph_write_file("j.txt", "{\"a\":1,\"s\":\"x\"}\nnot json\n[1]\n{\"b\":true}\n");
    ph_inst s;
    if (start(&s, "json", "j.txt", "format: json") != 0)
        return;
    sluice_batch *b = sl_batch_new(100, 1 << 20);
    CHECK_INT_EQ(poll(&s, b, 100), SLUICE_EOF);
    CHECK_INT_EQ(api->batch_count(b), 4);
    if (api->batch_count(b) != 4)
        return;
    const sluice_record *r = api->batch_at(b, 0);
    CHECK_INT_EQ(r->n_fields, 2);
    const sluice_field *a = sluice_field_get(r, "a");
    CHECK(a && a->type == SLUICE_INT && a->v.i == 1);
    CHECK_BYTES_EQ(r->value, "{\"a\":1,\"s\":\"x\"}");
    CHECK(header(r, "sluice.file.json_error") == NULL);
    /* Bad lines are passed on raw, never dropped, with the reason. */
    r = api->batch_at(b, 1);
    CHECK_BYTES_EQ(r->value, "not json");
    CHECK_INT_EQ(r->n_fields, 0);
    CHECK_STR_CONTAINS(header(r, "sluice.file.json_error"), "invalid JSON at line 1 column");
    r = api->batch_at(b, 2);
    CHECK_STR_EQ(header(r, "sluice.file.json_error"), "JSON value is an array, not an object");
    CHECK_INT_EQ(api->batch_at(b, 3)->n_fields, 1);
    CHECK(ph_counter(&s, "sluice_file_json_errors_total") == 2);
    ph_destroy(&s);
    sl_batch_free(b);
}

/* Many lines of varied length, more than one read buffer, over batches. */
static void big_file(void)
{
    const int N = 30000;
    FILE *f = fopen(ph_path("big.txt"), "w");
    for (int i = 1; i <= N; i++)
        fprintf(f, "line %d %.*s\n", i, i % 97, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    fclose(f);
    ph_inst s;
    if (start(&s, "big", "big.txt", "") != 0)
        return;
    sluice_batch *b = sl_batch_new(1000, 1 << 20);
    int next = 1, bad = 0, polls = 0;
    sluice_status st;
    do {
        sl_batch_reset(b);
        st = poll(&s, b, 100);
        polls++;
        for (size_t i = 0; i < api->batch_count(b); i++, next++) {
            const sluice_record *r = api->batch_at(b, i);
            char want[160];
            int n = snprintf(want, sizeof want, "line %d %.*s", next, next % 97,
                             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
            if (r->origin.offset != next || r->value.len != (size_t)n ||
                memcmp(r->value.ptr, want, (size_t)n) != 0)
                bad++;
        }
    } while (st == SLUICE_OK && polls < 1000);
    CHECK_INT_EQ(st, SLUICE_EOF);
    CHECK_INT_EQ(next - 1, N);
    CHECK_INT_EQ(bad, 0);
    CHECK_INT_EQ(polls, 30);      /* the last full batch already says EOF */
    ph_destroy(&s);

    /* A small arena ends polls early without losing or splitting lines. */
    sluice_batch *tight = sl_batch_new(1000, 8192);
    if (start(&s, "tight", "big.txt", "") == 0) {
        next = 1;
        bad = 0;
        polls = 0;
        do {
            sl_batch_reset(tight);
            st = poll(&s, tight, 100);
            polls++;
            for (size_t i = 0; i < api->batch_count(tight); i++, next++)
                bad += api->batch_at(tight, i)->origin.offset != next;
        } while (st == SLUICE_OK && polls < 100000);
        CHECK_INT_EQ(st, SLUICE_EOF);
        CHECK_INT_EQ(next - 1, N);
        CHECK_INT_EQ(bad, 0);
        CHECK(polls > 30);
        ph_destroy(&s);
    }
    /* A line larger than an empty batch can hold is an error. */
    sluice_batch *tiny = sl_batch_new(10, 1024);
    char line[3000];
    memset(line, 'y', sizeof line - 2);
    line[sizeof line - 2] = '\n';
    line[sizeof line - 1] = '\0';
    ph_write_file("wide.txt", line);
    if (start(&s, "wide", "wide.txt", "") == 0) {
        CHECK_INT_EQ(poll(&s, tiny, 100), SLUICE_ERR);
        CHECK_STR_CONTAINS(err, "wide.txt: line 1 does not fit in an empty batch");
        ph_destroy(&s);
    }
    sl_batch_free(tiny);
    sl_batch_free(tight);
    sl_batch_free(b);
}

static void max_line(void)
{
    ph_write_file("long.txt", "0123456789ABCDEF\nshort\n0123456789\n0123456789ABCDEF");
    ph_inst s;
    if (start(&s, "maxline", "long.txt", "max_line: 10") != 0)
        return;
    sluice_batch *b = sl_batch_new(100, 1 << 20);
    CHECK_INT_EQ(poll(&s, b, 100), SLUICE_EOF);
    CHECK_INT_EQ(api->batch_count(b), 4);
    if (api->batch_count(b) == 4) {
        CHECK_BYTES_EQ(api->batch_at(b, 0)->value, "0123456789");
        CHECK_STR_EQ(header(api->batch_at(b, 0), "sluice.file.truncated"), "true");
        CHECK_BYTES_EQ(api->batch_at(b, 1)->value, "short");
        CHECK_INT_EQ(api->batch_at(b, 1)->origin.offset, 2);
        CHECK(header(api->batch_at(b, 1), "sluice.file.truncated") == NULL);
        /* Exactly max_line is not truncated. */
        CHECK_BYTES_EQ(api->batch_at(b, 2)->value, "0123456789");
        CHECK(header(api->batch_at(b, 2), "sluice.file.truncated") == NULL);
        CHECK_BYTES_EQ(api->batch_at(b, 3)->value, "0123456789");
        CHECK_INT_EQ(api->batch_at(b, 3)->origin.offset, 4);
    }
    CHECK(ph_counter(&s, "sluice_file_truncated_lines_total") == 2);
    ph_destroy(&s);
    sl_batch_free(b);
}

static void append(const char *file, const char *text)
{
    FILE *f = fopen(ph_path(file), "a");
    fputs(text, f);
    fclose(f);
}

static void follow(void)
{
    ph_write_file("f.txt", "one\ntwo\n");
    ph_inst s;
    if (start(&s, "follow", "f.txt", "follow: true") != 0)
        return;
    sluice_batch *b = sl_batch_new(100, 1 << 20);
    CHECK_INT_EQ(poll(&s, b, 100), SLUICE_OK);      /* never EOF */
    CHECK_INT_EQ(api->batch_count(b), 2);
    /* Nothing new: waits about the timeout, returns nothing. */
    sl_batch_reset(b);
    int64_t t0 = api->mono_ns();
    CHECK_INT_EQ(poll(&s, b, 120), SLUICE_OK);
    double ms = (double)(api->mono_ns() - t0) / 1e6;
    CHECK_INT_EQ(api->batch_count(b), 0);
    CHECK(ms >= 100 && ms < 1000);
    /* Appended lines come; a partial line waits for its newline. */
    append("f.txt", "three\nfou");
    CHECK_INT_EQ(poll(&s, b, 100), SLUICE_OK);
    CHECK_INT_EQ(api->batch_count(b), 1);
    CHECK_BYTES_EQ(api->batch_at(b, 0)->value, "three");
    CHECK_INT_EQ(api->batch_at(b, 0)->origin.offset, 3);
    append("f.txt", "r\n");
    sl_batch_reset(b);
    CHECK_INT_EQ(poll(&s, b, 100), SLUICE_OK);
    CHECK_INT_EQ(api->batch_count(b), 1);
    if (api->batch_count(b)) {
        CHECK_BYTES_EQ(api->batch_at(b, 0)->value, "four");
        CHECK_INT_EQ(api->batch_at(b, 0)->origin.offset, 4);
    }
    /* Truncated in place (copytruncate): read again from the start. */
    ph_write_file("f.txt", "new\n");
    sl_batch_reset(b);
    CHECK_INT_EQ(poll(&s, b, 300), SLUICE_OK);
    CHECK_INT_EQ(api->batch_count(b), 1);
    if (api->batch_count(b)) {
        CHECK_BYTES_EQ(api->batch_at(b, 0)->value, "new");
        CHECK_INT_EQ(api->batch_at(b, 0)->origin.offset, 1);
    }
    /* Replaced (rename rotation): the old file's unterminated tail is its
     * last line, then the new file is read from its start. */
    append("f.txt", "tail");
    char old[4200];
    snprintf(old, sizeof old, "%s", ph_path("f.txt.1"));
    CHECK_INT_EQ(rename(ph_path("f.txt"), old), 0);
    ph_write_file("f.txt", "rotated\n");
    sl_batch_reset(b);
    CHECK_INT_EQ(poll(&s, b, 300), SLUICE_OK);
    if (api->batch_count(b) < 2) /* the tail may come alone first */
        CHECK_INT_EQ(poll(&s, b, 300), SLUICE_OK);
    CHECK_INT_EQ(api->batch_count(b), 2);
    if (api->batch_count(b) == 2) {
        CHECK_BYTES_EQ(api->batch_at(b, 0)->value, "tail");
        CHECK_INT_EQ(api->batch_at(b, 0)->origin.offset, 2);
        CHECK_BYTES_EQ(api->batch_at(b, 1)->value, "rotated");
        CHECK_INT_EQ(api->batch_at(b, 1)->origin.offset, 1);
    }
    ph_destroy(&s);
    sl_batch_free(b);
}

/* Binary garbage in json format with a small max_line: every line is
 * accounted for, nothing crashes, values never exceed max_line. */
static void garbage(void)
{
    FILE *f = fopen(ph_path("garbage.bin"), "wb");
    uint64_t x = 88172645463325252ull;
    long newlines = 0;
    int last = '\n';
    for (int i = 0; i < 300000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int c = (int)(x % 7 == 0 ? '\n' : x % 11 == 0 ? '{' : (x >> 8) & 0xff);
        newlines += c == '\n';
        fputc(c, f);
        last = c;
    }
    fclose(f);
    long want = newlines + (last != '\n');
    ph_inst s;
    if (start(&s, "garbage", "garbage.bin", "format: json, max_line: 100") != 0)
        return;
    sluice_batch *b = sl_batch_new(500, 1 << 20);
    long got = 0, too_long = 0, offset_ok = 1;
    sluice_status st;
    int polls = 0;
    do {
        sl_batch_reset(b);
        st = poll(&s, b, 100);
        for (size_t i = 0; i < api->batch_count(b); i++) {
            const sluice_record *r = api->batch_at(b, i);
            got++;
            too_long += r->value.len > 100;
            offset_ok &= r->origin.offset == got;
        }
    } while (st == SLUICE_OK && ++polls < 100000);
    CHECK_INT_EQ(st, SLUICE_EOF);
    CHECK_INT_EQ(got, want);
    CHECK_INT_EQ(too_long, 0);
    CHECK(offset_ok);
    ph_destroy(&s);
    sl_batch_free(b);
}

static const sluice_header *hdr(const sluice_record *r, const char *key)
{
    for (uint32_t i = 0; i < r->n_headers; i++)
        if (!strcmp(r->headers[i].key, key))
            return &r->headers[i];
    return NULL;
}

/* What the file sink writes with format: envelope reads back as the same
 * record: origin, timestamp, key and value (binary ones via base64),
 * headers (a binary one too) and fields; the host's sluice.error.* and
 * sluice.origin.* headers are dropped (a re-failed record gets fresh ones). */
static void envelope_round_trip(void)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "source: { plugin: file, path: \"%s\", format: envelope }\n"
             "sink: { plugin: file, path: \"%s\", format: envelope, append: false }\n",
             ph_path("rt.env"), ph_path("rt.env"));
    sl_pipeline_conf *c = ph_conf("rt", yaml);
    CHECK(c != NULL);
    if (!c)
        return;
    ph_inst sink;
    CHECK_INT_EQ(ph_init(&sink, &c->sink, err), SLUICE_OK);
    sluice_batch *b = sl_batch_new(10, 1 << 20);
    sluice_record *r = api->record_new(b);
    r->origin.topic = "f2/02f2000100aa/data";
    r->origin.partition = 3;
    r->origin.offset = 123456789012LL;
    r->timestamp = 1685027590543400;
    api->set_key(b, r, "k\xff\x00z", 4);
    api->set_value(b, r, "caf\xc3\xa9 \"q\"\n\t\\ \xf0\x9f\x98\x80", 17);
    api->header_add(b, r, "app", "x", 1);
    api->header_add(b, r, "bin", "\x01\xfe", 2);
    api->header_add(b, r, "sluice.error.reason", "old reason", 10);
    api->header_add(b, r, "sluice.origin.offset", "12", 2);
    api->field_add(b, r, "id", SLUICE_INT)->v.i = -7;
    api->field_set_string(b, api->field_add(b, r, "name", SLUICE_STRING), "n", 1);
    r = api->record_new(b);        /* nothing set: nulls everywhere */
    r = api->record_new(b);
    api->set_value(b, r, "\x00\x01\x02", 3);
    r->origin.topic = "t/\xff";    /* not UTF-8: base64 and topic_encoding */
    r->timestamp = -1500000;       /* before the epoch, with a sign-free year */
    CHECK_INT_EQ(sink.st->entry->desc->sink->write(sink.inst, b, err), SLUICE_OK);
    ph_destroy(&sink);
    /* A blank line holds no record and is skipped. */
    append("rt.env", "\n  \n");

    ph_inst s;
    CHECK_INT_EQ(ph_init(&s, &c->source, err), SLUICE_OK);
    sluice_batch *o = sl_batch_new(10, 1 << 20);
    CHECK_INT_EQ(poll(&s, o, 100), SLUICE_EOF);
    CHECK_INT_EQ(api->batch_count(o), 3);
    if (api->batch_count(o) == 3) {
        const sluice_record *a = api->batch_at(o, 0);
        CHECK(a->failure_ == NULL);
        CHECK_STR_EQ(a->origin.topic, "f2/02f2000100aa/data");
        CHECK_INT_EQ(a->origin.partition, 3);
        CHECK_INT_EQ(a->origin.offset, 123456789012LL);
        CHECK_INT_EQ(a->timestamp, 1685027590543400LL);
        CHECK_INT_EQ(a->key.len, 4);
        CHECK(a->key.ptr && !memcmp(a->key.ptr, "k\xff\x00z", 4));
        CHECK_INT_EQ(a->value.len, 17);
        CHECK(a->value.ptr && !memcmp(a->value.ptr, "caf\xc3\xa9 \"q\"\n\t\\ \xf0\x9f\x98\x80", 17));
        CHECK_INT_EQ(a->n_headers, 2);
        const sluice_header *h = hdr(a, "app");
        CHECK(h && h->value.len == 1 && !memcmp(h->value.ptr, "x", 1));
        h = hdr(a, "bin");
        CHECK(h && h->value.len == 2 && !memcmp(h->value.ptr, "\x01\xfe", 2));
        CHECK(hdr(a, "sluice.error.reason") == NULL);
        CHECK(hdr(a, "sluice.origin.offset") == NULL);
        CHECK_INT_EQ(a->n_fields, 2);
        const sluice_field *f = sluice_field_get(a, "id");
        CHECK(f && f->type == SLUICE_INT && f->v.i == -7);
        f = sluice_field_get(a, "name");
        CHECK(f && f->type == SLUICE_STRING && f->v.s.len == 1);

        const sluice_record *n = api->batch_at(o, 1);
        CHECK(n->failure_ == NULL);
        CHECK(n->origin.topic == NULL);
        CHECK_INT_EQ(n->origin.partition, -1);
        CHECK_INT_EQ(n->origin.offset, -1);
        CHECK_INT_EQ(n->timestamp, 0);
        CHECK(n->key.ptr == NULL && n->value.ptr == NULL);
        CHECK_INT_EQ(n->n_headers, 0);
        CHECK_INT_EQ(n->n_fields, 0);

        const sluice_record *z = api->batch_at(o, 2);
        CHECK_INT_EQ(z->value.len, 3);
        CHECK(z->value.ptr && !memcmp(z->value.ptr, "\x00\x01\x02", 3));
        CHECK_INT_EQ(z->timestamp, -1500000LL);
        CHECK_STR_EQ(z->origin.topic, "t/\xff");
    }
    ph_destroy(&s);
    sl_batch_free(b);
    sl_batch_free(o);
}

/* Lines that are not envelopes are passed on failed, with file:line and
 * the column in the reason, value = the line; they never stop the source. */
static void envelope_bad(void)
{
    static const struct {
        const char *line, *why;
    } cases[] = {
        {"garbage", "column 1: not an envelope: expected a JSON object"},
        {"{\"a\":1}", "not an envelope: no \"origin\" member"},
        {"{\"origin\":{}}", "no \"value\" member"},
        {"{\"origin\":{},\"value\":\"x\"} tail", "text after the envelope's closing '}'"},
        {"{\"origin\":{},\"value\":\"x", "line ends inside a string"},
        {"{\"origin\":{\"offset\":1.5},\"value\":\"x\"}", "expected an integer"},
        {"{\"origin\":{\"partition\":4294967296},\"value\":\"x\"}", "integer out of range"},
        {"{\"origin\":{},\"value\":\"x\",\"timestamp\":\"yesterday\"}", "timestamp: expected"},
        {"{\"origin\":{},\"value\":\"@@\",\"value_encoding\":\"base64\"}", "not valid base64"},
        {"{\"origin\":{},\"value\":\"x\",\"value_encoding\":\"hex\"}", "only \"base64\""},
        {"{\"origin\":{\"topic\":\"@@\",\"topic_encoding\":\"base64\"},\"value\":\"x\"}",
         "\"topic\" is not valid base64 (topic_encoding says it is)"},
        {"{\"origin\":{},\"value\":\"\\ud800\"}", "without its low half"},
        {"{\"origin\":{},\"value\":\"\\q\"}", "unknown escape \\q"},
        {"{\"origin\":{},\"value\":\"x\",\"headers\":{\"h\":1}}", "expected a string"},
        {"{\"origin\":{},\"value\":\"x\",\"headers\":{\"h\":{\"hex\":\"00\"}}}",
         "{\"base64\": \"...\"}"},
        {"{\"origin\":{},\"value\":\"x\",\"fields\":[1]}", "fields: expected an object or null"},
        {"{\"origin\":{},\"value\":\"x\",\"extra\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
         "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
         "]]]]]]]]]]]}", "nested deeper than"},
        {"{\"origin\":{},\"value\":\"a\x01\"}", "control character 0x01"},
        {"{\"origin\":{},\"value\":\"\xc3\x28\"}", "invalid UTF-8"},
    };
    size_t n = sizeof cases / sizeof *cases;
    char text[8192] = "";
    for (size_t i = 0; i < n; i++) {
        strcat(text, cases[i].line);
        strcat(text, "\n");
    }
    /* ... and a good one after them, with unknown members and escapes. */
    strcat(text, "{\"future\":{\"a\":[1,2.5e3,true,null]},\"origin\":{\"topic\":\"t\\u00e9\","
                 "\"offset\":9},\"value\":\"\\ud83d\\ude00\\/\",\"headers\":{},\"fields\":null,"
                 "\"timestamp\":\"2024-02-29T23:59:59Z\"}\n");
    ph_write_file("bad.env", text);
    ph_inst s;
    if (start(&s, "envbad", "bad.env", "format: envelope") != 0)
        return;
    sluice_batch *b = sl_batch_new(100, 1 << 20);
    CHECK_INT_EQ(poll(&s, b, 100), SLUICE_EOF);
    CHECK_INT_EQ(api->batch_count(b), n + 1);
    for (size_t i = 0; i < n && i < api->batch_count(b); i++) {
        const sluice_record *r = api->batch_at(b, i);
        char want[256];
        snprintf(want, sizeof want, "bad.env:%zu: not a dead-letter envelope: ", i + 1);
        CHECK_STR_CONTAINS(r->failure_, want);
        CHECK_STR_CONTAINS(r->failure_, cases[i].why);
        CHECK_BYTES_EQ(r->value, cases[i].line);
        CHECK_INT_EQ(r->origin.offset, (long long)i + 1);
        CHECK_STR_EQ(r->origin.topic, ph_path("bad.env"));
    }
    if (api->batch_count(b) == n + 1) {
        const sluice_record *r = api->batch_at(b, n);
        CHECK(r->failure_ == NULL);
        CHECK_STR_EQ(r->origin.topic, "t\xc3\xa9");
        CHECK_INT_EQ(r->origin.offset, 9);
        CHECK_BYTES_EQ(r->value, "\xf0\x9f\x98\x80/");
        CHECK_INT_EQ(r->timestamp, 1709251199000000LL);
    }
    CHECK_INT_EQ((long long)ph_counter(&s, "sluice_file_bad_envelopes_total"), (long long)n);
    ph_destroy(&s);

    /* A line longer than max_line cannot be a whole envelope. */
    ph_write_file("long.env", "{\"origin\":{},\"value\":\"0123456789012345678901234567890\"}\n");
    if (start(&s, "envlong", "long.env", "format: envelope, max_line: 16") == 0) {
        sl_batch_reset(b);
        CHECK_INT_EQ(poll(&s, b, 100), SLUICE_EOF);
        CHECK_INT_EQ(api->batch_count(b), 1);
        if (api->batch_count(b) == 1)
            CHECK_STR_CONTAINS(api->batch_at(b, 0)->failure_,
                               "long.env:1: not a dead-letter envelope: longer than max_line "
                               "(16 bytes)");
        ph_destroy(&s);
    }
    sl_batch_free(b);
}

static void errors(void)
{
    ph_inst s;
    CHECK_INT_EQ(start(&s, "missing", "nope.txt", ""), -SLUICE_ERR);
    CHECK_STR_CONTAINS(err, "cannot open ");
    CHECK_STR_CONTAINS(err, "nope.txt: No such file or directory");
    /* A followed file may not exist yet: retry, not fail. */
    CHECK_INT_EQ(start(&s, "later", "later.txt", "follow: true"), -SLUICE_RETRY);
    CHECK_INT_EQ(start(&s, "dir", ".", ""), -SLUICE_ERR);
    CHECK_STR_CONTAINS(err, "is a directory");
    ph_write_file("x.txt", "x\n");
    /* Bounds declared in the option table: refused before init. */
    CHECK_INT_EQ(ph_conf_refused("line0", "source: { plugin: file, path: x.txt, start_line: 0 }\n"
                                          "sink: { plugin: file, path: out.txt }\n",
                                 err, SLUICE_ERRLEN),
                 0);
    CHECK_STR_CONTAINS(err, "option \"start_line\": 0 is out of range; expected at least 1");
}

int main(void)
{
    ph_setup();
    api = sl_api();
    lines();
    json_lines();
    big_file();
    max_line();
    follow();
    garbage();
    envelope_round_trip();
    envelope_bad();
    errors();
    return PH_DONE();
}
