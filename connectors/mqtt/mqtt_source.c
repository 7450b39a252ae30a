/* The MQTT source: subscribes on every connect, and hands what libmosquitto
 * delivers to the pipeline through a bounded ring (see mqtt_ring.h).
 *
 * Delivery: libmosquitto queues a QoS 1 message's PUBACK before it calls
 * on_message; our network loop (mqtt_conn.c, threaded mode) writes it only
 * after the read burst.  With a disk buffer (api->spooled), on_message
 * appends each message to the pipeline's spool itself, on that thread, so
 * the append's write() is done before the broker hears the PUBACK, and a
 * crash loses nothing the broker will not deliver again.  Without one,
 * a clean stop drains the ring into the pipeline; a crash loses what the
 * ring holds.  The README says this in full. */
#include "mqtt.h"
#include "mqtt_conn.h"
#include "mqtt_ring.h"
#include "mqtt_topic.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* After stop(), the longest a poll waits for the network thread to hand
 * over its last messages and finish (it gives up on DISCONNECT after 3 s). */
#define DRAIN_WAIT_MS 10000
/* A poll that finds fewer than GATHER messages waits up to GATHER_US for
 * that many: at full rate the batch fills as fast, and a trickle pays at most
 * this much latency (the pipeline's batch.linger is 100 ms by default). */
#define GATHER 256
#define GATHER_US 1000

static const sluice_option source_options[] = {
    MQ_CONN_OPTIONS("client id; default sluice-<pipeline>.  Keep it fixed for a persistent "
                    "session; every process of a $share group needs its own"),
    {"topics", SLUICE_OPT_LIST, 0, "[\"cmnd/#\"]",
     "topic filters to subscribe to (+ and # wildcards; $share/<group>/<filter> shares the "
     "messages among the group's clients)", NULL, NULL, NULL},
    {"qos", SLUICE_OPT_INT, 0, "1", "QoS of the subscriptions (the most the broker sends with)",
     "0|1|2", NULL, NULL},
    {"clean_session", SLUICE_OPT_BOOL, 0, "false",
     "false: a persistent session, so the broker queues QoS 1/2 messages while sluice is away; "
     "true: start afresh on every connect", NULL, NULL, NULL},
    {"session_expiry", SLUICE_OPT_DURATION, 0, NULL,
     "MQTT 5 persistent sessions: how long the broker keeps the session after a disconnect "
     "(default: for ever)", NULL, "0s", "49710d"},
    {"key_segment", SLUICE_OPT_INT, 0, "-1",
     "record key = this 0-based segment of the topic (1: \"f2-<MAC>\" of "
     "cmnd/f2-<MAC>/...); -1: no key", NULL, "-1", "1000"},
    {"max_buffered", SLUICE_OPT_INT, 0, "10000",
     "messages held between receipt and the pipeline; when full, the network thread waits "
     "(backpressure) and nothing is dropped", NULL, "1", "10000000"},
    {"buffer_bytes", SLUICE_OPT_SIZE, 0, "8MiB",
     "memory for those messages, allocated once; a larger message gets a block of its own",
     NULL, "4KiB", NULL},
    SLUICE_OPTIONS_END,
};

typedef struct mq_source {
    const sluice_api *api;
    sluice_ctx *ctx;
    mq_conn_cfg cc;
    mq_conn *conn;
    mq_ring ring;
    int ring_ok;
    char **topics;           /* point into the config's strings */
    size_t n_topics;
    int qos;
    int key_segment;
    int sub_mid;             /* network thread: the current SUBSCRIBE */
    mq_conn *conn_for_cb;    /* network thread: s->conn may not be set yet */
    int spooled;             /* the pipeline has a disk buffer: on_message spools */
    _Atomic int spool_failed; /* an append failed: the ring takes over (logged once) */
    _Atomic int stopping;
    _Atomic unsigned long refused_puts;   /* ring closed: acknowledged, then lost */
    sluice_metric *m_received, *m_bytes, *m_dropped;
} mq_source;

/* ---- network thread ---------------------------------------------------- */

static int on_connected(void *arg, mq_conn *c, int session_present, int reconnect)
{
    mq_source *s = arg;
    s->conn_for_cb = c;
    struct mosquitto *m = mq_conn_mosq(c);
    int v5 = s->cc.protocol == MQTT_PROTOCOL_V5;
    if (session_present)
        s->api->log(s->ctx, SLUICE_LOG_INFO,
                    "resuming the broker's session for \"%s\" (messages queued while "
                    "disconnected follow)", s->cc.client_id);
    /* Subscribing again on a resumed session is harmless and picks up a
     * changed topic list; MQTT 5 can then skip the retained-message replay. */
    int rc = mosquitto_subscribe_multiple(m, &s->sub_mid, (int)s->n_topics, s->topics, s->qos,
                                          v5 ? MQTT_SUB_OPT_SEND_RETAIN_NEW : 0, NULL);
    if (rc != MOSQ_ERR_SUCCESS) {
        char why[SLUICE_ERRLEN];
        snprintf(why, sizeof why, "cannot subscribe: %s", mosquitto_strerror(rc));
        if (!reconnect) {
            mq_conn_fail_first(c, why);
        } else {
            s->api->log(s->ctx, SLUICE_LOG_ERROR, "%s", why);
        }
        return 1;
    }
    return 1;   /* usable once SUBACK grants the subscriptions */
}

static void on_subscribe(void *arg, mq_conn *c, int mid, int n, const int *granted)
{
    mq_source *s = arg;
    if (mid != s->sub_mid)
        return;
    char why[SLUICE_ERRLEN] = "";
    for (int i = 0; i < n && (size_t)i < s->n_topics; i++) {
        if (granted[i] >= 0x80) {
            if (!why[0])
                mq_errf(why, "%s refused the subscription to \"%s\" (%s); check the filter and "
                        "the broker's ACL", s->cc.url_text, s->topics[i],
                        s->cc.protocol == MQTT_PROTOCOL_V5 ? mosquitto_reason_string(granted[i])
                                                           : "SUBACK failure 0x80");
        } else if (granted[i] < s->qos) {
            s->api->log(s->ctx, SLUICE_LOG_WARN,
                        "the broker granted QoS %d for \"%s\" (asked for %d): it will deliver "
                        "with at most QoS %d", granted[i], s->topics[i], s->qos, granted[i]);
        }
    }
    if (why[0] && !mq_conn_is_up(c) && !mq_conn_ever_established(c)) {
        /* Nothing was received yet, so failing init loses nothing. */
        mq_conn_fail_first(c, why);
        return;
    }
    if (why[0])
        s->api->log(s->ctx, SLUICE_LOG_ERROR, "%s", why);
    mq_conn_established(c);
}

static void on_message(void *arg, const struct mosquitto_message *msg)
{
    mq_source *s = arg;
    if (!msg->topic)
        return;
    /* A resumed session delivers its queue before SUBACK: a message is as
     * good a sign as SUBACK that the connection works, and waiting for
     * SUBACK behind a full ring would never end. */
    if (!mq_conn_is_up(s->conn_for_cb))
        mq_conn_established(s->conn_for_cb);
    if (s->spooled && !atomic_load(&s->spool_failed)) {
        /* The record exactly as append() builds it for poll, but on the
         * stack: the spool copies it.  Blocks while the spool is full, which
         * is backpressure onto the socket as with the ring. */
        sluice_record r;
        memset(&r, 0, sizeof r);
        size_t tlen = strlen(msg->topic);
        size_t plen = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
        r.value.ptr = plen ? msg->payload : "";
        r.value.len = plen;
        r.origin.topic = msg->topic;
        r.origin.partition = -1;
        r.origin.offset = -1;
        r.timestamp = s->api->now_us();
        size_t off, len;
        if (mq_topic_segment(msg->topic, tlen, s->key_segment, &off, &len)) {
            r.key.ptr = msg->topic + off;
            r.key.len = len;
        }
        char err[SLUICE_ERRLEN];
        if (s->api->spool_append(s->ctx, &r, err) == SLUICE_OK) {
            s->api->metric_add(s->m_received, 1);
            s->api->metric_add(s->m_bytes, (double)plen);
            return;
        }
        /* The spool refused (an I/O error): the message is not lost yet;
         * the ring hands it to poll, whose append fails the run in turn. */
        atomic_store(&s->spool_failed, 1);
        s->api->log(s->ctx, SLUICE_LOG_ERROR, "cannot spool a message on \"%.200s\": %s; "
                    "handing messages over through memory until the pipeline restarts",
                    msg->topic, err);
    }
    /* Blocks while the ring is full: backpressure onto the socket. */
    if (mq_ring_put(&s->ring, msg->topic, strlen(msg->topic), msg->payload,
                    msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0, msg->qos, msg->retain,
                    s->api->now_us()) != 0)
        atomic_fetch_add(&s->refused_puts, 1);
}

static void on_exit_(void *arg)
{
    mq_source *s = arg;
    mq_ring_set_eof(&s->ring);
}

/* The connection is being torn down with no drain to come (a failed init,
 * destroy): on_message must stop waiting for room. */
static void on_close(void *arg)
{
    mq_source *s = arg;
    mq_ring_close(&s->ring);
}

/* ---- lifecycle --------------------------------------------------------- */

static void source_free(mq_source *s)
{
    if (!s)
        return;
    if (s->ring_ok)
        mq_ring_close(&s->ring);   /* unblocks a waiting on_message */
    mq_conn_close(s->conn);
    if (s->ring_ok) {
        size_t left = mq_ring_count(&s->ring);
        unsigned long refused = atomic_load(&s->refused_puts);
        if (left || refused)
            s->api->log(s->ctx, SLUICE_LOG_ERROR,
                        "%zu messages received from the broker were never handed to the "
                        "pipeline (it stopped without draining the source); they are lost",
                        left + refused);
        mq_ring_destroy(&s->ring);
    }
    free(s->topics);
    free(s);
}

static sluice_status source_init(const sluice_init_args *a, void **out, char *err)
{
    const sluice_api *api = a->api;
    const sluice_config *cfg = a->cfg;
    mq_source *s = calloc(1, sizeof *s);
    if (!s) {
        mq_errf(err, "out of memory");
        return SLUICE_ERR;
    }
    s->api = api;
    s->ctx = a->ctx;
    char def_id[256];
    snprintf(def_id, sizeof def_id, "sluice-%s", a->pipeline ? a->pipeline : "pipeline");
    sluice_status st = mq_conn_cfg_read(&s->cc, api, cfg, def_id, err);
    if (st != SLUICE_OK)
        goto fail;
    s->cc.clean_session = api->opt_bool(cfg, "clean_session");
    if (api->cfg_has(cfg, "session_expiry")) {
        int64_t ms = api->opt_int(cfg, "session_expiry");
        if (ms < 0 || ms / 1000 >= (int64_t)UINT32_MAX) {
            mq_errf(err, "session_expiry: out of range");
            st = SLUICE_ERR;
            goto fail;
        }
        s->cc.session_expiry_s = ms / 1000;
    }

    s->qos = (int)api->opt_int(cfg, "qos");
    s->key_segment = (int)api->opt_int(cfg, "key_segment");
    s->n_topics = api->cfg_list_len(cfg, "topics");
    if (s->n_topics == 0) {
        mq_errf(err, "topics: no topic filter given");
        st = SLUICE_ERR;
        goto fail;
    }
    s->topics = calloc(s->n_topics, sizeof *s->topics);
    if (!s->topics) {
        mq_errf(err, "out of memory");
        st = SLUICE_ERR;
        goto fail;
    }
    for (size_t i = 0; i < s->n_topics; i++) {
        const char *t = api->cfg_list_at(cfg, "topics", i);
        if (!t || !*t || mosquitto_sub_topic_check2(t, strlen(t)) != MOSQ_ERR_SUCCESS ||
            mosquitto_validate_utf8(t, (int)strlen(t)) != MOSQ_ERR_SUCCESS) {
            mq_errf(err, "topics: \"%s\" (item %zu) is not a valid topic filter "
                     "(+ and # must fill a whole level, # only at the end)", t ? t : "", i + 1);
            st = SLUICE_ERR;
            goto fail;
        }
        if (!strncmp(t, "$share/", 7)) {
            const char *g = t + 7, *slash = strchr(g, '/');
            if (!slash || slash == g || !slash[1]) {
                mq_errf(err, "topics: \"%s\" (item %zu): a shared subscription "
                         "is $share/<group>/<filter>", t, i + 1);
                st = SLUICE_ERR;
                goto fail;
            }
        }
        s->topics[i] = (char *)t;
    }

    int64_t max_buf = api->opt_int(cfg, "max_buffered");
    int64_t buf_bytes = api->opt_int(cfg, "buffer_bytes");
    /* With a disk buffer the ring only stands in when the spool fails:
     * keep it small. */
    s->spooled = api->abi_minor >= 1 && api->spooled && api->spooled(a->ctx);
    if (s->spooled) {
        max_buf = max_buf < 256 ? max_buf : 256;
        buf_bytes = buf_bytes < (256 << 10) ? buf_bytes : (256 << 10);
    }
    if (mq_ring_init(&s->ring, (size_t)max_buf, (size_t)buf_bytes)) {
        mq_errf(err, "buffer_bytes: cannot allocate %lld bytes",
                 (long long)buf_bytes);
        st = SLUICE_ERR;
        goto fail;
    }
    s->ring_ok = 1;

    s->m_received = api->metric(a->ctx, SLUICE_METRIC_COUNTER,
                                "sluice_mqtt_messages_received_total",
                                "MQTT messages handed to the pipeline", NULL);
    s->m_bytes = api->metric(a->ctx, SLUICE_METRIC_COUNTER, "sluice_mqtt_bytes_received_total",
                             "Payload bytes of the MQTT messages handed to the pipeline", NULL);
    s->m_dropped = api->metric(a->ctx, SLUICE_METRIC_COUNTER, "sluice_mqtt_messages_dropped_total",
                               "MQTT messages dropped because not even a failed record "
                               "of them fits in a batch", NULL);

    mq_conn_hooks hooks = {
        .arg = s,
        .on_connected = on_connected,
        .on_message = on_message,
        .on_subscribe = on_subscribe,
        .on_exit = on_exit_,
        .on_close = on_close,
    };
    st = mq_conn_open(&s->cc, &hooks, api, a->ctx, &s->conn, err);
    if (st != SLUICE_OK)
        goto fail;
    *out = s;
    return SLUICE_OK;
fail:
    source_free(s);
    return st;
}

/* ---- poll ------------------------------------------------------------ */

/* Copies one message into the batch: topic and payload in one arena block,
 * NUL-terminated both, the key pointing into the topic.  1 if appended, 0 if
 * the batch has no room left, -1 if it never could (dropped, logged). */
static int append(mq_source *s, sluice_batch *out, const mq_msg *m)
{
    const sluice_api *api = s->api;
    size_t need = m->topic_len + 1 + m->payload_len + 1;
    char *mem = api->alloc(out, need);
    if (!mem) {
        if (api->batch_count(out) > 0)
            return 0;        /* the next batch has room */
        /* Not even an empty batch holds it: hand it over as a failed
         * record (topic and reason, no payload), for the error policy. */
        sluice_record *r = api->record_new(out);
        if (!r) {
            api->log(s->ctx, SLUICE_LOG_ERROR, "dropping a message on \"%.*s\" of %zu bytes: "
                     "larger than a whole batch (raise batch.max_bytes)",
                     (int)(m->topic_len > 200 ? 200 : m->topic_len), m->topic, m->payload_len);
            api->metric_add(s->m_dropped, 1);
            return -1;
        }
        r->origin.topic = api->strndup(out, m->topic, m->topic_len);
        r->timestamp = m->recv_us;
        char reason[SLUICE_ERRLEN];
        mq_errf(reason, "mqtt source: a message of %zu bytes on \"%.*s\" is larger than a whole "
                "batch (raise batch.max_bytes)", m->payload_len,
                (int)(m->topic_len > 200 ? 200 : m->topic_len), m->topic);
        api->record_fail(out, api->batch_count(out) - 1, reason);
        return 1;
    }
    sluice_record *r = api->record_new(out);
    if (!r)
        return 0;
    memcpy(mem, m->topic, m->topic_len);
    mem[m->topic_len] = '\0';
    char *val = mem + m->topic_len + 1;
    if (m->payload_len)
        memcpy(val, m->payload, m->payload_len);
    val[m->payload_len] = '\0';
    r->value.ptr = val;
    r->value.len = m->payload_len;
    r->origin.topic = mem;
    r->timestamp = m->recv_us;
    size_t off, len;
    if (mq_topic_segment(mem, m->topic_len, s->key_segment, &off, &len)) {
        r->key.ptr = mem + off;
        r->key.len = len;
    }
    return 1;
}

static sluice_status source_poll(void *inst, sluice_batch *out, int timeout_ms, char *err)
{
    (void)err;
    mq_source *s = inst;
    const sluice_api *api = s->api;
    size_t room = api->batch_room(out);
    if (!room)
        return SLUICE_OK;
    /* After stop() the host drains with timeout 0 until a poll brings
     * nothing; the network thread may still be handing messages over, so
     * wait until it has finished (eof) rather than end the drain early. */
    int stopping = atomic_load(&s->stopping);
    int wait = stopping ? DRAIN_WAIT_MS : timeout_ms;
    /* Once something is there, up to GATHER_US more to let a handful
     * collect: one wake-up per handful instead of one per message. */
    size_t gather = room < GATHER ? room : GATHER;
    int gather_us = stopping || timeout_ms <= 0 ? 0
                  : timeout_ms * 1000 < GATHER_US ? timeout_ms * 1000 : GATHER_US;
    if (!mq_ring_wait(&s->ring, wait, gather, gather_us))
        return SLUICE_OK;
    mq_ring_cursor c;
    mq_ring_begin(&s->ring, &c);
    mq_msg m;
    size_t n = 0, bytes = 0;
    while (n < room && mq_ring_peek(&s->ring, &c, &m)) {
        int rc = append(s, out, &m);
        if (rc == 0)
            break;
        if (rc > 0) {
            n++;
            bytes += m.payload_len;
        }
        mq_ring_next(&s->ring, &c);
    }
    mq_ring_commit(&s->ring, &c);
    if (n) {
        api->metric_add(s->m_received, (double)n);
        api->metric_add(s->m_bytes, (double)bytes);
    }
    return SLUICE_OK;
}

static void source_stop(void *inst)
{
    mq_source *s = inst;
    atomic_store(&s->stopping, 1);
    s->api->log(s->ctx, SLUICE_LOG_INFO, "stopping: disconnecting from %s, %zu messages to drain",
                s->cc.url_text, mq_ring_count(&s->ring));
    mq_conn_shutdown(s->conn);
}

static void source_destroy(void *inst) { source_free(inst); }

const sluice_source_ops mqtt_source_ops = {
    .struct_size = sizeof(sluice_source_ops),
    .options = source_options,
    .init = source_init,
    .poll = source_poll,
    .ack = NULL,
    .stop = source_stop,
    .destroy = source_destroy,
};
