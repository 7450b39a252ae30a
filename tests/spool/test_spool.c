/* The durable spool, single-threaded: the record format round trip,
 * segments and their deletion, replay after reopen, torn tails and
 * corruption, oversized records, the directory lock, open errors. */
#include "spt.h"

#include <math.h>

/* Offset of the k-th frame (0-based) of a segment file, by walking the
 * frame lengths; -1 if there are fewer. */
static long frame_offset(const char *path, int k)
{
    int fd = open(path, O_RDONLY);
    long off = 0;
    for (int i = 0; fd >= 0; i++) {
        unsigned char h[SL_SPOOL_HDR];
        if (pread(fd, h, sizeof h, off) != (ssize_t)sizeof h)
            break;
        if (i == k) {
            close(fd);
            return off;
        }
        uint32_t len;
        memcpy(&len, h + 4, 4);
        off += SL_SPOOL_HDR + len;
    }
    if (fd >= 0)
        close(fd);
    return -1;
}

static void test_crc(void)
{
    CHECK(sl_crc32c(0, "123456789", 9) == 0xe3069283u);
    uint32_t a = sl_crc32c(0, "12345", 5);
    CHECK(sl_crc32c(a, "6789", 4) == 0xe3069283u);
    /* the table path agrees with the instruction on lengths not a multiple of 8 */
    unsigned char buf[1000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 7 + 3);
    uint32_t x = 0;
    for (size_t i = 0; i < sizeof buf; i += 100)
        x = sl_crc32c(x, buf + i, 100);
    CHECK(x == sl_crc32c(0, buf, sizeof buf));
}

static void test_roundtrip(void)
{
    const char *dir = spt_dir("roundtrip");
    sl_spool *s = spt_open(dir, 0, 0, SL_SPOOL_FSYNC_BATCH);
    CHECK(s != NULL);
    if (!s)
        return;
    sluice_batch *b = sl_batch_new(8, 0);
    sluice_record *r = sl_record_new(b);
    static const char bin[] = {'a', 0, 'b', (char)0xff, 0};
    sl_set_key(b, r, bin, sizeof bin);
    sl_set_value(b, r, "", 0);
    r->timestamp = 1700000000123456;
    r->origin.topic = "plant/1/reading";
    r->origin.partition = 7;
    r->origin.offset = 123456789012;
    sl_header_add(b, r, "content-type", "application/f2", 14);
    sl_header_add(b, r, "empty", "", 0);
    sl_header_add(b, r, "bin", bin, sizeof bin);
    sl_field_add(b, r, "n", SLUICE_NULL);
    sl_field_add(b, r, "t", SLUICE_BOOL)->v.b = 1;
    sl_field_add(b, r, "f", SLUICE_BOOL)->v.b = 0;
    sl_field_add(b, r, "i", SLUICE_INT)->v.i = INT64_MIN;
    sl_field_add(b, r, "d", SLUICE_DOUBLE)->v.d = -0.1;
    sl_field_add(b, r, "inf", SLUICE_DOUBLE)->v.d = INFINITY;
    sl_field_add(b, r, "ts", SLUICE_TIMESTAMP)->v.ts = -1;
    sl_field_set_string(b, sl_field_add(b, r, "s", SLUICE_STRING), "héllo", 6);
    sl_field_set_string(b, sl_field_add(b, r, "es", SLUICE_STRING), "", 0);
    sl_field_set_string(b, sl_field_add(b, r, "by", SLUICE_BYTES), bin, sizeof bin);

    sluice_record *bare = sl_record_new(b); /* NULL key, value and topic */
    (void)bare;
    sluice_record *failed = sl_record_new(b);
    sl_set_value(b, failed, "failed", 6);
    sl_record_fail(b, 2, "bad input");
    sluice_record *last = sl_record_new(b);
    sl_set_value(b, last, "last", 4);

    char err[SLUICE_ERRLEN] = "";
    CHECK_INT_EQ(sl_spool_append_batch(s, b, err, sizeof err), 0);
    CHECK_INT_EQ(sl_spool_sync(s, err, sizeof err), 0);
    sl_spool_stats st;
    sl_spool_stats_get(s, &st);
    CHECK_INT_EQ(st.records, 3);
    CHECK_INT_EQ(st.appended_total, 3);
    CHECK(st.oldest_us > 0);
    CHECK(st.bytes > 3 * SL_SPOOL_HDR);

    sluice_batch *o = sl_batch_new(16, 0);
    CHECK_INT_EQ(sl_spool_read(s, o, 0, err, sizeof err), 3);
    CHECK_INT_EQ(o->n, 3);
    sluice_record *g = &o->recs[0];
    CHECK(g->key.len == sizeof bin && memcmp(g->key.ptr, bin, sizeof bin) == 0);
    CHECK(g->value.ptr != NULL && g->value.len == 0);
    CHECK(g->timestamp == 1700000000123456);
    CHECK(g->origin.topic && strcmp(g->origin.topic, "plant/1/reading") == 0);
    CHECK_INT_EQ(g->origin.partition, 7);
    CHECK(g->origin.offset == 123456789012);
    CHECK_INT_EQ(g->n_headers, 3);
    if (g->n_headers == 3) {
        CHECK(strcmp(g->headers[0].key, "content-type") == 0 &&
              g->headers[0].value.len == 14 &&
              memcmp(g->headers[0].value.ptr, "application/f2", 14) == 0);
        CHECK(strcmp(g->headers[1].key, "empty") == 0 && g->headers[1].value.len == 0);
        CHECK(g->headers[2].value.len == sizeof bin &&
              memcmp(g->headers[2].value.ptr, bin, sizeof bin) == 0);
    }
    CHECK_INT_EQ(g->n_fields, 10);
    const sluice_field *f;
    CHECK((f = sluice_field_get(g, "n")) && f->type == SLUICE_NULL);
    CHECK((f = sluice_field_get(g, "t")) && f->type == SLUICE_BOOL && f->v.b == 1);
    CHECK((f = sluice_field_get(g, "f")) && f->type == SLUICE_BOOL && f->v.b == 0);
    CHECK((f = sluice_field_get(g, "i")) && f->type == SLUICE_INT && f->v.i == INT64_MIN);
    CHECK((f = sluice_field_get(g, "d")) && f->type == SLUICE_DOUBLE && f->v.d == -0.1);
    CHECK((f = sluice_field_get(g, "inf")) && isinf(f->v.d));
    CHECK((f = sluice_field_get(g, "ts")) && f->type == SLUICE_TIMESTAMP && f->v.ts == -1);
    CHECK((f = sluice_field_get(g, "s")) && f->type == SLUICE_STRING && f->v.s.len == 6 &&
          strcmp(f->v.s.ptr, "héllo") == 0);
    CHECK((f = sluice_field_get(g, "es")) && f->v.s.len == 0 && f->v.s.ptr);
    CHECK((f = sluice_field_get(g, "by")) && f->type == SLUICE_BYTES &&
          f->v.s.len == sizeof bin && memcmp(f->v.s.ptr, bin, sizeof bin) == 0);
    /* a decoded record can take more fields (the transforms add some) */
    sl_field_add(o, g, "extra", SLUICE_INT)->v.i = 5;
    CHECK_INT_EQ(g->n_fields, 11);

    g = &o->recs[1];
    CHECK(!g->key.ptr && !g->value.ptr && !g->origin.topic && g->n_fields == 0 &&
          g->n_headers == 0 && g->origin.partition == -1 && g->origin.offset == -1);
    g = &o->recs[2];
    CHECK(g->value.len == 4 && memcmp(g->value.ptr, "last", 4) == 0 && !g->failure_);

    /* nothing more: a read with a timeout returns 0 */
    sl_batch_reset(o);
    CHECK_INT_EQ(sl_spool_read(s, o, 20, err, sizeof err), 0);
    CHECK_INT_EQ(sl_spool_release(s, err, sizeof err), 0);
    sl_spool_stats_get(s, &st);
    CHECK_INT_EQ(st.records, 0);
    CHECK_INT_EQ(st.bytes, 0);
    CHECK_INT_EQ(st.oldest_us, 0);
    CHECK_INT_EQ(st.released_total, 3);
    sl_batch_free(o);
    sl_batch_free(b);
    sl_spool_close(s);
}

/* Small segments: many files, each deleted once released; rewind. */
static void test_segments(void)
{
    const char *dir = spt_dir("segments");
    sl_spool *s = spt_open(dir, 0, 4096, SL_SPOOL_FSYNC_NEVER);
    CHECK(s != NULL);
    if (!s)
        return;
    for (long i = 0; i < 1000; i += 50)
        CHECK_INT_EQ(spt_append(s, "seg", i, 50, 60), 0);
    int nseg = spt_segments(dir);
    CHECK(nseg >= 20);
    sluice_batch *o = sl_batch_new(64, 0);
    char err[SLUICE_ERRLEN] = "";
    long want = 0, rounds = 0;
    int rewound = 0;
    while (want < 1000 && rounds++ < 100) {
        sl_batch_reset(o);
        long n = sl_spool_read(s, o, 0, err, sizeof err);
        CHECK(n > 0);
        if (n <= 0)
            break;
        if (want >= 500 && !rewound) {
            /* the sink failed: the same records come again */
            sl_spool_rewind(s);
            rewound = 1;
            continue;
        }
        for (long i = 0; i < n; i++)
            if (spt_index(&o->recs[i], "seg") != want++)
                CHECK(!"records out of order");
        CHECK_INT_EQ(sl_spool_release(s, err, sizeof err), 0);
    }
    CHECK_INT_EQ(want, 1000);
    CHECK(spt_segments(dir) <= 1);
    sl_spool_stats st;
    sl_spool_stats_get(s, &st);
    CHECK_INT_EQ(st.records, 0);
    CHECK_INT_EQ(st.bytes, 0);
    /* appends go on after everything was released */
    CHECK_INT_EQ(spt_append(s, "seg", 1000, 10, 60), 0);
    sl_batch_reset(o);
    CHECK_INT_EQ(sl_spool_read(s, o, 0, err, sizeof err), 10);
    CHECK_INT_EQ(spt_index(&o->recs[0], "seg"), 1000);
    sl_batch_free(o);
    sl_spool_close(s);
}

/* Reopen replays exactly what was not released. */
static void test_reopen(void)
{
    const char *dir = spt_dir("reopen");
    char err[SLUICE_ERRLEN] = "";
    sl_spool *s = spt_open(dir, 0, 2048, SL_SPOOL_FSYNC_BATCH);
    CHECK(s != NULL);
    if (!s)
        return;
    for (long i = 0; i < 100; i += 10) /* several segments: an append never spans two */
        CHECK_INT_EQ(spt_append(s, "ro", i, 10, 20), 0);
    sluice_batch *o = sl_batch_new(30, 0);
    CHECK_INT_EQ(sl_spool_read(s, o, 0, err, sizeof err), 30);
    CHECK_INT_EQ(sl_spool_release(s, err, sizeof err), 0);
    sl_batch_reset(o);
    CHECK_INT_EQ(sl_spool_read(s, o, 0, err, sizeof err), 30); /* read, not released */
    sl_spool_close(s);
    /* a segment the cursor has passed, left by a crash between the cursor
     * write and the unlink: deleted on open, neither replayed nor torn */
    char stale[1200];
    snprintf(stale, sizeof stale, "%s/00000000000000000000.seg", dir);
    CHECK(spt_file_size(stale) < 0);
    int fd = open(stale, O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0 && write(fd, "stale garbage", 13) == 13);
    close(fd);

    s = spt_open(dir, 0, 2048, SL_SPOOL_FSYNC_BATCH);
    CHECK(s != NULL);
    if (!s)
        return;
    sl_spool_stats st;
    sl_spool_stats_get(s, &st);
    CHECK_INT_EQ(st.replayed, 70);
    CHECK_INT_EQ(st.records, 70);
    CHECK_INT_EQ(st.torn, 0);
    CHECK(spt_file_size(stale) < 0);
    CHECK(st.oldest_us > 0);
    /* new appends come after the replayed ones */
    CHECK_INT_EQ(spt_append(s, "ro", 100, 5, 20), 0);
    long want = 30;
    for (int k = 0; k < 10 && want < 105; k++) {
        sl_batch_reset(o);
        long n = sl_spool_read(s, o, 0, err, sizeof err);
        for (long i = 0; i < n; i++)
            CHECK_INT_EQ(spt_index(&o->recs[i], "ro"), want++);
        if (k == 0)
            CHECK_INT_EQ(sl_spool_release(s, err, sizeof err), 0);
    }
    CHECK_INT_EQ(want, 105);
    sl_spool_close(s); /* 30..59 released, 60..104 not */

    s = spt_open(dir, 0, 2048, SL_SPOOL_FSYNC_NEVER);
    CHECK(s != NULL);
    if (!s)
        return;
    sl_spool_stats_get(s, &st);
    CHECK_INT_EQ(st.replayed, 45);
    sl_batch_reset(o);
    CHECK_INT_EQ(sl_spool_read(s, o, 0, err, sizeof err), 30);
    CHECK_INT_EQ(spt_index(&o->recs[0], "ro"), 60);
    CHECK_INT_EQ(sl_spool_release(s, err, sizeof err), 0); /* up to 89 */
    sl_spool_close(s);

    /* the newest cursor slot torn: the other one, one release older, holds.
     * It points at 60, in a segment deleted since (60..79): the replay
     * starts at the oldest segment left, 80, instead of the newest cursor's
     * 90 */
    char cur[1200];
    snprintf(cur, sizeof cur, "%s/cursor", dir);
    unsigned char slots[128];
    fd = open(cur, O_RDONLY);
    CHECK(fd >= 0 && read(fd, slots, sizeof slots) == (ssize_t)sizeof slots);
    close(fd);
    uint64_t g0, g1;
    memcpy(&g0, slots + 8, 8);
    memcpy(&g1, slots + 64 + 8, 8);
    CHECK(g0 + 1 == g1 || g1 + 1 == g0);
    spt_flip(cur, (g1 > g0 ? 64 : 0) + 20);
    s = spt_open(dir, 0, 2048, SL_SPOOL_FSYNC_NEVER);
    CHECK(s != NULL);
    if (!s)
        return;
    sl_spool_stats_get(s, &st);
    CHECK_INT_EQ(st.replayed, 25);
    CHECK_INT_EQ(st.torn, 0);
    sl_batch_reset(o);
    CHECK_INT_EQ(sl_spool_read(s, o, 0, err, sizeof err), 25);
    CHECK_INT_EQ(spt_index(&o->recs[0], "ro"), 80);
    sl_batch_free(o);
    sl_spool_close(s);
}

static void test_torn_tail(void)
{
    const char *dir = spt_dir("torn");
    char err[SLUICE_ERRLEN] = "";
    sl_spool *s = spt_open(dir, 0, 0, SL_SPOOL_FSYNC_BATCH);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_INT_EQ(spt_append(s, "tt", 0, 10, 30), 0);
    sl_spool_close(s);
    const char *seg = spt_segment(dir, 1);
    long size = spt_file_size(seg);

    /* a partial frame: a header promising 100 bytes, then 10 of them */
    unsigned char part[SL_SPOOL_HDR + 100];
    memset(part, 'x', sizeof part);
    sl_spool_frame_put(part, 100, 1, 10);
    int fd = open(seg, O_WRONLY | O_APPEND);
    CHECK(fd >= 0 && write(fd, part, SL_SPOOL_HDR + 10) == SL_SPOOL_HDR + 10);
    close(fd);

    s = spt_open(dir, 0, 0, SL_SPOOL_FSYNC_BATCH);
    CHECK(s != NULL);
    if (!s)
        return;
    sl_spool_stats st;
    sl_spool_stats_get(s, &st);
    CHECK_INT_EQ(st.torn, 1);
    CHECK_INT_EQ(st.replayed, 10);
    CHECK_INT_EQ(spt_file_size(seg), size);
    sl_spool_close(s);

    /* a flipped byte in the body of the last record */
    long last = frame_offset(seg, 9);
    CHECK(last > 0);
    spt_flip(seg, last + SL_SPOOL_HDR + 5);
    /* and a few stray bytes (less than a header) after it */
    fd = open(seg, O_WRONLY | O_APPEND);
    CHECK(fd >= 0 && write(fd, "abc", 3) == 3);
    close(fd);
    s = spt_open(dir, 0, 0, SL_SPOOL_FSYNC_BATCH);
    CHECK(s != NULL);
    if (!s)
        return;
    sl_spool_stats_get(s, &st);
    CHECK_INT_EQ(st.torn, 1);
    CHECK_INT_EQ(st.replayed, 9);
    CHECK_INT_EQ(spt_file_size(seg), last);
    sluice_batch *o = sl_batch_new(100, 0);
    CHECK_INT_EQ(sl_spool_read(s, o, 0, err, sizeof err), 9);
    CHECK_INT_EQ(spt_index(&o->recs[8], "tt"), 8);
    /* appends continue after the cut */
    CHECK_INT_EQ(spt_append(s, "tt", 10, 1, 30), 0);
    sl_batch_reset(o);
    CHECK_INT_EQ(sl_spool_read(s, o, 0, err, sizeof err), 1);
    CHECK_INT_EQ(spt_index(&o->recs[0], "tt"), 10);
    sl_batch_free(o);
    sl_spool_close(s);

    /* the next open finds nothing more to cut */
    s = spt_open(dir, 0, 0, SL_SPOOL_FSYNC_BATCH);
    CHECK(s != NULL);
    if (!s)
        return;
    sl_spool_stats_get(s, &st);
    CHECK_INT_EQ(st.torn, 0);
    CHECK_INT_EQ(st.replayed, 10);
    sl_spool_close(s);
}

/* Damage in the middle never crashes or loops; everything undamaged is
 * delivered and the rest is counted: replayed + torn = appended. */
static void test_corruption(void)
{
    const char *dir = spt_dir("corrupt");
    char err[SLUICE_ERRLEN] = "";
    sl_spool *s = spt_open(dir, 0, 1024, SL_SPOOL_FSYNC_NEVER);
    CHECK(s != NULL);
    if (!s)
        return;
    for (long i = 0; i < 60; i++)
        CHECK_INT_EQ(spt_append(s, "cm", i, 1, 40), 0);
    sl_spool_close(s);
    CHECK(spt_segments(dir) >= 4);
    /* the first segment: a bad body in its second record, a bad header in
     * the last segment's third */
    const char *first = spt_segment(dir, 0);
    spt_flip(first, frame_offset(first, 1) + SL_SPOOL_HDR + 3);
    char lastseg[1200];
    snprintf(lastseg, sizeof lastseg, "%s", spt_segment(dir, 1));
    long l2 = frame_offset(lastseg, 2);
    CHECK(l2 > 0);
    spt_flip(lastseg, l2); /* magic */
    long lastframes = 0;
    while (frame_offset(lastseg, (int)lastframes) >= 0)
        lastframes++;

    s = spt_open(dir, 0, 1024, SL_SPOOL_FSYNC_NEVER);
    CHECK(s != NULL);
    if (!s)
        return;
    sl_spool_stats st;
    sl_spool_stats_get(s, &st);
    CHECK_INT_EQ(st.replayed + st.torn, 60);
    CHECK(st.torn >= 2);
    sluice_batch *o = sl_batch_new(1000, 0);
    CHECK_INT_EQ(sl_spool_read(s, o, 0, err, sizeof err), (long)st.replayed);
    CHECK_INT_EQ(spt_index(&o->recs[0], "cm"), 0);
    for (size_t i = 1; i < o->n; i++)
        CHECK(spt_index(&o->recs[i], "cm") > spt_index(&o->recs[i - 1], "cm"));
    CHECK_INT_EQ(spt_file_size(lastseg), l2);
    sl_batch_free(o);
    sl_spool_close(s);

    /* damage found by the reader after open: an error naming it, the
     * records stay, the next open cuts it off */
    const char *dir2 = spt_dir("corrupt2");
    s = spt_open(dir2, 0, 0, SL_SPOOL_FSYNC_NEVER);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_INT_EQ(spt_append(s, "cr", 0, 5, 40), 0);
    const char *seg2 = spt_segment(dir2, 1);
    spt_flip(seg2, frame_offset(seg2, 3) + SL_SPOOL_HDR + 2);
    o = sl_batch_new(100, 0);
    CHECK_INT_EQ(sl_spool_read(s, o, 0, err, sizeof err), 3); /* the good ones first */
    sl_batch_reset(o);
    CHECK_INT_EQ(sl_spool_read(s, o, 0, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "is corrupt at offset");
    CHECK_STR_CONTAINS(err, "restart the pipeline");
    sl_spool_rewind(s);
    sl_spool_close(s);
    s = spt_open(dir2, 0, 0, SL_SPOOL_FSYNC_NEVER);
    CHECK(s != NULL);
    if (!s)
        return;
    sl_spool_stats_get(s, &st);
    CHECK_INT_EQ(st.replayed, 3);
    CHECK_INT_EQ(st.torn, 2);
    sl_batch_reset(o);
    CHECK_INT_EQ(sl_spool_read(s, o, 0, err, sizeof err), 3);
    sl_batch_free(o);
    sl_spool_close(s);

    /* a cursor file of garbage: replay everything left, do not crash */
    char cur[1200];
    snprintf(cur, sizeof cur, "%s/cursor", dir);
    int fd = open(cur, O_WRONLY | O_TRUNC);
    CHECK(fd >= 0 && write(fd, "garbage garbage garbage", 23) == 23);
    close(fd);
    s = spt_open(dir, 0, 1024, SL_SPOOL_FSYNC_NEVER);
    CHECK(s != NULL);
    sl_spool_stats_get(s, &st);
    CHECK_INT_EQ(st.torn, 0);
    CHECK(st.replayed > 0);
    sl_spool_close(s);
}

/* A record too large for an empty batch comes back failed, with its origin;
 * one that only does not fit a partly filled batch waits for the next. */
static void test_oversized(void)
{
    const char *dir = spt_dir("oversized");
    char err[SLUICE_ERRLEN] = "";
    sl_spool *s = spt_open(dir, 0, 0, SL_SPOOL_FSYNC_NEVER);
    CHECK(s != NULL);
    if (!s)
        return;
    sluice_batch *b = sl_batch_new(4, 0);
    spt_rec(b, "big", 0, 10);
    sluice_record *r = spt_rec(b, "big", 1, 0);
    size_t blen = 3 * 1024 * 1024; /* bigger than the read buffer too */
    char *v = malloc(blen);
    memset(v, 'v', blen);
    memcpy(v, "big-1", 5);
    sl_set_value(b, r, v, blen);
    r->origin.topic = "t/big";
    r->origin.partition = 3;
    spt_rec(b, "big", 2, 10);
    CHECK_INT_EQ(sl_spool_append_batch(s, b, err, sizeof err), 0);

    sluice_batch *o = sl_batch_new(10, 256 * 1024);
    CHECK_INT_EQ(sl_spool_read(s, o, 0, err, sizeof err), 1);
    CHECK_INT_EQ(spt_index(&o->recs[0], "big"), 0);
    sl_batch_reset(o);
    CHECK_INT_EQ(sl_spool_read(s, o, 0, err, sizeof err), 2);
    CHECK(o->recs[0].failure_ != NULL);
    CHECK_STR_CONTAINS(o->recs[0].failure_, "larger than batch.max_bytes");
    CHECK(o->recs[0].origin.topic && strcmp(o->recs[0].origin.topic, "t/big") == 0);
    CHECK_INT_EQ(o->recs[0].origin.offset, 1);
    CHECK_INT_EQ(o->recs[0].origin.partition, 3);
    CHECK_INT_EQ(o->n_failed, 1);
    CHECK_INT_EQ(spt_index(&o->recs[1], "big"), 2);
    CHECK(!o->recs[1].failure_);
    /* a batch large enough gets it whole */
    sl_spool_rewind(s);
    sluice_batch *o2 = sl_batch_new(10, 0);
    CHECK_INT_EQ(sl_spool_read(s, o2, 0, err, sizeof err), 3);
    CHECK(o2->recs[1].value.len == blen && memcmp(o2->recs[1].value.ptr, v, blen) == 0);
    CHECK_INT_EQ(sl_spool_release(s, err, sizeof err), 0);
    free(v);
    sl_batch_free(o2);
    sl_batch_free(o);
    sl_batch_free(b);
    sl_spool_close(s);
}

/* sl_spool_try_append (a transform re-injecting records): never waits on a
 * full spool, says so instead; takes records again once there is room, and
 * past max_bytes once the spool was woken (stop). */
static void test_try_append(void)
{
    const char *dir = spt_dir("try");
    char err[SLUICE_ERRLEN] = "";
    sl_spool *s = spt_open(dir, 4096, 0, SL_SPOOL_FSYNC_BATCH);
    CHECK(s != NULL);
    if (!s)
        return;
    sluice_batch *b = sl_batch_new(8, 0);
    sluice_record *big = spt_rec(b, "t", 0, 3000);
    sluice_record *small = spt_rec(b, "t", 1, 2000);
    CHECK_INT_EQ(sl_spool_try_append(s, big, err, sizeof err), 0);
    CHECK_INT_EQ(sl_spool_try_append(s, small, err, sizeof err), 1); /* full: not taken */
    CHECK_INT_EQ(sl_spool_sync(s, err, sizeof err), 0);
    sluice_batch *o = sl_batch_new(8, 0);
    CHECK_INT_EQ(sl_spool_read(s, o, 0, err, sizeof err), 1);
    CHECK_INT_EQ(sl_spool_release(s, err, sizeof err), 0);
    CHECK_INT_EQ(sl_spool_try_append(s, small, err, sizeof err), 0); /* room again */
    CHECK_INT_EQ(sl_spool_try_append(s, big, err, sizeof err), 1);
    sl_spool_wake(s);
    CHECK_INT_EQ(sl_spool_try_append(s, big, err, sizeof err), 0); /* stopping: past the limit */
    sl_batch_reset(o);
    CHECK_INT_EQ(sl_spool_read(s, o, 0, err, sizeof err), 2);
    CHECK_INT_EQ(spt_index(&o->recs[0], "t"), 1);
    CHECK_INT_EQ(spt_index(&o->recs[1], "t"), 0);
    sl_batch_free(o);
    sl_batch_free(b);
    sl_spool_close(s);
}

static void test_lock_and_errors(void)
{
    const char *dir = spt_dir("locked");
    char path[1100];
    snprintf(path, sizeof path, "%s", dir);
    sl_spool *s = spt_open(path, 0, 0, SL_SPOOL_FSYNC_NEVER);
    CHECK(s != NULL);
    sl_spool_opts o = {.dir = path};
    char err[SLUICE_ERRLEN] = "";
    sl_spool *s2 = NULL;
    CHECK_INT_EQ(sl_spool_open(&o, &s2, err, sizeof err), -1);
    CHECK(s2 == NULL);
    CHECK_STR_CONTAINS(err, path);
    CHECK_STR_CONTAINS(err, "in use by another process");
    char pid[32];
    snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
    CHECK_STR_CONTAINS(err, pid);
    sl_spool_close(s);
    /* free again once closed */
    CHECK_INT_EQ(sl_spool_open(&o, &s2, err, sizeof err), 0);
    sl_spool_close(s2);

    /* a path that is a file */
    char file[1200];
    snprintf(file, sizeof file, "%s/lock", path);
    o.dir = file;
    s2 = NULL;
    CHECK_INT_EQ(sl_spool_open(&o, &s2, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, file);
    /* nested directories are created */
    char deep[1200];
    snprintf(deep, sizeof deep, "%s/a/b/c", path);
    o.dir = deep;
    CHECK_INT_EQ(sl_spool_open(&o, &s2, err, sizeof err), 0);
    struct stat st;
    CHECK(stat(deep, &st) == 0 && (st.st_mode & 0777) == 0700);
    sl_spool_close(s2);
    sl_spool_close(NULL);
}

int main(void)
{
    test_crc();
    test_roundtrip();
    test_segments();
    test_reopen();
    test_torn_tail();
    test_corruption();
    test_oversized();
    test_try_append();
    test_lock_and_errors();
    spt_cleanup();
    return CHECK_DONE();
}
