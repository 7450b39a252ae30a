/* What the source and the sink share about a librdkafka client: building its
 * configuration from the plugin options, routing its log and errors to the
 * host, and readiness from its statistics. */
#ifndef KAFKA_KCLIENT_H
#define KAFKA_KCLIENT_H

#include <librdkafka/rdkafka.h>
#include <sluice/sluice.h>
#include <stdatomic.h>

struct json_t;

/* Both instance structs start with this, so librdkafka's callbacks, which
 * get the instance as their opaque, can reach the host. */
typedef struct kclient {
    const sluice_api *api;
    sluice_ctx *ctx;
    rd_kafka_t *rk;
    int consumer;            /* readiness also needs the group coordinator */
    int stats;               /* statistics.interval.ms > 0 */
    atomic_int fatal;        /* librdkafka raised a fatal error */
    atomic_int up;           /* a broker was up at the last statistics */
    /* Called with each parsed statistics document (a consumer reads lag
     * from it), on the thread that serves the client's queue. */
    void (*on_stats)(struct kclient *kc, struct json_t *stats);
} kclient;

/* A new configuration with: bootstrap.servers, client.id
 * "sluice-<pipeline>-<instance>", statistics every 1 s, the callbacks above,
 * the `defaults` (name, value pairs, NULL-terminated), then every entry of
 * the `properties` option, which may override the defaults.  Entries that
 * name `managed` properties (which the plugin's own options or its delivery
 * guarantees own) are refused.  NULL with err set. */
rd_kafka_conf_t *kc_conf_new(kclient *kc, const sluice_config *cfg, const char *pipeline,
                             const char *instance, const char *const *defaults,
                             const char *const *managed, char *err);

/* rd_kafka_conf_set with the property named in the error.  0 or -1. */
int kc_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *err);

/* Parses a statistics document: readiness (a broker is up; for a consumer
 * also its group coordinator), then kc->on_stats. */
void kc_handle_stats(kclient *kc, const char *json, size_t len);

#endif
