/*
 * sluice.h — the sluice plugin ABI.
 *
 * This is the only header a plugin author includes.  A plugin is a shared
 * object that exports one function, SLUICE_PLUGIN_ENTRY, returning a const
 * descriptor (struct sluice_plugin).  The host checks the plugin's ABI
 * version before any of its code runs (see Trust below), then reaches the
 * plugin only through the callback tables in the descriptor, and the plugin
 * reaches the host only through the function table (struct sluice_api)
 * handed to each init call.
 * A plugin therefore never links against host symbols: a .so built against
 * these headers works with any host of the same ABI major.
 *
 * Trust
 *   Before it opens a plugin the host checks, without running any of it:
 *   that the file and every directory above it belong to root or to the
 *   user running sluice and that nobody else can write them (as OpenSSH's
 *   StrictModes; a root-owned sticky directory such as /tmp is accepted as
 *   an ancestor, never as the plugin's own directory), and that the file
 *   carries the ABI note SLUICE_PLUGIN emits (see SLUICE_PLUGIN_NOTE_) with
 *   this host's major and a minor no newer than its own.  Only then is it
 *   dlopen'ed, and the descriptor's own version is checked again.
 *
 * Compatibility rules
 *   - SLUICE_ABI_MAJOR changes only when a struct or callback changes
 *     incompatibly; the host refuses plugins of another major.
 *   - Within a major, structs grow by appending fields only, and only with a
 *     new minor.  How each side knows how much of a struct the other has
 *     depends on who allocates it:
 *       * A single struct passed by pointer starts with `struct_size`, set by
 *         whoever fills it to sizeof() of its own headers: sluice_api and
 *         sluice_init_args (host), sluice_plugin and the three *_ops tables
 *         (plugin).  The reader tests a member added after 1.0 with
 *         SLUICE_HAS(table, member) before reading it.  At load the host
 *         refuses a descriptor or *_ops table smaller than its 1.0 layout
 *         (struct_size unset or wrong: "its source table is too small"),
 *         accepts a larger one (members it does not know are never read)
 *         and never reads a member past struct_size.
 *       * sluice_option is an array in the plugin's memory, so the host
 *         cannot read an element's size from the element before it knows the
 *         stride.  It has no struct_size; its layout is fixed per minor, and
 *         the host reads a plugin's table with the element size of the
 *         minor the plugin was built for (the descriptor's abi_minor): 1.0
 *         and 1.1 tables end at `choices`, 1.2 tables have min and max.  A
 *         plugin built for an older minor therefore loads unchanged.
 *       * sluice_record, sluice_field, sluice_header, sluice_origin and
 *         sluice_bytes have no struct_size and never grow within a major:
 *         they are arrays the host allocates (or, for api->spool_append, a
 *         record the plugin builds on its stack) and both sides index them
 *         with their own sizeof, on the hot path.  Changing them is a new
 *         major.
 *     A plugin built for an older minor loads into a newer host; a plugin
 *     checks SLUICE_API_HAS(api, fn) (or api->abi_minor) before calling an
 *     api function added after the oldest minor it wants to run on.
 *   - 1.1 appended api->spooled and api->spool_append (a source spools from
 *     its own thread).  A 1.0 plugin keeps working unchanged in a 1.1 host.
 *     A plugin built against 1.1 checks api->abi_minor >= 1 (or
 *     SLUICE_API_HAS(api, spool_append)) before calling them.  1.1 also
 *     appended api->http_json (an instance serves a JSON document on the
 *     HTTP endpoint), likewise checked with SLUICE_API_HAS(api, http_json).
 *     1.1 also added the status SLUICE_FULL (transform.process: out is full,
 *     flow control).  A 1.0 host refuses a 1.1 plugin (newer minor), so a
 *     transform may return it without checking.
 *   - 1.2 appended `min` and `max` to sluice_option (the host enforces them
 *     before any plugin code runs), and the getters api->opt_int,
 *     api->opt_double and api->opt_bool, which take an absent option's
 *     value from the option table's `def` instead of from the caller.  An
 *     older host refuses a 1.2 plugin, so a 1.2 plugin calls them without
 *     checking.  1.2 also appended api->from_json_ex (parsing with options:
 *     strict duplicate keys, nested values as their text), api->commit_hook (a transform's commit
 *     point at the end of each batch) and lets a transform of a spooled
 *     pipeline call spool_append (which then never waits).  1.0 and 1.1
 *     plugins keep working unchanged.
 *
 * Threads
 *   Each pipeline runs its source on one thread and its transforms and sink on
 *   another.  Callbacks of one instance are never called concurrently, except
 *   source.ack, which runs on the sink thread while source.poll may be running
 *   on the source thread: a source that keeps state for acks must protect it.
 *   (With a disk buffer, ack runs on the source thread, after the batch is in
 *   the spool.)  The api functions are thread-safe.
 *
 * Errors
 *   Every callback returns a sluice_status.  On failure it writes a one-line,
 *   NUL-terminated message (no trailing newline) into `err`.  The host
 *   decides what to log and what to do.  A plugin never calls exit(), never
 *   installs signal handlers and never writes to stdout; it logs through
 *   api->log.
 *   Error buffers follow one rule: whoever owns the buffer states its length
 *   in `errlen`, and the writer never writes more than errlen bytes,
 *   including the NUL.  That holds for every api function that writes an
 *   error (to_json, from_json, and every one added from 1.2 on).  Two kinds
 *   of buffer predate the rule, and their length is the constant
 *   SLUICE_ERRLEN instead, which never shrinks within a major: the `err` of
 *   every plugin callback (init, poll, ack, process, write, flush; the host
 *   owns it), and the `err` a plugin passes to the 1.1 functions
 *   spool_append and http_json (the plugin owns it and must make it at least
 *   SLUICE_ERRLEN bytes).  Adding an errlen to those signatures is an
 *   incompatible change and waits for ABI 2.
 */
#ifndef SLUICE_SLUICE_H
#define SLUICE_SLUICE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SLUICE_ABI_MAJOR 1
#define SLUICE_ABI_MINOR 2

/* Size of the error buffer the host passes to every callback, and the least
 * size of the one a plugin passes to spool_append and http_json (see Errors
 * above). */
#define SLUICE_ERRLEN 512

/* Name of the exported entry function, as a string for dlsym(). */
#define SLUICE_PLUGIN_ENTRY_NAME "sluice_plugin_entry"

#if defined(__GNUC__)
#define SLUICE_EXPORT __attribute__((visibility("default")))
#define SLUICE_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SLUICE_EXPORT
#define SLUICE_PRINTF(f, a)
#endif

/* --------------------------------------------------------------------- */
/* Status codes                                                          */
/* --------------------------------------------------------------------- */

typedef enum sluice_status {
    SLUICE_OK = 0,
    /* Permanent failure: the pipeline stops (and is restarted with backoff
     * by the supervisor).  Also used for bad configuration at init. */
    SLUICE_ERR = 1,
    /* Transient failure (broker or database away): the host retries the same
     * call with capped exponential backoff and never drops the batch. */
    SLUICE_RETRY = 2,
    /* sink.write only: some records failed permanently; the plugin marked each
     * with api->record_fail() and wrote all the others durably. */
    SLUICE_PARTIAL = 3,
    /* source.poll only: the source is finished (a bounded generator, the end
     * of a file).  The pipeline drains what it has and stops cleanly. */
    SLUICE_EOF = 4,
    /* transform.process only (ABI 1.1): `out` has no room left for this
     * record's output.  Flow control, not a failure: the host drops what
     * this call appended, sends what `out` held before it through the rest
     * of the pipeline, empties `out` and calls process again with the same
     * input record.  Only when `out` was already empty does the record fail
     * ("does not fit an empty output batch; raise batch.max_records or
     * batch.max_bytes").  See transform.process for the contract. */
    SLUICE_FULL = 5
} sluice_status;

/* --------------------------------------------------------------------- */
/* Configuration options a plugin declares                               */
/* --------------------------------------------------------------------- */

typedef enum sluice_opt_type {
    SLUICE_OPT_STRING = 1,   /* scalar text */
    SLUICE_OPT_INT,          /* 64-bit signed integer */
    SLUICE_OPT_DOUBLE,       /* floating point number */
    SLUICE_OPT_BOOL,         /* true/false, yes/no, on/off */
    SLUICE_OPT_DURATION,     /* "250ms", "5s", "2m", "1h" or bare ms; read as ms */
    SLUICE_OPT_SIZE,         /* "512", "64KiB", "16MiB"; read as bytes */
    SLUICE_OPT_LIST,         /* sequence of scalars, or one scalar */
    SLUICE_OPT_MAP,          /* mapping of scalar keys to scalar values */
    SLUICE_OPT_SECRET        /* text never logged or shown; may come from
                                { file: PATH } or ${VAR} */
} sluice_opt_type;

#define SLUICE_OPT_REQUIRED 0x1u

/* One declared option.  The host validates a pipeline file against these
 * before any plugin code runs: unknown keys, missing required options, wrong
 * types, values outside `choices` and values outside min..max are reported
 * with file:line:column.
 * `def` is the default, written as it would be in YAML (NULL: no default).
 * The host applies it, so code reading the option with api->opt_int and its
 * kind never restates it.
 * `min` and `max` (1.2) bound an INT, DOUBLE, DURATION or SIZE option, each
 * written like a value of the option ("1", "0.5", "10ms", "4KiB"; NULL: no
 * bound); both ends are inclusive.  The declared default must lie within
 * them.  A bound on another type, a bound that does not parse, or min > max
 * is a bug in the plugin, and the host refuses to load it.
 *
 * Layout: sluice_option is an array without struct_size (see Compatibility
 * rules).  Its members up to `choices` are those of 1.0 and 1.1; min and max
 * were appended in 1.2, and the host reads an older plugin's shorter
 * elements with that minor's size.  Give every entry all eight members (or
 * initialise it by member name): -Wextra warns about a six-member entry,
 * whose min and max are then NULL. */
typedef struct sluice_option {
    const char *name;
    sluice_opt_type type;
    unsigned flags;          /* SLUICE_OPT_REQUIRED */
    const char *def;
    const char *doc;         /* one line */
    const char *choices;     /* "a|b|c" for enumerations, or NULL */
    /* ---- ABI 1.2 ---- */
    const char *min;         /* lowest accepted value, or NULL */
    const char *max;         /* highest accepted value, or NULL */
} sluice_option;

/* Terminates an option array. */
#define SLUICE_OPTIONS_END { NULL, (sluice_opt_type)0, 0, NULL, NULL, NULL, NULL, NULL }

/* --------------------------------------------------------------------- */
/* Records                                                               */
/* --------------------------------------------------------------------- */

typedef enum sluice_field_type {
    SLUICE_NULL = 0,
    SLUICE_BOOL,
    SLUICE_INT,
    SLUICE_DOUBLE,
    SLUICE_STRING,
    SLUICE_BYTES,
    SLUICE_TIMESTAMP         /* microseconds since the Unix epoch, UTC */
} sluice_field_type;

typedef struct sluice_bytes {
    const char *ptr;         /* not NUL-terminated unless noted */
    size_t len;
} sluice_bytes;

/* A named, typed value.  Strings set through the api are NUL-terminated as
 * well as counted, so plugins may pass s.ptr to C string functions. */
typedef struct sluice_field {
    const char *name;
    sluice_field_type type;
    union {
        int b;
        int64_t i;
        double d;
        int64_t ts;          /* SLUICE_TIMESTAMP: microseconds */
        sluice_bytes s;      /* SLUICE_STRING, SLUICE_BYTES */
    } v;
} sluice_field;

typedef struct sluice_header {
    const char *key;         /* NUL-terminated */
    sluice_bytes value;
} sluice_header;

/* Where a record came from; enough for a source to acknowledge it and for
 * the dead-letter sink to say which input failed. */
typedef struct sluice_origin {
    const char *topic;       /* MQTT or Kafka topic, file path; may be NULL */
    int32_t partition;       /* -1 when not applicable */
    int64_t offset;          /* Kafka offset, line number, sequence; -1 if none */
} sluice_origin;

/* A record.  All memory it points to belongs to the batch that holds it and
 * lives until that batch is recycled, which is after the sink has written it
 * and the source has been acknowledged.  A transform may therefore point an
 * output record at its input's memory without copying. */
typedef struct sluice_record {
    sluice_bytes key;
    sluice_bytes value;
    int64_t timestamp;       /* microseconds since epoch, UTC; 0 if unknown */
    sluice_origin origin;
    sluice_header *headers;
    uint32_t n_headers;
    sluice_field *fields;
    uint32_t n_fields;
    /* host-private bookkeeping follows; never read or write it */
    uint32_t cap_headers_;
    uint32_t cap_fields_;
    const char *failure_;
} sluice_record;

/* Batches are opaque.  Read them with api->batch_count / api->batch_at. */
typedef struct sluice_batch sluice_batch;

/* Opaque handles. */
typedef struct sluice_config sluice_config;   /* one plugin's options */
typedef struct sluice_ctx sluice_ctx;         /* one plugin instance's host side */
typedef struct sluice_metric sluice_metric;

typedef enum sluice_log_level {
    SLUICE_LOG_ERROR = 0,
    SLUICE_LOG_WARN,
    SLUICE_LOG_INFO,
    SLUICE_LOG_DEBUG
} sluice_log_level;

typedef enum sluice_metric_kind {
    SLUICE_METRIC_COUNTER = 1,
    SLUICE_METRIC_GAUGE,
    SLUICE_METRIC_HISTOGRAM  /* observations in seconds; host picks buckets */
} sluice_metric_kind;

/* --------------------------------------------------------------------- */
/* Host services: the function table handed to every init                */
/* --------------------------------------------------------------------- */

typedef struct sluice_api {
    size_t struct_size;
    int abi_major;
    int abi_minor;

    /* Logging, tagged with the pipeline and plugin instance. */
    void (*log)(sluice_ctx *ctx, sluice_log_level level, const char *fmt, ...)
        SLUICE_PRINTF(3, 4);

    /* Typed option getters.  Defaults declared by the plugin are already
     * applied, so an option with a default always reads as set.  Strings
     * stay valid until the instance is destroyed.
     * cfg_int, cfg_double and cfg_bool return `def` only for an option that
     * is absent and has no declared default (or is not declared): a `def`
     * that restates the table's default is never used.  A 1.2 plugin reads
     * with opt_int, opt_double and opt_bool below instead, which need no
     * second copy of the default. */
    int (*cfg_has)(const sluice_config *cfg, const char *name);
    const char *(*cfg_string)(const sluice_config *cfg, const char *name);
    int64_t (*cfg_int)(const sluice_config *cfg, const char *name, int64_t def);
    double (*cfg_double)(const sluice_config *cfg, const char *name, double def);
    int (*cfg_bool)(const sluice_config *cfg, const char *name, int def);
    /* DURATION options read in milliseconds and SIZE options in bytes
     * through cfg_int (and opt_int). */
    size_t (*cfg_list_len)(const sluice_config *cfg, const char *name);
    const char *(*cfg_list_at)(const sluice_config *cfg, const char *name, size_t i);
    size_t (*cfg_map_len)(const sluice_config *cfg, const char *name);
    const char *(*cfg_map_key)(const sluice_config *cfg, const char *name, size_t i);
    const char *(*cfg_map_value)(const sluice_config *cfg, const char *name, size_t i);

    /* Metrics.  Names follow Prometheus conventions ("sluice_mqtt_reconnects_total");
     * the host adds the pipeline and stage labels.  `label` is an optional
     * extra "key=value" pair (NULL for none).  Registering the same name and
     * label twice returns the same metric.  The host unregisters an
     * instance's metrics when the instance is destroyed or its init fails. */
    sluice_metric *(*metric)(sluice_ctx *ctx, sluice_metric_kind kind, const char *name,
                             const char *help, const char *label);
    void (*metric_add)(sluice_metric *m, double v);      /* counters, gauges */
    void (*metric_set)(sluice_metric *m, double v);      /* gauges */
    void (*metric_observe)(sluice_metric *m, double v);  /* histograms */

    /* Readiness: a plugin that depends on a broker or database says whether
     * it is connected.  /ready is true when every instance of every pipeline
     * is ready.  Instances start ready. */
    void (*set_ready)(sluice_ctx *ctx, int ready);

    /* Clocks: wall clock in microseconds since the epoch, monotonic in ns. */
    int64_t (*now_us)(void);
    int64_t (*mono_ns)(void);

    /* Batches and records.  Memory comes from the batch's arena and is
     * reused when the batch is recycled: no per-record malloc. */
    size_t (*batch_count)(const sluice_batch *b);
    sluice_record *(*batch_at)(const sluice_batch *b, size_t i);
    /* Records the batch may still take before it is full (sources stop there). */
    size_t (*batch_room)(const sluice_batch *b);
    /* Appends an empty record (timestamp 0, partition and offset -1).
     * NULL when the batch is full or memory is exhausted. */
    sluice_record *(*record_new)(sluice_batch *b);
    /* Appends a shallow copy of `src` (which may live in another batch that
     * outlives this one, e.g. the transform input): key, value and field
     * values are shared, the field and header arrays are copied. */
    sluice_record *(*record_copy)(sluice_batch *b, const sluice_record *src);
    /* Arena allocation tied to the batch's lifetime (NULL on exhaustion). */
    void *(*alloc)(sluice_batch *b, size_t n);
    /* Copies len bytes into the arena and NUL-terminates them. */
    const char *(*strndup)(sluice_batch *b, const char *s, size_t len);
    int (*set_key)(sluice_batch *b, sluice_record *r, const void *p, size_t len);
    int (*set_value)(sluice_batch *b, sluice_record *r, const void *p, size_t len);
    /* Adds a header (key and value copied). 0 on success, -1 on exhaustion. */
    int (*header_add)(sluice_batch *b, sluice_record *r, const char *key,
                      const void *val, size_t len);
    /* Appends a field, or returns the existing one of that name, reset to
     * `type`.  `name` is copied.  The caller fills f->v; for strings use
     * field_set_string so the bytes live in the arena. */
    sluice_field *(*field_add)(sluice_batch *b, sluice_record *r, const char *name,
                               sluice_field_type type);
    int (*field_set_string)(sluice_batch *b, sluice_field *f, const char *s, size_t len);
    /* Removes a field by name; 1 if it was there. */
    int (*field_remove)(sluice_record *r, const char *name);

    /* Marks record i of b as permanently failed with a reason (copied); the
     * host sends it to the dead-letter sink or counts it, per the pipeline's
     * error policy.  Two callers:
     *   sink.write: mark the records that were refused, write the others,
     *     then return SLUICE_PARTIAL.
     *   source.poll: mark a record the source took but cannot represent
     *     (e.g. a Kafka value that is not valid JSON for the converter); it
     *     is routed by the error policy and no transform or sink sees it,
     *     but it is still acknowledged with its batch. */
    void (*record_fail)(sluice_batch *b, size_t i, const char *reason);

    /* JSON conversion of a record's fields (the host's converter).
     * to_json writes a compact object of the fields — or, for a record
     * without fields, its envelope {"topic":…,"device_id":<key>,"payload":…,
     * "received_at":…} (docs/pipeline-reference.md, "Records as JSON") —
     * into the arena and returns it NUL-terminated; NULL on failure with
     * err set.  The same record always gives the same text.  Its text
     * follows <sluice/sluice_text.h>. */
    const char *(*to_json)(sluice_batch *b, const sluice_record *r, size_t *len,
                           char *err, size_t errlen);
    /* Parses a JSON object into fields of r (numbers become INT or DOUBLE,
     * nested values become their JSON text as STRING).  0, or -1 with err. */
    int (*from_json)(sluice_batch *b, sluice_record *r, const char *json, size_t len,
                     char *err, size_t errlen);

    /* ---- ABI 1.1 ------------------------------------------------------
     * Spooling from a source's own thread.  A pipeline with a disk buffer
     * (`buffer: { type: disk }`) appends every record its source hands over
     * to a durable spool before the source counts as acknowledged.  A
     * source whose input is acknowledged behind its back (MQTT: PUBACK goes
     * out before the client library hands the message over) can close that
     * window by appending each message itself, from the thread that
     * receives it, instead of returning it from poll.
     *
     * spooled: 1 if this instance's pipeline has a disk buffer, so that
     *   spool_append may be used; 0 otherwise.  Constant for the instance's
     *   life (known at init).  A source's or a transform's ctx is spooled
     *   (a sink's never).
     * spool_append: appends one record to the spool.  Callable from any
     *   thread of the source instance, from init until destroy returns.
     *   The record is read, not kept: build it on the stack (zero it first;
     *   key, value, headers, origin and timestamp are stored, fields are
     *   not).  Once it returns SLUICE_OK the record is the host's: it is
     *   counted as taken from the source and will reach the sink (after a
     *   restart if need be), so poll must not also return it.  It is in the
     *   operating system's hands at once (a crash of the process loses
     *   nothing) and durable on disk within one poll round under
     *   `fsync: batch` (the host syncs after each poll; see the pipeline
     *   reference for the other choices).  It blocks while the spool is full
     *   (backpressure: leave the message unconsumed upstream meanwhile) and
     *   appends past the limit once the pipeline is stopping, so a stop
     *   never waits for it.  SLUICE_ERR, with err, on an I/O error of the
     *   spool or when the pipeline is not spooled; the record is then not
     *   taken and the plugin keeps it (e.g. returns it from poll).
     * A transform of a spooled pipeline may also re-inject records with
     *   spool_append (f2_decode's parked readings), from a thread of its
     *   own: they enter the spool like the source's and flow through every
     *   transform again.  For a transform it never waits: SLUICE_FULL when
     *   the spool is at its max_size (keep the record, try later).
     *   spool_append(ctx, NULL, err) makes what was appended so far durable
     *   (fdatasync under `fsync: batch`), so a transform can delete its own
     *   copy only once the spool's is safe.  A host that predates this
     *   says spooled() == 0 to a transform. */
    int (*spooled)(sluice_ctx *ctx);
    sluice_status (*spool_append)(sluice_ctx *ctx, const sluice_record *r, char *err);

    /* ---- ABI 1.1, continued -------------------------------------------
     * A JSON document served on the host's HTTP endpoint (--http-port).
     * An instance that keeps state an operator wants to browse (f2_decode's
     * fleet: /devices) serves it under a path of its own, without the host
     * knowing what it is.
     *
     * http_json: serves GET `path` (e.g. "/devices"; must start with '/',
     *   at most 63 bytes, not one of the host's own: /metrics, /health,
     *   /ready, /status) with `fn`.  If another instance already serves the
     *   path, the newer registration wins until it goes (a reloaded
     *   pipeline takes over from the one it replaces) and the host logs a
     *   warning.  fn NULL removes this instance's route for `path`.  The
     *   host removes an instance's routes before it calls destroy, so `arg`
     *   may be freed there; on return from a removal no call of `fn` is
     *   running.  SLUICE_ERR with err on a bad path or out of memory.
     * fn: runs on the HTTP server's thread, concurrently with the
     *   instance's own callbacks: protect what it reads.  `query` is the
     *   request's query arguments, URL-decoded, as "k=v&k=v" ("" when
     *   none).  It writes a NUL-terminated JSON document of at most cap - 1
     *   bytes into buf, sets *len to the document's full length and
     *   returns the HTTP status (200, or 400 for a bad query with an
     *   {"error":...} document).  When *len >= cap the host calls it again
     *   with a buffer of *len + 1 bytes (documents up to 64 MiB). */
    sluice_status (*http_json)(sluice_ctx *ctx, const char *path,
                               int (*fn)(void *arg, const char *query, char *buf,
                                         size_t cap, size_t *len),
                               void *arg, char *err);

    /* ---- ABI 1.2 ------------------------------------------------------
     * Option getters that take the default from the option table: an option
     * given in the file reads as its value, an absent one as its declared
     * `def`, and an absent one without a default (test with cfg_has) or a
     * name the plugin did not declare as 0.  DURATION reads in ms and SIZE
     * in bytes through opt_int; BOOL reads as 0/1 through opt_int too. */
    int64_t (*opt_int)(const sluice_config *cfg, const char *name);
    double (*opt_double)(const sluice_config *cfg, const char *name);
    int (*opt_bool)(const sluice_config *cfg, const char *name);

    /* ---- ABI 1.2, continued -------------------------------------------
     * A transform's commit point.  commit_hook registers fn (NULL: none),
     * which the host calls on the pipeline's sink-side thread after
     * process() has seen every record of a part of an input batch (the
     * whole batch, or what came before a SLUICE_FULL split) and before that
     * part's output goes on to the next stage: so before the sink writes
     * it, the source is acknowledged or the spool releases the batch.  A
     * transform that defers durable work of process() to the end of the
     * batch (f2_decode parks its unknown readings with one INSERT per
     * batch) does it there.  fn returns SLUICE_OK; SLUICE_RETRY (err set):
     * called again after a backoff, nothing goes on meanwhile; SLUICE_ERR:
     * the run fails and the batch is replayed.  Only a transform's ctx
     * takes one (SLUICE_ERR otherwise); call it from init.  A host without
     * it (check SLUICE_API_HAS(api, commit_hook)) never calls back: a
     * transform must then do its durable work inside process(). */
    sluice_status (*commit_hook)(sluice_ctx *ctx, sluice_status (*fn)(void *arg, char *err),
                                 void *arg, char *err);

    /* ---- ABI 1.2, continued -------------------------------------------
     * from_json with options (check SLUICE_API_HAS(api, from_json_ex)),
     * for a transform that parses JSON it was handed without an extra copy
     * or a parser of its own.  flags (SLUICE_JSON_*, or 0 for from_json's
     * behaviour):
     *   SLUICE_JSON_STRICT: a key repeated in any object and "\u0000" in
     *     any string are errors (jansson with JSON_REJECT_DUPLICATES and
     *     without JSON_ALLOW_NUL).  r must have no fields yet.
     *   SLUICE_JSON_NESTED_RAW: a nested object or array becomes a
     *     SLUICE_BYTES field holding its text exactly as in `json`
     *     (validated, pointing into `json`, not NUL-terminated), instead of
     *     a STRING of re-written text.  Parse it with another call when it
     *     is needed: nothing is copied or re-written for one that is not.
     * Returns 0; -1 with err when the text is not a JSON object (err then
     * starts "JSON value is" when the text is valid JSON of another kind);
     * -2 with err when the batch ran out of memory (a transform returns
     * SLUICE_FULL).  A failed parse leaves r's fields as they were. */
    int (*from_json_ex)(sluice_batch *b, sluice_record *r, const char *json, size_t len,
                        unsigned flags, char *err, size_t errlen);
} sluice_api;

/* from_json_ex flags. */
#define SLUICE_JSON_STRICT 1u
#define SLUICE_JSON_NESTED_RAW 2u

/* True if `table` (a pointer to any struct that starts with struct_size:
 * sluice_api, sluice_init_args, sluice_plugin, the *_ops tables) is large
 * enough to hold `member`, i.e. its filler was built with a minor that has
 * it.  Reads nothing but struct_size: test it before reading a member added
 * after ABI 1.0.  Plain C11 (no typeof); taking the member's address does
 * not read it. */
#define SLUICE_HAS(table, member)                                             \
    ((size_t)((const char *)&(table)->member - (const char *)(table)) +       \
         sizeof((table)->member) <= (table)->struct_size)

/* True if the host's api table has function `fn` and it is set: use before
 * calling a function added after the oldest minor the plugin supports. */
#define SLUICE_API_HAS(api, fn) (SLUICE_HAS(api, fn) && (api)->fn != NULL)

/* Field lookup by name; inline so that transforms pay no call. */
static inline const sluice_field *sluice_field_get(const sluice_record *r, const char *name)
{
    for (uint32_t i = 0; i < r->n_fields; i++) {
        const char *a = r->fields[i].name, *b = name;
        while (*a && *a == *b) { a++; b++; }
        if (*a == *b)
            return &r->fields[i];
    }
    return NULL;
}

/* --------------------------------------------------------------------- */
/* Plugin kinds                                                          */
/* --------------------------------------------------------------------- */

/* What init receives, identical for every kind. */
typedef struct sluice_init_args {
    size_t struct_size;
    const sluice_api *api;
    const sluice_config *cfg;
    sluice_ctx *ctx;
    const char *pipeline;    /* pipeline name, for client ids and logs */
    const char *instance;    /* "source", "transform[1]", "sink", "dead_letter" */
} sluice_init_args;

typedef struct sluice_source_ops {
    size_t struct_size;
    const sluice_option *options;
    /* Creates an instance; may connect.  Return SLUICE_RETRY if a server is
     * not reachable yet (the host retries with backoff). */
    sluice_status (*init)(const sluice_init_args *a, void **inst, char *err);
    /* Appends up to api->batch_room(out) records to `out`, waiting at most
     * timeout_ms for the first.  SLUICE_OK with none appended is normal. */
    sluice_status (*poll)(void *inst, sluice_batch *out, int timeout_ms, char *err);
    /* The records of `b` (a batch this source filled) are durably written:
     * commit their positions.  Called in the order the batches were polled.
     * Optional (NULL: nothing to acknowledge). */
    sluice_status (*ack)(void *inst, const sluice_batch *b, char *err);
    /* Stops taking new input before the final drain (e.g. unsubscribe).
     * Optional. */
    void (*stop)(void *inst);
    void (*destroy)(void *inst);
} sluice_source_ops;

typedef struct sluice_transform_ops {
    size_t struct_size;
    const sluice_option *options;
    sluice_status (*init)(const sluice_init_args *a, void **inst, char *err);
    /* Maps one record to zero, one or many records appended to `out`.
     * SLUICE_ERR: this record failed (err says why) and goes to the error
     * policy; SLUICE_RETRY: a dependency is away, the host retries the same
     * record after a backoff.
     * SLUICE_FULL (1.1): record_new, record_copy or an arena allocation on
     * `out` returned NULL/-1 for lack of room.  The host keeps none of the
     * records this call appended and calls process again with the same
     * input into an emptied `out`, so process must be restartable: the
     * second call starts the record over, and any state it keeps must not
     * count the first, abandoned attempt (bump counters only on OK).  A
     * record whose output exceeds even an empty batch fails with a message
     * naming batch.max_records and batch.max_bytes.  The host writes every
     * part of a source batch before acknowledging it, so splitting a batch
     * this way changes no delivery guarantee.
     * A 1.0 transform, which cannot return SLUICE_FULL, gets the same
     * treatment when it returns SLUICE_ERR after one of those allocations
     * on `out` failed during the call: the host retries it once into an
     * emptied batch before routing it to the error policy. */
    sluice_status (*process)(void *inst, const sluice_record *in, sluice_batch *out,
                             char *err);
    void (*destroy)(void *inst);
} sluice_transform_ops;

typedef struct sluice_sink_ops {
    size_t struct_size;
    const sluice_option *options;
    sluice_status (*init)(const sluice_init_args *a, void **inst, char *err);
    /* Writes the batch durably before returning SLUICE_OK.  SLUICE_RETRY:
     * nothing of it may be assumed written, the host retries the whole batch
     * (sinks must tolerate replays).  SLUICE_PARTIAL: see api->record_fail. */
    sluice_status (*write)(void *inst, sluice_batch *b, char *err);
    /* Flushes anything buffered; called before destroy on a clean stop.
     * Optional. */
    sluice_status (*flush)(void *inst, char *err);
    void (*destroy)(void *inst);
} sluice_sink_ops;

/* --------------------------------------------------------------------- */
/* The descriptor                                                        */
/* --------------------------------------------------------------------- */

typedef struct sluice_plugin {
    size_t struct_size;
    /* The SLUICE_ABI_MAJOR/MINOR of the headers the plugin was compiled
     * with (SLUICE_PLUGIN_HEAD sets them): the host reads the option tables
     * with abi_minor's sluice_option layout, so never set them by hand. */
    int abi_major;
    int abi_minor;
    const char *name;        /* [a-z0-9_]+, unique among loaded plugins */
    const char *version;     /* the plugin's own version */
    const char *description; /* one line */
    /* The kinds this plugin provides; NULL for kinds it does not. */
    const sluice_source_ops *source;
    const sluice_transform_ops *transform;
    const sluice_sink_ops *sink;
} sluice_plugin;

typedef const sluice_plugin *(*sluice_plugin_entry_fn)(void);

/* The ABI note.  SLUICE_PLUGIN also emits an ELF note (section
 * ".note.sluice", type SHT_NOTE, so it lands in a PT_NOTE segment): owner
 * name "sluice", type SLUICE_NOTE_TYPE, and a descriptor of four 32-bit words
 * { SLUICE_NOTE_MAGIC, ABI major, ABI minor, 0 }.  The host reads it from the
 * file, parsing the ELF headers itself, BEFORE dlopen: a file without the
 * note, or with another major or a newer minor, is refused without being
 * opened, so none of its code (not even a constructor) ever runs.  A shared
 * object built against a sluice.h from before the note has none and is
 * refused with "not a sluice plugin (no .note.sluice; ...)": rebuild it.
 * SLUICE_PLUGIN_NOTE_ is not for plugins to use directly; the ABI tests use
 * it to build plugins that claim another version. */
#define SLUICE_NOTE_NAME "sluice"
#define SLUICE_NOTE_TYPE 0x51ce0001
#define SLUICE_NOTE_MAGIC 0x45434c53 /* "SLCE" in little-endian */
#define SLUICE_STR_(x) #x
#define SLUICE_XSTR_(x) SLUICE_STR_(x)
#define SLUICE_PLUGIN_NOTE_(major, minor)                                     \
    __asm__(".pushsection .note.sluice,\"a\",%note\n"                        \
            ".balign 4\n"                                                     \
            ".long 7\n"          /* namesz: "sluice" and its NUL */           \
            ".long 16\n"         /* descsz */                                 \
            ".long " SLUICE_XSTR_(SLUICE_NOTE_TYPE) "\n"                       \
            ".asciz \"" SLUICE_NOTE_NAME "\"\n"                               \
            ".balign 4\n"                                                     \
            ".long " SLUICE_XSTR_(SLUICE_NOTE_MAGIC) "\n"                      \
            ".long " SLUICE_XSTR_(major) "\n"                                  \
            ".long " SLUICE_XSTR_(minor) "\n"                                  \
            ".long 0\n"                                                       \
            ".popsection\n");

/* Defines the entry function and the ABI note.  Use once per plugin, at file
 * scope (GCC or Clang, ELF targets):
 *     SLUICE_PLUGIN(my_plugin_descriptor)
 */
#define SLUICE_PLUGIN(desc)                                                   \
    SLUICE_PLUGIN_NOTE_(SLUICE_ABI_MAJOR, SLUICE_ABI_MINOR)                   \
    SLUICE_EXPORT const sluice_plugin *sluice_plugin_entry(void);             \
    SLUICE_EXPORT const sluice_plugin *sluice_plugin_entry(void) { return &(desc); }

/* Initialiser for the descriptor's fixed head.  The *_ops tables likewise
 * start with `.struct_size = sizeof(sluice_source_ops)` (and so on). */
#define SLUICE_PLUGIN_HEAD                                                    \
    .struct_size = sizeof(sluice_plugin), .abi_major = SLUICE_ABI_MAJOR,      \
    .abi_minor = SLUICE_ABI_MINOR

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_SLUICE_H */
