/* The file source: one record per line, read in large chunks (one read(2)
 * per 64 KiB, not per line).  With follow it keeps reading what is appended,
 * like `tail -F`, and notices truncation and replacement (log rotation). */
#include "envelope_read.h"
#include "file.h"

#include <sluice/sluice_util.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK (64 * 1024)
/* How often a follow source looks for new data while idle. */
#define FOLLOW_POLL_MS 50

static const sluice_option source_options[] = {
    {"path", SLUICE_OPT_STRING, SLUICE_OPT_REQUIRED, NULL, "file to read", NULL, NULL, NULL},
    {"format", SLUICE_OPT_STRING, 0, "lines",
     "lines: each line is a record value; json: each line is also parsed into fields; "
     "envelope: each line is a record the file sink wrote with format: envelope (dead "
     "letters), restored with its origin, key, headers, value, timestamp and fields",
     "lines|json|envelope", NULL, NULL},
    {"follow", SLUICE_OPT_BOOL, 0, "false",
     "at end of file wait for appended lines (like tail -F) instead of ending", NULL, NULL, NULL},
    {"start_line", SLUICE_OPT_INT, 0, "1",
     "first line to emit (1-based); earlier lines are skipped", NULL, "1", NULL},
    {"max_line", SLUICE_OPT_SIZE, 0, "1MiB",
     "longer lines are truncated to this many bytes and flagged with a header", NULL, "1",
     "1GiB"},
    SLUICE_OPTIONS_END,
};

typedef struct fsrc {
    const sluice_api *api;
    sluice_ctx *ctx;
    char *path;
    int json, envelope, follow;
    int64_t start_line;
    size_t max_line;

    int fd;
    dev_t dev;
    ino_t ino;
    off_t fpos;              /* bytes read from the current file */
    char *buf;               /* unconsumed input is buf[beg, end) */
    size_t cap, beg, end;
    int64_t line;            /* number of the last line taken */
    int skip_rest;           /* dropping the tail of a truncated line */
    unsigned long truncations;
    sluice_metric *json_errors, *truncated, *bad_envelopes;
    char *scratch;           /* envelope: decoded strings of one line */
    env_rec env;             /* envelope: the line being restored */
} fsrc;

static int open_file(fsrc *s, char *err)
{
    int fd = open(s->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, SLUICE_ERRLEN, "cannot open %s: %s", s->path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        snprintf(err, SLUICE_ERRLEN, "cannot read %s: %s", s->path,
                 S_ISDIR(st.st_mode) ? "is a directory" : strerror(errno));
        close(fd);
        return -1;
    }
    if (s->fd >= 0)
        close(s->fd);
    s->fd = fd;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->fpos = 0;
    s->beg = s->end = 0;
    s->line = 0;
    s->skip_rest = 0;
    return 0;
}

static void src_destroy(void *p)
{
    fsrc *s = p;
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    free(s->buf);
    free(s->scratch);
    env_rec_free(&s->env);
    free(s->path);
    free(s);
}

static sluice_status src_init(const sluice_init_args *a, void **out, char *err)
{
    const sluice_api *api = a->api;
    fsrc *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, SLUICE_ERRLEN, "out of memory");
        return SLUICE_ERR;
    }
    s->fd = -1;
    s->api = api;
    s->ctx = a->ctx;
    const char *path = api->cfg_string(a->cfg, "path");
    const char *format = api->cfg_string(a->cfg, "format");
    s->follow = api->opt_bool(a->cfg, "follow");
    s->start_line = api->opt_int(a->cfg, "start_line");
    int64_t max_line = api->opt_int(a->cfg, "max_line");
    if (!path || !*path) {
        snprintf(err, SLUICE_ERRLEN, "path: required");
        goto fail;
    }
    if (format && strcmp(format, "lines") != 0 && strcmp(format, "json") != 0 &&
        strcmp(format, "envelope") != 0) {
        snprintf(err, SLUICE_ERRLEN, "format: \"%s\" is not one of lines, json, envelope",
                 format);
        goto fail;
    }
    s->json = format && strcmp(format, "json") == 0;
    s->envelope = format && strcmp(format, "envelope") == 0;
    s->max_line = (size_t)max_line;
    s->cap = s->max_line + READ_CHUNK;
    s->path = strdup(path);
    s->buf = malloc(s->cap);
    /* Decoding never lengthens a string, so one line's worth is enough. */
    if (s->envelope)
        s->scratch = malloc(s->max_line + 1);
    if (!s->path || !s->buf || (s->envelope && !s->scratch)) {
        snprintf(err, SLUICE_ERRLEN, "out of memory");
        goto fail;
    }
    if (open_file(s, err) != 0) {
        /* A followed file may appear later (a producer not started yet). */
        if (s->follow && errno == ENOENT) {
            src_destroy(s);
            return SLUICE_RETRY;
        }
        goto fail;
    }
    s->json_errors = api->metric(a->ctx, SLUICE_METRIC_COUNTER, "sluice_file_json_errors_total",
                                 "Lines of a json-format file source that are not a JSON "
                                 "object (passed on raw with a sluice.file.json_error header)",
                                 NULL);
    s->truncated = api->metric(a->ctx, SLUICE_METRIC_COUNTER, "sluice_file_truncated_lines_total",
                               "Lines longer than max_line, passed on truncated", NULL);
    if (s->envelope)
        s->bad_envelopes = api->metric(a->ctx, SLUICE_METRIC_COUNTER,
                                       "sluice_file_bad_envelopes_total",
                                       "Lines of an envelope-format file source that are not "
                                       "an envelope (failed into the error policy)", NULL);
    *out = s;
    return SLUICE_OK;
fail:
    src_destroy(s);
    return SLUICE_ERR;
}

typedef enum emit_result { EMITTED, SKIPPED, NO_MEMORY } emit_result;

/* The host adds these when it dead-letters a record; a re-failed record
 * gets fresh ones, so the old ones are dropped rather than doubled. */
static int host_error_header(const char *k, size_t n)
{
    return (n >= 13 && !memcmp(k, "sluice.error.", 13)) ||
           (n >= 14 && !memcmp(k, "sluice.origin.", 14));
}

/* A line that is not an envelope: passed on as it is (value = the line,
 * origin = file and line) and failed at once with the reason, so the error
 * policy sends it on (the re-drive's new dead-letter file) and no transform
 * sees it. */
static emit_result fail_line(fsrc *s, sluice_batch *out, const char *p, size_t n,
                             const char **topic, int64_t ts, const char *why)
{
    const sluice_api *api = s->api;
    if (!*topic && !(*topic = api->strndup(out, s->path, strlen(s->path))))
        return NO_MEMORY;
    const char *v = api->strndup(out, p, n);
    if (!v)
        return NO_MEMORY;
    sluice_record *r = api->record_new(out);
    if (!r)
        return NO_MEMORY;
    s->line++;
    r->value.ptr = v;
    r->value.len = n;
    r->timestamp = ts;
    r->origin.topic = *topic;
    r->origin.offset = s->line;
    char reason[SLUICE_ERRLEN];
    snprintf(reason, sizeof reason, "%s:%lld: not a dead-letter envelope: %s", s->path,
             (long long)s->line, why);
    api->record_fail(out, api->batch_count(out) - 1, reason);
    api->metric_add(s->bad_envelopes, 1);
    return EMITTED;
}

/* Restores the record an envelope line describes.  Its bytes are copied
 * into the batch before the record is appended, so running out of batch
 * memory leaves the line for the next batch. */
static emit_result emit_envelope(fsrc *s, sluice_batch *out, const char *p, size_t n,
                                 int truncated, const char **topic, int64_t ts)
{
    const sluice_api *api = s->api;
    size_t k = 0;
    while (k < n && (p[k] == ' ' || p[k] == '\t'))
        k++;
    if (k == n) {
        s->line++;           /* a blank line holds no record */
        return SKIPPED;
    }
    char why[SLUICE_ERRLEN - 200];
    if (truncated) {
        snprintf(why, sizeof why, "longer than max_line (%zu bytes); raise max_line", s->max_line);
        return fail_line(s, out, p, n, topic, ts, why);
    }
    env_rec *e = &s->env;
    int rc = env_parse(p, n, s->scratch, e, why, sizeof why);
    if (rc != 0)
        return fail_line(s, out, p, n, topic, ts, why);
    const char *sc = s->scratch;
    const char *value = NULL, *key = NULL, *otopic = NULL;
    if ((!e->value.null && !(value = api->strndup(out, sc + e->value.off, e->value.len))) ||
        (!e->key.null && !(key = api->strndup(out, sc + e->key.off, e->key.len))) ||
        (!e->topic.null && !(otopic = api->strndup(out, sc + e->topic.off, e->topic.len))))
        return NO_MEMORY;
    sluice_record *r = api->record_new(out);
    if (!r)
        return NO_MEMORY;
    s->line++;
    r->value.ptr = value;
    r->value.len = value ? e->value.len : 0;
    r->key.ptr = key;
    r->key.len = key ? e->key.len : 0;
    r->origin.topic = otopic;
    r->origin.partition = e->partition;
    r->origin.offset = e->offset;
    r->timestamp = e->timestamp;
    const char *fail = NULL;
    char scratch_key[256];
    for (size_t i = 0; i < e->n_headers && !fail; i++) {
        const env_header *h = &e->headers[i];
        if (host_error_header(sc + h->key.off, h->key.len))
            continue;
        /* header_add wants a NUL-terminated key: the scratch's is not. */
        const char *hk = h->key.len < sizeof scratch_key
                             ? memcpy(scratch_key, sc + h->key.off, h->key.len)
                             : api->strndup(out, sc + h->key.off, h->key.len);
        if (hk == scratch_key)
            scratch_key[h->key.len] = '\0';
        if (!hk || api->header_add(out, r, hk, sc + h->value.off, h->value.len) != 0)
            fail = "out of batch memory restoring its headers; raise batch.max_bytes";
    }
    char ferr[SLUICE_ERRLEN - 256];
    if (!fail && e->fields &&
        api->from_json(out, r, e->fields, e->fields_len, ferr, sizeof ferr) != 0)
        fail = ferr;
    if (fail) {
        char reason[SLUICE_ERRLEN];
        snprintf(reason, sizeof reason, "%s:%lld: cannot restore the envelope: %s", s->path,
                 (long long)s->line, fail);
        api->record_fail(out, api->batch_count(out) - 1, reason);
    }
    return EMITTED;
}

/* Appends line `s->line + 1`.  Nothing is consumed when memory runs out, so
 * the same line is offered again to the next batch. */
static emit_result emit(fsrc *s, sluice_batch *out, const char *p, size_t n, int truncated,
                        const char **topic, int64_t ts)
{
    const sluice_api *api = s->api;
    if (s->line + 1 < s->start_line) {
        s->line++;
        return SKIPPED;
    }
    if (!truncated && n && p[n - 1] == '\r')
        n--;
    if (s->envelope)
        return emit_envelope(s, out, p, n, truncated, topic, ts);
    if (!*topic && !(*topic = api->strndup(out, s->path, strlen(s->path))))
        return NO_MEMORY;
    char *v = api->alloc(out, n + 1);
    if (!v)
        return NO_MEMORY;
    memcpy(v, p, n);
    v[n] = '\0';
    sluice_record *r = api->record_new(out);
    if (!r)
        return NO_MEMORY;
    s->line++;
    r->value.ptr = v;
    r->value.len = n;
    r->timestamp = ts;
    r->origin.topic = *topic;
    r->origin.offset = s->line;
    if (truncated) {
        api->header_add(out, r, "sluice.file.truncated", "true", 4);
        api->metric_add(s->truncated, 1);
        /* A file of long lines must not flood the log: the counter has them all. */
        if (++s->truncations <= 5)
            api->log(s->ctx, SLUICE_LOG_WARN, "%s: line %lld is longer than max_line (%zu "
                     "bytes); passed on truncated%s", s->path, (long long)s->line, s->max_line,
                     s->truncations == 5 ? " (further ones only counted in "
                                           "sluice_file_truncated_lines_total)" : "");
    }
    if (s->json) {
        char jerr[SLUICE_ERRLEN];
        if (api->from_json(out, r, v, n, jerr, sizeof jerr) != 0) {
            /* A source cannot reject input: the line goes on raw, and the
             * header says why, for a filter or the sink to decide. */
            r->n_fields = 0;
            api->header_add(out, r, "sluice.file.json_error", jerr, strlen(jerr));
            api->metric_add(s->json_errors, 1);
        }
    }
    return EMITTED;
}

typedef enum file_change { UNCHANGED, REPLACED, TRUNCATED } file_change;

/* At the end of a followed file: has it been replaced (rotated) or
 * truncated since we opened it? */
static file_change file_changed(fsrc *s)
{
    struct stat st;
    if (stat(s->path, &st) == 0 && (st.st_ino != s->ino || st.st_dev != s->dev))
        return REPLACED;
    if (fstat(s->fd, &st) == 0 && st.st_size < s->fpos) {
        s->api->log(s->ctx, SLUICE_LOG_WARN, "%s was truncated (to %lld bytes, %lld were read);"
                    " reading again from its start", s->path, (long long)st.st_size,
                    (long long)s->fpos);
        return TRUNCATED;
    }
    return UNCHANGED;
}

/* A full batch that happens to hold the file's last line should say so
 * with the batch, rather than leave the end to a poll that finds nothing:
 * so when the buffer is drained, look ahead with one read. */
static int at_end(fsrc *s)
{
    if (s->follow || s->beg != s->end)
        return 0;
    s->beg = s->end = 0;
    ssize_t got;
    do
        got = read(s->fd, s->buf, s->cap);
    while (got < 0 && errno == EINTR);
    if (got > 0) {
        s->end = (size_t)got;
        s->fpos += got;
    }
    return got == 0;         /* a read error shows again at the next poll */
}

static sluice_status src_poll(void *p, sluice_batch *out, int timeout_ms, char *err)
{
    fsrc *s = p;
    const sluice_api *api = s->api;
    const char *topic = NULL;
    int64_t ts = api->now_us();
    size_t emitted = 0;
    int waited = 0;
    for (;;) {
        if (api->batch_room(out) == 0)
            return at_end(s) ? SLUICE_EOF : SLUICE_OK;
        char *b = s->buf + s->beg;
        size_t avail = s->end - s->beg;
        char *nl = avail ? memchr(b, '\n', avail) : NULL;
        if (s->skip_rest) {
            /* The tail of a line already passed on truncated. */
            s->beg = nl ? (size_t)(nl - s->buf) + 1 : s->end;
            s->skip_rest = nl == NULL;
            if (nl)
                continue;
        } else if (nl || avail >= s->max_line) {
            size_t n = nl ? (size_t)(nl - b) : s->max_line;
            int trunc = n > s->max_line || !nl;
            emit_result r = emit(s, out, b, trunc ? s->max_line : n, trunc, &topic, ts);
            if (r == NO_MEMORY)
                goto no_memory;
            emitted += r == EMITTED;
            s->beg += nl ? n + 1 : n;
            s->skip_rest = !nl;
            continue;
        }
        /* Need more input: keep the partial line, read behind it. */
        if (s->beg) {
            memmove(s->buf, s->buf + s->beg, s->end - s->beg);
            s->end -= s->beg;
            s->beg = 0;
        }
        ssize_t got = read(s->fd, s->buf + s->end, s->cap - s->end);
        if (got > 0) {
            s->end += (size_t)got;
            s->fpos += got;
            continue;
        }
        if (got < 0) {
            if (errno == EINTR)
                continue;
            snprintf(err, SLUICE_ERRLEN, "read %s: %s", s->path, strerror(errno));
            return SLUICE_ERR;
        }
        /* End of file.  A last line without a newline is still a line,
         * unless the file is followed: then it waits for its newline. */
        if (!s->follow) {
            if (s->end > s->beg && !s->skip_rest) {
                emit_result r = emit(s, out, s->buf + s->beg, s->end - s->beg, 0, &topic, ts);
                if (r == NO_MEMORY)
                    goto no_memory;
                s->beg = s->end;
            }
            return SLUICE_EOF;
        }
        if (emitted || waited >= timeout_ms)
            return SLUICE_OK;
        file_change ch = file_changed(s);
        if (ch == REPLACED) {
            /* The old file is finished: its partial last line is a line. */
            if (s->end > s->beg && !s->skip_rest) {
                emit_result r = emit(s, out, s->buf + s->beg, s->end - s->beg, 0, &topic, ts);
                if (r == NO_MEMORY)
                    goto no_memory;
                emitted += r == EMITTED;
                s->beg = s->end;
            }
            char oerr[SLUICE_ERRLEN];
            s->start_line = 1;   /* start_line is about the first file only */
            if (open_file(s, oerr) == 0)
                api->log(s->ctx, SLUICE_LOG_INFO, "%s was replaced; reading the new file from "
                         "its start", s->path);
            else
                api->log(s->ctx, SLUICE_LOG_WARN, "%s was replaced but %s; still reading the "
                         "old one", s->path, oerr);
            continue;
        }
        if (ch == TRUNCATED) {
            lseek(s->fd, 0, SEEK_SET);
            s->fpos = 0;
            s->beg = s->end = 0;
            s->line = 0;
            s->skip_rest = 0;
            s->start_line = 1;
            continue;
        }
        int step = timeout_ms - waited < FOLLOW_POLL_MS ? timeout_ms - waited : FOLLOW_POLL_MS;
        sluice_sleep_ms(step);
        waited += step;
        ts = api->now_us();
    }
no_memory:
    if (api->batch_count(out))
        return SLUICE_OK;    /* the next batch takes the line */
    snprintf(err, SLUICE_ERRLEN, "%s: line %lld does not fit in an empty batch; raise "
             "batch.max_bytes", s->path, (long long)s->line + 1);
    return SLUICE_ERR;
}

const sluice_source_ops file_source_ops = {
    .struct_size = sizeof(sluice_source_ops),
    .options = source_options,
    .init = src_init,
    .poll = src_poll,
    .destroy = src_destroy,
};
