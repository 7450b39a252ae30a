/* The two vocabularies of encodings: the device model's DataEncoding
 * (fixed-width binary numbers in the RS-485 data) and the device_parameters
 * table's encoding_type. */
#ifndef F2_ENCODING_H
#define F2_ENCODING_H

#include <stddef.h>
#include <stdint.h>

typedef enum f2_num_kind {
    F2_INT, F2_UINT, F2_FLOAT
} f2_num_kind;

typedef struct f2_binenc {
    uint8_t kind;            /* f2_num_kind */
    uint8_t size;            /* bytes: 1, 2, 4, 8 */
    uint8_t le;              /* little-endian */
} f2_binenc;

/* "Int8" .. "Float64", "*LE" for little-endian, an optional "BE" for the
 * default order, case-insensitive.  0, or -1 for an unknown name. */
int f2_binenc_parse(const char *name, f2_binenc *out);

/* Decodes e->size bytes at p. */
double f2_binenc_decode(const f2_binenc *e, const uint8_t *p);

/* The device_parameters encodings, in the order they claim payload fields:
 * a field claimed by one encoding is not offered to the later ones. */
typedef enum f2_tenc {
    F2_TENC_BOOLEAN = 0,
    F2_TENC_BOOLEAN_MAP,
    F2_TENC_HEX_TO_FLOAT,
    F2_TENC_NUMBER_MAP,
    F2_TENC_RAW_STRING,
    F2_TENC_UNKNOWN
} f2_tenc;

f2_tenc f2_tenc_parse(const char *name);
const char *f2_tenc_name(f2_tenc e);

#endif
