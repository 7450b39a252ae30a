/* The reader of the file sink's envelope lines (format: envelope), for the
 * file source's format: envelope: dead letters read back for a re-drive.
 *
 * It is a small JSON parser that knows the envelope's members and nothing
 * else, so that a line costs no malloc: strings are decoded into a scratch
 * buffer the caller owns (at least as long as the line), and the record is
 * described by spans into it.  It never trusts the line: any malformed
 * input gives -1 and a reason with the column, never a crash (fuzzed by
 * tests/fuzz/fuzz_envelope.c). */
#ifndef FILE_ENVELOPE_READ_H
#define FILE_ENVELOPE_READ_H

#include <stddef.h>
#include <stdint.h>

/* Bytes in the scratch buffer; absent (JSON null or no member) when null. */
typedef struct env_span {
    size_t off, len;
    int null;
} env_span;

typedef struct env_header {
    env_span key, value;
} env_header;

typedef struct env_rec {
    env_span topic;          /* origin.topic */
    int32_t partition;       /* origin.partition, -1 when absent */
    int64_t offset;          /* origin.offset, -1 when absent */
    int64_t timestamp;       /* microseconds since the epoch; 0 for null */
    env_span key, value;     /* base64 already decoded */
    env_header *headers;     /* grown with realloc by env_parse, reused */
    size_t n_headers, cap_headers;
    const char *fields;      /* the "fields" object's JSON text inside the
                                line, NULL when empty, null or absent */
    size_t fields_len;
} env_rec;

/* Parses one line (without its newline) of n bytes.  scratch must hold at
 * least n bytes.  Returns 0; -1 when the line is not an envelope, with the
 * reason ("column 17: expected ':' after a member name") in why; -2 when
 * growing the header array failed (out of memory). */
int env_parse(const char *line, size_t n, char *scratch, env_rec *r, char *why, size_t whylen);

/* Frees the header array. */
void env_rec_free(env_rec *r);

#endif
