#include "f2_encoding.h"

#include <string.h>
#include <strings.h>

int f2_binenc_parse(const char *name, f2_binenc *out)
{
    static const struct {
        const char *name;
        f2_binenc e;
    } base[] = {
        {"int8", {F2_INT, 1, 0}},     {"uint8", {F2_UINT, 1, 0}},
        {"int16", {F2_INT, 2, 0}},    {"uint16", {F2_UINT, 2, 0}},
        {"int32", {F2_INT, 4, 0}},    {"uint32", {F2_UINT, 4, 0}},
        {"int64", {F2_INT, 8, 0}},    {"uint64", {F2_UINT, 8, 0}},
        {"float32", {F2_FLOAT, 4, 0}}, {"float64", {F2_FLOAT, 8, 0}},
    };
    if (!name)
        return -1;
    size_t n = strlen(name);
    int le = 0;
    if (n > 2 && strcasecmp(name + n - 2, "LE") == 0) {
        le = 1;
        n -= 2;
    } else if (n > 2 && strcasecmp(name + n - 2, "BE") == 0) {
        n -= 2;
    }
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) {
        if (strlen(base[i].name) == n && strncasecmp(base[i].name, name, n) == 0) {
            *out = base[i].e;
            out->le = (uint8_t)le;
            return 0;
        }
    }
    return -1;
}

double f2_binenc_decode(const f2_binenc *e, const uint8_t *p)
{
    uint64_t u = 0;
    for (unsigned i = 0; i < e->size; i++)
        u = u << 8 | p[e->le ? e->size - 1 - i : i];
    switch (e->kind) {
    case F2_UINT:
        return (double)u;
    case F2_INT: {
        /* Sign-extend from the encoding's width. */
        unsigned shift = 64 - 8u * e->size;
        int64_t s = (int64_t)(u << shift) >> shift;
        return (double)s;
    }
    default:
        if (e->size == 4) {
            uint32_t w = (uint32_t)u;
            float f;
            memcpy(&f, &w, sizeof f);
            return (double)f;
        } else {
            double d;
            memcpy(&d, &u, sizeof d);
            return d;
        }
    }
}

static const char *const tenc_names[] = {"boolean", "boolean_map", "hex_to_float", "number_map",
                                         "raw_string"};

f2_tenc f2_tenc_parse(const char *name)
{
    for (int i = 0; i < F2_TENC_UNKNOWN; i++)
        if (name && strcasecmp(name, tenc_names[i]) == 0)
            return (f2_tenc)i;
    return F2_TENC_UNKNOWN;
}

const char *f2_tenc_name(f2_tenc e)
{
    return e < F2_TENC_UNKNOWN ? tenc_names[e] : "unknown";
}
