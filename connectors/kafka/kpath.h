/* Where a relative avro_schema file is found. */
#ifndef KAFKA_KPATH_H
#define KAFKA_KPATH_H

#include <stddef.h>

/* Writes into out the file `name` refers to: itself when absolute or when it
 * exists relative to the working directory; else the same relative path in
 * sluice's schema directory (share/sluice/schemas of the installation the
 * plugin belongs to, or of its build tree).  When none exists, out is
 * `name` itself, so the error names what the pipeline said. */
void kpath_resolve(const char *name, char *out, size_t n);

#endif
