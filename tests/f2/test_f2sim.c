/* f2sim on its own: determinism by seed, the fleet's MACs, every kind of
 * reading, count and EOF, kinds, fixed timestamps, malformed readings,
 * pacing and option errors. */
#include "check.h"
#include "f2t.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static char err[SLUICE_ERRLEN];

static const char *header(const sluice_record *r, const char *key)
{
    for (uint32_t i = 0; i < r->n_headers; i++)
        if (strcmp(r->headers[i].key, key) == 0)
            return r->headers[i].value.ptr;
    return NULL;
}

/* Reads up to `n` records (stopping at EOF) into b, a batch of capacity n
 * or more; returns how many. */
static size_t take(f2t_inst *s, sluice_batch *b, size_t n)
{
    sl_batch_reset(b);
    sluice_batch *tmp = sl_batch_new(n, 1 << 22);
    while (b->n < n) {
        sl_batch_reset(tmp);
        sluice_status st = s->plugin->source->poll(s->inst, tmp, 100, err);
        for (size_t i = 0; i < tmp->n && b->n < n; i++) {
            const sluice_record *r = &tmp->recs[i];
            sluice_record *c = sl_api()->record_new(b);
            sl_api()->set_value(b, c, r->value.ptr, r->value.len);
            sl_api()->set_key(b, c, r->key.ptr, r->key.len);
            c->origin = r->origin;
            c->origin.topic = sl_api()->strndup(b, r->origin.topic, strlen(r->origin.topic));
            c->timestamp = r->timestamp;
            for (uint32_t h = 0; h < r->n_headers; h++)
                sl_api()->header_add(b, c, r->headers[h].key, r->headers[h].value.ptr,
                                     r->headers[h].value.len);
        }
        if (st != SLUICE_OK)
            break;
    }
    sl_batch_free(tmp);
    return b->n;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int same(const sluice_record *a, const sluice_record *b)
{
    return a->value.len == b->value.len && memcmp(a->value.ptr, b->value.ptr, a->value.len) == 0 &&
           strcmp(a->origin.topic, b->origin.topic) == 0 && a->timestamp == b->timestamp &&
           a->key.len == b->key.len && memcmp(a->key.ptr, b->key.ptr, a->key.len) == 0;
}

static void test_determinism(f2t *t)
{
    const char *const o7[] = {"seed: 7", "devices: 3", "rate: 0", "count: 500",
                              "start_time: \"2024-01-01 00:00:00\"", NULL};
    const char *const o8[] = {"seed: 8", "devices: 3", "rate: 0", "count: 500",
                              "start_time: \"2024-01-01 00:00:00\"", NULL};
    f2t_inst a, b, c;
    CHECK_INT_EQ(f2t_sim(t, &a, o7), 0);
    CHECK_INT_EQ(f2t_sim(t, &b, o7), 0);
    CHECK_INT_EQ(f2t_sim(t, &c, o8), 0);
    sluice_batch *ba = sl_batch_new(1000, 1 << 22), *bb = sl_batch_new(1000, 1 << 22),
                 *bc = sl_batch_new(1000, 1 << 22);
    /* Batch boundaries differ; the stream must not. */
    sl_batch_reset(ba);
    while (ba->n < 500 && a.plugin->source->poll(a.inst, ba, 100, err) == SLUICE_OK)
        ;
    sl_batch_reset(bb);
    for (;;) {
        sluice_batch *small = sl_batch_new(7, 1 << 16);
        sluice_status st = b.plugin->source->poll(b.inst, small, 100, err);
        for (size_t i = 0; i < small->n; i++) {
            sluice_record *r = sl_api()->record_new(bb);
            sl_api()->set_value(bb, r, small->recs[i].value.ptr, small->recs[i].value.len);
            sl_api()->set_key(bb, r, small->recs[i].key.ptr, small->recs[i].key.len);
            r->origin.topic = sl_api()->strndup(bb, small->recs[i].origin.topic,
                                                strlen(small->recs[i].origin.topic));
            r->timestamp = small->recs[i].timestamp;
        }
        sl_batch_free(small);
        if (st != SLUICE_OK)
            break;
    }
    CHECK_INT_EQ(take(&c, bc, 500), 500);
    CHECK_INT_EQ(ba->n, 500);
    CHECK_INT_EQ(bb->n, 500);
    size_t equal = 0, differ_payload = 0;
    for (size_t i = 0; i < 500 && i < ba->n && i < bb->n; i++) {
        equal += same(&ba->recs[i], &bb->recs[i]);
        /* Seed 8: its own MACs, and other values at the same instants. */
        CHECK(strstr(bc->recs[i].origin.topic, "/f2-02F20008") != NULL);
        differ_payload += ba->recs[i].value.len != bc->recs[i].value.len ||
                          memcmp(ba->recs[i].value.ptr, bc->recs[i].value.ptr,
                                 ba->recs[i].value.len) != 0;
    }
    CHECK_INT_EQ(equal, 500);
    CHECK(differ_payload > 400);
    CHECK(strstr(ba->recs[0].origin.topic, "f2-02F200070000") != NULL);
    /* EOF after count. */
    CHECK_INT_EQ(f2t_poll(&a, ba, 10, err), SLUICE_EOF);
    sl_batch_free(ba);
    sl_batch_free(bb);
    sl_batch_free(bc);
    f2t_inst_free(&a);
    f2t_inst_free(&b);
    f2t_inst_free(&c);
}

static void test_kinds_and_shape(f2t *t)
{
    const char *const o[] = {"devices: 2", "rate: 0", "start_time: \"2024-01-01 00:00:00\"",
                             NULL};
    f2t_inst s;
    CHECK_INT_EQ(f2t_sim(t, &s, o), 0);
    sluice_batch *b = sl_batch_new(28, 1 << 20);
    CHECK_INT_EQ(take(&s, b, 28), 28);
    /* Two controllers x fourteen components, each once, devices alternating. */
    static const char *const want[] = {
        "cmnd/f2-02F200010000/sensor-mode/J1/sensor-1",
        "cmnd/f2-02F200010001/sensor-mode/J1/sensor-1",
        "cmnd/f2-02F200010000/sensor-mode/J1/sensor-2",
        "stat/f2-02F200010000/access-control-mode/2/strike-1",
        "stat/f2-02F200010000/access-control-mode/2/door-sensors",
        "tele/f2-02F200010001/access-control-mode/2/reader-1",
        "stat/f2-02F200010000/access-control-mode/2/exit-buttons",
        "stat/f2-02F200010001/alarm-mode/3/motion-sensor-2",
        "stat/f2-02F200010000/alarm-mode/3/siren-1",
        "cmnd/f2-02F200010001/sensor-mode/J4/sensor-3",
    };
    for (size_t w = 0; w < sizeof want / sizeof *want; w++) {
        int found = 0;
        for (size_t i = 0; i < b->n; i++)
            found += strcmp(b->recs[i].origin.topic, want[w]) == 0;
        if (found != 1)
            fprintf(stderr, "topic %s seen %d times\n", want[w], found);
        CHECK_INT_EQ(found, 1);
    }
    const sluice_record *r0 = &b->recs[0], *r1 = &b->recs[1];
    CHECK(r0->key.len == 15 && memcmp(r0->key.ptr, "f2-02f200010000", 15) == 0);
    CHECK(r1->key.len == 15 && memcmp(r1->key.ptr, "f2-02f200010001", 15) == 0);
    /* Fixed start, 1 ms apart at rate 0, written into the payload too. */
    CHECK_INT_EQ(r0->timestamp, 1704067200000000LL);
    CHECK_INT_EQ(r1->timestamp, 1704067200001000LL);
    CHECK(strstr(r1->value.ptr, "\"timestamp\": \"2024-01-01 00:00:00.001000\"") != NULL);
    CHECK(r0->origin.offset == 0 && r1->origin.offset == 1);
    /* Every payload kind has its fields. */
    static const char *const fields[][2] = {
        {"sensor-1", "\"data\": \""},       {"strike-1", "\"voltage\": "},
        {"door-sensors", "\"tamper\": "},   {"reader-1", "\"signal_strength\": "},
        {"exit-buttons", "\"button_id\": "}, {"motion-sensor-1", "\"zone\": \"zone_"},
        {"siren-1", "\"pattern\": \""}};
    for (size_t f = 0; f < sizeof fields / sizeof *fields; f++) {
        int ok = 0;
        for (size_t i = 0; i < b->n; i++)
            if (strstr(b->recs[i].origin.topic, fields[f][0]) &&
                strstr(b->recs[i].value.ptr, fields[f][1]))
                ok = 1;
        CHECK(ok);
    }
    f2t_inst_free(&s);

    /* kinds restricts the components. */
    const char *const ok[] = {"devices: 3", "rate: 0", "kinds: [siren, reader]", NULL};
    CHECK_INT_EQ(f2t_sim(t, &s, ok), 0);
    sl_batch_reset(b);
    CHECK_INT_EQ(take(&s, b, 28), 28);
    for (size_t i = 0; i < b->n; i++)
        CHECK(strstr(b->recs[i].origin.topic, "/siren-1") ||
              strstr(b->recs[i].origin.topic, "/reader-1"));
    /* Wall-clock timestamps still increase strictly. */
    for (size_t i = 1; i < b->n; i++)
        CHECK(b->recs[i].timestamp > b->recs[i - 1].timestamp);
    f2t_inst_free(&s);
    sl_batch_free(b);
}

static void test_count_eof(f2t *t)
{
    const char *const o[] = {"rate: 0", "count: 30", NULL};
    f2t_inst s;
    CHECK_INT_EQ(f2t_sim(t, &s, o), 0);
    sluice_batch *b = sl_batch_new(7, 1 << 20);
    size_t total = 0;
    int polls = 0;
    sluice_status st;
    while ((st = f2t_poll(&s, b, 10, err)) == SLUICE_OK && polls < 100) {
        total += b->n;
        polls++;
    }
    CHECK_INT_EQ(st, SLUICE_EOF);
    CHECK_INT_EQ(total, 30);
    CHECK_INT_EQ(polls, 5); /* 7, 7, 7, 7, 2 */
    CHECK_INT_EQ(f2t_poll(&s, b, 10, err), SLUICE_EOF);
    CHECK_INT_EQ(f2t_metric(&s, "sluice_f2sim_readings_total"), 30);
    f2t_inst_free(&s);
    sl_batch_free(b);
}

static void test_bad(f2t *t)
{
    const char *const all[] = {"rate: 0", "bad_ratio: 1", NULL};
    const char *const some[] = {"rate: 0", "bad_ratio: 0.2", "seed: 3", NULL};
    const char *const none[] = {"rate: 0", NULL};
    sluice_batch *b = sl_batch_new(2000, 1 << 22);
    f2t_inst s;
    CHECK_INT_EQ(f2t_sim(t, &s, all), 0);
    CHECK_INT_EQ(take(&s, b, 700), 700);
    static const char *const kinds[] = {"not_json",     "bad_hex",   "short_data", "unknown_mac",
                                        "no_timestamp", "bad_topic", "bad_utf8"};
    int seen[7] = {0};
    size_t bad = 0;
    for (size_t i = 0; i < b->n; i++) {
        const char *h = header(&b->recs[i], "f2sim.bad");
        bad += h != NULL;
        for (int k = 0; h && k < 7; k++)
            seen[k] += strcmp(h, kinds[k]) == 0;
    }
    CHECK_INT_EQ(bad, 700);
    for (int k = 0; k < 7; k++)
        CHECK(seen[k] > 50);
    CHECK_INT_EQ(f2t_metric(&s, "sluice_f2sim_bad_readings_total"), 700);
    f2t_inst_free(&s);

    CHECK_INT_EQ(f2t_sim(t, &s, some), 0);
    CHECK_INT_EQ(take(&s, b, 2000), 2000);
    bad = 0;
    for (size_t i = 0; i < b->n; i++)
        bad += header(&b->recs[i], "f2sim.bad") != NULL;
    CHECK(bad > 300 && bad < 500);
    f2t_inst_free(&s);

    CHECK_INT_EQ(f2t_sim(t, &s, none), 0);
    CHECK_INT_EQ(take(&s, b, 1000), 1000);
    for (size_t i = 0; i < b->n; i++)
        CHECK(b->recs[i].n_headers == 0);
    f2t_inst_free(&s);
    sl_batch_free(b);
}

static void test_rate(f2t *t)
{
    const char *const o[] = {"rate: 200", NULL};
    f2t_inst s;
    CHECK_INT_EQ(f2t_sim(t, &s, o), 0);
    sluice_batch *b = sl_batch_new(1000, 1 << 20);
    size_t n = 0;
    int64_t t0 = now_ms();
    while (now_ms() - t0 < 500) {
        CHECK_INT_EQ(f2t_poll(&s, b, 50, err), SLUICE_OK);
        n += b->n;
    }
    /* 200/s for half a second: about 100 (loose: the machine may be busy). */
    CHECK(n >= 60 && n <= 130);
    if (n < 60 || n > 130)
        fprintf(stderr, "rate 200 gave %zu readings in 500 ms\n", n);
    f2t_inst_free(&s);
    sl_batch_free(b);
}

static void test_bad_options(f2t *t)
{
    static const struct {
        const char *opt, *why;
    } cases[] = {
        {"devices: 0", "option \"devices\": 0 is out of range; expected 1..65536"},
        {"devices: 70000", "option \"devices\": 70000 is out of range; expected 1..65536"},
        {"kinds: [sirens]", "kinds: unknown kind \"sirens\""},
        {"bad_ratio: 1.5", "option \"bad_ratio\": 1.5 is out of range; expected 0..1"},
        {"rate: -1", "option \"rate\": -1 is out of range; expected at least 0"},
        {"count: -3", "option \"count\": -3 is out of range; expected at least 0"},
        {"start_time: yesterday", "start_time \"yesterday\" is not"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *const o[] = {cases[i].opt, NULL};
        f2t_inst s;
        CHECK_INT_EQ(f2t_sim(t, &s, o), -1);
        CHECK_STR_CONTAINS(s.init_err, cases[i].why);
        f2t_inst_free(&s);
    }
}

int main(void)
{
    f2t t = {0};
    f2t_open_plugins(&t);
    test_determinism(&t);
    test_kinds_and_shape(&t);
    test_count_eof(&t);
    test_bad(&t);
    test_rate(&t);
    test_bad_options(&t);
    int rc = CHECK_DONE();
    f2t_close(&t, 0);
    return rc;
}
