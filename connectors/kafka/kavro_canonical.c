/* Avro's Parsing Canonical Form and the CRC-64-AVRO fingerprint, as the
 * specification defines them ("Parsing Canonical Form for Schemas",
 * "Schema Fingerprints").  The form keeps only what affects how data is
 * read: full names, types, fields, symbols, items, values and sizes, in that
 * order, with no whitespace; so two files that differ in docs, aliases,
 * defaults or layout get the same fingerprint. */
#include "kavro_int.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

uint64_t kavro_crc64(const void *p, size_t n)
{
    static uint64_t table[256];
    static int ready;
    const uint64_t empty = 0xc15d213aa4d7a795ULL;
    /* Benign race: every thread computes the same table. */
    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
        for (int i = 0; i < 256; i++) {
            uint64_t fp = (uint64_t)i;
            for (int j = 0; j < 8; j++)
                fp = (fp >> 1) ^ (empty & (0 - (fp & 1)));
            table[i] = fp;
        }
        __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    }
    uint64_t fp = empty;
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        fp = (fp >> 8) ^ table[(fp ^ s[i]) & 0xff];
    return fp;
}

static int is_primitive(const char *s)
{
    static const char *const prim[] = {"null", "boolean", "int", "long", "float",
                                       "double", "bytes", "string"};
    for (size_t i = 0; i < sizeof prim / sizeof prim[0]; i++)
        if (strcmp(s, prim[i]) == 0)
            return 1;
    return 0;
}

static void put_quoted(sluice_buf *o, const char *s)
{
    sluice_buf_putc(o, '"');
    sluice_buf_puts(o, s);
    sluice_buf_putc(o, '"');
}

/* A name as written, resolved against the enclosing namespace. */
static void put_fullname(sluice_buf *o, const char *name, const char *ns)
{
    sluice_buf_putc(o, '"');
    if (!strchr(name, '.') && ns && *ns) {
        sluice_buf_puts(o, ns);
        sluice_buf_putc(o, '.');
    }
    sluice_buf_puts(o, name);
    sluice_buf_putc(o, '"');
}

static int pcf(sluice_buf *o, json_t *s, const char *ns, int depth, char *err, size_t errlen);

static int pcf_named(sluice_buf *o, json_t *s, const char *type, const char *ns, int depth, char *err,
                     size_t errlen)
{
    json_t *jn = json_object_get(s, "name");
    if (!json_is_string(jn)) {
        snprintf(err, errlen, "a %s type has no \"name\"", type);
        return -1;
    }
    const char *name = json_string_value(jn);
    /* The namespace this type defines for the names inside it. */
    char inner[1024];
    const char *dot = strrchr(name, '.');
    json_t *jns = json_object_get(s, "namespace");
    if (dot) {
        snprintf(inner, sizeof inner, "%.*s", (int)(dot - name), name);
    } else if (json_is_string(jns)) {
        snprintf(inner, sizeof inner, "%s", json_string_value(jns));
    } else {
        snprintf(inner, sizeof inner, "%s", ns ? ns : "");
    }
    SLUICE_BUF_LIT(o, "{\"name\":");
    if (dot)
        put_quoted(o, name);
    else
        put_fullname(o, name, inner);
    SLUICE_BUF_LIT(o, ",\"type\":");
    put_quoted(o, type);
    if (strcmp(type, "record") == 0 || strcmp(type, "error") == 0) {
        json_t *fields = json_object_get(s, "fields");
        if (!json_is_array(fields)) {
            snprintf(err, errlen, "record \"%s\" has no \"fields\" array", name);
            return -1;
        }
        SLUICE_BUF_LIT(o, ",\"fields\":[");
        for (size_t i = 0; i < json_array_size(fields); i++) {
            json_t *f = json_array_get(fields, i);
            json_t *fname = json_object_get(f, "name"), *ftype = json_object_get(f, "type");
            if (!json_is_string(fname) || !ftype) {
                snprintf(err, errlen, "field %zu of record \"%s\" lacks a name or a type", i + 1,
                         name);
                return -1;
            }
            if (i)
                sluice_buf_putc(o, ',');
            SLUICE_BUF_LIT(o, "{\"name\":");
            put_quoted(o, json_string_value(fname));
            SLUICE_BUF_LIT(o, ",\"type\":");
            if (pcf(o, ftype, inner, depth + 1, err, errlen) != 0)
                return -1;
            sluice_buf_putc(o, '}');
        }
        sluice_buf_putc(o, ']');
    } else if (strcmp(type, "enum") == 0) {
        json_t *syms = json_object_get(s, "symbols");
        if (!json_is_array(syms)) {
            snprintf(err, errlen, "enum \"%s\" has no \"symbols\" array", name);
            return -1;
        }
        SLUICE_BUF_LIT(o, ",\"symbols\":[");
        for (size_t i = 0; i < json_array_size(syms); i++) {
            json_t *y = json_array_get(syms, i);
            if (!json_is_string(y)) {
                snprintf(err, errlen, "enum \"%s\": symbol %zu is not a string", name, i + 1);
                return -1;
            }
            if (i)
                sluice_buf_putc(o, ',');
            put_quoted(o, json_string_value(y));
        }
        sluice_buf_putc(o, ']');
    } else { /* fixed */
        json_t *size = json_object_get(s, "size");
        if (!json_is_integer(size) || json_integer_value(size) < 0) {
            snprintf(err, errlen, "fixed \"%s\" has no valid \"size\"", name);
            return -1;
        }
        char num[32];
        snprintf(num, sizeof num, ",\"size\":%lld", (long long)json_integer_value(size));
        sluice_buf_puts(o, num);
    }
    sluice_buf_putc(o, '}');
    return 0;
}

static int pcf(sluice_buf *o, json_t *s, const char *ns, int depth, char *err, size_t errlen)
{
    if (depth > 64) {
        snprintf(err, errlen, "schema nested too deeply");
        return -1;
    }
    if (json_is_string(s)) {
        const char *t = json_string_value(s);
        if (is_primitive(t))
            put_quoted(o, t);
        else
            put_fullname(o, t, ns);
        return 0;
    }
    if (json_is_array(s)) {
        sluice_buf_putc(o, '[');
        for (size_t i = 0; i < json_array_size(s); i++) {
            if (i)
                sluice_buf_putc(o, ',');
            if (pcf(o, json_array_get(s, i), ns, depth + 1, err, errlen) != 0)
                return -1;
        }
        sluice_buf_putc(o, ']');
        return 0;
    }
    if (!json_is_object(s)) {
        snprintf(err, errlen, "a schema must be a string, an array or an object");
        return -1;
    }
    json_t *jt = json_object_get(s, "type");
    if (!json_is_string(jt)) {
        if (jt && (json_is_object(jt) || json_is_array(jt)))
            return pcf(o, jt, ns, depth + 1, err, errlen);
        snprintf(err, errlen, "an object schema has no \"type\"");
        return -1;
    }
    const char *t = json_string_value(jt);
    if (is_primitive(t)) {
        put_quoted(o, t);
        return 0;
    }
    if (!strcmp(t, "record") || !strcmp(t, "error") || !strcmp(t, "enum") || !strcmp(t, "fixed"))
        return pcf_named(o, s, t, ns, depth, err, errlen);
    if (!strcmp(t, "array") || !strcmp(t, "map")) {
        const char *key = t[0] == 'a' ? "items" : "values";
        json_t *inner = json_object_get(s, key);
        if (!inner) {
            snprintf(err, errlen, "%s type has no \"%s\"", t, key);
            return -1;
        }
        SLUICE_BUF_LIT(o, "{\"type\":");
        put_quoted(o, t);
        sluice_buf_putc(o, ',');
        put_quoted(o, key);
        sluice_buf_putc(o, ':');
        if (pcf(o, inner, ns, depth + 1, err, errlen) != 0)
            return -1;
        sluice_buf_putc(o, '}');
        return 0;
    }
    /* {"type": "SomeNamedType"} */
    put_fullname(o, t, ns);
    return 0;
}

char *kavro_canonical_form(const char *json, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_DECODE_ANY, &je);
    if (!root) {
        snprintf(err, errlen, "schema is not JSON: %s at line %d column %d", je.text, je.line,
                 je.column);
        return NULL;
    }
    sluice_buf o = {0};
    int rc = pcf(&o, root, "", 0, err, errlen);
    json_decref(root);
    sluice_buf_putc(&o, '\0');
    if (rc != 0 || o.oom) {
        if (o.oom)
            snprintf(err, errlen, "out of memory");
        sluice_buf_free(&o);
        return NULL;
    }
    return o.p;
}
