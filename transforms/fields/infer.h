/* Typing of `set` values, the way YAML would read an unquoted scalar. */
#ifndef FIELDS_INFER_H
#define FIELDS_INFER_H

#include <sluice/sluice.h>

typedef struct fields_value {
    sluice_field_type type;  /* INT, DOUBLE, BOOL, NULL or STRING */
    int64_t i;
    double d;
    int b;
    char *text;              /* owned copy of the text (STRING uses it) */
    size_t len;
} fields_value;

/* "42" → INT, "-1.5e3" → DOUBLE, "true"/"false" → BOOL, "null"/"~"/"" →
 * NULL, anything else (including "inf", "0x1f") → STRING.  -1 on OOM. */
int fields_infer(const char *text, fields_value *out);

#endif
