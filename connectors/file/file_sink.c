/* The file sink: each batch is formatted into one buffer and handed to the
 * kernel with one write(2), so a batch acknowledged to the source is in the
 * OS (and, with fsync, on disk).  A failed write is cut back off the file,
 * so the retried batch does not follow half a line. */
#include "file.h"

#include <sluice/sluice_text.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const sluice_option sink_options[] = {
    {"path", SLUICE_OPT_STRING, 0, NULL, "file to write; required unless discard is true",
     NULL, NULL, NULL},
    {"format", SLUICE_OPT_STRING, 0, "json",
     "json: the record as JSON (api->to_json); envelope: the dead-letter format "
     "(origin, timestamp, key, value, headers and fields) that sluice redrive reads; raw: the "
     "value bytes; one record per line",
     "json|envelope|raw", NULL, NULL},
    {"discard", SLUICE_OPT_BOOL, 0, "false", "count records and drop them (benchmarks); no file",
     NULL, NULL, NULL},
    {"fsync", SLUICE_OPT_BOOL, 0, "false", "fdatasync after every batch", NULL, NULL, NULL},
    {"append", SLUICE_OPT_BOOL, 0, "true", "append to the file; false truncates it at start",
     NULL, NULL, NULL},
    SLUICE_OPTIONS_END,
};

typedef enum sink_format { FMT_JSON, FMT_ENVELOPE, FMT_RAW } sink_format;

typedef struct fsink {
    const sluice_api *api;
    sluice_ctx *ctx;
    char *path;
    sink_format format;
    int discard, fsync;
    int fd;
    sluice_buf out;          /* one batch of text, reused */
    unsigned long long records;
    sluice_metric *discarded;
} fsink;

static void sink_destroy(void *p)
{
    fsink *s = p;
    if (!s)
        return;
    if (s->discard)
        s->api->log(s->ctx, SLUICE_LOG_INFO, "discarded %llu records", s->records);
    else if (s->fd >= 0)
        s->api->log(s->ctx, SLUICE_LOG_INFO, "wrote %llu records to %s", s->records, s->path);
    if (s->fd >= 0)
        close(s->fd);
    sluice_buf_free(&s->out);
    free(s->path);
    free(s);
}

static sluice_status sink_init(const sluice_init_args *a, void **out, char *err)
{
    const sluice_api *api = a->api;
    fsink *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, SLUICE_ERRLEN, "out of memory");
        return SLUICE_ERR;
    }
    s->fd = -1;
    s->api = api;
    s->ctx = a->ctx;
    const char *path = api->cfg_string(a->cfg, "path");
    const char *format = api->cfg_string(a->cfg, "format");
    s->discard = api->opt_bool(a->cfg, "discard");
    s->fsync = api->opt_bool(a->cfg, "fsync");
    int append = api->opt_bool(a->cfg, "append");
    if (!format || !strcmp(format, "json")) {
        s->format = FMT_JSON;
    } else if (!strcmp(format, "envelope")) {
        s->format = FMT_ENVELOPE;
    } else if (!strcmp(format, "raw")) {
        s->format = FMT_RAW;
    } else {
        snprintf(err, SLUICE_ERRLEN, "format: \"%s\" is not one of json, envelope, raw", format);
        goto fail;
    }
    if (s->discard) {
        s->discarded = api->metric(a->ctx, SLUICE_METRIC_COUNTER, "sluice_file_discarded_total",
                                   "Records a file sink with discard: true counted and dropped",
                                   NULL);
        *out = s;
        return SLUICE_OK;
    }
    if (!path || !*path) {
        snprintf(err, SLUICE_ERRLEN, "path: required unless discard is true");
        goto fail;
    }
    s->path = strdup(path);
    if (!s->path) {
        snprintf(err, SLUICE_ERRLEN, "out of memory");
        goto fail;
    }
    s->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
    if (s->fd < 0) {
        snprintf(err, SLUICE_ERRLEN, "cannot open %s for writing: %s", path, strerror(errno));
        goto fail;
    }
    *out = s;
    return SLUICE_OK;
fail:
    sink_destroy(s);
    return SLUICE_ERR;
}

/* {"origin":{...},"timestamp":...,"key":...,"value":...,"headers":{...},"fields":{...}}:
 * everything a dead-letter reader needs, whatever the record holds.  It is
 * not to_json's envelope of a record without fields (format json), and
 * must not become it: that one is a wire format consumers read (the seed's
 * raw_iot_data), with no room for what a re-drive needs back — headers
 * (the sluice.error.* reason), origin partition and offset, the fields, and
 * why they could not be written (envelope_read.c reads all of it).  It
 * never refuses a record: fields that cannot be JSON become null with the
 * reason in "fields_error".  Origin topic, key and value follow the text
 * layer's bytes rule (a string when UTF-8, else base64 and a sibling
 * "<name>_encoding"), header values are a string or {"base64":...}; only a
 * header name that is not UTF-8 is altered (U+FFFD, the escaper's policy),
 * having nowhere to say it is base64. */
static void put_envelope(fsink *s, sluice_batch *b, const sluice_record *r)
{
    sluice_buf *o = &s->out;
    const char *t = r->origin.topic;
    SLUICE_BUF_LIT(o, "{\"origin\":{");
    sluice_buf_json_bytes_member(o, "topic", t, t ? strlen(t) : 0);
    SLUICE_BUF_LIT(o, ",\"partition\":");
    sluice_buf_int(o, r->origin.partition);
    SLUICE_BUF_LIT(o, ",\"offset\":");
    sluice_buf_int(o, r->origin.offset);
    SLUICE_BUF_LIT(o, "},\"timestamp\":");
    if (r->timestamp)
        sluice_buf_json_time(o, r->timestamp);
    else
        SLUICE_BUF_LIT(o, "null");
    sluice_buf_putc(o, ',');
    sluice_buf_json_bytes_member(o, "key", r->key.ptr, r->key.len);
    sluice_buf_putc(o, ',');
    sluice_buf_json_bytes_member(o, "value", r->value.ptr, r->value.len);
    SLUICE_BUF_LIT(o, ",\"headers\":{");
    for (uint32_t i = 0; i < r->n_headers; i++) {
        const sluice_header *h = &r->headers[i];
        if (i)
            sluice_buf_putc(o, ',');
        sluice_buf_json_str(o, h->key, strlen(h->key));
        sluice_buf_putc(o, ':');
        if (sluice_utf8_valid_prefix(h->value.ptr, h->value.len) == h->value.len) {
            sluice_buf_json_str(o, h->value.ptr, h->value.len);
        } else {
            SLUICE_BUF_LIT(o, "{\"base64\":");
            sluice_buf_json_base64(o, h->value.ptr, h->value.len);
            sluice_buf_putc(o, '}');
        }
    }
    SLUICE_BUF_LIT(o, "},\"fields\":");
    if (!r->n_fields) {
        SLUICE_BUF_LIT(o, "{}}\n");
        return;
    }
    char err[SLUICE_ERRLEN];
    size_t len;
    const char *f = s->api->to_json(b, r, &len, err, sizeof err);
    if (f) {
        sluice_buf_put(o, f, len);
        SLUICE_BUF_LIT(o, "}\n");
        return;
    }
    SLUICE_BUF_LIT(o, "null,\"fields_error\":");
    sluice_buf_json_str(o, err, strlen(err));
    SLUICE_BUF_LIT(o, "}\n");
}

/* Writes it all, or cuts what was written back off and says why. */
static sluice_status write_all(fsink *s, char *err)
{
    size_t done = 0;
    while (done < s->out.len) {
        ssize_t n = write(s->fd, s->out.p + done, s->out.len - done);
        if (n >= 0) {
            done += (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        int e = errno;
        if (done) {
            /* With O_APPEND our position is the end of what we wrote. */
            off_t end = lseek(s->fd, 0, SEEK_CUR);
            if (end >= (off_t)done && ftruncate(s->fd, end - (off_t)done) != 0)
                s->api->log(s->ctx, SLUICE_LOG_WARN, "%s: could not remove a partly written "
                            "batch (%s); the retry may leave a broken line", s->path,
                            strerror(errno));
        }
        snprintf(err, SLUICE_ERRLEN, "write %s: %s", s->path, strerror(e));
        /* A full or failing disk may recover; anything else is a bug or a
         * broken setup that a restart (reopening the file) may fix. */
        return e == ENOSPC || e == EDQUOT || e == EIO || e == EAGAIN ? SLUICE_RETRY : SLUICE_ERR;
    }
    if (s->fsync && fdatasync(s->fd) != 0) {
        snprintf(err, SLUICE_ERRLEN, "fdatasync %s: %s", s->path, strerror(errno));
        return SLUICE_RETRY;
    }
    return SLUICE_OK;
}

static sluice_status sink_write(void *p, sluice_batch *b, char *err)
{
    fsink *s = p;
    const sluice_api *api = s->api;
    size_t n = api->batch_count(b);
    if (s->discard) {
        api->metric_add(s->discarded, (double)n);
        s->records += n;
        return SLUICE_OK;
    }
    sluice_buf_reset(&s->out);
    size_t failed = 0;
    for (size_t i = 0; i < n && !s->out.oom; i++) {
        const sluice_record *r = api->batch_at(b, i);
        switch (s->format) {
        case FMT_RAW:
            sluice_buf_put(&s->out, r->value.ptr, r->value.len);
            sluice_buf_putc(&s->out, '\n');
            break;
        case FMT_JSON: {
            char why[SLUICE_ERRLEN];
            size_t len;
            const char *j = api->to_json(b, r, &len, why, sizeof why);
            if (!j) {
                api->record_fail(b, i, why);
                failed++;
                break;
            }
            sluice_buf_put(&s->out, j, len);
            sluice_buf_putc(&s->out, '\n');
            break;
        }
        case FMT_ENVELOPE: put_envelope(s, b, r); break;
        }
    }
    if (s->out.oom) {
        snprintf(err, SLUICE_ERRLEN, "out of memory formatting a batch of %zu records for %s", n,
                 s->path);
        return SLUICE_RETRY;
    }
    sluice_status st = write_all(s, err);
    if (st != SLUICE_OK)
        return st;
    s->records += n - failed;
    return failed ? SLUICE_PARTIAL : SLUICE_OK;
}

const sluice_sink_ops file_sink_ops = {
    .struct_size = sizeof(sluice_sink_ops),
    .options = sink_options,
    .init = sink_init,
    .write = sink_write,
    .destroy = sink_destroy,
};
