/* The consumer-group source.
 *
 * Offsets are never committed by librdkafka on its own
 * (enable.auto.commit=false, enable.auto.offset.store=false): an ack from
 * the host (the batch is durably written) stores each partition's highest
 * offset + 1 and commits asynchronously; a revoke and the shutdown commit
 * synchronously.  So a crash replays at most what was not yet acknowledged,
 * and nothing is skipped.
 *
 * Everything librdkafka reports (messages, rebalances, statistics, errors,
 * commit results) is served by rd_kafka_consumer_poll on the source
 * thread; only ack runs on the sink thread. */
#include "kafka.h"
#include "kclient.h"
#include "kconv.h"
#include "koffsets.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FETCH_MAX 500

typedef struct ksource {
    kclient kc;              /* first: librdkafka's opaque */
    kconv conv;
    koffsets offs;
    int poll_timeout_ms;
    /* Messages taken from librdkafka in one call, not yet in a batch (the
     * rest of a fetch, or one that did not fit the last batch).  Taking
     * them in bulk saves a lock round per message. */
    rd_kafka_queue_t *cq;
    rd_kafka_message_t *buf[FETCH_MAX];
    size_t buf_head, buf_n;
    unsigned buf_epoch;            /* rebalance epoch when they were taken */
    atomic_uint epoch;             /* bumped by every rebalance */
    atomic_int stopping;
    const char *last_topic;        /* interned name of the last message's topic */
    int64_t log_window_ns;
    unsigned log_suppressed;
    sluice_metric *m_consumed, *m_convert_errors, *m_commit_errors, *m_rebalances;
} ksource;

static const char *const managed_props[] = {
    "bootstrap.servers", "group.id", "enable.auto.commit", "enable.auto.offset.store",
    "auto.offset.reset", NULL};

/* At most 10 message-level warnings a second: a broker outage produces one
 * error per partition per retry. */
static int log_allowed(ksource *s)
{
    int64_t now = s->kc.api->mono_ns();
    if (now - s->log_window_ns > 1000000000LL) {
        if (s->log_suppressed)
            s->kc.api->log(s->kc.ctx, SLUICE_LOG_WARN, "%u more consumer errors not logged",
                           s->log_suppressed);
        s->log_window_ns = now;
        s->log_suppressed = 0;
        return 1;
    }
    if (s->log_suppressed++ < 10)
        return 1;
    return 0;
}

static sluice_metric *lag_metric(void *arg, const char *topic, int32_t partition)
{
    ksource *s = arg;
    char label[512];
    snprintf(label, sizeof label, "partition=%s/%d", topic, (int)partition);
    return s->kc.api->metric(s->kc.ctx, SLUICE_METRIC_GAUGE, "sluice_kafka_consumer_lag",
                             "messages between the committed offset and the end of the partition",
                             label);
}

static void describe(const rd_kafka_topic_partition_list_t *l, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < l->cnt && n + 1 < len; i++) {
        int w = snprintf(buf + n, len - n, "%s%s/%d", i ? " " : "", l->elems[i].topic,
                         (int)l->elems[i].partition);
        if (w < 0)
            break;
        n += (size_t)w;
    }
    if (!l->cnt)
        snprintf(buf, len, "(none)");
}

/* A synchronous commit, but bounded: librdkafka's own rd_kafka_commit(..., 0)
 * waits for ever while no group coordinator is reachable, which would hang a
 * rebalance or the shutdown.  Giving up only means the uncommitted messages
 * are delivered again. */
#define COMMIT_WAIT_MS 10000

/* Returns 0, or -1 when the coordinator gave no answer within the wait
 * (then leaving the group would wait for it just as long). */
static int commit_sync(ksource *s, const char *why)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(s->kc.rk);
    rd_kafka_resp_err_t e = rd_kafka_commit_queue(s->kc.rk, NULL, q, NULL, NULL);
    const char *what = NULL;
    if (!e) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, COMMIT_WAIT_MS);
        if (!ev) {
            what = "no answer within 10 s";
        } else {
            e = rd_kafka_event_error(ev);
            rd_kafka_event_destroy(ev);
        }
    }
    rd_kafka_queue_destroy(q);
    if (e == RD_KAFKA_RESP_ERR__NO_OFFSET)
        return 0;
    if (e || what) {
        s->kc.api->metric_add(s->m_commit_errors, 1);
        s->kc.api->log(s->kc.ctx, SLUICE_LOG_WARN, "committing offsets %s failed: %s "
                       "(the uncommitted messages will be delivered again)", why,
                       what ? what : rd_kafka_err2str(e));
    }
    return what ? -1 : 0;
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    ksource *s = opaque;
    const sluice_api *api = s->kc.api;
    int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    char list[1024];
    describe(parts, list, sizeof list);
    api->metric_add(s->m_rebalances, 1);
    atomic_fetch_add(&s->epoch, 1);
    rd_kafka_error_t *e = NULL;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        atomic_store(&s->kc.up, 1); /* the coordinator just answered */
        if (ko_assign(&s->offs, parts, lag_metric, s) != 0)
            api->log(s->kc.ctx, SLUICE_LOG_ERROR, "out of memory tracking partitions");
        api->log(s->kc.ctx, SLUICE_LOG_INFO, "assigned %s", list);
        if (coop)
            e = rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
    } else {
        /* No ack may store offsets of these partitions from now on; then
         * what was acknowledged is committed before they are given up. */
        if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
            ko_revoke(&s->offs, api, parts);
        else
            ko_revoke_all(&s->offs, api);
        if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && !rd_kafka_assignment_lost(rk))
            commit_sync(s, "before giving up partitions");
        api->log(s->kc.ctx, err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS ? SLUICE_LOG_INFO
                                                                         : SLUICE_LOG_WARN,
                 "%s %s%s", err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS ? "revoked" : "rebalance "
                 "error, unassigning", list, rd_kafka_assignment_lost(rk) ? " (lost)" : "");
        if (coop && err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
            e = rd_kafka_incremental_unassign(rk, parts);
        else
            rd_kafka_assign(rk, NULL);
    }
    if (e) {
        api->log(s->kc.ctx, SLUICE_LOG_ERROR, "incremental rebalance failed: %s",
                 rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
}

static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)rk;
    (void)offsets;
    ksource *s = opaque;
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        s->kc.api->metric_add(s->m_commit_errors, 1);
        if (log_allowed(s))
            s->kc.api->log(s->kc.ctx, SLUICE_LOG_WARN, "committing offsets failed: %s (the "
                           "next commit includes them)", rd_kafka_err2str(err));
    }
}

/* Lag per owned partition: the committed offset's distance to the end, or,
 * before the group's first commit, the read position's. */
static void on_stats(kclient *kc, json_t *root)
{
    ksource *s = (ksource *)kc;
    const char *tname, *pname;
    json_t *t, *p;
    json_object_foreach(json_object_get(root, "topics"), tname, t)
    {
        json_object_foreach(json_object_get(t, "partitions"), pname, p)
        {
            long part = strtol(pname, NULL, 10);
            if (part < 0)
                continue;
            json_int_t lag = json_integer_value(json_object_get(p, "consumer_lag"));
            if (!json_is_integer(json_object_get(p, "consumer_lag")) || lag < 0) {
                json_int_t hi = json_integer_value(json_object_get(p, "hi_offset"));
                json_int_t app = json_integer_value(json_object_get(p, "app_offset"));
                if (hi < 0 || app < 0)
                    continue;
                lag = hi - app;
            }
            ko_set_lag(&s->offs, kc->api, tname, (int32_t)part, (double)(lag < 0 ? 0 : lag));
        }
    }
}

static void src_destroy(void *inst);

static sluice_status src_init(const sluice_init_args *a, void **out, char *err)
{
    const sluice_api *api = a->api;
    const sluice_config *cfg = a->cfg;
    if (api->opt_int(cfg, "consumers") != 1) {
        snprintf(err, SLUICE_ERRLEN, "consumers: %lld consumers are set with the pipeline's "
                 "top-level \"lanes: %lld\" (one consumer per lane, all in this group, "
                 "each lane with its own partitions, transforms and sink); remove "
                 "\"consumers:\" or set it to 1",
                 (long long)api->opt_int(cfg, "consumers"),
                 (long long)api->opt_int(cfg, "consumers"));
        return SLUICE_ERR;
    }
    size_t n_topics = api->cfg_list_len(cfg, "topics");
    if (n_topics == 0) {
        snprintf(err, SLUICE_ERRLEN, "topics: name at least one topic");
        return SLUICE_ERR;
    }
    ksource *s = calloc(1, sizeof *s);
    if (!s || ko_init(&s->offs) != 0) {
        free(s);
        snprintf(err, SLUICE_ERRLEN, "out of memory");
        return SLUICE_ERR;
    }
    s->kc.api = api;
    s->kc.ctx = a->ctx;
    s->kc.consumer = 1;
    s->kc.on_stats = on_stats;
    int64_t pt = api->opt_int(cfg, "poll_timeout");
    s->poll_timeout_ms = pt < 0 ? 0 : pt > 60000 ? 60000 : (int)pt;
    s->m_consumed = api->metric(a->ctx, SLUICE_METRIC_COUNTER,
                                "sluice_kafka_messages_consumed_total",
                                "messages read from Kafka", NULL);
    s->m_convert_errors = api->metric(a->ctx, SLUICE_METRIC_COUNTER,
                                      "sluice_kafka_convert_errors_total",
                                      "messages the value converter could not read (sent to "
                                      "the error policy)", NULL);
    s->m_commit_errors = api->metric(a->ctx, SLUICE_METRIC_COUNTER,
                                     "sluice_kafka_commit_errors_total",
                                     "offset commits that failed", NULL);
    s->m_rebalances = api->metric(a->ctx, SLUICE_METRIC_COUNTER, "sluice_kafka_rebalances_total",
                                  "partition assignments and revocations", NULL);
    if (kconv_init(&s->conv, api, api->cfg_string(cfg, "value_converter"),
                   api->cfg_string(cfg, "avro_schema"), err, SLUICE_ERRLEN) != 0) {
        src_destroy(s);
        return SLUICE_ERR;
    }
    /* The prefetch, bounded so that a source catching up on a backlog
     * holds a few MiB, not librdkafka's 64 MiB of payload plus ~400 bytes
     * of bookkeeping per message (300 MB RSS on the seed's 100-byte Avro
     * measurements).  Each fetch brings up to 256 KiB per partition, 1 MiB
     * in all, and fetching pauses while 50000 messages or 4 MiB of payload
     * wait.  librdkafka 2.0.2 looks again only about a second after such a
     * pause, so a consumer faster than ~50000 messages/s stalls now and then:
     * `properties` can raise them (README, Performance). */
    const char *const defaults[] = {"queued.min.messages", "50000",
                                    "queued.max.messages.kbytes", "4096",
                                    "fetch.max.bytes", "1048576",
                                    "max.partition.fetch.bytes", "262144", NULL};
    rd_kafka_conf_t *conf =
        kc_conf_new(&s->kc, cfg, a->pipeline, a->instance, defaults, managed_props, err);
    if (!conf) {
        src_destroy(s);
        return SLUICE_ERR;
    }
    const char *start = api->cfg_string(cfg, "start");
    if (kc_set(conf, "group.id", api->cfg_string(cfg, "group"), err) ||
        kc_set(conf, "enable.auto.commit", "false", err) ||
        kc_set(conf, "enable.auto.offset.store", "false", err) ||
        kc_set(conf, "auto.offset.reset", start ? start : "earliest", err)) {
        rd_kafka_conf_destroy(conf);
        src_destroy(s);
        return SLUICE_ERR;
    }
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_offset_commit_cb(conf, commit_cb);
    int stats = s->kc.stats;
    char e[400];
    s->kc.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (!s->kc.rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, SLUICE_ERRLEN, "cannot create the Kafka consumer: %s", e);
        src_destroy(s);
        return SLUICE_ERR;
    }
    /* Statistics, errors and commit results come through the consumer's
     * poll too, so the source thread serves everything. */
    rd_kafka_poll_set_consumer(s->kc.rk);
    s->cq = rd_kafka_queue_get_consumer(s->kc.rk);
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new((int)n_topics);
    for (size_t i = 0; i < n_topics; i++)
        rd_kafka_topic_partition_list_add(subs, api->cfg_list_at(cfg, "topics", i),
                                          RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t se = rd_kafka_subscribe(s->kc.rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (se) {
        snprintf(err, SLUICE_ERRLEN, "cannot subscribe to topics: %s", rd_kafka_err2str(se));
        src_destroy(s);
        return SLUICE_ERR;
    }
    /* Not ready until statistics show a broker and the group coordinator:
     * an unreachable broker is not an init failure, librdkafka reconnects. */
    api->set_ready(a->ctx, !stats);
    atomic_store(&s->kc.up, !stats);
    *out = s;
    return SLUICE_OK;
}

typedef enum build_rc { BUILT, NO_ROOM } build_rc;

/* A KAFKA_TS_HEADER value: an optional '-' and 1 to 19 decimal digits.
 * 1 with *us set, 0 when it is not one (then it stays an ordinary header). */
static int parse_us(const void *p, size_t n, int64_t *us)
{
    const char *s = p;
    size_t i = n > 0 && s[0] == '-';
    if (n <= i || n - i > 19)
        return 0;
    uint64_t v = 0;
    for (size_t j = i; j < n; j++) {
        if (s[j] < '0' || s[j] > '9')
            return 0;
        v = v * 10 + (uint64_t)(s[j] - '0');
    }
    if (v > (uint64_t)INT64_MAX)
        return 0;
    *us = i ? -(int64_t)v : (int64_t)v;
    return 1;
}

static int is_oom(const char *msg) { return strstr(msg, "out of batch memory") != NULL; }

/* Builds the record on the stack first, through the api (its memory comes
 * from the batch's arena), and appends it only when complete: a record
 * cannot be taken back out of a batch, and a full arena must leave none
 * half-made. */
static build_rc build(ksource *s, sluice_batch *out, const rd_kafka_message_t *m)
{
    const sluice_api *api = s->kc.api;
    sluice_record tmp;
    memset(&tmp, 0, sizeof tmp);
    const char *tname = rd_kafka_topic_name(m->rkt);
    if (!s->last_topic || strcmp(s->last_topic, tname) != 0)
        s->last_topic = ko_intern(&s->offs, tname);
    if (!s->last_topic)
        return NO_ROOM;
    tmp.origin.topic = s->last_topic;
    tmp.origin.partition = m->partition;
    tmp.origin.offset = m->offset;
    rd_kafka_timestamp_type_t tst;
    int64_t ts = rd_kafka_message_timestamp(m, &tst);
    tmp.timestamp = ts > 0 ? ts * 1000 : 0;
    if (m->key && api->set_key(out, &tmp, m->key, m->key_len) != 0)
        return NO_ROOM;
    if (m->payload && api->set_value(out, &tmp, m->payload, m->len) != 0)
        return NO_ROOM;
    rd_kafka_headers_t *hdrs;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char *name;
        const void *val;
        size_t size;
        for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) ==
                           RD_KAFKA_RESP_ERR_NO_ERROR; i++) {
            /* The record's own time, which a sink stamping messages with
             * the produce time put there: it replaces the message time
             * and is not a header of the record. */
            if (val && strcmp(name, KAFKA_TS_HEADER) == 0 && parse_us(val, size, &tmp.timestamp))
                continue;
            if (api->header_add(out, &tmp, name, val ? val : "", val ? size : 0) != 0)
                return NO_ROOM;
        }
    }
    char cerr[SLUICE_ERRLEN];
    int bad = kconv_decode(&s->conv, out, &tmp, cerr, sizeof cerr) != 0;
    if (bad) {
        if (is_oom(cerr))
            return NO_ROOM;
        tmp.n_fields = 0;
    }
    sluice_record *r = api->record_new(out);
    if (!r)
        return NO_ROOM;
    *r = tmp;
    if (bad) {
        /* The message is taken (its offset is acknowledged with the
         * batch) but goes to the pipeline's error policy, with the
         * converter's reason, instead of to the transforms. */
        api->record_fail(out, api->batch_count(out) - 1, cerr);
        api->metric_add(s->m_convert_errors, 1);
    }
    return BUILT;
}

static void message_error(ksource *s, const rd_kafka_message_t *m)
{
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        return;
    if (!log_allowed(s))
        return;
    s->kc.api->log(s->kc.ctx, SLUICE_LOG_WARN, "consumer: %s%s%s [%d]: %s",
                   rd_kafka_err2name(m->err), m->rkt ? " on " : "",
                   m->rkt ? rd_kafka_topic_name(m->rkt) : "", (int)m->partition,
                   rd_kafka_message_errstr(m));
}

static sluice_status fatal(ksource *s, char *err)
{
    char why[400];
    rd_kafka_fatal_error(s->kc.rk, why, sizeof why);
    snprintf(err, SLUICE_ERRLEN, "fatal Kafka consumer error: %s", why);
    return SLUICE_ERR;
}

/* After a rebalance, buffered messages of partitions given up belong to
 * their new owner, which reads them from the committed offset: drop them. */
static void drop_disowned(ksource *s)
{
    unsigned now = atomic_load(&s->epoch);
    if (s->buf_epoch == now)
        return;
    s->buf_epoch = now;
    size_t keep = s->buf_head;
    for (size_t i = s->buf_head; i < s->buf_n; i++) {
        rd_kafka_message_t *m = s->buf[i];
        if (m->err || ko_owned(&s->offs, rd_kafka_topic_name(m->rkt), m->partition))
            s->buf[keep++] = m;
        else
            rd_kafka_message_destroy(m);
    }
    s->buf_n = keep;
}

/* The next message: buffered, else all librdkafka has ready, else one
 * waited for up to `wait` ms. */
static rd_kafka_message_t *next_message(ksource *s, int wait)
{
    if (s->buf_head < s->buf_n)
        return s->buf[s->buf_head++];
    s->buf_head = s->buf_n = 0;
    s->buf_epoch = atomic_load(&s->epoch);
    ssize_t n = rd_kafka_consume_batch_queue(s->cq, 0, s->buf, FETCH_MAX);
    if (n > 0) {
        s->buf_n = (size_t)n;
        return s->buf[s->buf_head++];
    }
    return wait > 0 ? rd_kafka_consumer_poll(s->kc.rk, wait) : NULL;
}

/* Puts back the message next_message just returned. */
static void unget(ksource *s, rd_kafka_message_t *m)
{
    if (s->buf_head > 0 && s->buf[s->buf_head - 1] == m) {
        s->buf_head--;
    } else {
        s->buf[0] = m;
        s->buf_head = 0;
        s->buf_n = 1;
    }
}

static sluice_status src_poll(void *inst, sluice_batch *out, int timeout_ms, char *err)
{
    ksource *s = inst;
    const sluice_api *api = s->kc.api;
    if (atomic_load(&s->kc.fatal))
        return fatal(s, err);
    if (atomic_load(&s->stopping))
        return SLUICE_OK;
    int wait = timeout_ms < s->poll_timeout_ms ? timeout_ms : s->poll_timeout_ms;
    if (wait < 0)
        wait = 0;
    size_t room = api->batch_room(out), added = 0;
    drop_disowned(s);
    while (room > 0) {
        rd_kafka_message_t *m = next_message(s, added ? 0 : wait);
        if (!m)
            break;
        if (m->err) {
            message_error(s, m);
            rd_kafka_message_destroy(m);
            if (atomic_load(&s->kc.fatal))
                return fatal(s, err);
            wait = 0;
            continue;
        }
        if (build(s, out, m) == NO_ROOM) {
            if (api->batch_count(out) == 0) {
                snprintf(err, SLUICE_ERRLEN, "message %s/%d@%lld (key %zu bytes, value %zu "
                         "bytes) does not fit an empty batch; raise the pipeline's "
                         "batch.max_bytes", rd_kafka_topic_name(m->rkt), (int)m->partition,
                         (long long)m->offset, m->key_len, m->len);
                rd_kafka_message_destroy(m);
                return SLUICE_ERR;
            }
            unget(s, m);
            break;
        }
        rd_kafka_message_destroy(m);
        added++;
        room--;
    }
    if (added) {
        atomic_store(&s->kc.up, 1);
        api->metric_add(s->m_consumed, (double)added);
    }
    return SLUICE_OK;
}

static sluice_status src_ack(void *inst, const sluice_batch *b, char *err)
{
    ksource *s = inst;
    char e[SLUICE_ERRLEN];
    int moved = ko_ack(&s->offs, s->kc.rk, s->kc.api, b, e, sizeof e);
    if (moved < 0) {
        /* Not worth failing the pipeline: the messages are written, and the
         * next ack stores a later offset anyway. */
        s->kc.api->log(s->kc.ctx, SLUICE_LOG_WARN, "%s", e);
        return SLUICE_OK;
    }
    if (moved > 0) {
        /* Asynchronous: its result comes to commit_cb; a failed commit is
         * covered by the next one, which includes the same offsets. */
        rd_kafka_resp_err_t ce = rd_kafka_commit(s->kc.rk, NULL, 1);
        if (ce && ce != RD_KAFKA_RESP_ERR__NO_OFFSET) {
            s->kc.api->metric_add(s->m_commit_errors, 1);
            if (log_allowed(s))
                s->kc.api->log(s->kc.ctx, SLUICE_LOG_WARN, "commit: %s", rd_kafka_err2str(ce));
        }
    }
    (void)err;
    return SLUICE_OK;
}

static void src_stop(void *inst)
{
    ksource *s = inst;
    /* Messages librdkafka holds but we have not handed over stay
     * uncommitted, so the next owner of their partitions reads them. */
    atomic_store(&s->stopping, 1);
}

static void src_destroy(void *inst)
{
    ksource *s = inst;
    if (!s)
        return;
    for (size_t i = s->buf_head; i < s->buf_n; i++)
        rd_kafka_message_destroy(s->buf[i]);
    if (s->cq)
        rd_kafka_queue_destroy(s->cq);
    if (s->kc.rk) {
        /* The broker may have gone since the last poll delivered its
         * "all brokers down" event: a commit that got no answer says so. */
        int answered = 1;
        if (!atomic_load(&s->kc.fatal))
            answered = commit_sync(s, "at shutdown") == 0;
        if (answered && atomic_load(&s->kc.up)) {
            /* Leaves the group: the revoke commits once more and the
             * partitions move to the other members at once. */
            rd_kafka_resp_err_t e = rd_kafka_consumer_close(s->kc.rk);
            if (e)
                s->kc.api->log(s->kc.ctx, SLUICE_LOG_WARN, "closing the consumer: %s",
                               rd_kafka_err2str(e));
            rd_kafka_destroy(s->kc.rk);
        } else {
            /* No broker to leave the group with: closing would wait for
             * one up to session.timeout.ms.  The group drops this member
             * when its session expires. */
            rd_kafka_destroy_flags(s->kc.rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
        }
    }
    kconv_free(&s->conv);
    ko_free(&s->offs);
    free(s);
}

const sluice_source_ops kafka_source_ops = {
    .struct_size = sizeof(sluice_source_ops),
    .options = kafka_source_options,
    .init = src_init,
    .poll = src_poll,
    .ack = src_ack,
    .stop = src_stop,
    .destroy = src_destroy,
};
