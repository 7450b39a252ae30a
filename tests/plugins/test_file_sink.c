/* file sink: json (with a record the converter refuses: PARTIAL), envelope
 * with dead-letter headers, binary bytes and unconvertible fields, raw,
 * discard, append vs truncate, fsync, write errors, init errors. */
#include "harness.h"
#include "strcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const sluice_api *api;
static char err[SLUICE_ERRLEN];

/* `file` (in the scratch dir, or absolute) becomes the sink's path. */
static int start(ph_inst *s, const char *name, const char *file, const char *opts)
{
    char yaml[8192], path[4200] = "";
    if (file)
        snprintf(path, sizeof path, ", path: \"%s\"", file[0] == '/' ? file : ph_path(file));
    snprintf(yaml, sizeof yaml, "source: { plugin: generator }\nsink: { plugin: file%s%s%s }\n",
             path, *opts ? ", " : "", opts);
    sl_pipeline_conf *c = ph_conf(name, yaml);
    CHECK(c != NULL);
    if (!c)
        return -1;
    sluice_status st = ph_init(s, &c->sink, err);
    return st == SLUICE_OK ? 0 : -(int)st;
}

static sluice_status write_batch(ph_inst *s, sluice_batch *b)
{
    err[0] = '\0';
    return s->st->entry->desc->sink->write(s->inst, b, err);
}

static char *contents(const char *file)
{
    static char *last;
    free(last);
    last = ph_read_file(ph_path(file));
    return last ? last : "(unreadable)";
}

/* Three records: fields; no fields (key/value); fields with a string that
 * is not UTF-8 (the JSON converter refuses it). */
static void fill(sluice_batch *b)
{
    sl_batch_reset(b);
    sluice_record *r = api->record_new(b);
    api->field_add(b, r, "id", SLUICE_INT)->v.i = 7;
    api->field_set_string(b, api->field_add(b, r, "name", SLUICE_STRING), "a\"b", 3);
    api->set_value(b, r, "v1", 2);
    r = api->record_new(b);
    api->set_key(b, r, "k", 1);
    api->set_value(b, r, "plain", 5);
    r->origin.topic = "t/1";
    r->origin.partition = 0;
    r->origin.offset = 41;
    r->timestamp = 1685027590543400;
    r = api->record_new(b);
    api->field_set_string(b, api->field_add(b, r, "bad", SLUICE_STRING), "\xff", 1);
    api->set_value(b, r, "v3", 2);
}

static void json(void)
{
    ph_inst s;
    if (start(&s, "json", "out.json", "") != 0)
        return;
    sluice_batch *b = sl_batch_new(10, 1 << 20);
    fill(b);
    CHECK_INT_EQ(write_batch(&s, b), SLUICE_PARTIAL);
    /* Only the refused record is marked, with the converter's reason. */
    CHECK_INT_EQ(b->n_failed, 1);
    CHECK(b->recs[0].failure_ == NULL && b->recs[1].failure_ == NULL);
    CHECK_STR_CONTAINS(b->recs[2].failure_, "string field \"bad\" is not valid UTF-8");
    CHECK_STR_EQ(contents("out.json"),
                 "{\"id\":7,\"name\":\"a\\\"b\"}\n"
                 "{\"topic\":\"t/1\",\"device_id\":\"k\",\"payload\":\"plain\","
                 "\"received_at\":\"2023-05-25T15:13:10.543400Z\"}\n");
    /* A second batch is appended; a batch of good records is OK. */
    sl_batch_reset(b);
    sluice_record *r = api->record_new(b);
    api->field_add(b, r, "n", SLUICE_NULL);
    CHECK_INT_EQ(write_batch(&s, b), SLUICE_OK);
    CHECK_STR_CONTAINS(contents("out.json"), "\"received_at\":\"2023-05-25T15:13:10.543400Z\"}\n"
                                             "{\"n\":null}\n");
    ph_destroy(&s);
    sl_batch_free(b);
}

static void envelope(void)
{
    ph_inst s;
    if (start(&s, "env", "out.env", "format: envelope") != 0)
        return;
    sluice_batch *b = sl_batch_new(10, 1 << 20);
    fill(b);
    /* As the host's dead-letter path builds them. */
    sluice_record *r = api->batch_at(b, 1);
    api->header_add(b, r, "sluice.error.reason", "bad \"thing\"\n", 12);
    api->header_add(b, r, "sluice.error.stage", "transform[0]", 12);
    api->header_add(b, r, "bin", "\x01\xfe", 2);
    api->set_value(b, api->batch_at(b, 0), "\x00\x80", 2);
    CHECK_INT_EQ(write_batch(&s, b), SLUICE_OK);   /* an envelope never refuses */
    CHECK_STR_EQ(contents("out.env"),
                 "{\"origin\":{\"topic\":null,\"partition\":-1,\"offset\":-1},\"timestamp\":null,"
                 "\"key\":null,\"value\":\"AIA=\",\"value_encoding\":\"base64\",\"headers\":{},"
                 "\"fields\":{\"id\":7,\"name\":\"a\\\"b\"}}\n"
                 "{\"origin\":{\"topic\":\"t/1\",\"partition\":0,\"offset\":41},"
                 "\"timestamp\":\"2023-05-25T15:13:10.543400Z\",\"key\":\"k\",\"value\":\"plain\","
                 "\"headers\":{\"sluice.error.reason\":\"bad \\\"thing\\\"\\n\","
                 "\"sluice.error.stage\":\"transform[0]\",\"bin\":{\"base64\":\"Af4=\"}},"
                 "\"fields\":{}}\n"
                 "{\"origin\":{\"topic\":null,\"partition\":-1,\"offset\":-1},\"timestamp\":null,"
                 "\"key\":null,\"value\":\"v3\",\"headers\":{},\"fields\":null,\"fields_error\":"
                 "\"string field \\\"bad\\\" is not valid UTF-8 (byte 0xff at offset 0)\"}\n");
    ph_destroy(&s);
    sl_batch_free(b);
}

static void raw_and_append(void)
{
    ph_write_file("out.raw", "old\n");
    ph_inst s;
    sluice_batch *b = sl_batch_new(10, 1 << 20);
    if (start(&s, "raw", "out.raw", "format: raw, fsync: true") == 0) {
        fill(b);
        CHECK_INT_EQ(write_batch(&s, b), SLUICE_OK);
        CHECK_STR_EQ(contents("out.raw"), "old\nv1\nplain\nv3\n");
        ph_destroy(&s);
    }
    if (start(&s, "trunc", "out.raw", "format: raw, append: false") == 0) {
        CHECK_STR_EQ(contents("out.raw"), "");     /* truncated at start */
        sl_batch_reset(b);
        api->set_value(b, api->record_new(b), "", 0);
        api->set_value(b, api->record_new(b), "a\nb", 3);
        CHECK_INT_EQ(write_batch(&s, b), SLUICE_OK);
        CHECK_STR_EQ(contents("out.raw"), "\na\nb\n");
        /* An empty batch writes nothing and is fine. */
        sl_batch_reset(b);
        CHECK_INT_EQ(write_batch(&s, b), SLUICE_OK);
        CHECK_STR_EQ(contents("out.raw"), "\na\nb\n");
        ph_destroy(&s);
    }
    sl_batch_free(b);
}

static void discard(void)
{
    ph_inst s;
    if (start(&s, "discard", "never.txt", "discard: true") != 0)
        return;
    sluice_batch *b = sl_batch_new(10, 1 << 20);
    fill(b);
    CHECK_INT_EQ(write_batch(&s, b), SLUICE_OK);   /* no conversion, so no refusal */
    CHECK_INT_EQ(write_batch(&s, b), SLUICE_OK);
    CHECK(ph_counter(&s, "sluice_file_discarded_total") == 6);
    CHECK(access(ph_path("never.txt"), F_OK) != 0);
    ph_destroy(&s);
    sl_batch_free(b);
}

static void errors(void)
{
    ph_inst s;
    CHECK_INT_EQ(start(&s, "nopath", NULL, ""), -SLUICE_ERR);
    CHECK_STR_EQ(err, "path: required unless discard is true");
    CHECK_INT_EQ(start(&s, "nodir", "no/such/dir.txt", ""), -SLUICE_ERR);
    CHECK_STR_CONTAINS(err, "no/such/dir.txt for writing: No such file or directory");
    /* A full disk is retriable, and says which file. */
    if (start(&s, "full", "/dev/full", "format: raw") == 0) {
        sluice_batch *b = sl_batch_new(10, 1 << 20);
        fill(b);
        CHECK_INT_EQ(write_batch(&s, b), SLUICE_RETRY);
        CHECK_STR_EQ(err, "write /dev/full: No space left on device");
        ph_destroy(&s);
        sl_batch_free(b);
    }
}

int main(void)
{
    ph_setup();
    api = sl_api();
    json();
    envelope();
    raw_and_append();
    discard();
    errors();
    return PH_DONE();
}
