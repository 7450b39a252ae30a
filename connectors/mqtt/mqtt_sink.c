/* The MQTT sink: publishes every record of a batch, then waits until the
 * broker has acknowledged each one (PUBACK/PUBCOMP; for QoS 0, until it was
 * written to the socket) before reporting the batch written. */
#include "mqtt.h"
#include "mqtt_conn.h"
#include "mqtt_topic.h"

#include <sluice/sluice_util.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const sluice_option sink_options[] = {
    MQ_CONN_OPTIONS("client id; default sluice-<pipeline>-<stage> (\"sink\", \"dead_letter\")"),
    {"topic", SLUICE_OPT_STRING, SLUICE_OPT_REQUIRED, NULL,
     "topic to publish to; {key}, {topic} (the record's origin topic) and {field:NAME} are "
     "replaced per record", NULL, NULL, NULL},
    {"qos", SLUICE_OPT_INT, 0, "1", "QoS to publish with", "0|1|2", NULL, NULL},
    {"retain", SLUICE_OPT_BOOL, 0, "false", "publish as retained messages", NULL, NULL, NULL},
    {"payload", SLUICE_OPT_STRING, 0, "value",
     "what to publish: the record's value bytes, or its fields as a JSON object",
     "value|json", NULL, NULL},
    {"ack_timeout", SLUICE_OPT_DURATION, 0, "30s",
     "longest wait for the broker to acknowledge a batch before it is retried", NULL, "1ms",
     NULL},
    {"max_inflight", SLUICE_OPT_INT, 0, "100",
     "QoS 1/2 messages sent but not yet acknowledged, at most", NULL, "1", "65535"},
    SLUICE_OPTIONS_END,
};

#define MIDS 65536

typedef struct mq_sink {
    const sluice_api *api;
    sluice_ctx *ctx;
    mq_conn_cfg cc;
    mq_conn *conn;
    sluice_tmpl topic;
    const char *topic_text;
    int qos, retain, json;
    int64_t ack_timeout_ms;
    sluice_buf buf;

    /* Acknowledgement tracking for the write in progress.  A message id is
     * `pending` once publish returned it, or `early` if its acknowledgement
     * beat us to it (the network thread runs concurrently). */
    pthread_mutex_t mu;
    pthread_cond_t cv;       /* CLOCK_MONOTONIC */
    unsigned char pending[MIDS / 8], early[MIDS / 8], refused[MIDS / 8];
    unsigned char reasons[MIDS];   /* a refused message's reason code */
    size_t n_pending;
    int writing;
    struct sent_rec {        /* each record of the write in progress */
        int mid;             /* -1: not published */
        size_t len;          /* payload bytes */
    } *recs;
    size_t recs_cap;

    sluice_metric *m_published, *m_bytes;
} mq_sink;

#define BIT_GET(a, i) ((a)[(unsigned)(i) >> 3] & (1u << ((unsigned)(i) & 7)))
#define BIT_SET(a, i) ((a)[(unsigned)(i) >> 3] |= (unsigned char)(1u << ((unsigned)(i) & 7)))
#define BIT_CLR(a, i) ((a)[(unsigned)(i) >> 3] &= (unsigned char)~(1u << ((unsigned)(i) & 7)))

/* ---- network thread ---------------------------------------------------- */

static void on_publish(void *arg, int mid, int reason)
{
    mq_sink *s = arg;
    if (mid < 0 || mid >= MIDS)
        return;
    pthread_mutex_lock(&s->mu);
    if (reason >= 0x80 && (s->writing || BIT_GET(s->pending, mid))) {
        BIT_SET(s->refused, mid);
        s->reasons[mid] = (unsigned char)reason;
    }
    if (BIT_GET(s->pending, mid)) {
        BIT_CLR(s->pending, mid);
        if (--s->n_pending == 0)
            pthread_cond_broadcast(&s->cv);
    } else if (s->writing) {
        BIT_SET(s->early, mid);
    }
    pthread_mutex_unlock(&s->mu);
}

static void on_lost(void *arg)
{
    mq_sink *s = arg;
    pthread_mutex_lock(&s->mu);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* ---- lifecycle --------------------------------------------------------- */

static void sink_free(mq_sink *s)
{
    if (!s)
        return;
    mq_conn_close(s->conn);
    sluice_tmpl_free(&s->topic);
    sluice_buf_free(&s->buf);
    free(s->recs);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static sluice_status sink_init(const sluice_init_args *a, void **out, char *err)
{
    const sluice_api *api = a->api;
    const sluice_config *cfg = a->cfg;
    mq_sink *s = calloc(1, sizeof *s);
    if (!s) {
        mq_errf(err, "out of memory");
        return SLUICE_ERR;
    }
    s->api = api;
    s->ctx = a->ctx;
    pthread_mutex_init(&s->mu, NULL);
    sluice_cond_init_monotonic(&s->cv);

    char def_id[256];
    snprintf(def_id, sizeof def_id, "sluice-%s-%s", a->pipeline ? a->pipeline : "pipeline",
             a->instance ? a->instance : "sink");
    sluice_status st = mq_conn_cfg_read(&s->cc, api, cfg, def_id, err);
    if (st != SLUICE_OK)
        goto fail;
    int64_t inflight = api->opt_int(cfg, "max_inflight");
    s->cc.max_inflight = (int)inflight;
    s->cc.shared = 1;

    s->topic_text = api->cfg_string(cfg, "topic");
    if (sluice_tmpl_parse(&s->topic, s->topic_text ? s->topic_text : "", err, SLUICE_ERRLEN)) {
        st = SLUICE_ERR;
        goto fail;
    }
    if (s->topic.constant) {
        char why[SLUICE_ERRLEN];
        if (sluice_tmpl_render(&s->topic, NULL, &s->buf, why, sizeof why) ||
            mq_topic_check_publish(s->buf.p, s->buf.len, why, sizeof why)) {
            mq_errf(err, "topic: %s", why);
            st = SLUICE_ERR;
            goto fail;
        }
    }
    s->qos = (int)api->opt_int(cfg, "qos");
    s->retain = api->opt_bool(cfg, "retain");
    const char *payload = api->cfg_string(cfg, "payload");
    s->json = payload && !strcmp(payload, "json");
    s->ack_timeout_ms = api->opt_int(cfg, "ack_timeout");

    s->m_published = api->metric(a->ctx, SLUICE_METRIC_COUNTER,
                                 "sluice_mqtt_messages_published_total",
                                 "MQTT messages published and acknowledged, by written batch", NULL);
    s->m_bytes = api->metric(a->ctx, SLUICE_METRIC_COUNTER, "sluice_mqtt_bytes_published_total",
                             "Payload bytes of the MQTT messages the broker acknowledged", NULL);
    mq_conn_hooks hooks = {.arg = s, .on_publish = on_publish, .on_lost = on_lost};
    st = mq_conn_open(&s->cc, &hooks, api, a->ctx, &s->conn, err);
    if (st != SLUICE_OK)
        goto fail;
    *out = s;
    return SLUICE_OK;
fail:
    sink_free(s);
    return st;
}

static void sink_destroy(void *inst) { sink_free(inst); }

/* ---- write ------------------------------------------------------------ */

/* The topic of record i: 0, or -1 with the record marked failed. */
static int record_topic(mq_sink *s, sluice_batch *b, size_t i, const sluice_record *r)
{
    if (s->topic.constant)
        return 0;            /* rendered and checked at init, still in buf */
    char why[SLUICE_ERRLEN], reason[SLUICE_ERRLEN];
    if (sluice_tmpl_render(&s->topic, r, &s->buf, why, sizeof why) ||
        mq_topic_check_publish(s->buf.p, s->buf.len, why, sizeof why)) {
        mq_errf(reason, "mqtt sink: topic template \"%s\": %s", s->topic_text,
                 why);
        s->api->record_fail(b, i, reason);
        return -1;
    }
    return 0;
}

static void track(mq_sink *s, int mid)
{
    pthread_mutex_lock(&s->mu);
    if (mid >= 0 && mid < MIDS) {
        if (BIT_GET(s->early, mid)) {
            BIT_CLR(s->early, mid);
        } else {
            BIT_SET(s->pending, mid);
            s->n_pending++;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

/* Waits until every tracked publish is acknowledged, the connection is
 * lost, or ack_timeout passes.  Returns what is still unacknowledged. */
static size_t wait_acks(mq_sink *s, unsigned long gen0)
{
    struct timespec dl = sluice_deadline_ms(s->ack_timeout_ms);
    pthread_mutex_lock(&s->mu);
    while (s->n_pending && mq_conn_generation(s->conn) == gen0)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT)
            break;
    size_t left = s->n_pending;
    s->writing = 0;
    pthread_mutex_unlock(&s->mu);
    return left;
}

static sluice_status sink_write(void *inst, sluice_batch *b, char *err)
{
    mq_sink *s = inst;
    const sluice_api *api = s->api;
    size_t n = api->batch_count(b);
    if (!mq_conn_is_up(s->conn)) {
        char why[SLUICE_ERRLEN];
        mq_conn_last_error(s->conn, why, sizeof why);
        mq_errf(err, "not connected to %s: %s", s->cc.url_text, why);
        return SLUICE_RETRY;
    }
    if (n > s->recs_cap) {
        /* Grows with the largest batch seen, then is reused. */
        struct sent_rec *nr = realloc(s->recs, n * sizeof *nr);
        if (!nr) {
            mq_errf(err, "out of memory");
            return SLUICE_RETRY;
        }
        s->recs = nr;
        s->recs_cap = n;
    }
    unsigned long gen0 = mq_conn_generation(s->conn);
    pthread_mutex_lock(&s->mu);
    /* Ids of an earlier, failed write may still be acknowledged (libmosquitto
     * resends them after a reconnect); they must not count for this one. */
    memset(s->pending, 0, sizeof s->pending);
    memset(s->early, 0, sizeof s->early);
    memset(s->refused, 0, sizeof s->refused);
    s->n_pending = 0;
    s->writing = 1;
    pthread_mutex_unlock(&s->mu);

    struct mosquitto *m = mq_conn_mosq(s->conn);
    size_t failed = 0, sent = 0;
    sluice_status st = SLUICE_OK;
    for (size_t i = 0; i < n; i++)
        s->recs[i].mid = -1;
    for (size_t i = 0; i < n; i++) {
        const sluice_record *r = api->batch_at(b, i);
        if (record_topic(s, b, i, r)) {
            failed++;
            continue;
        }
        const char *p = r->value.ptr;
        size_t len = r->value.len;
        char why[SLUICE_ERRLEN], reason[SLUICE_ERRLEN];
        if (s->json && !(p = api->to_json(b, r, &len, why, sizeof why))) {
            mq_errf(reason, "mqtt sink: cannot write the record as JSON: %s", why);
            api->record_fail(b, i, reason);
            failed++;
            continue;
        }
        int mid = -1;
        int rc = len > INT_MAX ? MOSQ_ERR_PAYLOAD_SIZE
                               : mosquitto_publish(m, &mid, s->buf.p, (int)len, p, s->qos,
                                                   s->retain ? true : false);
        switch (rc) {
        case MOSQ_ERR_SUCCESS:
            s->recs[i].mid = mid;
            s->recs[i].len = len;
            track(s, mid);
            sent++;
            continue;
        case MOSQ_ERR_PAYLOAD_SIZE:
        case MOSQ_ERR_OVERSIZE_PACKET:
            mq_errf(reason, "mqtt sink: a payload of %zu bytes is larger than "
                     "the broker accepts", len);
            api->record_fail(b, i, reason);
            failed++;
            continue;
        case MOSQ_ERR_QOS_NOT_SUPPORTED:
            mq_errf(err, "%s does not support QoS %d; lower qos",
                     s->cc.url_text, s->qos);
            st = SLUICE_ERR;
            break;
        default:
            mq_errf(err, "publishing to %s failed: %s", s->cc.url_text,
                     mosquitto_strerror(rc));
            st = SLUICE_RETRY;
            break;
        }
        break;
    }
    size_t left = wait_acks(s, gen0);
    if (st != SLUICE_OK)
        return st;
    if (left) {
        if (mq_conn_generation(s->conn) != gen0) {
            char why[SLUICE_ERRLEN];
            mq_conn_last_error(s->conn, why, sizeof why);
            mq_errf(err, "lost the connection to %s with %zu of %zu messages "
                     "unacknowledged: %s", s->cc.url_text, left, sent, why);
        } else {
            mq_errf(err, "%s acknowledged %zu of %zu messages within "
                     "ack_timeout (%lld ms)", s->cc.url_text, sent - left, sent,
                     (long long)s->ack_timeout_ms);
        }
        return SLUICE_RETRY;
    }
    /* MQTT 5 brokers say in the PUBACK when they refused a message. */
    double bytes = 0;
    for (size_t i = 0; i < n; i++) {
        int mid = s->recs[i].mid;
        if (mid < 0 || mid >= MIDS)
            continue;
        pthread_mutex_lock(&s->mu);
        int refused = BIT_GET(s->refused, mid) != 0;
        int code = s->reasons[mid];
        pthread_mutex_unlock(&s->mu);
        if (!refused) {
            bytes += (double)s->recs[i].len;
            continue;
        }
        /* It rendered when it was published, so it renders again (for the
         * message) into buf. */
        record_topic(s, b, i, api->batch_at(b, i));
        char reason[SLUICE_ERRLEN];
        mq_errf(reason, "mqtt sink: %s refused the message on \"%s\": %s", s->cc.url_text,
                s->buf.p, mosquitto_reason_string(code));
        api->record_fail(b, i, reason);
        failed++;
        sent--;
    }
    /* Counted once the batch is written, so a retried batch counts once. */
    api->metric_add(s->m_published, (double)sent);
    api->metric_add(s->m_bytes, bytes);
    return failed ? SLUICE_PARTIAL : SLUICE_OK;
}

const sluice_sink_ops mqtt_sink_ops = {
    .struct_size = sizeof(sluice_sink_ops),
    .options = sink_options,
    .init = sink_init,
    .write = sink_write,
    .flush = NULL,
    .destroy = sink_destroy,
};
