/* Small JSON helpers of the kafka plugin: a validator that allocates nothing
 * (to decide whether an MQTT payload can be embedded in the envelope as JSON)
 * and writers for strings, base64 and ISO 8601 times. */
#ifndef KAFKA_KJSON_H
#define KAFKA_KJSON_H

#include <sluice/sluice_util.h>

#include <stddef.h>
#include <sluice/sluice_util.h>
#include <stdint.h>


typedef enum kj_kind { KJ_INVALID = 0, KJ_SCALAR, KJ_CONTAINER } kj_kind;

/* Classifies s as one complete JSON text (RFC 8259, surrounding whitespace
 * allowed).  It is at least as strict as jansson's parser (integers must fit
 * 64 bits, reals must not overflow, \u escapes must pair surrogates, nesting
 * is limited), so whatever it accepts, the host's from_json accepts too. */
kj_kind kj_classify(const char *s, size_t n);

/* Appends s as a JSON string; s must be valid UTF-8. */
void kj_put_string(sluice_buf *b, const char *s, size_t n);
/* Appends s base64-encoded, quoted. */
void kj_put_base64(sluice_buf *b, const unsigned char *s, size_t n);
/* Appends "2023-05-25T15:13:10.543400Z" for microseconds since the epoch. */
void kj_put_time(sluice_buf *b, int64_t us);

#endif
