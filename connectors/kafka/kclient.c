#include "kclient.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

int kc_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *err)
{
    char e[256];
    if (rd_kafka_conf_set(conf, name, value, e, sizeof e) != RD_KAFKA_CONF_OK) {
        /* librdkafka quotes the value; a secret's stays out. */
        static const char *const secretish[] = {"password", "secret", "token", "credential",
                                                "key"};
        for (size_t i = 0; i < sizeof secretish / sizeof *secretish; i++)
            if (value && *value && strcasestr(name, secretish[i]) && strstr(e, value)) {
                snprintf(e, sizeof e, "invalid value (not shown: it may be secret)");
                break;
            }
        snprintf(err, SLUICE_ERRLEN, "librdkafka property %s: %s", name, e);
        return -1;
    }
    return 0;
}

/* librdkafka's syslog levels.  Its LOG_ERR lines are nearly all about
 * connections it retries by itself, so they are warnings to us; what cannot
 * recover comes through the error callback as an error. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    kclient *kc = rd_kafka_opaque(rk);
    if (!kc)
        return;
    sluice_log_level l = level <= 2 ? SLUICE_LOG_ERROR : level <= 4 ? SLUICE_LOG_WARN
                         : level <= 6 ? SLUICE_LOG_INFO : SLUICE_LOG_DEBUG;
    kc->api->log(kc->ctx, l, "librdkafka %s: %s", fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    kclient *kc = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_fatal_error(rk, why, sizeof why);
        atomic_store(&kc->fatal, 1);
        kc->api->set_ready(kc->ctx, 0);
        kc->api->log(kc->ctx, SLUICE_LOG_ERROR, "fatal Kafka client error: %s", why);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        atomic_store(&kc->up, 0);
        kc->api->set_ready(kc->ctx, 0);
        kc->api->log(kc->ctx, SLUICE_LOG_WARN, "all Kafka brokers are down: %s", reason);
        return;
    }
    /* Connection failures are already in librdkafka's own log lines. */
    kc->api->log(kc->ctx, err == RD_KAFKA_RESP_ERR__TRANSPORT ? SLUICE_LOG_DEBUG : SLUICE_LOG_WARN,
                 "Kafka client: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    (void)rk;
    kc_handle_stats(opaque, json, len);
    return 0; /* librdkafka frees json */
}

void kc_handle_stats(kclient *kc, const char *json, size_t len)
{
    json_t *root = json_loadb(json, len, 0, NULL);
    if (!root)
        return;
    int up = 0, broker_up = 0;
    const char *name;
    json_t *b;
    json_object_foreach(json_object_get(root, "brokers"), name, b)
    {
        const char *st = json_string_value(json_object_get(b, "state"));
        if (st && strcmp(st, "UP") == 0 && json_integer_value(json_object_get(b, "nodeid")) >= 0)
            up = broker_up = 1;
    }
    atomic_store(&kc->up, broker_up);
    if (kc->consumer) {
        const char *cg = json_string_value(json_object_get(json_object_get(root, "cgrp"), "state"));
        if (!cg || strcmp(cg, "up") != 0)
            up = 0;
    }
    if (!atomic_load(&kc->fatal))
        kc->api->set_ready(kc->ctx, up);
    if (kc->on_stats)
        kc->on_stats(kc, root);
    json_decref(root);
}

static int is_managed(const char *name, const char *const *managed)
{
    for (; managed && *managed; managed++)
        if (strcmp(name, *managed) == 0)
            return 1;
    return 0;
}

rd_kafka_conf_t *kc_conf_new(kclient *kc, const sluice_config *cfg, const char *pipeline,
                             const char *instance, const char *const *defaults,
                             const char *const *managed, char *err)
{
    const sluice_api *api = kc->api;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char id[256];
    snprintf(id, sizeof id, "sluice-%s-%s", pipeline ? pipeline : "", instance ? instance : "");
    for (char *p = id; *p; p++)
        if (*p == '[' || *p == ']')
            *p = '.';
    const char *bootstrap = api->cfg_string(cfg, "bootstrap");
    if (kc_set(conf, "bootstrap.servers", bootstrap ? bootstrap : "localhost:9092", err) ||
        kc_set(conf, "client.id", id, err) || kc_set(conf, "statistics.interval.ms", "1000", err))
        goto fail;
    for (; defaults && defaults[0]; defaults += 2)
        if (kc_set(conf, defaults[0], defaults[1], err) != 0)
            goto fail;
    size_t n = api->cfg_map_len(cfg, "properties");
    for (size_t i = 0; i < n; i++) {
        const char *k = api->cfg_map_key(cfg, "properties", i);
        const char *v = api->cfg_map_value(cfg, "properties", i);
        if (is_managed(k, managed)) {
            snprintf(err, SLUICE_ERRLEN, "properties: %s is set by the kafka plugin itself (see "
                     "its options and README); remove it from properties", k);
            goto fail;
        }
        if (kc_set(conf, k, v ? v : "", err) != 0)
            goto fail;
    }
    char buf[32];
    size_t bl = sizeof buf;
    kc->stats = rd_kafka_conf_get(conf, "statistics.interval.ms", buf, &bl) == RD_KAFKA_CONF_OK &&
                strcmp(buf, "0") != 0;
    rd_kafka_conf_set_opaque(conf, kc);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_stats_cb(conf, stats_cb);
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}
