/* The Timescale sink's instance state, shared by its translation units.
 * Responsibilities: ts_conn (connection, errors), ts_catalog (what the
 * table looks like), ts_mapping (which field feeds which column), ts_encode
 * and ts_render (fields to COPY bytes), ts_sql (statement text), ts_hyper
 * (TimescaleDB setup), ts_write (one batch: the fast path) and ts_isolate
 * (one batch again, finding the rows PostgreSQL refuses). */
#ifndef TS_SINK_H
#define TS_SINK_H

#include <sluice/sluice.h>
#include <libpq-fe.h>

#include "ts_buf.h"

typedef enum ts_conflict { TS_CONFLICT_IGNORE, TS_CONFLICT_ERROR, TS_CONFLICT_UPDATE } ts_conflict;

/* How a column's values are sent in a binary COPY.  TS_K_OTHER columns
 * (numeric, uuid, arrays, ...) only take NULL in binary; anything else
 * makes the batch go out in text, where PostgreSQL parses the value. */
typedef enum ts_kind {
    TS_K_OTHER = 0,
    TS_K_BOOL,
    TS_K_INT2,
    TS_K_INT4,
    TS_K_INT8,
    TS_K_FLOAT4,
    TS_K_FLOAT8,
    TS_K_TEXT,               /* text, varchar, bpchar, name, json, enums */
    TS_K_JSONB,
    TS_K_BYTEA,
    TS_K_TIMESTAMPTZ,
    TS_K_TIMESTAMP,
    TS_K_DATE
} ts_kind;

typedef struct ts_column {
    char *name;
    char *type;              /* format_type(), for messages */
    ts_kind kind;
    int not_null;
    int has_default;         /* DEFAULT, serial or identity BY DEFAULT */
    int in_pk;
    int writable;            /* not generated, not identity ALWAYS */
    int pk_pos;              /* 1-based position in the primary key, 0 if not in it */
} ts_column;

typedef struct ts_table {
    char *schema, *name;
    char *qual;              /* "schema"."name", quoted for SQL */
    char *display;           /* schema.name, for messages */
    ts_column *cols;
    size_t n_cols;
    size_t n_pk;
    int has_unique;          /* a primary key or any unique index */
} ts_table;

/* One written column and the field that feeds it. */
typedef struct ts_target {
    const ts_column *col;
    char *field;
    uint32_t hint;           /* where the field was in the last record */
} ts_target;

typedef struct ts_mapping {
    ts_target *t;
    size_t n;
} ts_mapping;

/* One batch encoded as COPY rows, with each row's offset so that any
 * contiguous range of rows can be sent again without re-encoding. */
typedef struct ts_rows {
    sluice_buf data;
    size_t *off;             /* n + 1 offsets into data */
    size_t cap_off;
    size_t n;
    int binary;
    int staging;             /* rows carry the batch row for the staging table */
} ts_rows;

typedef struct ts_hyper_conf {
    const char *time_column; /* NULL: the first timestamptz column of the key */
    int64_t chunk_ms;        /* -1: not given */
    int64_t compress_ms;
    int64_t retain_ms;
} ts_hyper_conf;

/* A failed statement, boiled down to what the sink decides on. */
typedef enum ts_errclass {
    TS_E_NONE = 0,
    TS_E_DATA,               /* the rows are at fault: find and fail them */
    TS_E_RETRY,              /* the server or the network is: retry the batch */
    TS_E_FATAL               /* the configuration or the schema is: stop */
} ts_errclass;

typedef struct ts_pgerr {
    ts_errclass cls;
    int conn_lost;           /* drop the connection before the next try */
    char sqlstate[6];
    char msg[320];
    char detail[200];
    char column[80];         /* from the error's column field or COPY context */
    long line;               /* COPY line (row within the sent range), 0 if unknown */
} ts_pgerr;

typedef struct ts_range {
    size_t a, b;
} ts_range;

typedef struct ts_sink {
    const sluice_api *api;
    sluice_ctx *ctx;
    const sluice_config *cfg;

    /* options */
    const char *dsn;
    const char *table_opt;
    ts_conflict conflict;
    int text_only;           /* copy_format: text, or auto after a fallback */
    int direct;              /* conflict: ignore, and the last batch had no
                                conflict: COPY straight into the table first */
    int create_table;
    int want_hypertable;     /* hypertable: true: convert a plain table */
    ts_hyper_conf hyper;
    int is_hyper;            /* the target is a hypertable: its errors name chunks */
    sluice_buf own_names;    /* its constraints and indexes, NUL-separated */
    int64_t connect_timeout_ms;
    int64_t statement_timeout_ms;

    /* connection */
    char appname[64];        /* application_name: sluice/<pipeline> */
    PGconn *conn;
    int session_ready;       /* staging table and settings exist on conn */
    int server_version;      /* PQserverVersion */
    char timescale_version[32];  /* "" when the extension is not installed */

    /* schema */
    ts_table table;
    ts_mapping map;
    int map_resolved;
    char *sql_copy[2][2];    /* COPY [into staging?][binary?] */
    char *sql_insert;        /* staging -> target, whole batch */
    char *sql_insert_range;  /* the same for rows $1 <= row < $2 */

    /* per batch, reused */
    ts_rows rows;
    size_t *fail_idx;
    size_t *fail_off;        /* into fail_text */
    size_t n_fail, cap_fail;
    sluice_buf fail_text;
    ts_range *stack;
    size_t cap_stack;
    sluice_buf scratch;

    sluice_metric *m_written, *m_conflicts, *m_failed, *m_reconnects, *m_seconds;
} ts_sink;

/* Name of the staging table's batch-row column; it never reaches the target. */
#define TS_ORD_COLUMN "_sluice_batch_row"

/* ts_conn.c */
sluice_status ts_connect(ts_sink *s, char *err);
void ts_disconnect(ts_sink *s);
/* Classifies a failed result (res may be NULL) into e; returns e->cls. */
ts_errclass ts_classify(PGconn *conn, const PGresult *res, ts_pgerr *e);
/* Runs one statement that returns no rows; TS_E_NONE or the failure. */
ts_errclass ts_exec(ts_sink *s, const char *sql, ts_pgerr *e);
/* Runs a statement with text parameters; returns the result or NULL with e. */
PGresult *ts_query(ts_sink *s, const char *sql, int n, const char *const *params,
                   ts_pgerr *e);
/* Rewrites TimescaleDB's chunk-level names in e's message and detail
 * (relation "_hyper_4_11_chunk", constraint "3_3_m3_pkey") into the
 * table's own (relation "m3", constraint "m3_pkey"). */
void ts_pgerr_unchunk(const ts_sink *s, ts_pgerr *e);
/* Writes a one-line description of e into err. */
void ts_pgerr_format(const ts_pgerr *e, const char *what, char *err, size_t len);
/* snprintf for messages that may be cut short on purpose (bounded error
 * buffers), without the compiler's truncation warnings. */
void ts_fmt(char *dst, size_t len, const char *fmt, ...) SLUICE_PRINTF(3, 4);
/* Copies a libpq message onto one line. */
void ts_one_line(char *dst, size_t len, const char *src);
/* Creates what the write path needs on a fresh connection. */
ts_errclass ts_session_prepare(ts_sink *s, ts_pgerr *e);

/* ts_catalog.c */
/* Loads the table's columns and keys: 1 found, 0 missing, -1 error. */
int ts_catalog_load(ts_sink *s, const char *qualified, ts_table *t, ts_pgerr *e, char *err);
void ts_table_free(ts_table *t);
const ts_column *ts_table_column(const ts_table *t, const char *name);
ts_kind ts_kind_of(unsigned oid, char typtype);

/* ts_mapping.c */
int ts_mapping_from_config(ts_sink *s, char *err);
int ts_mapping_from_record(ts_sink *s, const sluice_record *r, char *err);
void ts_mapping_free(ts_mapping *m);
int ts_mapping_build_sql(ts_sink *s, char *err);

/* ts_encode.c.  Binary COPY is refused for a batch (why says which field)
 * in two ways that call for different follow-ups. */
typedef enum ts_encode_rc {
    TS_ENC_OK,
    TS_ENC_NEEDS_TEXT,     /* a field's type needs PostgreSQL's text parsing
                              for its column: the stream goes as text */
    TS_ENC_OUT_OF_RANGE,   /* one value is out of its column's range: this
                              batch goes as text, for the server to refuse it */
    TS_ENC_NOMEM
} ts_encode_rc;
ts_encode_rc ts_encode_batch(ts_rows *out, const sluice_api *api, const sluice_batch *b,
                             ts_mapping *m, int binary, int staging, char *why, size_t whylen);
void ts_rows_free(ts_rows *r);
extern const char ts_copy_binary_header[19];
extern const char ts_copy_binary_trailer[2];

/* ts_write.c */
sluice_status ts_write_batch(ts_sink *s, sluice_batch *b, char *err);
/* Sends rows [a, b) through COPY; TS_E_NONE or the failure. */
ts_errclass ts_copy_rows(ts_sink *s, size_t a, size_t b, ts_pgerr *e);
/* Sends the rows of ranges r[0..n) in one COPY. */
ts_errclass ts_copy_ranges(ts_sink *s, const ts_range *r, size_t n, ts_pgerr *e);
int ts_fail_add(ts_sink *s, size_t idx, const ts_pgerr *e);

/* ts_isolate.c: writes the batch in one transaction, failing only the rows
 * PostgreSQL refuses on their own.  *written: rows that reached the table. */
ts_errclass ts_isolate_batch(ts_sink *s, size_t n, size_t *written, ts_pgerr *e);

#endif
