/* One MQTT connection shared by the source and the sink: the options they
 * have in common, a libmosquitto client, and the network thread that runs it
 * (connect, reconnect with exponential backoff, readiness and metrics).
 *
 * Why our own thread rather than mosquitto_loop_start(): loop_forever gives
 * up for good on some errors (TLS, authentication), has whole-second
 * backoff, and cannot tell its owner that it has finished, which the source
 * needs to know before the host's final drain may end. */
#ifndef MQTT_CONN_H
#define MQTT_CONN_H

#include <sluice/sluice.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "mqtt_url.h"

/* The connection options, declared identically by source and sink. */
#define MQ_CONN_OPTIONS(client_id_doc)                                                        \
    {"url", SLUICE_OPT_STRING, 0, "mqtt://localhost:1883",                                   \
     "broker address: mqtt://host:port, or mqtts://host:port for TLS", NULL, NULL, NULL},    \
    {"client_id", SLUICE_OPT_STRING, 0, NULL, client_id_doc, NULL, NULL, NULL},              \
    {"username", SLUICE_OPT_STRING, 0, NULL, "user name to log in with", NULL, NULL, NULL},  \
    {"password", SLUICE_OPT_SECRET, 0, NULL, "password to log in with (needs username)",     \
     NULL, NULL, NULL},                                                                       \
    {"protocol", SLUICE_OPT_STRING, 0, "3.1.1", "MQTT protocol version", "3.1.1|5", NULL,    \
     NULL},                                                                                   \
    {"keepalive", SLUICE_OPT_DURATION, 0, "30s",                                             \
     "keepalive interval (0: off, else 5s..18h); a dead connection is noticed within 1.5 "   \
     "times this", NULL, "0s", "65535s"},                                                    \
    {"connect_timeout", SLUICE_OPT_DURATION, 0, "10s",                                       \
     "longest wait for the broker to accept a connection (and the subscriptions)", NULL,     \
     "1ms", NULL},                                                                            \
    {"reconnect_min", SLUICE_OPT_DURATION, 0, "500ms",                                       \
     "first delay before reconnecting after the connection is lost", NULL, "1ms", NULL},     \
    {"reconnect_max", SLUICE_OPT_DURATION, 0, "30s",                                         \
     "longest delay between reconnection attempts (the delay doubles up to this)", NULL,     \
     "1ms", NULL},                                                                            \
    {"tls_ca", SLUICE_OPT_STRING, 0, NULL,                                                   \
     "PEM file of the CA that signed the broker's certificate (mqtts; default: the system's " \
     "CAs)", NULL, NULL, NULL},                                                               \
    {"tls_cert", SLUICE_OPT_STRING, 0, NULL,                                                 \
     "PEM client certificate, for brokers that require one (mTLS; needs tls_key)", NULL,     \
     NULL, NULL},                                                                             \
    {"tls_key", SLUICE_OPT_STRING, 0, NULL, "PEM private key of tls_cert (unencrypted)",     \
     NULL, NULL, NULL},                                                                       \
    {"tls_insecure", SLUICE_OPT_BOOL, 0, "false",                                            \
     "do not check that the broker's certificate names the url's host (testing only)", NULL, \
     NULL, NULL}

typedef struct mq_conn mq_conn;

/* What the owner (source or sink) hears from the network thread. */
typedef struct mq_conn_hooks {
    void *arg;
    /* CONNACK accepted.  The source subscribes here; returns nonzero if the
     * connection is usable only once the owner calls mq_conn_established(). */
    int (*on_connected)(void *arg, mq_conn *c, int session_present, int reconnect);
    void (*on_message)(void *arg, const struct mosquitto_message *m);
    /* A publish is done: acknowledged (QoS 1/2) or written (QoS 0); a
     * reason >= 0x80 is the broker's refusal (MQTT 5 only). */
    void (*on_publish)(void *arg, int mid, int reason);
    void (*on_subscribe)(void *arg, mq_conn *c, int mid, int n, const int *granted);
    /* The connection was lost (after being established). */
    void (*on_lost)(void *arg);
    /* The network thread is about to end: no callback follows. */
    void (*on_exit)(void *arg);
    /* mq_conn_close is about to wait for the network thread: a callback
     * that may block (a full ring) must stop doing so. */
    void (*on_close)(void *arg);
} mq_conn_hooks;

typedef struct mq_conn_cfg {
    mq_url url;
    char url_text[300];
    char client_id[256];
    const char *username, *password;
    int protocol;            /* MQTT_PROTOCOL_V311 or MQTT_PROTOCOL_V5 */
    int keepalive_s;
    int64_t connect_timeout_ms, reconnect_min_ms, reconnect_max_ms;
    const char *tls_ca, *tls_cert, *tls_key;
    int tls_insecure;
    int clean_session;
    int64_t session_expiry_s; /* MQTT 5 persistent sessions; -1: never expire */
    int max_inflight;        /* 0: libmosquitto's default */
    int shared;              /* other threads call libmosquitto too (the sink
                                publishes from its write thread) */
} mq_conn_cfg;

/* Reads the common options (see MQ_CONN_OPTIONS).  `default_id` is used when
 * client_id is not set.  SLUICE_OK or SLUICE_ERR with err naming the option. */
sluice_status mq_conn_cfg_read(mq_conn_cfg *cc, const sluice_api *api, const sluice_config *cfg,
                               const char *default_id, char *err);

/* Creates the client, starts the network thread and waits for the first
 * connection: SLUICE_OK once it is established; SLUICE_RETRY when the broker
 * is unreachable or not answering (try again later); SLUICE_ERR when it
 * refuses us for good (credentials, TLS, protocol).  On failure nothing is
 * left running and *out is NULL. */
sluice_status mq_conn_open(const mq_conn_cfg *cc, const mq_conn_hooks *hooks,
                           const sluice_api *api, sluice_ctx *ctx, mq_conn **out, char *err);

/* The owner's subscriptions are granted (see on_connected). */
void mq_conn_established(mq_conn *c);
/* The owner's subscriptions failed during the first connection: mq_conn_open
 * returns SLUICE_ERR with this reason. */
void mq_conn_fail_first(mq_conn *c, const char *reason);

/* Sends DISCONNECT and lets the network thread finish; does not wait. */
void mq_conn_shutdown(mq_conn *c);
/* Waits for the network thread and frees everything.  NULL is fine. */
void mq_conn_close(mq_conn *c);

struct mosquitto *mq_conn_mosq(mq_conn *c);
const mq_conn_cfg *mq_conn_config(const mq_conn *c);
int mq_conn_is_up(mq_conn *c);
/* Bumped every time an established connection is lost. */
unsigned long mq_conn_generation(mq_conn *c);
/* Why the last connection failed or ended (for error messages). */
void mq_conn_last_error(mq_conn *c, char *buf, size_t len);
/* First connection or a reconnection: for logs. */
int mq_conn_ever_established(mq_conn *c);

/* Formats an error message into err (SLUICE_ERRLEN bytes); messages that
 * do not fit are cut, which is what an error line should do. */
void mq_errf(char *err, const char *fmt, ...) SLUICE_PRINTF(2, 3);

#endif
