/* The durable spool across threads and processes: a full spool blocks an
 * append until a release or a wake, concurrent appenders and a reader lose
 * nothing, a kill -9 in the middle of an append (fault injection) leaves a
 * torn tail that the next open cuts off, and a full disk (a small tmpfs,
 * where the test may mount one) pauses appends until space returns. */
#include "spt.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

typedef struct job {
    sl_spool *s;
    const char *tag;
    long from, n;
    size_t pad;
    int single;              /* sl_spool_append per record */
    int rc;
    volatile int done;
} job;

static void *appender(void *arg)
{
    job *j = arg;
    if (!j->single) {
        j->rc = spt_append(j->s, j->tag, j->from, j->n, j->pad);
    } else {
        sluice_batch *b = sl_batch_new(1, 0);
        char err[SLUICE_ERRLEN];
        for (long i = j->from; i < j->from + j->n && j->rc == 0; i++) {
            sl_batch_reset(b);
            sluice_record *r = spt_rec(b, j->tag, i, j->pad);
            j->rc = sl_spool_append(j->s, r, err, sizeof err);
            if (j->rc < 0)
                fprintf(stderr, "append: %s\n", err);
        }
        sl_batch_free(b);
    }
    __atomic_store_n(&j->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static int is_done(job *j) { return __atomic_load_n(&j->done, __ATOMIC_SEQ_CST); }

static int wait_full(sl_spool *s, int want)
{
    for (int i = 0; i < 500; i++) {
        sl_spool_stats st;
        sl_spool_stats_get(s, &st);
        if (st.full == want)
            return 1;
        sleep_ms(10);
    }
    return 0;
}

static void test_max_bytes(void)
{
    const char *dir = spt_dir("max");
    char err[SLUICE_ERRLEN] = "";
    /* 10 records of ~100 bytes fill it */
    sluice_batch *probe = sl_batch_new(1, 0);
    size_t one = SL_SPOOL_HDR + sl_spool_body_size(spt_rec(probe, "mx", 10, 40));
    sl_batch_free(probe);
    sl_spool *s = spt_open(dir, 10 * one, 0, SL_SPOOL_FSYNC_BATCH);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_INT_EQ(spt_append(s, "mx", 10, 10, 40), 0); /* same size: 2 digits */
    sl_spool_stats st;
    sl_spool_stats_get(s, &st);
    CHECK_INT_EQ(st.bytes, 10 * one);
    CHECK_INT_EQ(st.full, 0);

    job j = {.s = s, .tag = "mx", .from = 20, .n = 3, .pad = 40};
    pthread_t t;
    pthread_create(&t, NULL, appender, &j);
    CHECK(wait_full(s, 1));
    sleep_ms(50);
    CHECK(!is_done(&j));
    /* releasing 2 is not room enough for a batch of 3 */
    sluice_batch *o = sl_batch_new(2, 0);
    CHECK_INT_EQ(sl_spool_read(s, o, 0, err, sizeof err), 2);
    CHECK_INT_EQ(sl_spool_release(s, err, sizeof err), 0);
    sleep_ms(50);
    CHECK(!is_done(&j));
    sl_batch_reset(o);
    CHECK_INT_EQ(sl_spool_read(s, o, 0, err, sizeof err), 2);
    CHECK_INT_EQ(sl_spool_release(s, err, sizeof err), 0);
    pthread_join(t, NULL);
    CHECK_INT_EQ(j.rc, 0);
    sl_spool_stats_get(s, &st);
    CHECK_INT_EQ(st.full, 0);
    CHECK_INT_EQ(st.records, 9);
    CHECK(st.bytes <= 10 * one);

    /* full again; wake lets the append through past the limit */
    CHECK_INT_EQ(spt_append(s, "mx", 23, 1, 40), 0);
    job k = {.s = s, .tag = "mx", .from = 24, .n = 5, .pad = 40, .single = 1};
    pthread_create(&t, NULL, appender, &k);
    CHECK(wait_full(s, 1));
    CHECK(!is_done(&k));
    sl_spool_wake(s);
    pthread_join(t, NULL);
    CHECK_INT_EQ(k.rc, 0);
    sl_spool_stats_get(s, &st);
    CHECK_INT_EQ(st.records, 15);
    CHECK(st.bytes > 10 * one);
    CHECK_INT_EQ(st.full, 0);
    /* and a read after wake does not wait */
    sl_batch_reset(o);
    CHECK_INT_EQ(sl_spool_read(s, o, 0, err, sizeof err), 2);
    sl_batch_free(o);
    sl_spool_close(s);

    /* one record larger than max_bytes on an empty spool goes in at once */
    s = spt_open(spt_dir("max2"), 100, 0, SL_SPOOL_FSYNC_NEVER);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_INT_EQ(spt_append(s, "mx", 0, 1, 500), 0);
    sl_spool_stats_get(s, &st);
    CHECK_INT_EQ(st.records, 1);
    sl_spool_close(s);
}

typedef struct reader_job {
    sl_spool *s;
    long want, got;
    long next[2];
    int bad;
} reader_job;

static void *reader(void *arg)
{
    reader_job *r = arg;
    sluice_batch *o = sl_batch_new(500, 0);
    char err[SLUICE_ERRLEN];
    const char *tags[2] = {"ta", "tb"};
    int idle = 0;
    while (r->got < r->want && idle < 500) {
        sl_batch_reset(o);
        long n = sl_spool_read(r->s, o, 20, err, sizeof err);
        if (n < 0) {
            fprintf(stderr, "read: %s\n", err);
            r->bad++;
            break;
        }
        idle = n ? 0 : idle + 1;
        for (long i = 0; i < n; i++) {
            int which = o->recs[i].value.ptr[1] == 'a' ? 0 : 1;
            long idx = spt_index(&o->recs[i], tags[which]);
            if (idx != r->next[which]) {
                if (!r->bad)
                    fprintf(stderr, "thread %s: got %ld, expected %ld\n", tags[which], idx,
                            r->next[which]);
                r->bad++;
            }
            r->next[which] = idx + 1;
        }
        r->got += n;
        if (sl_spool_release(r->s, err, sizeof err) < 0) {
            fprintf(stderr, "release: %s\n", err);
            r->bad++;
        }
    }
    sl_batch_free(o);
    return NULL;
}

/* Two appending threads (one per record, one per batch) and the reader,
 * with a small max_bytes and segments so that waits and rolls happen. */
static void test_concurrent(void)
{
    sl_spool *s = spt_open(spt_dir("concurrent"), 64 * 1024, 16 * 1024, SL_SPOOL_FSYNC_BATCH);
    CHECK(s != NULL);
    if (!s)
        return;
    const long n = 5000;
    job a = {.s = s, .tag = "ta", .from = 0, .n = n, .pad = 50, .single = 1};
    job b[10];
    reader_job r = {.s = s, .want = 2 * n};
    pthread_t ta, tb, tr;
    pthread_create(&tr, NULL, reader, &r);
    pthread_create(&ta, NULL, appender, &a);
    /* batches of 500 from the second thread, with syncs in between */
    for (int i = 0; i < 10; i++) {
        b[i] = (job){.s = s, .tag = "tb", .from = i * 500, .n = 500, .pad = 80};
        pthread_create(&tb, NULL, appender, &b[i]);
        pthread_join(tb, NULL);
        CHECK_INT_EQ(b[i].rc, 0);
        char err[SLUICE_ERRLEN];
        CHECK_INT_EQ(sl_spool_sync(s, err, sizeof err), 0);
    }
    pthread_join(ta, NULL);
    pthread_join(tr, NULL);
    CHECK_INT_EQ(a.rc, 0);
    CHECK_INT_EQ(r.bad, 0);
    CHECK_INT_EQ(r.got, 2 * n);
    CHECK_INT_EQ(r.next[0], n);
    CHECK_INT_EQ(r.next[1], n);
    sl_spool_stats st;
    sl_spool_stats_get(s, &st);
    CHECK_INT_EQ(st.records, 0);
    CHECK_INT_EQ(st.appended_total, 2 * n);
    CHECK_INT_EQ(st.released_total, 2 * n);
    sl_spool_close(s);
}

/* SLUICE_SPOOL_FAULT_TORN=3: the third append dies half-written. */
static void test_fault_injection(void)
{
    const char *dir = spt_dir("fault");
    char path[1100];
    snprintf(path, sizeof path, "%s", dir);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("SLUICE_SPOOL_FAULT_TORN", "3", 1);
        sl_spool *s = spt_open(path, 0, 0, SL_SPOOL_FSYNC_BATCH);
        if (!s)
            _exit(3);
        for (long i = 0; i < 5; i++)
            spt_append(s, "ft", i, 1, 100);
        _exit(4); /* not reached */
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    sl_spool *s = spt_open(path, 0, 0, SL_SPOOL_FSYNC_BATCH);
    CHECK(s != NULL);
    if (!s)
        return;
    sl_spool_stats st;
    sl_spool_stats_get(s, &st);
    CHECK_INT_EQ(st.replayed, 2);
    CHECK_INT_EQ(st.torn, 1);
    char err[SLUICE_ERRLEN];
    sluice_batch *o = sl_batch_new(10, 0);
    CHECK_INT_EQ(sl_spool_read(s, o, 0, err, sizeof err), 2);
    CHECK_INT_EQ(spt_index(&o->recs[1], "ft"), 1);
    sl_batch_free(o);
    sl_spool_close(s);
}

/* FSYNC_INTERVAL: the background syncer runs and stops cleanly. */
static void test_interval(void)
{
    sl_spool *s = spt_open(spt_dir("interval"), 0, 4096, SL_SPOOL_FSYNC_INTERVAL);
    CHECK(s != NULL);
    if (!s)
        return;
    char err[SLUICE_ERRLEN];
    for (int i = 0; i < 5; i++) {
        CHECK_INT_EQ(spt_append(s, "iv", i * 20, 20, 100), 0);
        sleep_ms(30);
    }
    sluice_batch *o = sl_batch_new(200, 0);
    CHECK_INT_EQ(sl_spool_read(s, o, 0, err, sizeof err), 100);
    CHECK_INT_EQ(sl_spool_release(s, err, sizeof err), 0);
    sleep_ms(50);
    sl_batch_free(o);
    sl_spool_close(s);
}

/* A real full disk: a 256 KiB tmpfs in a private mount namespace (needs
 * root or unprivileged user namespaces; skipped, and said so, without). */
static int disk_full_child(const char *dir)
{
    alarm(60); /* a hang here fails the test instead of stalling ctest */
    if (unshare(CLONE_NEWNS) < 0 && unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
        return 77;
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
        mkdir(dir, 0700) < 0 || mount("tmpfs", dir, "tmpfs", 0, "size=256k") < 0)
        return 77;
    sl_spool *s = spt_open(dir, 0, 32 * 1024, SL_SPOOL_FSYNC_BATCH);
    if (!s)
        return 1;
    /* 400 records of ~1 KiB: more than the filesystem holds */
    job j = {.s = s, .tag = "df", .from = 0, .n = 400, .pad = 1000, .single = 1};
    pthread_t t;
    pthread_create(&t, NULL, appender, &j);
    CHECK(wait_full(s, 1));
    CHECK(!is_done(&j));
    /* the reader's releases delete segments: space returns, appends resume */
    sluice_batch *o = sl_batch_new(50, 0);
    char err[SLUICE_ERRLEN];
    long got = 0, next = 0;
    for (int k = 0; k < 2000 && got < 400; k++) {
        sl_batch_reset(o);
        long n = sl_spool_read(s, o, 50, err, sizeof err);
        CHECK(n >= 0);
        for (long i = 0; i < n; i++)
            if (spt_index(&o->recs[i], "df") != next++)
                CHECK(!"disk-full records out of order");
        got += n > 0 ? n : 0;
        sl_spool_release(s, err, sizeof err);
    }
    pthread_join(t, NULL);
    CHECK_INT_EQ(j.rc, 0);
    CHECK_INT_EQ(got, 400);
    /* full again, then stopping: the append gives up with an error */
    job k = {.s = s, .tag = "dg", .from = 0, .n = 400, .pad = 1000, .single = 1};
    pthread_create(&t, NULL, appender, &k);
    CHECK(wait_full(s, 1));
    sl_spool_wake(s);
    pthread_join(t, NULL);
    CHECK_INT_EQ(k.rc, -1);
    sl_batch_free(o);
    sl_spool_close(s);
    /* nothing corrupt: a reopen finds every spooled record intact */
    s = spt_open(dir, 0, 32 * 1024, SL_SPOOL_FSYNC_BATCH);
    CHECK(s != NULL);
    if (s) {
        sl_spool_stats st;
        sl_spool_stats_get(s, &st);
        CHECK_INT_EQ(st.torn, 0);
        CHECK(st.replayed > 100);
        sl_spool_close(s);
    }
    umount(dir);
    return check_failures ? 1 : 0;
}

static void test_disk_full(void)
{
    const char *dir = spt_dir("diskfull");
    char path[1100];
    snprintf(path, sizeof path, "%s", dir);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        exit(disk_full_child(path));
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
        fprintf(stderr, "SKIP disk full: cannot mount a tmpfs here (no root, no user "
                        "namespaces)\n");
        return;
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
    alarm(300);
    /* the forking tests first, while this process has no other thread */
    test_fault_injection();
    test_disk_full();
    test_max_bytes();
    test_concurrent();
    test_interval();
    spt_cleanup();
    return CHECK_DONE();
}
