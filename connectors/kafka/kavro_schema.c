/* Loading an .avsc file: avro-c validates it, jansson walks it to build the
 * compiled field list the codec uses, and the canonical form gives the
 * fingerprint of the single-object header. */
#include "kavro_int.h"

#include <avro.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *av_kind_name(av_kind k)
{
    static const char *const names[] = {"null",   "boolean", "int",    "long",
                                        "float",  "double",  "bytes",  "string",
                                        "enum",   "fixed",   "union"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

/* Named enum and fixed types seen so far, so that later fields may refer to
 * them by name. */
typedef struct named {
    char *fullname;
    av_type type;
} named;

typedef struct compiler {
    kavro *a;
    named *names;
    size_t n_names;
    char *err;
    size_t errlen;
    const char *field;       /* field being compiled, for messages */
} compiler;

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

static void fullname(char *out, size_t len, const char *name, const char *ns)
{
    if (strchr(name, '.') || !ns || !*ns)
        snprintf(out, len, "%s", name);
    else
        snprintf(out, len, "%s.%s", ns, name);
}

static int fail(compiler *c, const char *fmt, const char *what)
{
    char msg[256];
    snprintf(msg, sizeof msg, fmt, what);
    snprintf(c->err, c->errlen, "%s: field \"%s\": %s", c->a->origin, c->field, msg);
    return -1;
}

static int primitive_kind(const char *t, av_kind *k)
{
    static const struct { const char *n; av_kind k; } prim[] = {
        {"null", AV_NULL},   {"boolean", AV_BOOLEAN}, {"int", AV_INT},   {"long", AV_LONG},
        {"float", AV_FLOAT}, {"double", AV_DOUBLE},   {"bytes", AV_BYTES}, {"string", AV_STRING}};
    for (size_t i = 0; i < sizeof prim / sizeof prim[0]; i++) {
        if (strcmp(t, prim[i].n) == 0) {
            *k = prim[i].k;
            return 0;
        }
    }
    return -1;
}

static void type_free(av_type *t)
{
    if (t->kind == AV_UNION) {
        for (size_t i = 0; i < t->n_branches; i++)
            type_free(&t->branches[i]);
        free(t->branches);
    }
}

static int compile(compiler *c, json_t *s, const char *ns, av_type *out, int in_union);

static int compile_named_ref(compiler *c, const char *name, const char *ns, av_type *out)
{
    char full[512];
    fullname(full, sizeof full, name, ns);
    for (size_t i = 0; i < c->n_names; i++) {
        if (strcmp(c->names[i].fullname, full) == 0 || strcmp(c->names[i].fullname, name) == 0) {
            *out = c->names[i].type;
            return 0;
        }
    }
    return fail(c, "type \"%s\" is not an enum or fixed defined earlier (records, arrays and "
                   "maps inside a record are not supported: sluice fields are flat)", name);
}

static int add_named(compiler *c, const char *name, const char *ns, const av_type *t)
{
    char full[512];
    fullname(full, sizeof full, name, ns);
    named *nn = realloc(c->names, (c->n_names + 1) * sizeof *nn);
    if (!nn)
        return fail(c, "%s", "out of memory");
    c->names = nn;
    nn[c->n_names].fullname = xstrdup(full);
    nn[c->n_names].type = *t;
    if (!nn[c->n_names].fullname)
        return fail(c, "%s", "out of memory");
    c->n_names++;
    return 0;
}

/* The namespace a named type's own name resolves in. */
static const char *own_ns(json_t *s, const char *ns)
{
    json_t *jns = json_object_get(s, "namespace");
    return json_is_string(jns) ? json_string_value(jns) : ns;
}

static int compile_enum(compiler *c, json_t *s, const char *ns, av_type *out)
{
    json_t *syms = json_object_get(s, "symbols");
    size_t n = json_array_size(syms);
    kavro *a = c->a;
    char **set = calloc(n ? n : 1, sizeof *set);
    char ***sets = realloc(a->symbol_sets, (a->n_symbol_sets + 1) * sizeof *sets);
    if (sets)
        a->symbol_sets = sets;
    size_t *counts = realloc(a->symbol_counts, (a->n_symbol_sets + 1) * sizeof *counts);
    if (counts)
        a->symbol_counts = counts;
    if (!set || !sets || !counts) {
        free(set);
        return fail(c, "%s", "out of memory");
    }
    a->symbol_sets[a->n_symbol_sets] = set;
    a->symbol_counts[a->n_symbol_sets] = n;
    a->n_symbol_sets++;
    for (size_t i = 0; i < n; i++)
        if (!(set[i] = xstrdup(json_string_value(json_array_get(syms, i)))))
            return fail(c, "%s", "out of memory");
    memset(out, 0, sizeof *out);
    out->kind = AV_ENUM;
    out->symbols = set;
    out->n_symbols = n;
    return add_named(c, json_string_value(json_object_get(s, "name")), own_ns(s, ns), out);
}

static int compile(compiler *c, json_t *s, const char *ns, av_type *out, int in_union)
{
    memset(out, 0, sizeof *out);
    if (json_is_string(s)) {
        if (primitive_kind(json_string_value(s), &out->kind) == 0)
            return 0;
        return compile_named_ref(c, json_string_value(s), ns, out);
    }
    if (json_is_array(s)) {
        if (in_union)
            return fail(c, "%s", "a union inside a union");
        size_t n = json_array_size(s);
        out->kind = AV_UNION;
        out->branches = calloc(n ? n : 1, sizeof *out->branches);
        if (!out->branches)
            return fail(c, "%s", "out of memory");
        out->n_branches = n;
        for (size_t i = 0; i < n; i++)
            if (compile(c, json_array_get(s, i), ns, &out->branches[i], 1) != 0)
                return -1;
        return 0;
    }
    json_t *jt = json_object_get(s, "type");
    if (!json_is_string(jt)) {
        if (!json_is_object(jt) && !json_is_array(jt))
            return fail(c, "%s", "a type without \"type\"");
        return compile(c, jt, ns, out, in_union);
    }
    const char *t = json_string_value(jt);
    if (primitive_kind(t, &out->kind) == 0) {
        json_t *lt = json_object_get(s, "logicalType");
        if (out->kind == AV_LONG && json_is_string(lt)) {
            /* Other logical types read as their underlying type. */
            if (strcmp(json_string_value(lt), "timestamp-millis") == 0)
                out->logical = AV_LT_TS_MILLIS;
            else if (strcmp(json_string_value(lt), "timestamp-micros") == 0)
                out->logical = AV_LT_TS_MICROS;
        }
        return 0;
    }
    if (strcmp(t, "enum") == 0)
        return compile_enum(c, s, ns, out);
    if (strcmp(t, "fixed") == 0) {
        out->kind = AV_FIXED;
        out->size = (size_t)json_integer_value(json_object_get(s, "size"));
        return add_named(c, json_string_value(json_object_get(s, "name")), own_ns(s, ns), out);
    }
    if (!strcmp(t, "record") || !strcmp(t, "error") || !strcmp(t, "array") || !strcmp(t, "map"))
        return fail(c, "type %s is not supported inside the record (sluice fields are flat)", t);
    return compile_named_ref(c, t, ns, out);
}

/* The default value of a field, per the spec: for a union, a value of its
 * first branch. */
static int compile_default(compiler *c, av_field *f, json_t *def)
{
    const av_type *t = f->type.kind == AV_UNION ? &f->type.branches[0] : &f->type;
    sluice_field *d = &f->def;
    d->name = f->name;
    switch (t->kind) {
    case AV_NULL:
        if (!json_is_null(def))
            return fail(c, "%s", "default must be null (the first type of the union is null)");
        d->type = SLUICE_NULL;
        break;
    case AV_BOOLEAN:
        if (!json_is_boolean(def))
            return fail(c, "%s", "default is not a boolean");
        d->type = SLUICE_BOOL;
        d->v.b = json_is_true(def);
        break;
    case AV_INT:
    case AV_LONG:
        if (!json_is_integer(def))
            return fail(c, "%s", "default is not an integer");
        d->type = SLUICE_INT;
        d->v.i = (int64_t)json_integer_value(def);
        break;
    case AV_FLOAT:
    case AV_DOUBLE:
        if (!json_is_number(def))
            return fail(c, "%s", "default is not a number");
        d->type = SLUICE_DOUBLE;
        d->v.d = json_number_value(def);
        break;
    case AV_STRING:
    case AV_ENUM:
    case AV_BYTES:
    case AV_FIXED: {
        if (!json_is_string(def))
            return fail(c, "%s", "default is not a string");
        size_t n = json_string_length(def);
        char *p = malloc(n + 1);
        if (!p)
            return fail(c, "%s", "out of memory");
        memcpy(p, json_string_value(def), n + 1);
        d->type = t->kind == AV_STRING || t->kind == AV_ENUM ? SLUICE_STRING : SLUICE_BYTES;
        d->v.s.ptr = p;
        d->v.s.len = n;
        break;
    }
    default:
        return fail(c, "%s", "unsupported default");
    }
    f->has_default = 1;
    return 0;
}

void kavro_free(kavro *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n_fields; i++) {
        av_field *f = &a->fields[i];
        if (f->has_default && (f->def.type == SLUICE_STRING || f->def.type == SLUICE_BYTES))
            free((char *)f->def.v.s.ptr);
        type_free(&f->type);
        free(f->name);
    }
    free(a->fields);
    for (size_t i = 0; i < a->n_symbol_sets; i++) {
        for (size_t k = 0; k < a->symbol_counts[i]; k++)
            free(a->symbol_sets[i][k]);
        free(a->symbol_sets[i]);
    }
    free(a->symbol_sets);
    free(a->symbol_counts);
    free(a->canonical);
    free(a->name);
    free(a->origin);
    free(a);
}

kavro *kavro_parse(const char *text, size_t len, const char *origin, char *err, size_t errlen)
{
    /* avro-c first: its messages say precisely what is wrong with a schema. */
    avro_schema_t as;
    if (avro_schema_from_json_length(text, len, &as) != 0) {
        snprintf(err, errlen, "%s: not a valid Avro schema: %s", origin, avro_strerror());
        return NULL;
    }
    int is_record = is_avro_record(as);
    avro_schema_decref(as);
    if (!is_record) {
        snprintf(err, errlen, "%s: the schema must be a record (its fields are the record's "
                 "fields)", origin);
        return NULL;
    }
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    kavro *a = calloc(1, sizeof *a);
    if (!root || !a) {
        snprintf(err, errlen, "%s: %s", origin, root ? "out of memory" : je.text);
        json_decref(root);
        free(a);
        return NULL;
    }
    a->origin = xstrdup(origin);
    compiler c = {a, NULL, 0, err, errlen, ""};
    const char *name = json_string_value(json_object_get(root, "name"));
    json_t *jns = json_object_get(root, "namespace");
    char ns[512] = "";
    const char *dot = strrchr(name, '.');
    if (dot)
        snprintf(ns, sizeof ns, "%.*s", (int)(dot - name), name);
    else if (json_is_string(jns))
        snprintf(ns, sizeof ns, "%s", json_string_value(jns));
    char full[1024];
    fullname(full, sizeof full, name, ns);
    a->name = xstrdup(full);
    json_t *fields = json_object_get(root, "fields");
    size_t n = json_array_size(fields);
    a->fields = calloc(n ? n : 1, sizeof *a->fields);
    int rc = a->origin && a->name && a->fields ? 0 : -1;
    if (rc)
        snprintf(err, errlen, "%s: out of memory", origin);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        json_t *jf = json_array_get(fields, i);
        av_field *f = &a->fields[i];
        a->n_fields = i + 1;
        f->name = xstrdup(json_string_value(json_object_get(jf, "name")));
        c.field = f->name ? f->name : "?";
        if (!f->name || compile(&c, json_object_get(jf, "type"), ns, &f->type, 0) != 0) {
            rc = -1;
            break;
        }
        json_t *def = json_object_get(jf, "default");
        if (def && compile_default(&c, f, def) != 0)
            rc = -1;
    }
    for (size_t i = 0; i < c.n_names; i++)
        free(c.names[i].fullname);
    free(c.names);
    json_decref(root);
    if (rc == 0) {
        a->canonical = kavro_canonical_form(text, len, err, errlen);
        if (!a->canonical)
            rc = -1;
    }
    if (rc != 0) {
        kavro_free(a);
        return NULL;
    }
    a->fingerprint = kavro_crc64(a->canonical, strlen(a->canonical));
    a->header[0] = 0xC3;
    a->header[1] = 0x01;
    for (int i = 0; i < 8; i++)
        a->header[2 + i] = (unsigned char)(a->fingerprint >> (8 * i));
    return a;
}

kavro *kavro_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "avro_schema %s: %s", path, strerror(errno));
        return NULL;
    }
    sluice_buf b = {0};
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < (16u << 20))
        sluice_buf_put(&b, chunk, got);
    int rerr = ferror(f);
    fclose(f);
    if (rerr || b.oom || b.len >= (16u << 20)) {
        snprintf(err, errlen, "avro_schema %s: %s", path,
                 rerr ? "read error" : b.oom ? "out of memory" : "larger than 16 MiB");
        sluice_buf_free(&b);
        return NULL;
    }
    kavro *a = kavro_parse(b.p ? b.p : "", b.len, path, err, errlen);
    sluice_buf_free(&b);
    return a;
}

uint64_t kavro_fingerprint(const kavro *a) { return a->fingerprint; }
const char *kavro_canonical(const kavro *a) { return a->canonical; }
