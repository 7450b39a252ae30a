/* Helpers shared by the spool tests: scratch directories, records, files. */
#ifndef SLUICE_TEST_SPT_H
#define SLUICE_TEST_SPT_H

#include "batch.h"
#include "batch_api.h"
#include "check.h"
#include "spool/spool.h"
#include "spool/spool_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char spt_root[512];

/* A fresh directory under SLUICE_TEST_VAR (or /tmp) for one case. */
static __attribute__((unused)) const char *spt_dir(const char *name)
{
    static char path[1024];
    if (!spt_root[0]) {
        const char *var = getenv("SLUICE_TEST_VAR");
        snprintf(spt_root, sizeof spt_root, "%s/spooltest.XXXXXX", var && *var ? var : "/tmp");
        if (var && *var)
            mkdir(var, 0700);
        if (!mkdtemp(spt_root)) {
            perror("mkdtemp");
            exit(2);
        }
    }
    snprintf(path, sizeof path, "%s/%s", spt_root, name);
    return path;
}

static __attribute__((unused)) void spt_cleanup(void)
{
    if (spt_root[0]) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", spt_root);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", spt_root);
    }
}

static __attribute__((unused)) sl_spool *spt_open(const char *dir, uint64_t max, uint64_t seg, sl_spool_fsync fs)
{
    sl_spool_opts o = {.dir = dir, .max_bytes = max, .segment_bytes = seg, .fsync = fs,
                       .fsync_interval_ms = 20};
    char err[SLUICE_ERRLEN] = "";
    sl_spool *s = NULL;
    if (sl_spool_open(&o, &s, err, sizeof err) < 0) {
        fprintf(stderr, "sl_spool_open(%s): %s\n", dir, err);
        return NULL;
    }
    return s;
}

/* A record whose value is "<tag>-<i>" with some padding. */
static __attribute__((unused)) sluice_record *spt_rec(sluice_batch *b, const char *tag, long i, size_t pad)
{
    sluice_record *r = sl_record_new(b);
    if (!r)
        return NULL;
    char v[4096];
    int n = snprintf(v, sizeof v, "%s-%ld", tag, i);
    if (pad > sizeof v - (size_t)n - 1)
        pad = sizeof v - (size_t)n - 1;
    memset(v + n, '.', pad);
    sl_set_value(b, r, v, (size_t)n + pad);
    r->origin.offset = i;
    return r;
}

static __attribute__((unused)) int spt_append(sl_spool *s, const char *tag, long from, long n, size_t pad)
{
    sluice_batch *b = sl_batch_new((size_t)n, 0);
    for (long i = from; i < from + n; i++)
        spt_rec(b, tag, i, pad);
    char err[SLUICE_ERRLEN] = "";
    int rc = sl_spool_append_batch(s, b, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "append: %s\n", err);
    sl_batch_free(b);
    return rc;
}

/* Number of segment files in dir. */
static __attribute__((unused)) int spt_segments(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".seg"))
            n++;
    if (d)
        closedir(d);
    return n;
}

/* Path of the newest (or oldest) segment of dir. */
static __attribute__((unused)) const char *spt_segment(const char *dir, int newest)
{
    static char path[1400];
    char best[256] = "";
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strstr(e->d_name, ".seg"))
            continue;
        if (!best[0] || (newest ? strcmp(e->d_name, best) > 0 : strcmp(e->d_name, best) < 0))
            snprintf(best, sizeof best, "%s", e->d_name);
    }
    if (d)
        closedir(d);
    snprintf(path, sizeof path, "%s/%s", dir, best);
    return path;
}

static __attribute__((unused)) long spt_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Flips one byte of a file. */
static __attribute__((unused)) void spt_flip(const char *path, long off)
{
    int fd = open(path, O_RDWR);
    unsigned char c = 0;
    if (fd < 0 || pread(fd, &c, 1, off) != 1) {
        perror(path);
        exit(2);
    }
    c ^= 0x5a;
    if (pwrite(fd, &c, 1, off) != 1)
        exit(2);
    close(fd);
}

/* Parses "<tag>-<i>..." from a record's value; -1 if it is not one. */
static __attribute__((unused)) long spt_index(const sluice_record *r, const char *tag)
{
    size_t tl = strlen(tag);
    if (!r->value.ptr || r->value.len <= tl + 1 || memcmp(r->value.ptr, tag, tl) != 0 ||
        r->value.ptr[tl] != '-')
        return -1;
    return strtol(r->value.ptr + tl + 1, NULL, 10);
}

#endif
