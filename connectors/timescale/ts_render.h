/* Field values as text, in the forms PostgreSQL's input functions read. */
#ifndef TS_RENDER_H
#define TS_RENDER_H

#include <sluice/sluice.h>
#include "ts_buf.h"

/* Shortest text that reads back as the same double; NaN and ±Infinity in
 * PostgreSQL's spelling.  out holds at least 32 bytes; returns the length. */
size_t ts_render_double(char *out, double d);
/* "YYYY-MM-DD HH:MM:SS.ffffff+00" (with " BC" before year 1) from µs since
 * the epoch.  out holds at least 48 bytes; returns the length. */
size_t ts_render_timestamp(char *out, int64_t us);
size_t ts_render_int(char *out, int64_t v);

/* Appends a non-NULL value's text, unescaped (text columns of a binary COPY). */
void ts_render_text(sluice_buf *b, const sluice_field *f);
/* Appends a value for a text-format COPY: escaped, NULL as \N (f may be NULL). */
void ts_render_copy_text(sluice_buf *b, const sluice_field *f);

#endif
