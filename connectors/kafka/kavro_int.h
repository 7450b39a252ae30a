/* The compiled form of an Avro record schema, shared by the schema loader
 * and the codec.  Private to the kavro_* files. */
#ifndef KAFKA_KAVRO_INT_H
#define KAFKA_KAVRO_INT_H

#include "kavro.h"

typedef enum av_kind {
    AV_NULL, AV_BOOLEAN, AV_INT, AV_LONG, AV_FLOAT, AV_DOUBLE, AV_BYTES, AV_STRING,
    AV_ENUM, AV_FIXED, AV_UNION
} av_kind;

typedef enum av_logical { AV_LT_NONE, AV_LT_TS_MILLIS, AV_LT_TS_MICROS } av_logical;

typedef struct av_type {
    av_kind kind;
    av_logical logical;      /* AV_LONG only */
    size_t size;             /* AV_FIXED */
    char **symbols;          /* AV_ENUM (owned by the schema's name table) */
    size_t n_symbols;
    struct av_type *branches;/* AV_UNION */
    size_t n_branches;
} av_type;

typedef struct av_field {
    char *name;
    av_type type;
    int has_default;
    sluice_field def;        /* the default as a field (strings malloc'd) */
} av_field;

struct kavro {
    av_field *fields;
    size_t n_fields;
    uint64_t fingerprint;
    unsigned char header[10];/* C3 01 + fingerprint, little-endian */
    char *canonical;
    char *name;              /* the record's full name, for messages */
    char *origin;            /* file the schema came from */
    /* enum symbol arrays, freed with the schema */
    char ***symbol_sets;
    size_t *symbol_counts;
    size_t n_symbol_sets;
};

const char *av_kind_name(av_kind k);

#endif
