/* Value converters: how a record's value is written to Kafka by the sink
 * and read back into fields by the source.
 *
 *   json   sink: the fields as a JSON object (api->to_json); a record without
 *          fields (an MQTT message) as the envelope below.
 *          source: the value parsed into fields (api->from_json).
 *   avro   Avro single-object encoding with the schema of `avro_schema`.
 *   bytes  the value as it is, both ways; no fields.
 *
 * The envelope of a field-less record:
 *   {"topic": <origin topic>, "device_id": <key>, "payload": <value>,
 *    "received_at": "<ISO 8601 UTC of the record's timestamp>"}
 * where payload is embedded as JSON when the value is a JSON object or
 * array, else written as a string (base64, with "payload_encoding":"base64",
 * when it is not UTF-8).  Read back by the json converter, an embedded
 * payload becomes a STRING field holding its compact JSON text, so
 * `payload` is always a string, whatever the device sent. */
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
 * the caller) or into b's arena, and stays valid until the next call; NULL
 * with *len 0 for a record without value.  0, or -1 with err. */
int kconv_encode(const kconv *c, sluice_batch *b, const sluice_record *r, sluice_buf *buf,
                 const void **out, size_t *len, char *err, size_t errlen);

/* Parses r->value into fields of r (json, avro; bytes does nothing).
 * 0, or -1 with err saying why the value is not what the converter reads. */
int kconv_decode(const kconv *c, sluice_batch *b, sluice_record *r, char *err, size_t errlen);

/* Appends the envelope of r to buf; `now_us` stands in for a missing
 * timestamp. */
void kconv_envelope(sluice_buf *buf, const sluice_record *r, int64_t now_us);

#endif
