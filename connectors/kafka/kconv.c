#include "kconv.h"

#include "kpath.h"

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

int kconv_encode(const kconv *c, sluice_batch *b, const sluice_record *r, sluice_buf *buf,
                 const void **out, size_t *len, char *err, size_t errlen)
{
    switch (c->kind) {
    case KCONV_BYTES:
        *out = r->value.ptr;
        *len = r->value.ptr ? r->value.len : 0;
        return 0;
    case KCONV_JSON: {
        /* Fields or not: the host writes the one envelope of a record
         * without fields, so the wire format has one writer. */
        const char *j = c->api->to_json(b, r, len, err, errlen);
        if (!j)
            return -1;
        *out = j;
        return 0;
    }
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
