/* The record functions of the api table, exercised through the table as a
 * plugin would use them. */
#include "batch.h"
#include "check.h"
#include "ctx.h"

#include <string.h>

int main(void)
{
    const sluice_api *api = sl_api();
    CHECK_INT_EQ(api->abi_major, SLUICE_ABI_MAJOR);
    CHECK(api->struct_size == sizeof(sluice_api));

    sluice_batch *b = sl_batch_new(3, 1 << 20);
    CHECK_INT_EQ(api->batch_room(b), 3);
    sluice_record *r = api->record_new(b);
    CHECK(r && r->origin.partition == -1 && r->origin.offset == -1);
    CHECK_INT_EQ(api->set_value(b, r, "hello", 5), 0);
    CHECK(r->value.len == 5 && memcmp(r->value.ptr, "hello", 5) == 0 && r->value.ptr[5] == 0);
    CHECK_INT_EQ(api->set_key(b, r, "k", 1), 0);

    /* Fields: add, re-add same name resets, grow past the first capacity. */
    sluice_field *f = api->field_add(b, r, "temp", SLUICE_DOUBLE);
    f->v.d = 21.5;
    f = api->field_add(b, r, "name", SLUICE_STRING);
    CHECK_INT_EQ(api->field_set_string(b, f, "abc", 3), 0);
    for (int i = 0; i < 20; i++) {
        char n[16];
        snprintf(n, sizeof n, "f%d", i);
        sluice_field *g = api->field_add(b, r, n, SLUICE_INT);
        CHECK(g != NULL);
        if (g)
            g->v.i = i;
    }
    CHECK_INT_EQ(r->n_fields, 22);
    const sluice_field *t = sluice_field_get(r, "temp");
    CHECK(t && t->type == SLUICE_DOUBLE && t->v.d == 21.5);
    const sluice_field *f19 = sluice_field_get(r, "f19");
    CHECK(f19 && f19->v.i == 19);
    f = api->field_add(b, r, "temp", SLUICE_INT);
    CHECK_INT_EQ(r->n_fields, 22);
    CHECK(f->type == SLUICE_INT && f->v.i == 0);
    CHECK_INT_EQ(api->field_remove(r, "f0"), 1);
    CHECK_INT_EQ(api->field_remove(r, "f0"), 0);
    CHECK(sluice_field_get(r, "f0") == NULL && sluice_field_get(r, "f1") != NULL);
    CHECK_STR_CONTAINS(sluice_field_get(r, "name")->v.s.ptr, "abc");

    CHECK_INT_EQ(api->header_add(b, r, "h1", "v1", 2), 0);
    CHECK_INT_EQ(api->header_add(b, r, "h2", "", 0), 0);
    CHECK_INT_EQ(r->n_headers, 2);

    /* A copy into another batch shares values and copies the arrays. */
    sluice_batch *out = sl_batch_new(4, 1 << 20);
    sluice_record *c = api->record_copy(out, r);
    CHECK(c && c->value.ptr == r->value.ptr && c->fields != r->fields);
    CHECK_INT_EQ(c->n_fields, r->n_fields);
    api->field_add(out, c, "extra", SLUICE_BOOL)->v.b = 1;
    CHECK(sluice_field_get(r, "extra") == NULL);
    CHECK(sluice_field_get(c, "extra") != NULL);
    api->header_add(out, c, "h3", "x", 1);
    CHECK_INT_EQ(r->n_headers, 2);
    CHECK_INT_EQ(c->n_headers, 3);

    /* Full batch. */
    CHECK(api->record_new(b) != NULL);
    CHECK(api->record_new(b) != NULL);
    CHECK(api->record_new(b) == NULL);
    CHECK_INT_EQ(api->batch_count(b), 3);
    CHECK(api->batch_at(b, 3) == NULL);

    api->record_fail(b, 1, "bad row");
    api->record_fail(b, 1, "bad row again");
    api->record_fail(b, 9, "out of range is ignored");
    CHECK_INT_EQ(b->n_failed, 1);
    CHECK_STR_CONTAINS(b->recs[1].failure_, "again");

    sl_batch_reset(b);
    CHECK_INT_EQ(api->batch_count(b), 0);
    CHECK(api->record_new(b)->failure_ == NULL);

    /* Arena exhaustion is an error, not a crash. */
    sluice_batch *tiny = sl_batch_new(2, 4096);
    sluice_record *tr = api->record_new(tiny);
    char big[8192] = {0};
    CHECK_INT_EQ(api->set_value(tiny, tr, big, sizeof big), -1);
    /* ... and remembered, so the host can tell a full output batch from a
     * transform's own failure (SLUICE_FULL for 1.0 transforms). */
    CHECK_INT_EQ(tiny->out_of_room, 1);
    sl_batch_reset(tiny);
    CHECK_INT_EQ(tiny->out_of_room, 0);
    CHECK(api->record_new(tiny) && api->record_new(tiny));
    CHECK_INT_EQ(tiny->out_of_room, 0);
    CHECK(api->record_new(tiny) == NULL);
    CHECK_INT_EQ(tiny->out_of_room, 1);

    CHECK(api->now_us() > 1600000000000000LL);
    int64_t m1 = api->mono_ns(), m2 = api->mono_ns();
    CHECK(m2 >= m1);

    sl_batch_free(tiny);
    sl_batch_free(out);
    sl_batch_free(b);
    return CHECK_DONE();
}
