/* Value converters: how a record's value is written to Kafka by the sink
 * and read back into fields by the source.
 *
 *   json   sink: api->to_json — the fields as a JSON object, or, for a
 *          record without fields (an MQTT message), the host's envelope
 *          {"topic","device_id","payload","received_at"}
 *          (docs/pipeline-reference.md, "Records as JSON").
 *          source: the value parsed into fields (api->from_json); an
 *          embedded payload becomes a STRING field holding its compact
 *          JSON text, so `payload` reads back as a string whatever the
 *          device sent.
 *   avro   Avro single-object encoding with the schema of `avro_schema`.
 *   bytes  the value as it is, both ways; no fields. */
#ifndef KAFKA_KCONV_H
#define KAFKA_KCONV_H

#include "kavro.h"
#include <sluice/sluice_util.h>

#include <sluice/sluice.h>

typedef enum kconv_kind { KCONV_JSON, KCONV_AVRO, KCONV_BYTES } kconv_kind;

typedef struct kconv {
    kconv_kind kind;
    kavro *avro;
    const sluice_api *api;
} kconv;

/* `kind` is json|avro|bytes; avro needs `avro_path`.  0, or -1 with err. */
int kconv_init(kconv *c, const sluice_api *api, const char *kind, const char *avro_path,
               char *err, size_t errlen);
void kconv_free(kconv *c);

/* The bytes to send as r's value.  *out points into r, into `buf` (reset by
 * the caller) or into b's memory (to_json), and stays valid until the next
 * call; NULL with *len 0 for a record without value.  0, or -1 with err. */
int kconv_encode(const kconv *c, sluice_batch *b, const sluice_record *r, sluice_buf *buf,
                 const void **out, size_t *len, char *err, size_t errlen);

/* Parses r->value into fields of r (json, avro; bytes does nothing).
 * 0, or -1 with err saying why the value is not what the converter reads. */
int kconv_decode(const kconv *c, sluice_batch *b, sluice_record *r, char *err, size_t errlen);

#endif
