/* Helpers for the Kafka tests against the suite's broker: the plugin loaded
 * through the host's loader, instances made from real pipeline files
 * (sl_conf_load), unique topics created through the Admin API, and a bare
 * librdkafka producer and reader to set up and check what the plugin did.
 * Built on tests/lib (tl.h). */
#ifndef KT_H
#define KT_H

#include "batch.h"
#include "config/config.h"
#include "ctx.h"
#include "metrics.h"
#include "plugin_registry.h"

#include <librdkafka/rdkafka.h>
#include <sluice/sluice.h>

extern const sluice_api *kt_api;

/* Loads kafka, generator and file from $SLUICE_PLUGIN_DIR and checks that
 * the broker on 127.0.0.1:$SLUICE_TEST_KAFKA_PORT answers; exits 2 (a
 * failure, never a skip) when it does not. */
void kt_setup(const char *test);
void kt_teardown(void);
const char *kt_brokers(void);

/* A topic name unique to this run ("kt-<test>-<base>-<pid>-<n>"), created
 * with `partitions` partitions (0: not created; the broker auto-creates). */
const char *kt_topic(const char *base, int partitions);

typedef struct kt_inst {
    const sl_stage_conf *st;
    sluice_ctx *ctx;
    void *inst;
    char err[SLUICE_ERRLEN];
    sluice_status status;    /* of init */
} kt_inst;

/* Inits the kafka source (or sink) from a pipeline file whose stage is
 * "{plugin: kafka, bootstrap: <broker>, OPTS}"; OPTS is YAML flow-mapping
 * text.  The pipeline name is the test's name. */
sluice_status kt_source(kt_inst *i, const char *opts_fmt, ...) SLUICE_PRINTF(2, 3);
sluice_status kt_sink(kt_inst *i, const char *opts_fmt, ...) SLUICE_PRINTF(2, 3);
void kt_close(kt_inst *i);

/* Source helpers.  kt_poll: one poll.  kt_poll_until: polls into b until it
 * holds `want` records or timeout_ms passes; returns the count. */
sluice_status kt_poll(kt_inst *src, sluice_batch *b, int timeout_ms);
size_t kt_poll_until(kt_inst *src, sluice_batch *b, size_t want, int timeout_ms);
sluice_status kt_ack(kt_inst *src, sluice_batch *b);
sluice_status kt_write(kt_inst *snk, sluice_batch *b);

double kt_metric(kt_inst *i, sluice_metric_kind kind, const char *name, const char *label);
int kt_ready(kt_inst *i);

/* Bare librdkafka: produce one message (partition -1: any) and wait. */
void kt_produce(const char *topic, int partition, const char *key, const void *val, size_t len);
/* A message as read back by kt_read (malloc'd copies). */
typedef struct kt_msg {
    char *key, *val;         /* NULL when absent */
    size_t key_len, len;
    int partition;
    int64_t offset;
    size_t n_headers;
    int64_t ts_ms;           /* the message timestamp, -1 when none */
    rd_kafka_timestamp_type_t ts_type;
    char *ts_header;         /* the "sluice.timestamp" header's value, or NULL */
} kt_msg;

/* Reads every partition of `topic` from the beginning until `want`
 * messages or timeout; free them with kt_msgs_free. */
size_t kt_read(const char *topic, size_t want, int timeout_ms, kt_msg *out, size_t cap);
void kt_msgs_free(kt_msg *m, size_t n);
/* The group's committed offset for a partition (-1 when none). */
int64_t kt_committed(const char *group, const char *topic, int partition);

/* A header's value as a string (static buffer), or NULL. */
const char *kt_header(const sluice_record *r, const char *key);

int64_t kt_now_ms(void);

#endif
