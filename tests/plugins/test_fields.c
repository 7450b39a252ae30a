/* fields: set with type inference, rename (in place, onto an existing
 * field, missing), drop, copy_value_to, parse_json (valid, and the error
 * path), the order of operations, the input left untouched, init errors. */
#include "harness.h"
#include "strcheck.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const sluice_api *api;
static char err[SLUICE_ERRLEN];
static sluice_batch *in, *out;

static int start(ph_inst *f, const char *name, const char *opts)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "source: { plugin: generator }\ntransforms:\n  - { plugin: fields, %s }\n"
             "sink: { plugin: file, discard: true }\n", opts);
    sl_pipeline_conf *c = ph_conf(name, yaml);
    CHECK(c != NULL);
    if (!c || c->n_transforms != 1)
        return -1;
    sluice_status st = ph_init(f, &c->transforms[0], err);
    return st == SLUICE_OK ? 0 : -(int)st;
}

static sluice_status process(ph_inst *f, const sluice_record *r)
{
    err[0] = '\0';
    return f->st->entry->desc->transform->process(f->inst, r, out, err);
}

/* The record's fields as "name=type:value;..." for exact comparison. */
static const char *describe(const sluice_record *r)
{
    static char s[1024];
    s[0] = '\0';
    for (uint32_t i = 0; i < r->n_fields; i++) {
        const sluice_field *f = &r->fields[i];
        size_t l = strlen(s);
        char *p = s + l;
        size_t room = sizeof s - l;
        switch (f->type) {
        case SLUICE_NULL: snprintf(p, room, "%s=null;", f->name); break;
        case SLUICE_BOOL: snprintf(p, room, "%s=bool:%d;", f->name, f->v.b); break;
        case SLUICE_INT: snprintf(p, room, "%s=int:%lld;", f->name, (long long)f->v.i); break;
        case SLUICE_DOUBLE: snprintf(p, room, "%s=double:%g;", f->name, f->v.d); break;
        case SLUICE_STRING:
            snprintf(p, room, "%s=string:%.*s;", f->name, (int)f->v.s.len, f->v.s.ptr);
            break;
        default: snprintf(p, room, "%s=other;", f->name); break;
        }
    }
    return s;
}

static sluice_record *input(const char *value)
{
    sl_batch_reset(in);
    sl_batch_reset(out);
    sluice_record *r = api->record_new(in);
    api->set_value(in, r, value, strlen(value));
    api->field_add(in, r, "a", SLUICE_INT)->v.i = 1;
    api->field_add(in, r, "b", SLUICE_INT)->v.i = 2;
    api->field_add(in, r, "c", SLUICE_INT)->v.i = 3;
    return r;
}

static void set_inference(void)
{
    ph_inst f;
    if (start(&f, "set", "set: { i: 42, neg: -7, d: 1.5, e: 1e3, t: true, f: false, n: null, "
                         "s: hello, big: 99999999999999999999, inf: inf, hex: 0x10, "
                         "empty: \"\", a: over }") != 0)
        return;
    const sluice_record *r = input("v");
    CHECK_INT_EQ(process(&f, r), SLUICE_OK);
    CHECK_INT_EQ(api->batch_count(out), 1);
    CHECK_STR_EQ(describe(api->batch_at(out, 0)),
                 "a=string:over;b=int:2;c=int:3;i=int:42;neg=int:-7;d=double:1.5;e=double:1000;"
                 "t=bool:1;f=bool:0;n=null;s=string:hello;big=double:1e+20;inf=string:inf;"
                 "hex=string:0x10;empty=null;");
    /* The input keeps its own fields. */
    CHECK_STR_EQ(describe(r), "a=int:1;b=int:2;c=int:3;");
    CHECK(api->batch_at(out, 0)->value.ptr == r->value.ptr);
    ph_destroy(&f);
}

static void rename_drop(void)
{
    ph_inst f;
    if (start(&f, "rn", "rename: { b: bee, missing: m }, drop: [c, nothere]") == 0) {
        CHECK_INT_EQ(process(&f, input("v")), SLUICE_OK);
        CHECK_STR_EQ(describe(api->batch_at(out, 0)), "a=int:1;bee=int:2;");  /* order kept */
        ph_destroy(&f);
    }
    /* Renaming onto an existing field replaces it. */
    if (start(&f, "rn2", "rename: { c: a }") == 0) {
        CHECK_INT_EQ(process(&f, input("v")), SLUICE_OK);
        CHECK_STR_EQ(describe(api->batch_at(out, 0)), "b=int:2;a=int:3;");
        ph_destroy(&f);
    }
}

static void copy_and_parse(void)
{
    ph_inst f;
    if (start(&f, "cp", "copy_value_to: raw") == 0) {
        CHECK_INT_EQ(process(&f, input("hello")), SLUICE_OK);
        CHECK_STR_EQ(describe(api->batch_at(out, 0)), "a=int:1;b=int:2;c=int:3;raw=string:hello;");
        ph_destroy(&f);
    }
    if (start(&f, "pj", "parse_json: true") == 0) {
        CHECK_INT_EQ(process(&f, input("{\"a\":\"x\",\"t\":21.5,\"o\":{\"k\":1}}")), SLUICE_OK);
        CHECK_STR_EQ(describe(api->batch_at(out, 0)),
                      "a=string:x;b=int:2;c=int:3;t=double:21.5;o=string:{\"k\":1};");
        /* Invalid JSON fails the record with the reason. */
        CHECK_INT_EQ(process(&f, input("{\"a\": nope}")), SLUICE_ERR);
        CHECK_STR_CONTAINS(err, "parse_json: the value is not a JSON object: invalid JSON at "
                                "line 1 column");
        CHECK_INT_EQ(process(&f, input("[1,2]")), SLUICE_ERR);
        CHECK_STR_EQ(err, "parse_json: the value is not a JSON object: JSON value is an array, "
                          "not an object");
        CHECK_INT_EQ(process(&f, input("")), SLUICE_ERR);
        CHECK_STR_CONTAINS(err, "invalid JSON at line 1 column 0");
        ph_destroy(&f);
    }
    /* Order: parse_json, copy_value_to, rename, drop, set. */
    if (start(&f, "order", "parse_json: true, copy_value_to: raw, rename: { j: k, raw: r }, "
                           "drop: [a, k], set: { k: 9 }") == 0) {
        CHECK_INT_EQ(process(&f, input("{\"j\":5}")), SLUICE_OK);
        CHECK_STR_EQ(describe(api->batch_at(out, 0)), "b=int:2;c=int:3;r=string:{\"j\":5};k=int:9;");
        ph_destroy(&f);
    }
}

static void errors(void)
{
    ph_inst f;
    CHECK_INT_EQ(start(&f, "none", "parse_json: false"), -SLUICE_ERR);
    CHECK_STR_CONTAINS(err, "nothing to do");
    CHECK_INT_EQ(start(&f, "emptycv", "copy_value_to: \"\""), -SLUICE_ERR);
    CHECK_STR_CONTAINS(err, "copy_value_to: the field name is empty");
    CHECK_INT_EQ(start(&f, "emptyrn", "rename: { a: \"\" }"), -SLUICE_ERR);
    CHECK_STR_CONTAINS(err, "rename: \"a\" -> \"\": names must not be empty");
    /* A full output batch is flow control: SLUICE_FULL, the host calls again. */
    if (start(&f, "full", "set: { x: 1 }") == 0) {
        const sluice_record *r = input("v");
        sluice_batch *full = sl_batch_new(1, 1 << 20);
        api->record_new(full);
        CHECK_INT_EQ(f.st->entry->desc->transform->process(f.inst, r, full, err), SLUICE_FULL);
        CHECK_STR_CONTAINS(err, "output batch full");
        sl_batch_free(full);
        ph_destroy(&f);
    }
}

int main(void)
{
    ph_setup();
    api = sl_api();
    in = sl_batch_new(8, 1 << 20);
    out = sl_batch_new(8, 1 << 20);
    set_inference();
    rename_drop();
    copy_and_parse();
    errors();
    sl_batch_free(in);
    sl_batch_free(out);
    return PH_DONE();
}
