#include "kconv.h"

#include "kjson.h"
#include "kpath.h"

#include <sluice/sluice_text.h>

#include <stdio.h>
#include <string.h>

int kconv_init(kconv *c, const sluice_api *api, const char *kind, const char *avro_path,
               char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->api = api;
    if (!kind || strcmp(kind, "json") == 0) {
        c->kind = KCONV_JSON;
    } else if (strcmp(kind, "bytes") == 0) {
        c->kind = KCONV_BYTES;
    } else if (strcmp(kind, "avro") == 0) {
        c->kind = KCONV_AVRO;
        if (!avro_path || !*avro_path) {
            snprintf(err, errlen, "value_converter avro needs avro_schema (the .avsc file)");
            return -1;
        }
        char path[4096];
        kpath_resolve(avro_path, path, sizeof path);
        if (!(c->avro = kavro_load(path, err, errlen)))
            return -1;
    } else {
        snprintf(err, errlen, "value_converter \"%s\" is not one of json, avro, bytes", kind);
        return -1;
    }
    return 0;
}

void kconv_free(kconv *c)
{
    kavro_free(c->avro);
    c->avro = NULL;
}

void kconv_envelope(sluice_buf *b, const sluice_record *r, int64_t now_us)
{
    /* Topic, key and payload follow the text layer's bytes rule: a string
     * when UTF-8, else base64 with a "<name>_encoding" sibling. */
    const char *t = r->origin.topic;
    sluice_buf_putc(b, '{');
    sluice_buf_json_bytes_member(b, "topic", t, t ? strlen(t) : 0);
    sluice_buf_putc(b, ',');
    sluice_buf_json_bytes_member(b, "device_id", r->key.ptr, r->key.len);
    sluice_buf_putc(b, ',');
    const char *v = r->value.ptr;
    if (v && kj_classify(v, r->value.len) == KJ_CONTAINER) {
        /* Copied as sent: valid JSON, so whitespace is harmless. */
        SLUICE_BUF_LIT(b, "\"payload\":");
        sluice_buf_put(b, v, r->value.len);
    } else {
        sluice_buf_json_bytes_member(b, "payload", v, v ? r->value.len : 0);
    }
    SLUICE_BUF_LIT(b, ",\"received_at\":");
    sluice_buf_json_time(b, r->timestamp ? r->timestamp : now_us);
    sluice_buf_putc(b, '}');
}

int kconv_encode(const kconv *c, sluice_batch *b, const sluice_record *r, sluice_buf *buf,
                 const void **out, size_t *len, char *err, size_t errlen)
{
    switch (c->kind) {
    case KCONV_BYTES:
        *out = r->value.ptr;
        *len = r->value.ptr ? r->value.len : 0;
        return 0;
    case KCONV_JSON:
        if (r->n_fields) {
            const char *j = c->api->to_json(b, r, len, err, errlen);
            if (!j)
                return -1;
            *out = j;
            return 0;
        }
        kconv_envelope(buf, r, c->api->now_us());
        break;
    case KCONV_AVRO:
        if (!r->n_fields) {
            snprintf(err, errlen, "Avro: the record has no fields to write (an undecoded "
                     "record: use value_converter json or bytes for it)");
            return -1;
        }
        if (kavro_encode(c->avro, r, buf, err, errlen) != 0)
            return -1;
        break;
    }
    if (buf->oom) {
        snprintf(err, errlen, "out of memory encoding the value");
        return -1;
    }
    *out = buf->p;
    *len = buf->len;
    return 0;
}

int kconv_decode(const kconv *c, sluice_batch *b, sluice_record *r, char *err, size_t errlen)
{
    switch (c->kind) {
    case KCONV_BYTES:
        return 0;
    case KCONV_JSON:
        if (!r->value.ptr) {
            snprintf(err, errlen, "the message has no value (a tombstone), not JSON");
            return -1;
        }
        return c->api->from_json(b, r, r->value.ptr, r->value.len, err, errlen);
    case KCONV_AVRO:
        return kavro_decode(c->avro, c->api, b, r, r->value.ptr, r->value.ptr ? r->value.len : 0,
                            err, errlen);
    }
    return 0;
}
