/* Avro for the kafka plugin: a record schema read from an .avsc file,
 * records written and read in Avro's single-object encoding
 *     C3 01 | 8-byte little-endian CRC-64-AVRO fingerprint of the schema's
 *     Parsing Canonical Form | binary body
 * and sluice fields mapped to and from the schema's fields by name.
 *
 * avro-c parses and validates the schema file (its messages name what is
 * wrong).  The body codec is our own, over a compiled copy of the schema:
 * avro-c 1.11's reader mallocs every string it reads and trusts length
 * prefixes, so a corrupt message could ask it for gigabytes, while ours
 * checks every length against the bytes there are and writes straight into
 * reused buffers.  The tests cross-check both directions against avro-c. */
#ifndef KAFKA_KAVRO_H
#define KAFKA_KAVRO_H

#include <sluice/sluice_util.h>

#include <sluice/sluice.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kavro kavro;

/* Reads, validates and compiles the schema in `path`.  The top level must be
 * a record whose fields are primitives, enums, fixed, or unions of those
 * (sluice fields are flat).  NULL with err set on failure. */
kavro *kavro_load(const char *path, char *err, size_t errlen);
/* The same from schema text; `origin` names it in messages. */
kavro *kavro_parse(const char *json, size_t len, const char *origin, char *err, size_t errlen);
void kavro_free(kavro *a);

uint64_t kavro_fingerprint(const kavro *a);
/* The schema's Parsing Canonical Form, NUL-terminated. */
const char *kavro_canonical(const kavro *a);

/* Appends the single-object encoding of r's fields to out.  Fields are
 * matched by name; a field the record lacks takes the schema's default or
 * null (when the type allows it).  0, or -1 with err. */
int kavro_encode(const kavro *a, const sluice_record *r, sluice_buf *out, char *err, size_t errlen);

/* Decodes a single-object encoded message into fields of r (in schema
 * order), through the api so that they live in the batch's arena.
 * 0, or -1 with err saying what is wrong and at which byte. */
int kavro_decode(const kavro *a, const sluice_api *api, sluice_batch *b, sluice_record *r,
                 const void *msg, size_t len, char *err, size_t errlen);

/* Building blocks, exposed for the tests. */
uint64_t kavro_crc64(const void *p, size_t n);
/* Parsing Canonical Form of any schema text: malloc'd string, or NULL. */
char *kavro_canonical_form(const char *json, size_t len, char *err, size_t errlen);

#endif
