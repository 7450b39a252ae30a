#include "kt.h"

#include "tl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const sluice_api *kt_api;
static sl_registry *reg;
static char brokers[64];
static char test_name[64];
static char dir[256];
static sl_pipeline_conf *confs[128];
static size_t n_confs;
static rd_kafka_t *producer;

int64_t kt_now_ms(void)
{
    return tl_now_ms();
}

void kt_setup(const char *test)
{
    snprintf(test_name, sizeof test_name, "%s", test);
    kt_api = sl_api();
    int port = tl_server_port("SLUICE_TEST_KAFKA_PORT", "Kafka broker");
    snprintf(brokers, sizeof brokers, "127.0.0.1:%d", port);
    static const char *const names[] = {"kafka", "generator", "file", NULL};
    reg = tl_registry(names);
    char tag[80];
    snprintf(tag, sizeof tag, "kt-%s", test);
    tl_scratch_dir(dir, sizeof dir, tag);
    srand((unsigned)getpid() ^ (unsigned)time(NULL));
}

void kt_teardown(void)
{
    for (size_t i = 0; i < n_confs; i++)
        sl_conf_free(confs[i]);
    n_confs = 0;
    if (producer) {
        rd_kafka_flush(producer, 10000);
        rd_kafka_destroy(producer);
        producer = NULL;
    }
    sl_registry_free(reg);
    tl_rm_rf(dir);
}

const char *kt_brokers(void) { return brokers; }

static rd_kafka_t *client(rd_kafka_type_t type, const char *group)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char e[512];
    rd_kafka_conf_set(c, "bootstrap.servers", brokers, e, sizeof e);
    rd_kafka_conf_set(c, "log_level", "3", e, sizeof e);
    if (group)
        rd_kafka_conf_set(c, "group.id", group, e, sizeof e);
    if (type == RD_KAFKA_PRODUCER) {
        rd_kafka_conf_set(c, "message.max.bytes", "10000000", e, sizeof e);
        rd_kafka_conf_set(c, "linger.ms", "0", e, sizeof e);
    }
    rd_kafka_t *rk = rd_kafka_new(type, c, e, sizeof e);
    if (!rk)
        tl_die("rd_kafka_new: %s", e);
    return rk;
}

const char *kt_topic(const char *base, int partitions)
{
    static char bufs[8][200];
    static int k, seq;
    char *t = bufs[k++ % 8];
    snprintf(t, 200, "kt-%s-%s-%d-%d-%d", test_name, base, (int)getpid(), rand() % 100000,
             seq++);
    for (char *p = t; *p; p++)
        if (*p == '_')
            *p = '-';
    if (partitions <= 0)
        return t;
    rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, NULL);
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(t, partitions, 1, NULL, 0);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    if (!ev)
        tl_die("creating topic %s: no answer", t);
    size_t n;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    if (rd_kafka_event_error(ev) || n != 1 || rd_kafka_topic_result_error(res[0]))
        tl_die("creating topic %s: %s", t,
            n == 1 ? rd_kafka_topic_result_error_string(res[0]) : rd_kafka_event_error_string(ev));
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
    /* Let the metadata reach every client before it is used. */
    tl_sleep_ms(300);
    return t;
}

static sluice_status open_stage(kt_inst *i, int source, const char *opts)
{
    char yaml[8192], file[512];
    static int n;
    memset(i, 0, sizeof *i);
    /* Tests of unreachable or mock brokers point the stage elsewhere. */
    const char *bootstrap = getenv("KT_BOOTSTRAP_OVERRIDE") ? getenv("KT_BOOTSTRAP_OVERRIDE")
                                                            : brokers;
    if (source)
        snprintf(yaml, sizeof yaml,
                 "name: %s\nsource: {plugin: kafka, bootstrap: \"%s\", %s}\n"
                 "sink: {plugin: file, discard: true}\n", test_name, bootstrap, opts);
    else
        snprintf(yaml, sizeof yaml,
                 "name: %s\nsource: {plugin: generator}\n"
                 "sink: {plugin: kafka, bootstrap: \"%s\", %s}\n", test_name, bootstrap, opts);
    snprintf(file, sizeof file, "%s/p%d.yaml", dir, n++);
    sl_pipeline_conf *c = tl_conf_load_text(reg, file, yaml, i->err, sizeof i->err);
    if (!c) {
        i->status = SLUICE_ERR;
        return SLUICE_ERR;
    }
    if (n_confs < sizeof confs / sizeof confs[0])
        confs[n_confs++] = c;
    i->st = source ? &c->source : &c->sink;
    /* A pipeline name per instance: metrics are per pipeline and stage, and
     * a test may run two sources side by side. */
    char pname[96];
    snprintf(pname, sizeof pname, "%s-%d", test_name, n);
    i->status = tl_init(i->st->entry->desc, source ? TL_SOURCE : TL_SINK, i->st->cfg, pname,
                        source ? "source" : "sink", &i->ctx, &i->inst, i->err);
    return i->status;
}

sluice_status kt_source(kt_inst *i, const char *fmt, ...)
{
    char opts[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(opts, sizeof opts, fmt, ap);
    va_end(ap);
    return open_stage(i, 1, opts);
}

sluice_status kt_sink(kt_inst *i, const char *fmt, ...)
{
    char opts[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(opts, sizeof opts, fmt, ap);
    va_end(ap);
    return open_stage(i, 0, opts);
}

void kt_close(kt_inst *i)
{
    if (!i->ctx)
        return;
    tl_destroy(i->st->entry->desc, tl_stage_kind(i->st), i->ctx, i->inst);
    i->ctx = NULL;
}

sluice_status kt_poll(kt_inst *src, sluice_batch *b, int timeout_ms)
{
    src->err[0] = '\0';
    return src->st->entry->desc->source->poll(src->inst, b, timeout_ms, src->err);
}

size_t kt_poll_until(kt_inst *src, sluice_batch *b, size_t want, int timeout_ms)
{
    int64_t end = kt_now_ms() + timeout_ms;
    while (b->n < want && kt_now_ms() < end && b->n < b->cap) {
        sluice_status st = kt_poll(src, b, 100);
        if (st != SLUICE_OK) {
            fprintf(stderr, "poll: status %d: %s\n", st, src->err);
            break;
        }
    }
    return b->n;
}

sluice_status kt_ack(kt_inst *src, sluice_batch *b)
{
    src->err[0] = '\0';
    return src->st->entry->desc->source->ack(src->inst, b, src->err);
}

sluice_status kt_write(kt_inst *snk, sluice_batch *b)
{
    snk->err[0] = '\0';
    return snk->st->entry->desc->sink->write(snk->inst, b, snk->err);
}

double kt_metric(kt_inst *i, sluice_metric_kind kind, const char *name, const char *label)
{
    return tl_metric(i->ctx, kind, name, label);
}

int kt_ready(kt_inst *i) { return tl_ready(i->ctx); }

void kt_produce(const char *topic, int partition, const char *key, const void *val, size_t len)
{
    if (!producer)
        producer = client(RD_KAFKA_PRODUCER, NULL);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        producer, RD_KAFKA_V_TOPIC(topic),
        RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE((void *)val, len),
        RD_KAFKA_V_KEY(key, key ? strlen(key) : 0), RD_KAFKA_V_END);
    if (e)
        tl_die("produce to %s: %s", topic, rd_kafka_err2str(e));
    if (rd_kafka_flush(producer, 30000))
        tl_die("produce to %s: not delivered in 30 s", topic);
}

static char *dup_bytes(const void *p, size_t n)
{
    if (!p)
        return NULL;
    char *c = malloc(n + 1);
    memcpy(c, p, n);
    c[n] = '\0';
    return c;
}

void kt_msgs_free(kt_msg *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(m[i].key);
        free(m[i].val);
        free(m[i].ts_header);
    }
}

size_t kt_read(const char *topic, size_t want, int timeout_ms, kt_msg *out, size_t cap)
{
    rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, "kt-reader");
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    int64_t end = kt_now_ms() + timeout_ms;
    while (rd_kafka_metadata(rk, 0, rkt, &md, 5000) || md->topic_cnt != 1 ||
           md->topics[0].err || md->topics[0].partition_cnt == 0) {
        if (md)
            rd_kafka_metadata_destroy(md);
        md = NULL;
        if (kt_now_ms() > end)
            tl_die("no metadata for topic %s", topic);
        tl_sleep_ms(200);
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (int p = 0; p < md->topics[0].partition_cnt; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    size_t n = 0;
    while (n < want && n < cap && kt_now_ms() < end) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (!m->err) {
            kt_msg *o = &out[n++];
            o->key = dup_bytes(m->key, m->key_len);
            o->key_len = m->key_len;
            o->val = dup_bytes(m->payload, m->len);
            o->len = m->len;
            o->partition = m->partition;
            o->offset = m->offset;
            rd_kafka_headers_t *h;
            o->n_headers = rd_kafka_message_headers(m, &h) ? 0 : rd_kafka_header_cnt(h);
            o->ts_ms = rd_kafka_message_timestamp(m, &o->ts_type);
            const void *hv;
            size_t hn;
            o->ts_header = o->n_headers && !rd_kafka_header_get_last(h, "sluice.timestamp", &hv,
                                                                      &hn)
                               ? dup_bytes(hv, hn)
                               : NULL;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return n;
}

int64_t kt_committed(const char *group, const char *topic, int partition)
{
    rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, group);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition);
    rd_kafka_resp_err_t e = rd_kafka_committed(rk, l, 10000);
    int64_t off = e ? -2 : l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return off < 0 ? -1 : off;
}

const char *kt_header(const sluice_record *r, const char *key)
{
    static char buf[4096];
    for (uint32_t i = 0; i < r->n_headers; i++) {
        if (strcmp(r->headers[i].key, key) == 0) {
            size_t n = r->headers[i].value.len < sizeof buf - 1 ? r->headers[i].value.len
                                                                 : sizeof buf - 1;
            memcpy(buf, r->headers[i].value.ptr, n);
            buf[n] = '\0';
            return buf;
        }
    }
    return NULL;
}
