/* Opening and closing a spool, syncing, waking, statistics.
 *
 * FSYNC_INTERVAL uses a small background thread rather than syncing
 * opportunistically in append or sync calls: the promise "at most
 * fsync_interval_ms of appends lost on a power failure" must hold also when
 * the source goes quiet right after an append, when no call would come to
 * do the sync.  The thread syncs outside the append mutex, like
 * sl_spool_sync, so appends never wait for the disk. */
#include "spool_internal.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sluice/sluice_time.h>

#define DEFAULT_SEGMENT (64ull * 1024 * 1024)

/* mkdir -p, 0700 for what it creates. */
static int make_dirs(const char *dir)
{
    char p[4096];
    size_t n = strlen(dir);
    if (n >= sizeof p) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST)
            return -1;
        p[i] = c;
    }
    return 0;
}

static int lock_dir(sl_spool *s, char *err, size_t errlen)
{
    s->lockfd = openat(s->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lockfd < 0) {
        snprintf(err, errlen, "spool %s: cannot create the lock file: %s", s->dir,
                 strerror(errno));
        return -1;
    }
    if (flock(s->lockfd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        char pid[32] = "";
        ssize_t n = pread(s->lockfd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        if (e == EWOULDBLOCK)
            snprintf(err, errlen,
                     "spool directory %s is in use by another process (pid %s); stop it, or "
                     "give this pipeline a buffer path of its own", s->dir,
                     pid[0] ? pid : "unknown");
        else
            snprintf(err, errlen, "spool %s: cannot lock the directory: %s", s->dir,
                     strerror(e));
        return -1;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(s->lockfd, 0) < 0 || pwrite(s->lockfd, pid, (size_t)len, 0) != len)
        sl_log(SLUICE_LOG_WARN, NULL, "spool", "spool %s: cannot write the pid into lock: %s",
               s->dir, strerror(errno));
    return 0;
}

static void *syncer(void *arg)
{
    sl_spool *s = arg;
    char err[SLUICE_ERRLEN];
    pthread_mutex_lock(&s->mu);
    struct timespec ts;
    ts = sluice_deadline_ms(s->interval_ms);
    while (!s->closing) {
        if (pthread_cond_timedwait(&s->stop, &s->mu, &ts) != ETIMEDOUT)
            continue; /* closing, or spurious */
        if (sl_spool_sync_locked(s, err, sizeof err) < 0)
            sl_log(SLUICE_LOG_ERROR, NULL, "spool", "%s", err);
        if (s->cursor_dirty) {
            s->cursor_dirty = 0;
            pthread_mutex_unlock(&s->mu);
            fdatasync(s->curfd);
            pthread_mutex_lock(&s->mu);
        }
        ts = sluice_deadline_ms(s->interval_ms);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int sl_spool_open(const sl_spool_opts *o, sl_spool **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!o || !o->dir || !o->dir[0]) {
        snprintf(err, errlen, "spool: no directory given");
        return -1;
    }
    sl_spool *s = calloc(1, sizeof(*s));
    if (!s || !(s->dir = strdup(o->dir)) || !(s->rbuf = malloc(SL_SPOOL_RBUF))) {
        snprintf(err, errlen, "spool %s: out of memory", o->dir);
        if (s)
            free(s->dir);
        free(s);
        return -1;
    }
    s->dirfd = s->lockfd = s->curfd = s->wfd = s->rfd = -1;
    s->fsync = o->fsync;
    s->interval_ms = o->fsync_interval_ms > 0 ? o->fsync_interval_ms : 1000;
    s->max_bytes = o->max_bytes;
    s->seg_bytes = o->segment_bytes ? o->segment_bytes : DEFAULT_SEGMENT;
    pthread_mutex_init(&s->mu, NULL);
    sluice_cond_init_monotonic(&s->room);
    sluice_cond_init_monotonic(&s->data);
    sluice_cond_init_monotonic(&s->idle);
    sluice_cond_init_monotonic(&s->stop);
    const char *fault = getenv("SLUICE_SPOOL_FAULT_TORN");
    s->fault_torn = fault ? atol(fault) : 0;

    if (make_dirs(s->dir) < 0 ||
        (s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        snprintf(err, errlen,
                 "cannot create or open the spool directory %s: %s; create it writable for "
                 "this user, or choose another buffer path", s->dir, strerror(errno));
        goto fail;
    }
    if (access(s->dir, R_OK | W_OK | X_OK) < 0) {
        snprintf(err, errlen,
                 "spool directory %s is not readable and writable by this user: %s; fix its "
                 "permissions or choose another buffer path", s->dir, strerror(errno));
        goto fail;
    }
    if (lock_dir(s, err, errlen) < 0)
        goto fail;
    s->curfd = openat(s->dirfd, "cursor", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->curfd < 0) {
        snprintf(err, errlen, "spool %s: cannot open the cursor file: %s", s->dir,
                 strerror(errno));
        goto fail;
    }
    /* Both slots exist from the start, so that a release overwrites blocks
     * the file already has and still works on a full disk: releasing is
     * what frees space. */
    struct stat cst;
    static const unsigned char zero[128];
    if (fstat(s->curfd, &cst) == 0 && cst.st_size < (off_t)sizeof zero &&
        pwrite(s->curfd, zero + cst.st_size, sizeof zero - (size_t)cst.st_size,
               cst.st_size) != (ssize_t)(sizeof zero - (size_t)cst.st_size)) {
        snprintf(err, errlen, "spool %s: cannot write the cursor file: %s", s->dir,
                 strerror(errno));
        goto fail;
    }
    if (sl_spool_recover(s, err, errlen) < 0)
        goto fail;
    if (s->fsync != SL_SPOOL_FSYNC_NEVER)
        fsync(s->dirfd);
    if (s->fsync == SL_SPOOL_FSYNC_INTERVAL) {
        if (pthread_create(&s->syncer, NULL, syncer, s) != 0) {
            snprintf(err, errlen, "spool %s: cannot start the fsync thread", s->dir);
            goto fail;
        }
        s->has_syncer = 1;
    }
    *out = s;
    return 0;
fail:
    sl_spool_close(s);
    return -1;
}

void sl_spool_close(sl_spool *s)
{
    if (!s)
        return;
    if (s->has_syncer) {
        pthread_mutex_lock(&s->mu);
        s->closing = 1;
        pthread_cond_broadcast(&s->stop);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->syncer, NULL);
    }
    if (s->fsync != SL_SPOOL_FSYNC_NEVER && s->wfd >= 0) {
        char err[SLUICE_ERRLEN];
        pthread_mutex_lock(&s->mu);
        if (sl_spool_sync_locked(s, err, sizeof err) < 0)
            sl_log(SLUICE_LOG_ERROR, NULL, "spool", "%s", err);
        pthread_mutex_unlock(&s->mu);
        if (s->cursor_dirty)
            fdatasync(s->curfd);
    }
    int fds[] = {s->wfd, s->rfd, s->curfd, s->dirfd, s->lockfd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->room);
    pthread_cond_destroy(&s->data);
    pthread_cond_destroy(&s->idle);
    pthread_cond_destroy(&s->stop);
    free(s->segs);
    free(s->wbuf);
    free(s->rbuf);
    free(s->dir);
    free(s);
}

int sl_spool_sync_locked(sl_spool *s, char *err, size_t errlen)
{
    if (s->wfd < 0 || s->synced_gen == s->append_gen)
        return 0;
    uint64_t target = s->append_gen;
    int fd = s->wfd;
    s->sync_busy++;
    pthread_mutex_unlock(&s->mu);
    int rc = fdatasync(fd);
    int e = errno;
    pthread_mutex_lock(&s->mu);
    if (--s->sync_busy == 0)
        pthread_cond_broadcast(&s->idle);
    if (rc < 0) {
        snprintf(err, errlen, "spool %s: cannot sync the tail segment: %s", s->dir,
                 strerror(e));
        return -1;
    }
    if (s->synced_gen < target)
        s->synced_gen = target;
    return 0;
}

int sl_spool_sync(sl_spool *s, char *err, size_t errlen)
{
    if (s->fsync != SL_SPOOL_FSYNC_BATCH)
        return 0;
    pthread_mutex_lock(&s->mu);
    int rc = sl_spool_sync_locked(s, err, errlen);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void sl_spool_wake(sl_spool *s)
{
    pthread_mutex_lock(&s->mu);
    s->woken = 1;
    pthread_cond_broadcast(&s->room);
    pthread_cond_broadcast(&s->data);
    pthread_mutex_unlock(&s->mu);
}

void sl_spool_stats_get(sl_spool *s, sl_spool_stats *st)
{
    pthread_mutex_lock(&s->mu);
    st->bytes = s->held_bytes;
    st->records = s->held_records;
    st->oldest_us = s->held_records ? s->oldest_us : 0;
    st->replayed = s->replayed;
    st->torn = s->torn;
    st->appended_total = s->appended_total;
    st->released_total = s->released_total;
    st->full = s->room_waiting || s->disk_full;
    pthread_mutex_unlock(&s->mu);
}
