/* Unit tests of the MQTT plugin's pieces that need no broker: the ring
 * (order, both bounds, wrap-around, oversized messages, close and eof, and a
 * two-thread stress run), broker URLs, topic templates, topic checks and
 * key segments. */
#include "check.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "ctx.h"
#include "mqtt_ring.h"
#include "mqtt_topic.h"
#include "mqtt_url.h"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int put_str(mq_ring *r, const char *topic, const char *payload)
{
    return mq_ring_put(r, topic, strlen(topic), payload, strlen(payload), 1, 0, 42);
}

/* Takes up to max entries; appends "topic=payload;" to out. */
static size_t take(mq_ring *r, size_t max, char *out, size_t outlen)
{
    mq_ring_cursor c;
    mq_ring_begin(r, &c);
    mq_msg m;
    size_t n = 0;
    while (n < max && mq_ring_peek(r, &c, &m)) {
        size_t l = strlen(out);
        snprintf(out + l, outlen - l, "%.*s=%.*s;", (int)m.topic_len, m.topic,
                 (int)m.payload_len, m.payload);
        mq_ring_next(r, &c);
        n++;
    }
    mq_ring_commit(r, &c);
    return n;
}

static void test_ring_order(void)
{
    mq_ring r;
    CHECK_INT_EQ(mq_ring_init(&r, 100, 4096), 0);
    CHECK_INT_EQ(put_str(&r, "a", "1"), 0);
    CHECK_INT_EQ(put_str(&r, "b/c", ""), 0);
    CHECK_INT_EQ(put_str(&r, "d", "three"), 0);
    CHECK_INT_EQ(mq_ring_wait(&r, 0, 0, 0), 3);
    char out[256] = "";
    CHECK_INT_EQ(take(&r, 2, out, sizeof out), 2);
    CHECK(!strcmp(out, "a=1;b/c=;"));
    out[0] = '\0';
    CHECK_INT_EQ(take(&r, 10, out, sizeof out), 1);
    CHECK(!strcmp(out, "d=three;"));
    CHECK_INT_EQ(mq_ring_count(&r), 0);
    /* The metadata travels with the bytes. */
    mq_ring_put(&r, "t", 1, "p", 1, 2, 1, 123456789);
    mq_ring_cursor c;
    mq_ring_begin(&r, &c);
    mq_msg m;
    CHECK(mq_ring_peek(&r, &c, &m));
    CHECK_INT_EQ(m.qos, 2);
    CHECK_INT_EQ(m.retain, 1);
    CHECK_INT_EQ(m.recv_us, 123456789);
    mq_ring_next(&r, &c);
    mq_ring_commit(&r, &c);
    mq_ring_destroy(&r);
}

typedef struct producer {
    mq_ring *r;
    int n, done, refused;
    size_t size;
} producer;

static void *produce(void *arg)
{
    producer *p = arg;
    char *payload = calloc(1, p->size + 1);
    memset(payload, 'x', p->size);
    for (int i = 0; i < p->n; i++) {
        char topic[32];
        snprintf(topic, sizeof topic, "t/%d", i);
        if (mq_ring_put(p->r, topic, strlen(topic), payload, p->size, 1, 0, i))
            p->refused++;
    }
    __atomic_store_n(&p->done, 1, __ATOMIC_SEQ_CST);
    free(payload);
    return NULL;
}

/* A full ring (by count, then by bytes) blocks the producer until the
 * consumer makes room, and close() releases it with a refusal. */
static void test_ring_bounds(void)
{
    mq_ring r;
    mq_ring_init(&r, 3, 1 << 20);
    producer p = {.r = &r, .n = 5, .size = 10};
    pthread_t th;
    pthread_create(&th, NULL, produce, &p);
    sleep_ms(100);
    CHECK_INT_EQ(mq_ring_count(&r), 3);
    CHECK_INT_EQ(__atomic_load_n(&p.done, __ATOMIC_SEQ_CST), 0);
    CHECK(r.waits >= 1);
    char out[512] = "";
    take(&r, 1, out, sizeof out);
    sleep_ms(100);
    CHECK_INT_EQ(mq_ring_count(&r), 3);          /* the fourth went in */
    CHECK_INT_EQ(__atomic_load_n(&p.done, __ATOMIC_SEQ_CST), 0);
    mq_ring_close(&r);                           /* the fifth is refused */
    pthread_join(th, NULL);
    CHECK_INT_EQ(p.refused, 1);
    CHECK_INT_EQ(mq_ring_count(&r), 3);
    mq_ring_destroy(&r);

    /* By bytes: 4 KiB holds three 1000-byte messages, not four. */
    mq_ring_init(&r, 1000, 4096);
    producer q = {.r = &r, .n = 4, .size = 1000};
    pthread_create(&th, NULL, produce, &q);
    sleep_ms(100);
    CHECK_INT_EQ(mq_ring_count(&r), 3);
    out[0] = '\0';
    take(&r, 1, out, sizeof out);
    pthread_join(th, NULL);                      /* room again: it finishes */
    CHECK_INT_EQ(q.refused, 0);
    CHECK_INT_EQ(mq_ring_count(&r), 3);
    mq_ring_destroy(&r);
}

/* Entries that no longer fit at the end go to the start (wrap), and are
 * read back in order across the wrap. */
static void test_ring_wrap(void)
{
    mq_ring r;
    mq_ring_init(&r, 1000, 4096);
    char p[1100];
    memset(p, 'a', sizeof p);
    int next_put = 0, next_take = 0, ok = 1;
    for (int round = 0; round < 50; round++) {
        while (mq_ring_count(&r) < 3) {
            char topic[16];
            snprintf(topic, sizeof topic, "%d", next_put);
            size_t len = 900 + (size_t)(next_put * 37 % 150);
            mq_ring_put(&r, topic, strlen(topic), p, len, 0, 0, 0);
            next_put++;
        }
        mq_ring_cursor c;
        mq_ring_begin(&r, &c);
        mq_msg m;
        int k = round % 2 + 1;  /* take 1 or 2: the tail moves around */
        while (k-- && mq_ring_peek(&r, &c, &m)) {
            ok &= atoi(m.topic) == next_take;
            ok &= m.payload_len == 900 + (size_t)(next_take * 37 % 150);
            next_take++;
            mq_ring_next(&r, &c);
        }
        mq_ring_commit(&r, &c);
    }
    CHECK(ok);
    CHECK(next_take > 50);
    mq_ring_destroy(&r);
}

/* A message larger than the whole ring gets a block of its own, keeps its
 * place in the order, and is freed when taken or at destroy. */
static void test_ring_oversized(void)
{
    mq_ring r;
    mq_ring_init(&r, 100, 4096);
    size_t big = 100000;
    char *payload = malloc(big);
    for (size_t i = 0; i < big; i++)
        payload[i] = (char)(i % 251);
    put_str(&r, "before", "1");
    CHECK_INT_EQ(mq_ring_put(&r, "big", 3, payload, big, 1, 0, 0), 0);
    put_str(&r, "after", "2");
    CHECK_INT_EQ(r.oversized, 1);
    mq_ring_cursor c;
    mq_ring_begin(&r, &c);
    mq_msg m;
    mq_ring_peek(&r, &c, &m);
    CHECK(!strncmp(m.topic, "before", m.topic_len));
    mq_ring_next(&r, &c);
    mq_ring_peek(&r, &c, &m);
    CHECK_INT_EQ(m.payload_len, big);
    CHECK(m.topic_len == 3 && !memcmp(m.topic, "big", 3));
    CHECK(!memcmp(m.payload, payload, big));
    mq_ring_next(&r, &c);
    mq_ring_peek(&r, &c, &m);
    CHECK(!strncmp(m.topic, "after", m.topic_len));
    mq_ring_commit(&r, &c);
    /* Another one left in the ring: destroy frees it (valgrind checks). */
    mq_ring_put(&r, "big2", 4, payload, big, 1, 0, 0);
    mq_ring_destroy(&r);
    free(payload);
}

static void *set_eof_later(void *arg)
{
    sleep_ms(100);
    mq_ring_set_eof(arg);
    return NULL;
}

static void test_ring_wait_eof(void)
{
    mq_ring r;
    mq_ring_init(&r, 10, 4096);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    CHECK_INT_EQ(mq_ring_wait(&r, 150, 0, 0), 0);      /* times out */
    clock_gettime(CLOCK_MONOTONIC, &b);
    long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    CHECK(ms >= 140 && ms < 1000);
    pthread_t th;
    pthread_create(&th, NULL, set_eof_later, &r);
    clock_gettime(CLOCK_MONOTONIC, &a);
    CHECK_INT_EQ(mq_ring_wait(&r, 5000, 0, 0), 0);     /* eof ends the wait early */
    clock_gettime(CLOCK_MONOTONIC, &b);
    ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    CHECK(ms < 2000);
    CHECK(mq_ring_eof(&r));
    pthread_join(th, NULL);
    mq_ring_destroy(&r);
}

/* A consumer gathering for more messages than the ring can hold is woken
 * when the ring is full, instead of waiting out its gather time. */
static void test_ring_gather(void)
{
    mq_ring r;
    mq_ring_init(&r, 4, 1 << 20);
    producer p = {.r = &r, .n = 8, .size = 10};
    pthread_t th;
    pthread_create(&th, NULL, produce, &p);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    size_t n = mq_ring_wait(&r, 2000, 256, 2000000);   /* gather for up to 2 s */
    clock_gettime(CLOCK_MONOTONIC, &b);
    long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    CHECK(n >= 1 && n <= 4);
    CHECK(ms < 1000);
    char out[512] = "";
    while (!__atomic_load_n(&p.done, __ATOMIC_SEQ_CST) || mq_ring_count(&r))
        if (mq_ring_wait(&r, 100, 256, 1000))
            take(&r, 100, out, sizeof out);
    pthread_join(th, NULL);
    CHECK_INT_EQ(p.refused, 0);
    /* A trickle: gathering ends after gather_us with what there is. */
    put_str(&r, "t", "1");
    clock_gettime(CLOCK_MONOTONIC, &a);
    CHECK_INT_EQ(mq_ring_wait(&r, 1000, 3, 50000), 1);
    clock_gettime(CLOCK_MONOTONIC, &b);
    ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    CHECK(ms >= 45 && ms < 1000);
    mq_ring_destroy(&r);
}

typedef struct stress {
    mq_ring *r;
    int n;
} stress;

static uint32_t xorshift(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void *stress_produce(void *arg)
{
    stress *st = arg;
    static char buf[9000];
    uint32_t seed = 7;
    for (int i = 0; i < st->n; i++) {
        size_t len = xorshift(&seed) % 3000;
        if (i % 997 == 0)
            len = 8000;      /* oversized for a 6000-byte ring */
        for (size_t k = 0; k < len; k++)
            buf[k] = (char)(i + (int)k);
        char topic[24];
        int tl = snprintf(topic, sizeof topic, "s/%d", i);
        mq_ring_put(st->r, topic, (size_t)tl, buf, len, 1, 0, i);
    }
    mq_ring_set_eof(st->r);
    return NULL;
}

/* Producer and consumer on two threads, random sizes, random takes: every
 * message arrives once, in order, intact. */
static void test_ring_stress(void)
{
    mq_ring r;
    mq_ring_init(&r, 64, 6000);
    stress st = {&r, 100000};
    pthread_t th;
    pthread_create(&th, NULL, stress_produce, &st);
    int next = 0, ok = 1;
    uint32_t seed = 99;
    for (;;) {
        size_t avail = mq_ring_wait(&r, 100, 10, 500);
        if (!avail && mq_ring_eof(&r) && mq_ring_count(&r) == 0)
            break;
        mq_ring_cursor c;
        mq_ring_begin(&r, &c);
        mq_msg m;
        size_t k = 1 + xorshift(&seed) % 50;
        while (k-- && mq_ring_peek(&r, &c, &m)) {
            char want[24];
            int wl = snprintf(want, sizeof want, "s/%d", next);
            ok &= m.topic_len == (size_t)wl && !memcmp(m.topic, want, (size_t)wl);
            ok &= m.recv_us == next;
            for (size_t b = 0; b < m.payload_len; b += 97)
                ok &= m.payload[b] == (char)(next + (int)b);
            next++;
            mq_ring_next(&r, &c);
        }
        mq_ring_commit(&r, &c);
    }
    pthread_join(th, NULL);
    CHECK(ok);
    CHECK_INT_EQ(next, st.n);
    mq_ring_destroy(&r);
}

static void test_url(void)
{
    mq_url u;
    char err[512];
    CHECK_INT_EQ(mq_url_parse("mqtt://localhost", &u, err, sizeof err), 0);
    CHECK(!strcmp(u.host, "localhost") && u.port == 1883 && !u.tls);
    CHECK_INT_EQ(mq_url_parse("mqtts://broker.example:8884/", &u, err, sizeof err), 0);
    CHECK(!strcmp(u.host, "broker.example") && u.port == 8884 && u.tls);
    CHECK_INT_EQ(mq_url_parse("MQTTS://h", &u, err, sizeof err), 0);
    CHECK(u.port == 8883 && u.tls);
    CHECK_INT_EQ(mq_url_parse("mqtt://[::1]:1884", &u, err, sizeof err), 0);
    CHECK(!strcmp(u.host, "::1") && u.port == 1884);
    const char *bad[][2] = {
        {"", "url is empty"},
        {"localhost:1883", "unknown scheme"},
        {"tcp://h:1", "unknown scheme"},
        {"mqtt://", "no host name"},
        {"mqtt://:1883", "no host name"},
        {"mqtt://h:0", "bad port"},
        {"mqtt://h:65536", "bad port"},
        {"mqtt://h:12x", "bad port"},
        {"mqtt://h:", "bad port"},
        {"mqtt://h/path", "unexpected \"/path\""},
        {"mqtt://[::1", "unterminated ["},
        {"mqtt://user:secret@h", "credentials do not belong"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        CHECK_INT_EQ(mq_url_parse(bad[i][0], &u, err, sizeof err), -1);
        CHECK_STR_CONTAINS(err, bad[i][1]);
    }
    /* The secret never shows in the message. */
    mq_url_parse("mqtt://user:secret@h", &u, err, sizeof err);
    CHECK_STR_CONTAINS(err, "url \"mqtt://***@h\"");
    CHECK(strstr(err, "secret") == NULL);
    CHECK(strstr(err, "user:") == NULL);
}

static sluice_record *rec(sluice_batch *b)
{
    const sluice_api *api = sl_api();
    sluice_record *r = api->record_new(b);
    api->set_key(b, r, "f2-aabb", 7);
    r->origin.topic = api->strndup(b, "cmnd/f2-aabb/x", 14);
    api->field_add(b, r, "n", SLUICE_INT)->v.i = -42;
    api->field_add(b, r, "d", SLUICE_DOUBLE)->v.d = 0.1;
    api->field_add(b, r, "third", SLUICE_DOUBLE)->v.d = 1.0 / 3;
    api->field_add(b, r, "ok", SLUICE_BOOL)->v.b = 1;
    api->field_add(b, r, "ts", SLUICE_TIMESTAMP)->v.ts = 1700000000123456;
    api->field_set_string(b, api->field_add(b, r, "s", SLUICE_STRING), "plant-1", 7);
    api->field_add(b, r, "nothing", SLUICE_NULL);
    return r;
}

static void test_template(void)
{
    sluice_batch *b = sl_batch_new(10, 1 << 20);
    sluice_record *r = rec(b);
    sluice_record *bare = sl_api()->record_new(b);
    struct { const char *tmpl, *want; } ok[] = {
        {"plain/topic", "plain/topic"},
        {"out/{key}/x", "out/f2-aabb/x"},
        {"mirror/{topic}", "mirror/cmnd/f2-aabb/x"},
        {"{field:s}/{field:n}/{field:ok}/{field:ts}", "plant-1/-42/true/1700000000123456"},
        {"{field:d}|{field:third}", "0.1|0.3333333333333333"},
        {"a{{b}}c/{key}", "a{b}c/f2-aabb"},
    };
    sluice_buf buf = {0};
    char err[512];
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        sluice_tmpl t;
        CHECK_INT_EQ(sluice_tmpl_parse(&t, ok[i].tmpl, err, sizeof err), 0);
        CHECK_INT_EQ(t.constant != NULL, strchr(ok[i].tmpl, '{') == NULL ||
                                     !strcmp(ok[i].tmpl, "a{{b}}c") ? 1 : 0);
        CHECK_INT_EQ(sluice_tmpl_render(&t, r, &buf, err, sizeof err), 0);
        if (strcmp(buf.p, ok[i].want))
            fprintf(stderr, "template %s: got %s, want %s\n", ok[i].tmpl, buf.p, ok[i].want);
        CHECK(!strcmp(buf.p, ok[i].want));
        CHECK_INT_EQ(buf.len, strlen(ok[i].want));
        sluice_tmpl_free(&t);
    }
    struct { const char *tmpl, *want; } bad_parse[] = {
        {"a/{nope}", "unknown placeholder {nope}"},
        {"a/{field:}", "unknown placeholder {field:}"},
        {"a/{key", "unterminated { at offset 2"},
        {"a}b", "unmatched } at offset 1"},
    };
    for (size_t i = 0; i < sizeof bad_parse / sizeof *bad_parse; i++) {
        sluice_tmpl t;
        CHECK_INT_EQ(sluice_tmpl_parse(&t, bad_parse[i].tmpl, err, sizeof err), -1);
        CHECK_STR_CONTAINS(err, bad_parse[i].want);
    }
    struct { const char *tmpl, *want; const sluice_record *r; } bad_render[] = {
        {"x/{field:missing}", "no field \"missing\"", NULL},
        {"x/{field:nothing}", "field \"nothing\" is null", NULL},
        {"x/{key}", "no key", (const sluice_record *)1},
        {"x/{topic}", "no origin topic", (const sluice_record *)1},
    };
    for (size_t i = 0; i < sizeof bad_render / sizeof *bad_render; i++) {
        sluice_tmpl t;
        CHECK_INT_EQ(sluice_tmpl_parse(&t, bad_render[i].tmpl, err, sizeof err), 0);
        CHECK_INT_EQ(sluice_tmpl_render(&t, bad_render[i].r ? bare : r, &buf, err, sizeof err), -1);
        CHECK_STR_CONTAINS(err, bad_render[i].want);
        sluice_tmpl_free(&t);
    }
    sluice_buf_free(&buf);
    sl_batch_free(b);
}

static void test_topic_check(void)
{
    char err[512];
    CHECK_INT_EQ(mq_topic_check_publish("a/b/c", 5, err, sizeof err), 0);
    CHECK_INT_EQ(mq_topic_check_publish("", 0, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "empty");
    CHECK_INT_EQ(mq_topic_check_publish("a/+/c", 5, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "wildcard");
    CHECK_INT_EQ(mq_topic_check_publish("a/#", 3, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "wildcard");
    CHECK_INT_EQ(mq_topic_check_publish("a\0b", 3, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "NUL");
    CHECK_INT_EQ(mq_topic_check_publish("a/\xff\xfe", 4, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "not valid UTF-8");
    CHECK_INT_EQ(mq_topic_check_publish("caf\xc3\xa9", 5, err, sizeof err), 0);
}

static void test_segment(void)
{
    struct { const char *topic; int idx; int found; const char *want; } cases[] = {
        {"cmnd/f2-abc/sensor-mode/1/sensor-3", 0, 1, "cmnd"},
        {"cmnd/f2-abc/sensor-mode/1/sensor-3", 1, 1, "f2-abc"},
        {"cmnd/f2-abc/sensor-mode/1/sensor-3", 4, 1, "sensor-3"},
        {"cmnd/f2-abc/sensor-mode/1/sensor-3", 5, 0, NULL},
        {"cmnd/f2-abc", -1, 0, NULL},
        {"/leading", 0, 1, ""},
        {"a//b", 1, 1, ""},
        {"a/", 1, 1, ""},
        {"single", 0, 1, "single"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t off = 99, len = 99;
        int f = mq_topic_segment(cases[i].topic, strlen(cases[i].topic), cases[i].idx, &off, &len);
        CHECK_INT_EQ(f, cases[i].found);
        if (f && cases[i].want) {
            CHECK_INT_EQ(len, strlen(cases[i].want));
            CHECK(!memcmp(cases[i].topic + off, cases[i].want, len));
        }
    }
}

int main(void)
{
    test_ring_order();
    test_ring_bounds();
    test_ring_wrap();
    test_ring_oversized();
    test_ring_wait_eof();
    test_ring_gather();
    test_ring_stress();
    test_url();
    test_template();
    test_topic_check();
    test_segment();
    return CHECK_DONE();
}
