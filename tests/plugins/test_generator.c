/* generator: count and EOF, batch room, templates and placeholders, size,
 * seed determinism, unbounded mode, the rate limit, and init errors. */
#include "harness.h"
#include "strcheck.h"

#include <stdio.h>
#include <string.h>

static const sluice_api *api;
static char err[SLUICE_ERRLEN];

#define YAML(src) "source: { plugin: generator, " src " }\nsink: { plugin: file, discard: true }\n"

/* Initialises the generator of a pipeline made from the source options. */
static int start(ph_inst *g, const char *name, const char *yaml)
{
    sl_pipeline_conf *c = ph_conf(name, yaml);
    CHECK(c != NULL);
    if (!c)
        return -1;
    sluice_status s = ph_init(g, &c->source, err);
    return s == SLUICE_OK ? 0 : -(int)s;
}

static sluice_status poll(ph_inst *g, sluice_batch *b, int timeout_ms)
{
    err[0] = '\0';
    return g->st->entry->desc->source->poll(g->inst, b, timeout_ms, err);
}

static void count_and_eof(void)
{
    ph_inst g;
    if (start(&g, "count", YAML("count: 5")) != 0)
        return;
    sluice_batch *b = sl_batch_new(100, 1 << 20);
    CHECK_INT_EQ(poll(&g, b, 100), SLUICE_EOF);
    CHECK_INT_EQ(api->batch_count(b), 5);
    for (size_t i = 0; i < api->batch_count(b); i++) {
        const sluice_record *r = api->batch_at(b, i);
        char want[32];
        snprintf(want, sizeof want, "{\"seq\":%zu}", i);
        CHECK_BYTES_EQ(r->value, want);             /* the default payload */
        CHECK_INT_EQ(r->origin.offset, (long long)i);
        CHECK_STR_EQ(r->origin.topic, "generator");
        CHECK_INT_EQ(r->origin.partition, -1);
        CHECK(r->key.ptr == NULL && r->key.len == 0);
        CHECK(r->timestamp > 1600000000000000LL);
        CHECK(r->value.ptr[r->value.len] == '\0');
    }
    /* Once finished it stays finished. */
    sl_batch_reset(b);
    CHECK_INT_EQ(poll(&g, b, 100), SLUICE_EOF);
    CHECK_INT_EQ(api->batch_count(b), 0);
    ph_destroy(&g);

    /* The batch's room bounds each poll; the sequence carries on. */
    if (start(&g, "room", YAML("count: 10, topic: \"plant/7\"")) != 0)
        return;
    sluice_batch *small = sl_batch_new(4, 1 << 20);
    long long next = 0;
    sluice_status want[] = {SLUICE_OK, SLUICE_OK, SLUICE_EOF};
    size_t want_n[] = {4, 4, 2};
    for (int round = 0; round < 3; round++) {
        sl_batch_reset(small);
        CHECK_INT_EQ(poll(&g, small, 100), want[round]);
        CHECK_INT_EQ(api->batch_count(small), want_n[round]);
        for (size_t i = 0; i < api->batch_count(small); i++) {
            CHECK_INT_EQ(api->batch_at(small, i)->origin.offset, next++);
            CHECK_STR_EQ(api->batch_at(small, i)->origin.topic, "plant/7");
        }
    }
    ph_destroy(&g);

    /* count: 0 is unbounded. */
    if (start(&g, "unbounded", YAML("count: 0")) != 0)
        return;
    for (int round = 0; round < 50; round++) {
        sl_batch_reset(b);
        CHECK_INT_EQ(poll(&g, b, 0), SLUICE_OK);
        CHECK_INT_EQ(api->batch_count(b), 100);
    }
    CHECK_INT_EQ(api->batch_at(b, 99)->origin.offset, 4999);
    ph_destroy(&g);
    sl_batch_free(small);
    sl_batch_free(b);
}

static void templates(void)
{
    ph_inst g;
    if (start(&g, "tpl", YAML("count: 3, payload: 'v={seq} t={ts_us} r={rand} {X} {\"a\":1} {}'"
                              ", key: \"dev-{seq}\"")) != 0)
        return;
    sluice_batch *b = sl_batch_new(10, 1 << 20);
    CHECK_INT_EQ(poll(&g, b, 0), SLUICE_EOF);
    CHECK_INT_EQ(api->batch_count(b), 3);
    const sluice_record *r = api->batch_at(b, 2);
    CHECK_BYTES_EQ(r->key, "dev-2");
    char head[64];
    snprintf(head, sizeof head, "v=2 t=%lld r=", (long long)r->timestamp);
    CHECK(r->value.len > strlen(head) && memcmp(r->value.ptr, head, strlen(head)) == 0);
    /* Braces that do not enclose a lower-case name are literal text. */
    CHECK_STR_CONTAINS(r->value.ptr, " {X} {\"a\":1} {}");
    ph_destroy(&g);
    sl_batch_free(b);
}

static void bad_options(void)
{
    ph_inst g;
    CHECK_INT_EQ(start(&g, "typo", YAML("payload: \"{\\\"seq\\\": {sq}}\"")), -SLUICE_ERR);
    CHECK_STR_EQ(err, "payload: unknown placeholder \"{sq}\" at byte 8; known: {seq}, {ts_us}, "
                      "{rand}");
    CHECK_INT_EQ(start(&g, "keytypo", YAML("key: \"{seqq}\"")), -SLUICE_ERR);
    CHECK_STR_CONTAINS(err, "key: unknown placeholder \"{seqq}\" at byte 0");
    /* Bounds declared in the option table: refused before init. */
    CHECK_INT_EQ(ph_conf_refused("negcount", YAML("count: -1"), err, SLUICE_ERRLEN), 0);
    CHECK_STR_CONTAINS(err, "option \"count\": -1 is out of range; expected at least 0");
    CHECK_INT_EQ(ph_conf_refused("negrate", YAML("rate: -5"), err, SLUICE_ERRLEN), 0);
    CHECK_STR_CONTAINS(err, "option \"rate\": -5 is out of range; expected at least 0");
    CHECK_INT_EQ(ph_conf_refused("hugesize", YAML("size: 1GiB"), err, SLUICE_ERRLEN), 0);
    CHECK_STR_CONTAINS(err, "option \"size\": 1GiB is out of range; expected 0..64MiB");
}

static void size_pad_truncate(void)
{
    ph_inst g;
    sluice_batch *b = sl_batch_new(10, 1 << 20);
    if (start(&g, "pad", YAML("count: 2, payload: \"ab{seq}\", size: 8")) == 0) {
        CHECK_INT_EQ(poll(&g, b, 0), SLUICE_EOF);
        CHECK_BYTES_EQ(api->batch_at(b, 1)->value, "ab1     ");
        ph_destroy(&g);
    }
    /* A size the template can never exceed renders in place: same result. */
    sl_batch_reset(b);
    if (start(&g, "direct", YAML("count: 2, size: 32")) == 0) {
        CHECK_INT_EQ(poll(&g, b, 0), SLUICE_EOF);
        CHECK_BYTES_EQ(api->batch_at(b, 1)->value, "{\"seq\":1}                       ");
        CHECK(api->batch_at(b, 1)->value.ptr[32] == '\0');
        ph_destroy(&g);
    }
    sl_batch_reset(b);
    if (start(&g, "trunc", YAML("count: 2, payload: \"abcdef{seq}\", size: 3")) == 0) {
        CHECK_INT_EQ(poll(&g, b, 0), SLUICE_EOF);
        CHECK_BYTES_EQ(api->batch_at(b, 1)->value, "abc");
        ph_destroy(&g);
    }
    /* A record that cannot fit an empty batch is an error, not a hang. */
    sluice_batch *tiny = sl_batch_new(10, 1024);
    if (start(&g, "toobig", YAML("count: 2, size: 4KiB")) == 0) {
        CHECK_INT_EQ(poll(&g, tiny, 0), SLUICE_ERR);
        CHECK_STR_CONTAINS(err, "record 0 (value of 4096 bytes) does not fit in an empty batch");
        ph_destroy(&g);
    }
    /* When the arena fills part-way, the poll ends early and no record is
     * lost or half-built: the next batch continues the sequence. */
    sluice_batch *mid = sl_batch_new(100, 4096);
    if (start(&g, "fill", YAML("count: 20, size: 1000")) == 0) {
        CHECK_INT_EQ(poll(&g, mid, 0), SLUICE_OK);
        size_t n = api->batch_count(mid);
        CHECK(n > 0 && n < 20);
        CHECK_INT_EQ(api->batch_at(mid, n - 1)->value.len, 1000);
        sl_batch_reset(mid);
        CHECK_INT_EQ(poll(&g, mid, 0), SLUICE_OK);
        CHECK_INT_EQ(api->batch_at(mid, 0)->origin.offset, (long long)n);
        ph_destroy(&g);
    }
    sl_batch_free(mid);
    sl_batch_free(tiny);
    sl_batch_free(b);
}

/* The {rand} values of `count` records from a generator with this seed. */
static void rands(const char *name, const char *seed, char out[][16], int count)
{
    char yaml[256];
    snprintf(yaml, sizeof yaml, YAML("count: %d, payload: \"{rand}\", seed: %s"), count, seed);
    ph_inst g;
    if (start(&g, name, yaml) != 0)
        return;
    sluice_batch *b = sl_batch_new(3, 1 << 20);   /* several polls */
    int k = 0;
    while (k < count) {
        sl_batch_reset(b);
        sluice_status s = poll(&g, b, 0);
        for (size_t i = 0; i < api->batch_count(b) && k < count; i++, k++)
            snprintf(out[k], 16, "%.*s", (int)api->batch_at(b, i)->value.len,
                     api->batch_at(b, i)->value.ptr);
        if (s != SLUICE_OK)
            break;
    }
    CHECK_INT_EQ(k, count);
    ph_destroy(&g);
    sl_batch_free(b);
}

static void seed_determinism(void)
{
    char a[10][16], b[10][16], c[10][16];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    memset(c, 0, sizeof c);
    rands("seed7a", "7", a, 10);
    rands("seed7b", "7", b, 10);
    rands("seed8", "8", c, 10);
    int same_ab = 1, same_ac = 1, distinct = 0;
    for (int i = 0; i < 10; i++) {
        same_ab &= !strcmp(a[i], b[i]);
        same_ac &= !strcmp(a[i], c[i]);
        distinct += i && strcmp(a[i], a[i - 1]) != 0;
        CHECK(a[i][0] >= '0' && a[i][0] <= '9');
    }
    CHECK(same_ab);       /* same seed, same values */
    CHECK(!same_ac);      /* another seed, other values */
    CHECK(distinct >= 8); /* and they vary from record to record */
}

static void rate_limit(void)
{
    ph_inst g;
    if (start(&g, "rate", YAML("rate: 20")) != 0)
        return;
    sluice_batch *b = sl_batch_new(1000, 1 << 20);
    const sluice_api *a = api;
    int64_t t0 = a->mono_ns();
    /* The first record is due at once. */
    CHECK_INT_EQ(poll(&g, b, 1000), SLUICE_OK);
    CHECK_INT_EQ(api->batch_count(b), 1);
    /* A poll with no wait allowed returns at once with nothing due. */
    sl_batch_reset(b);
    CHECK_INT_EQ(poll(&g, b, 0), SLUICE_OK);
    CHECK_INT_EQ(api->batch_count(b), 0);
    /* The next one is due 50 ms later: the poll waits for it. */
    CHECK_INT_EQ(poll(&g, b, 1000), SLUICE_OK);
    CHECK_INT_EQ(api->batch_count(b), 1);
    double ms = (double)(a->mono_ns() - t0) / 1e6;
    CHECK(ms >= 45 && ms < 500);
    /* Over about half a second, about ten more. */
    while ((double)(a->mono_ns() - t0) / 1e6 < 550)
        poll(&g, b, 20);
    size_t n = api->batch_count(b);
    if (n < 9 || n > 14)
        fprintf(stderr, "rate 20/s gave %zu records in 550 ms\n", n);
    CHECK(n >= 9 && n <= 14);
    ph_destroy(&g);

    /* Fast rates hand out many per poll, not one per call. */
    if (start(&g, "fastrate", YAML("rate: 100000")) != 0)
        return;
    sl_batch_reset(b);
    t0 = a->mono_ns();
    int polls = 0;
    while (api->batch_room(b) > 0 && polls < 10000) {
        poll(&g, b, 100);
        polls++;
    }
    ms = (double)(a->mono_ns() - t0) / 1e6;
    CHECK(ms >= 8 && ms < 500);   /* 1000 records at 100000/s: ~10 ms */
    CHECK(polls < 1000);
    ph_destroy(&g);
    sl_batch_free(b);
}

int main(void)
{
    ph_setup();
    api = sl_api();
    count_and_eof();
    templates();
    bad_options();
    size_pad_truncate();
    seed_determinism();
    rate_limit();
    return PH_DONE();
}
