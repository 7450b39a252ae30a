/* The kafka plugin's JSON validator, which allocates nothing: it decides
 * whether an MQTT payload can be embedded in the envelope as JSON.  (The
 * envelope's strings, base64 and times come from <sluice/sluice_text.h>.) */
#ifndef KAFKA_KJSON_H
#define KAFKA_KJSON_H

#include <sluice/sluice_util.h>

#include <stddef.h>

typedef enum kj_kind { KJ_INVALID = 0, KJ_SCALAR, KJ_CONTAINER } kj_kind;

/* Classifies s as one complete JSON text (RFC 8259, surrounding whitespace
 * allowed).  It is at least as strict as jansson's parser (integers must fit
 * 64 bits, reals must not overflow, \u escapes must pair surrogates, nesting
 * is limited), so whatever it accepts, the host's from_json accepts too. */
kj_kind kj_classify(const char *s, size_t n);

#endif
