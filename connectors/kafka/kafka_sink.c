/* The producer sink.  write() produces every record of the batch and
 * returns only when librdkafka has a delivery report for each: with acks=all
 * and the idempotent producer, SLUICE_OK means every message is in the
 * in-sync replicas exactly once.  A retriable failure of any message makes
 * the whole batch SLUICE_RETRY (the host writes it again: the messages that
 * did arrive are then duplicated, which at-least-once allows); a message
 * Kafka refuses for good (too large, invalid, not authorized) is marked with
 * api->record_fail and the write is SLUICE_PARTIAL.
 *
 * Delivery reports are served by write() itself (rd_kafka_flush); between
 * writes a thread of the instance serves librdkafka's statistics and
 * errors, so readiness stays current while no batch comes. */
#include "kafka.h"
#include "kclient.h"
#include "kconv.h"
#include "ktopic.h"

#include <sluice/sluice_util.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum key_mode { KEY_RECORD, KEY_NONE, KEY_FIELD } key_mode;

/* What the message timestamp is.  Kafka's time-based retention deletes by
 * message timestamp, so the record's own time (a replay, a device with a
 * wrong clock) can put messages in segments the broker deletes at once:
 * by default messages are stamped when produced and the record's time
 * travels in the KAFKA_TS_HEADER header. */
typedef enum msg_time { MSG_TIME_PRODUCE, MSG_TIME_RECORD } msg_time;

typedef struct ksink {
    kclient kc;              /* first: librdkafka's opaque */
    kconv conv;
    sluice_tmpl topic;
    rd_kafka_topic_t *rkt;   /* the constant topic's handle */
    key_mode key;
    char *key_field;
    msg_time mtime;
    int64_t delivery_timeout_ms;
    sluice_buf vbuf, keybuf, tbuf, reasons;

    /* Delivery reports of the current write, from the poller thread. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint32_t gen;            /* write number, in each message's opaque */
    size_t outstanding;
    rd_kafka_resp_err_t *errs;
    size_t *reason_at;       /* offset into `reasons` + 1, 0: none */
    size_t cap;

    /* The poller thread, paused while a write runs. */
    pthread_t poller;
    int poller_started;
    pthread_mutex_t pmu;
    pthread_cond_t pcv;
    int writing, quit;
    sluice_metric *m_produced, *m_errors;
} ksink;

static const char *const managed_props[] = {
    "bootstrap.servers", "compression.type", "compression.codec", "acks",
    "request.required.acks", "linger.ms", "queue.buffering.max.ms", "message.timeout.ms",
    "delivery.timeout.ms", NULL};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    ksink *k = opaque;
    uintptr_t tag = (uintptr_t)m->_private;
    uint32_t gen = (uint32_t)(tag >> 32);
    size_t idx = (size_t)(tag & 0xffffffffu);
    pthread_mutex_lock(&k->mu);
    if (gen == k->gen && idx < k->cap && k->outstanding > 0) {
        k->errs[idx] = m->err;
        if (--k->outstanding == 0)
            pthread_cond_broadcast(&k->cv);
    }
    pthread_mutex_unlock(&k->mu);
    k->kc.api->metric_add(m->err ? k->m_errors : k->m_produced, 1);
}

/* Between writes, serves what librdkafka queued (statistics for readiness,
 * errors) twice a second, never waiting inside rd_kafka_poll: a blocked
 * poll here would take delivery reports away from a write's flush(), which
 * then waits out its 10 ms poll step on every batch. */
static void *poller_main(void *arg)
{
    ksink *k = arg;
    pthread_mutex_lock(&k->pmu);
    while (!k->quit) {
        if (k->writing) {
            pthread_cond_wait(&k->pcv, &k->pmu);
            continue;
        }
        struct timespec until = sluice_deadline_ms(500);
        if (pthread_cond_timedwait(&k->pcv, &k->pmu, &until) == 0 || k->writing || k->quit)
            continue;
        pthread_mutex_unlock(&k->pmu);
        rd_kafka_poll(k->kc.rk, 0);
        pthread_mutex_lock(&k->pmu);
    }
    pthread_mutex_unlock(&k->pmu);
    return NULL;
}

static void set_writing(ksink *k, int on)
{
    pthread_mutex_lock(&k->pmu);
    k->writing = on;
    pthread_cond_signal(&k->pcv);
    pthread_mutex_unlock(&k->pmu);
}

static void snk_destroy(void *inst);

static int parse_key(ksink *k, const char *key, char *err)
{
    if (!key || strcmp(key, "record") == 0) {
        k->key = KEY_RECORD;
    } else if (strcmp(key, "none") == 0) {
        k->key = KEY_NONE;
    } else if (strncmp(key, "field:", 6) == 0 && key[6]) {
        k->key = KEY_FIELD;
        if (!(k->key_field = strdup(key + 6))) {
            snprintf(err, SLUICE_ERRLEN, "out of memory");
            return -1;
        }
    } else {
        snprintf(err, SLUICE_ERRLEN, "key \"%s\": expected record, none or field:NAME", key);
        return -1;
    }
    return 0;
}

static int parse_message_time(ksink *k, const char *v, char *err)
{
    if (!v || strcmp(v, "produce") == 0) {
        k->mtime = MSG_TIME_PRODUCE;
    } else if (strcmp(v, "record") == 0) {
        k->mtime = MSG_TIME_RECORD;
    } else {
        snprintf(err, SLUICE_ERRLEN, "message_time \"%s\": expected produce or record", v);
        return -1;
    }
    return 0;
}

static sluice_status snk_init(const sluice_init_args *a, void **out, char *err)
{
    const sluice_api *api = a->api;
    const sluice_config *cfg = a->cfg;
    ksink *k = calloc(1, sizeof *k);
    if (!k) {
        snprintf(err, SLUICE_ERRLEN, "out of memory");
        return SLUICE_ERR;
    }
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    pthread_mutex_init(&k->pmu, NULL);
    sluice_cond_init_monotonic(&k->pcv);
    k->kc.api = api;
    k->kc.ctx = a->ctx;
    k->m_produced = api->metric(a->ctx, SLUICE_METRIC_COUNTER,
                                "sluice_kafka_messages_produced_total",
                                "messages the brokers acknowledged", NULL);
    k->m_errors = api->metric(a->ctx, SLUICE_METRIC_COUNTER, "sluice_kafka_delivery_errors_total",
                              "messages that were not delivered (retried or failed)", NULL);
    k->delivery_timeout_ms = api->opt_int(cfg, "delivery_timeout");
    if (ktopic_parse(&k->topic, api->cfg_string(cfg, "topic"), err, SLUICE_ERRLEN) != 0 ||
        parse_key(k, api->cfg_string(cfg, "key"), err) != 0 ||
        parse_message_time(k, api->cfg_string(cfg, "message_time"), err) != 0 ||
        kconv_init(&k->conv, api, api->cfg_string(cfg, "value_converter"),
                   api->cfg_string(cfg, "avro_schema"), err, SLUICE_ERRLEN) != 0) {
        snk_destroy(k);
        return SLUICE_ERR;
    }
    if (k->delivery_timeout_ms <= 0 || k->delivery_timeout_ms > 2147483647) {
        snprintf(err, SLUICE_ERRLEN, "delivery_timeout must be positive");
        snk_destroy(k);
        return SLUICE_ERR;
    }
    char linger[32], timeout[32];
    snprintf(linger, sizeof linger, "%lld", (long long)api->opt_int(cfg, "linger"));
    snprintf(timeout, sizeof timeout, "%lld", (long long)k->delivery_timeout_ms);
    const char *compression = api->cfg_string(cfg, "compression");
    const char *acks = api->cfg_string(cfg, "acks");
    const char *const defaults[] = {"enable.idempotence", "true", NULL};
    rd_kafka_conf_t *conf =
        kc_conf_new(&k->kc, cfg, a->pipeline, a->instance, defaults, managed_props, err);
    if (!conf) {
        snk_destroy(k);
        return SLUICE_ERR;
    }
    if (kc_set(conf, "compression.type", compression ? compression : "lz4", err) ||
        kc_set(conf, "acks", acks ? acks : "all", err) ||
        kc_set(conf, "linger.ms", linger, err) ||
        kc_set(conf, "message.timeout.ms", timeout, err)) {
        rd_kafka_conf_destroy(conf);
        snk_destroy(k);
        return SLUICE_ERR;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    int stats = k->kc.stats;
    char e[400];
    k->kc.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
    if (!k->kc.rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, SLUICE_ERRLEN, "cannot create the Kafka producer: %s", e);
        snk_destroy(k);
        return SLUICE_ERR;
    }
    if (k->topic.constant && !(k->rkt = rd_kafka_topic_new(k->kc.rk, k->topic.constant, NULL))) {
        snprintf(err, SLUICE_ERRLEN, "topic \"%s\": %s", k->topic.constant,
                 rd_kafka_err2str(rd_kafka_last_error()));
        snk_destroy(k);
        return SLUICE_ERR;
    }
    if (pthread_create(&k->poller, NULL, poller_main, k) != 0) {
        snprintf(err, SLUICE_ERRLEN, "cannot start the producer's poll thread");
        snk_destroy(k);
        return SLUICE_ERR;
    }
    k->poller_started = 1;
    api->set_ready(a->ctx, !stats);
    *out = k;
    return SLUICE_OK;
}

/* Errors that will not go away by writing the same message again. */
static int permanent(rd_kafka_resp_err_t e, int templated)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
        return 1;
    /* A topic a template made up fails its record; the configured topic
     * not existing (yet) is waited for. */
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
        return templated;
    default:
        return 0;
    }
}

static int grow(ksink *k, size_t n)
{
    if (n <= k->cap)
        return 0;
    size_t cap = k->cap ? k->cap : 1024;
    while (cap < n)
        cap *= 2;
    rd_kafka_resp_err_t *e = realloc(k->errs, cap * sizeof *e);
    if (e)
        k->errs = e;
    size_t *r = realloc(k->reason_at, cap * sizeof *r);
    if (r)
        k->reason_at = r;
    if (!e || !r)
        return -1;
    k->cap = cap;
    return 0;
}

static void set_reason(ksink *k, size_t i, const char *why)
{
    k->reason_at[i] = k->reasons.len + 1;
    sluice_buf_puts(&k->reasons, why);
    sluice_buf_putc(&k->reasons, '\0');
}

/* The key bytes of r, or NULL for none.  -1 with err when the field is
 * missing. */
static int key_of(ksink *k, const sluice_record *r, const void **p, size_t *n, char *err)
{
    *p = NULL;
    *n = 0;
    if (k->key == KEY_RECORD) {
        *p = r->key.ptr;
        *n = r->key.ptr ? r->key.len : 0;
    } else if (k->key == KEY_FIELD) {
        const sluice_field *f = sluice_field_get(r, k->key_field);
        if (!f) {
            snprintf(err, SLUICE_ERRLEN, "key: the record has no field \"%s\"", k->key_field);
            return -1;
        }
        sluice_buf_reset(&k->keybuf);
        if (sluice_field_text(&k->keybuf, f) == 0) {
            *p = k->keybuf.p ? k->keybuf.p : "";
            *n = k->keybuf.len;
        }
    }
    return 0;
}

/* Produces record i.  Returns 0 when it is in flight, 1 when it failed for
 * good (reason set), -1 on a retriable refusal (err set). */
static int produce_one(ksink *k, sluice_batch *b, size_t i, uint32_t gen, int64_t deadline_ns,
                       char *err)
{
    const sluice_api *api = k->kc.api;
    const sluice_record *r = api->batch_at(b, i);
    char why[SLUICE_ERRLEN];
    rd_kafka_topic_t *rkt = k->rkt;
    const char *tname = k->topic.constant;
    if (!rkt) {
        if (ktopic_render(&k->topic, r, &k->tbuf, why, sizeof why) != 0)
            goto failed;
        tname = k->tbuf.p;
    }
    const void *key, *val;
    size_t klen, vlen;
    if (key_of(k, r, &key, &klen, why) != 0)
        goto failed;
    sluice_buf_reset(&k->vbuf);
    if (kconv_encode(&k->conv, b, r, &k->vbuf, &val, &vlen, why, sizeof why) != 0)
        goto failed;
    /* produce: timestamp 0 lets librdkafka stamp the message with the
     * time it is produced; the record's time goes in a header, which
     * replaces one the record may bring from an earlier hop. */
    int add_ts = k->mtime == MSG_TIME_PRODUCE && r->timestamp != 0;
    int64_t ts_ms = k->mtime == MSG_TIME_RECORD && r->timestamp > 0 ? r->timestamp / 1000 : 0;
    char tsv[24];
    int tsn = add_ts ? snprintf(tsv, sizeof tsv, "%lld", (long long)r->timestamp) : 0;
    for (;;) {
        rd_kafka_headers_t *hdrs = NULL;
        if (r->n_headers || add_ts) {
            hdrs = rd_kafka_headers_new(r->n_headers + (size_t)add_ts);
            for (uint32_t h = 0; h < r->n_headers; h++)
                if (!add_ts || strcmp(r->headers[h].key, KAFKA_TS_HEADER) != 0)
                    rd_kafka_header_add(hdrs, r->headers[h].key, -1, r->headers[h].value.ptr,
                                        (ssize_t)r->headers[h].value.len);
            if (add_ts)
                rd_kafka_header_add(hdrs, KAFKA_TS_HEADER, -1, tsv, tsn);
        }
        pthread_mutex_lock(&k->mu);
        k->outstanding++;
        pthread_mutex_unlock(&k->mu);
        void *tag = (void *)(((uintptr_t)gen << 32) | (uintptr_t)i);
        rd_kafka_resp_err_t e =
            rkt ? rd_kafka_producev(k->kc.rk, RD_KAFKA_V_RKT(rkt),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_VALUE((void *)val, vlen),
                                    RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_HEADERS(hdrs),
                                    RD_KAFKA_V_TIMESTAMP(ts_ms), RD_KAFKA_V_OPAQUE(tag),
                                    RD_KAFKA_V_END)
                : rd_kafka_producev(k->kc.rk, RD_KAFKA_V_TOPIC(tname),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_VALUE((void *)val, vlen),
                                    RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_HEADERS(hdrs),
                                    RD_KAFKA_V_TIMESTAMP(ts_ms), RD_KAFKA_V_OPAQUE(tag),
                                    RD_KAFKA_V_END);
        if (!e)
            return 0;
        pthread_mutex_lock(&k->mu);
        k->outstanding--;
        pthread_mutex_unlock(&k->mu);
        if (hdrs)
            rd_kafka_headers_destroy(hdrs);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && api->mono_ns() < deadline_ns) {
            /* The poller drains delivery reports; give it a moment. */
            rd_kafka_poll(k->kc.rk, 20);
            continue;
        }
        api->metric_add(k->m_errors, 1);
        if (permanent(e, !k->rkt)) {
            snprintf(why, sizeof why, "Kafka refused the message for topic %s: %s", tname,
                     rd_kafka_err2str(e));
            set_reason(k, i, why);
            return 1;
        }
        snprintf(err, SLUICE_ERRLEN, "producing to topic %s: %s", tname, rd_kafka_err2str(e));
        return -1;
    }
failed:
    api->metric_add(k->m_errors, 1);
    set_reason(k, i, why);
    return 1;
}

static sluice_status write_batch(ksink *k, sluice_batch *b, char *err);

static sluice_status snk_write(void *inst, sluice_batch *b, char *err)
{
    ksink *k = inst;
    set_writing(k, 1);
    sluice_status st = write_batch(k, b, err);
    set_writing(k, 0);
    return st;
}

static sluice_status write_batch(ksink *k, sluice_batch *b, char *err)
{
    const sluice_api *api = k->kc.api;
    size_t n = api->batch_count(b);
    if (atomic_load(&k->kc.fatal) || rd_kafka_fatal_error(k->kc.rk, NULL, 0)) {
        char why[400];
        rd_kafka_fatal_error(k->kc.rk, why, sizeof why);
        snprintf(err, SLUICE_ERRLEN, "fatal Kafka producer error: %s", why);
        return SLUICE_ERR;
    }
    if (grow(k, n) != 0) {
        snprintf(err, SLUICE_ERRLEN, "out of memory for %zu delivery reports", n);
        return SLUICE_RETRY;
    }
    sluice_buf_reset(&k->reasons);
    pthread_mutex_lock(&k->mu);
    uint32_t gen = ++k->gen;
    k->outstanding = 0;
    for (size_t i = 0; i < n; i++) {
        k->errs[i] = RD_KAFKA_RESP_ERR_NO_ERROR;
        k->reason_at[i] = 0;
    }
    pthread_mutex_unlock(&k->mu);

    int64_t deadline = api->mono_ns() + (k->delivery_timeout_ms + 10000) * 1000000LL;
    int retry = 0;
    char rerr[SLUICE_ERRLEN] = "";
    for (size_t i = 0; i < n && !retry; i++)
        if (produce_one(k, b, i, gen, deadline, rerr) < 0)
            retry = 1;

    /* flush sends at once, ignoring linger.ms, and serves reports; the
     * poller may serve some of them, so the count decides. */
    for (;;) {
        pthread_mutex_lock(&k->mu);
        size_t left = k->outstanding;
        pthread_mutex_unlock(&k->mu);
        if (!left)
            break;
        if (api->mono_ns() > deadline) {
            /* librdkafka times messages out at delivery_timeout: reaching
             * this means it did not, so purge them; their reports come as
             * _PURGE_* errors, which retry the batch. */
            rd_kafka_purge(k->kc.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            deadline = api->mono_ns() + 5000000000LL;
            retry = 1;
            snprintf(rerr, sizeof rerr, "no delivery report within delivery_timeout");
        }
        rd_kafka_flush(k->kc.rk, 100);
    }
    if (atomic_load(&k->kc.fatal) || rd_kafka_fatal_error(k->kc.rk, NULL, 0)) {
        char why[400];
        rd_kafka_fatal_error(k->kc.rk, why, sizeof why);
        snprintf(err, SLUICE_ERRLEN, "fatal Kafka producer error: %s", why);
        return SLUICE_ERR;
    }
    size_t failed = 0, undelivered = 0;
    rd_kafka_resp_err_t first = RD_KAFKA_RESP_ERR_NO_ERROR;
    pthread_mutex_lock(&k->mu);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t e = k->errs[i];
        if (!e)
            continue;
        if (permanent(e, !k->rkt)) {
            char why[SLUICE_ERRLEN];
            const sluice_record *r = api->batch_at(b, i);
            snprintf(why, sizeof why, "Kafka refused the message (%zu bytes value) for topic "
                     "%s: %s", r->value.len, k->topic.constant ? k->topic.constant : "(template)",
                     rd_kafka_err2str(e));
            set_reason(k, i, why);
        } else {
            if (!undelivered++)
                first = e;
        }
    }
    pthread_mutex_unlock(&k->mu);
    if (undelivered || retry) {
        if (undelivered)
            snprintf(err, SLUICE_ERRLEN, "%zu of %zu messages not delivered: %s", undelivered,
                     n, rd_kafka_err2str(first));
        else
            snprintf(err, SLUICE_ERRLEN, "%s", rerr);
        api->set_ready(k->kc.ctx, 0);
        return SLUICE_RETRY;
    }
    /* Marks only now: a batch that is retried must not carry marks from an
     * attempt that did not count. */
    for (size_t i = 0; i < n; i++) {
        if (k->reason_at[i]) {
            api->record_fail(b, i, k->reasons.p + k->reason_at[i] - 1);
            failed++;
        }
    }
    return failed ? SLUICE_PARTIAL : SLUICE_OK;
}

static sluice_status snk_flush(void *inst, char *err)
{
    ksink *k = inst;
    /* write() returns only when everything is delivered: nothing waits. */
    if (rd_kafka_flush(k->kc.rk, (int)k->delivery_timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, SLUICE_ERRLEN, "%d messages still in flight",
                 rd_kafka_outq_len(k->kc.rk));
        return SLUICE_RETRY;
    }
    return SLUICE_OK;
}

static void snk_destroy(void *inst)
{
    ksink *k = inst;
    if (!k)
        return;
    if (k->poller_started) {
        pthread_mutex_lock(&k->pmu);
        k->quit = 1;
        pthread_cond_signal(&k->pcv);
        pthread_mutex_unlock(&k->pmu);
        pthread_join(k->poller, NULL);
    }
    if (k->rkt)
        rd_kafka_topic_destroy(k->rkt);
    if (k->kc.rk) {
        rd_kafka_flush(k->kc.rk, 1000);
        rd_kafka_destroy(k->kc.rk);
    }
    kconv_free(&k->conv);
    sluice_tmpl_free(&k->topic);
    free(k->key_field);
    sluice_buf_free(&k->vbuf);
    sluice_buf_free(&k->keybuf);
    sluice_buf_free(&k->tbuf);
    sluice_buf_free(&k->reasons);
    free(k->errs);
    free(k->reason_at);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    pthread_mutex_destroy(&k->pmu);
    pthread_cond_destroy(&k->pcv);
    free(k);
}

const sluice_sink_ops kafka_sink_ops = {
    .struct_size = sizeof(sluice_sink_ops),
    .options = kafka_sink_options,
    .init = snk_init,
    .write = snk_write,
    .flush = snk_flush,
    .destroy = snk_destroy,
};
