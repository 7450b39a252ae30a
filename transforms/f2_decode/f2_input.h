/* Checks and conversions of reading text: UTF-8, timestamps, hex data. */
#ifndef F2_INPUT_H
#define F2_INPUT_H

#include <stddef.h>
#include <sluice/sluice_util.h>
#include <stdint.h>

/* Largest RS-485 frame accepted in "data", in bytes (Modbus RTU frames are
 * at most 256). */
#define F2_MAX_DATA 1024


/* "YYYY-MM-DD HH:MM:SS[.fraction][Z|±HH:MM|±HHMM]" ('T' may replace the
 * space).  A timestamp without a zone is local time at tz_offset_s seconds
 * east of UTC.  Result: microseconds since the epoch.  0, or -1 with err. */
int f2_parse_timestamp(const char *s, size_t len, int tz_offset_s, int64_t *us, char *err,
                       size_t errlen);

/* "UTC", "Z", "+02:00", "-0530", "+2": seconds east of UTC; -1 with err. */
int f2_parse_tz(const char *s, int *offset_s, char *err, size_t errlen);

/* Hex text to bytes: whitespace between bytes optional, upper or lower case,
 * an optional 0x prefix on each group.  0, or -1 with err. */
int f2_hex_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *n, char *err,
                  size_t errlen);

#endif
