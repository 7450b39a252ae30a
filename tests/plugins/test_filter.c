/* filter: MQTT topic pattern matching (table), topic lists, field equals
 * for every field type, exists, keep/drop, the dropped counter, and init
 * errors. */
#include "harness.h"
#include "strcheck.h"
#include "topic_match.h"

#include <stdio.h>
#include <string.h>

static const sluice_api *api;
static char err[SLUICE_ERRLEN];

static void patterns(void)
{
    static const struct {
        const char *pattern, *topic;
        int match;
    } cases[] = {
        {"a/b/c", "a/b/c", 1},   {"a/b/c", "a/b", 0},      {"a/b", "a/b/c", 0},
        {"a/b/c", "a/b/cd", 0},  {"a/b/cd", "a/b/c", 0},   {"a/+/c", "a/x/c", 1},
        {"a/+/c", "a//c", 1},    {"a/+/c", "a/x/y/c", 0},  {"a/+", "a", 0},
        {"a/+", "a/", 1},        {"+", "a", 1},            {"+", "a/b", 0},
        {"+/+", "a/b", 1},       {"+/b", "/b", 1},         {"a/#", "a", 1},
        {"a/#", "a/b", 1},       {"a/#", "a/b/c/d", 1},    {"a/#", "ab", 0},
        {"a/#", "b/a", 0},       {"#", "a/b/c", 1},        {"#", "/", 1},
        {"+/#", "a", 1},         {"a/+/#", "a/b", 1},      {"a/+/#", "a", 0},
        {"#", "$SYS/x", 0},      {"+/x", "$SYS/x", 0},     {"$SYS/#", "$SYS/x", 1},
        {"/a", "/a", 1},         {"/a", "a", 0},           {"f2/+/7/#", "f2/ctl/7/data", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = topic_match(cases[i].pattern, cases[i].topic);
        if (got != cases[i].match)
            fprintf(stderr, "pattern \"%s\" topic \"%s\": got %d\n", cases[i].pattern,
                    cases[i].topic, got);
        CHECK_INT_EQ(got, cases[i].match);
    }
    static const char *invalid[] = {"a/#/b", "a#", "a/b#", "#a", "a+/b", "a/+b", ""};
    char why[128];
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
        CHECK_INT_EQ(topic_pattern_check(invalid[i], why, sizeof why), -1);
    static const char *valid[] = {"#", "+", "a/+/b/#", "/", "+/+", "a b/c"};
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++)
        CHECK_INT_EQ(topic_pattern_check(valid[i], why, sizeof why), 0);
}

static int start(ph_inst *f, const char *name, const char *opts)
{
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "source: { plugin: generator }\ntransforms:\n  - { plugin: filter, %s }\n"
             "sink: { plugin: file, discard: true }\n", opts);
    sl_pipeline_conf *c = ph_conf(name, yaml);
    CHECK(c != NULL);
    if (!c || c->n_transforms != 1)
        return -1;
    sluice_status st = ph_init(f, &c->transforms[0], err);
    return st == SLUICE_OK ? 0 : -(int)st;
}

/* Runs the filter over `in` and returns a string of the kept records'
 * values, e.g. "0,2," (each record's value is its index). */
static const char *run(ph_inst *f, sluice_batch *in)
{
    static char kept[256];
    sluice_batch *out = sl_batch_new(64, 1 << 20);
    kept[0] = '\0';
    for (size_t i = 0; i < api->batch_count(in); i++) {
        sluice_status st = f->st->entry->desc->transform->process(f->inst, api->batch_at(in, i),
                                                                   out, err);
        CHECK_INT_EQ(st, SLUICE_OK);
    }
    for (size_t i = 0; i < api->batch_count(out); i++) {
        size_t l = strlen(kept);
        snprintf(kept + l, sizeof kept - l, "%.*s,", (int)api->batch_at(out, i)->value.len,
                 api->batch_at(out, i)->value.ptr);
    }
    sl_batch_free(out);
    return kept;
}

static sluice_record *add(sluice_batch *b, const char *topic)
{
    sluice_record *r = api->record_new(b);
    char v[8];
    int n = snprintf(v, sizeof v, "%zu", api->batch_count(b) - 1);
    api->set_value(b, r, v, (size_t)n);
    r->origin.topic = topic;
    return r;
}

static void by_topic(void)
{
    sluice_batch *in = sl_batch_new(16, 1 << 20);
    add(in, "f2/ctl/7/data");   /* 0 */
    add(in, "f2/ctl/8/data");   /* 1 */
    add(in, "f2/ctl/7");        /* 2 */
    add(in, NULL);              /* 3: no topic never matches a pattern */
    add(in, "other/x");         /* 4 */
    ph_inst f;
    if (start(&f, "t1", "topic: \"f2/+/7/#\"") == 0) {
        CHECK_STR_EQ(run(&f, in), "0,2,");
        CHECK(ph_counter(&f, "sluice_filter_dropped_total") == 3);
        ph_destroy(&f);
    }
    if (start(&f, "t2", "topic: [\"f2/ctl/8/data\", \"other/+\"]") == 0) {
        CHECK_STR_EQ(run(&f, in), "1,4,");
        ph_destroy(&f);
    }
    if (start(&f, "t3", "topic: \"f2/#\", mode: drop") == 0) {
        CHECK_STR_EQ(run(&f, in), "3,4,");
        CHECK(ph_counter(&f, "sluice_filter_dropped_total") == 3);
        ph_destroy(&f);
    }
    sl_batch_free(in);
}

static void by_field(void)
{
    sluice_batch *in = sl_batch_new(16, 1 << 20);
    sluice_record *r = add(in, "a");  /* 0: string "on" */
    api->field_set_string(in, api->field_add(in, r, "x", SLUICE_STRING), "on", 2);
    r = add(in, "a");                 /* 1: int 42 */
    api->field_add(in, r, "x", SLUICE_INT)->v.i = 42;
    r = add(in, "a");                 /* 2: double 42.0 */
    api->field_add(in, r, "x", SLUICE_DOUBLE)->v.d = 42.0;
    r = add(in, "a");                 /* 3: bool true */
    api->field_add(in, r, "x", SLUICE_BOOL)->v.b = 1;
    r = add(in, "a");                 /* 4: null */
    api->field_add(in, r, "x", SLUICE_NULL);
    r = add(in, "b");                 /* 5: no field x */
    api->field_add(in, r, "y", SLUICE_INT)->v.i = 42;
    r = add(in, "b");                 /* 6: timestamp 42 µs */
    api->field_add(in, r, "x", SLUICE_TIMESTAMP)->v.ts = 42;
    r = add(in, "b");                 /* 7: bytes "on" */
    api->field_set_string(in, api->field_add(in, r, "x", SLUICE_BYTES), "on", 2);

    static const struct {
        const char *opts, *kept;
    } cases[] = {
        {"field: x, equals: \"on\"", "0,7,"},
        {"field: x, equals: \"42\"", "1,2,6,"},
        {"field: x, equals: \"42.0\"", "2,"},       /* not an integer */
        {"field: x, equals: \"4.2e1\"", "2,"},
        {"field: x, equals: \"true\"", "3,"},
        {"field: x, equals: \"null\"", "4,"},
        {"field: x, equals: \"o\"", ""},           /* whole value, not a prefix */
        {"field: x, equals: \"\"", ""},
        {"field: x, exists: true", "0,1,2,3,4,6,7,"},
        {"field: x, exists: false", "5,"},
        {"field: x, exists: true, mode: drop", "5,"},
        {"field: x, equals: \"42\", mode: drop", "0,3,4,5,7,"},
        {"field: x, equals: \"42\", topic: b", "6,"},  /* both must hold */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%zu", i);
        ph_inst f;
        if (start(&f, name, cases[i].opts) != 0)
            continue;
        const char *got = run(&f, in);
        if (strcmp(got, cases[i].kept) != 0)
            fprintf(stderr, "filter { %s }\n", cases[i].opts);
        CHECK_STR_EQ(got, cases[i].kept);
        ph_destroy(&f);
    }
    sl_batch_free(in);
}

static void output_is_a_copy(void)
{
    sluice_batch *in = sl_batch_new(4, 1 << 20);
    sluice_record *r = add(in, "a");
    api->field_add(in, r, "x", SLUICE_INT)->v.i = 1;
    api->header_add(in, r, "h", "v", 1);
    ph_inst f;
    if (start(&f, "copy", "topic: a") == 0) {
        sluice_batch *out = sl_batch_new(4, 1 << 20);
        CHECK_INT_EQ(f.st->entry->desc->transform->process(f.inst, r, out, err), SLUICE_OK);
        const sluice_record *o = api->batch_at(out, 0);
        CHECK(o && o != r && o->n_fields == 1 && o->n_headers == 1 && o->fields != r->fields);
        CHECK(o && o->value.ptr == r->value.ptr);   /* bytes shared, not copied */
        /* A full output batch is SLUICE_FULL (flow control), not a crash. */
        sluice_batch *full = sl_batch_new(1, 1 << 20);
        api->record_new(full);
        CHECK_INT_EQ(f.st->entry->desc->transform->process(f.inst, r, full, err), SLUICE_FULL);
        CHECK_STR_CONTAINS(err, "output batch full");
        sl_batch_free(full);
        sl_batch_free(out);
        ph_destroy(&f);
    }
    sl_batch_free(in);
}

static void init_errors(void)
{
    static const struct {
        const char *opts, *msg;
    } cases[] = {
        {"mode: keep", "nothing to filter on: set topic, or field with equals or exists"},
        {"field: x", "field \"x\" needs equals or exists"},
        {"equals: \"1\"", "equals needs field"},
        {"exists: true", "exists needs field"},
        {"field: x, equals: \"1\", exists: true", "equals and exists exclude each other"},
        {"topic: \"a/#/b\"", "topic: pattern \"a/#/b\" is invalid: '#' must be a whole level "
                             "and the last one"},
        {"topic: [\"ok/+\", \"a+\"]", "topic: pattern \"a+\" is invalid: '+' must be a whole "
                                       "level"},
        {"field: \"\", exists: true", "field: must not be empty"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[16];
        snprintf(name, sizeof name, "e%zu", i);
        ph_inst f;
        CHECK_INT_EQ(start(&f, name, cases[i].opts), -SLUICE_ERR);
        CHECK_STR_CONTAINS(err, cases[i].msg);
    }
}

int main(void)
{
    ph_setup();
    api = sl_api();
    patterns();
    by_topic();
    by_field();
    output_is_a_copy();
    init_errors();
    return PH_DONE();
}
