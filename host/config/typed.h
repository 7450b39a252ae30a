/* Text to typed values, shared by plugin options, declared defaults and the
 * pipeline's own sections (sl_parse_duration_ms and sl_parse_size are in
 * config.h because the CLI uses them too). */
#ifndef SL_TYPED_H
#define SL_TYPED_H

#include <stdint.h>

/* Each returns 0, or -1 if `s` is not entirely a value of that type. */
int sl_parse_bool(const char *s, int *out);    /* true/false yes/no on/off 1/0 */
int sl_parse_int(const char *s, int64_t *out); /* decimal, optional sign */
int sl_parse_double(const char *s, double *out); /* finite, decimal notation */

#endif
