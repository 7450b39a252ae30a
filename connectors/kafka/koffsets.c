#include "koffsets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ko_init(koffsets *o)
{
    memset(o, 0, sizeof *o);
    return pthread_mutex_init(&o->mu, NULL) == 0 ? 0 : -1;
}

void ko_free(koffsets *o)
{
    for (size_t i = 0; i < o->n_topics; i++)
        free(o->topics[i]);
    free(o->topics);
    free(o->parts);
    free(o->touched);
    pthread_mutex_destroy(&o->mu);
    memset(o, 0, sizeof *o);
}

const char *ko_intern(koffsets *o, const char *topic)
{
    for (size_t i = o->n_topics; i-- > 0;)
        if (strcmp(o->topics[i], topic) == 0)
            return o->topics[i];
    if (o->n_topics == o->cap_topics) {
        size_t cap = o->cap_topics ? o->cap_topics * 2 : 8;
        char **t = realloc(o->topics, cap * sizeof *t);
        if (!t)
            return NULL;
        o->topics = t;
        o->cap_topics = cap;
    }
    size_t n = strlen(topic) + 1;
    char *c = malloc(n);
    if (!c)
        return NULL;
    memcpy(c, topic, n);
    o->topics[o->n_topics++] = c;
    return c;
}

/* Caller holds the lock. */
static kpart *find(koffsets *o, const char *topic, int32_t partition)
{
    if (o->last < o->n) {
        kpart *k = &o->parts[o->last];
        if (k->partition == partition && (k->topic == topic || strcmp(k->topic, topic) == 0))
            return k;
    }
    for (size_t i = 0; i < o->n; i++) {
        kpart *k = &o->parts[i];
        if (k->partition == partition && (k->topic == topic || strcmp(k->topic, topic) == 0)) {
            o->last = i;
            return k;
        }
    }
    return NULL;
}

int ko_assign(koffsets *o, const rd_kafka_topic_partition_list_t *l,
              sluice_metric *(*lag_metric)(void *arg, const char *topic, int32_t partition),
              void *arg)
{
    int rc = 0;
    pthread_mutex_lock(&o->mu);
    for (int i = 0; i < l->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &l->elems[i];
        kpart *k = find(o, p->topic, p->partition);
        if (!k) {
            const char *t = ko_intern(o, p->topic);
            if (!t) {
                rc = -1;
                break;
            }
            if (o->n == o->cap) {
                size_t cap = o->cap ? o->cap * 2 : 16;
                kpart *np = realloc(o->parts, cap * sizeof *np);
                if (np)
                    o->parts = np;
                size_t *nt = realloc(o->touched, cap * sizeof *nt);
                if (nt)
                    o->touched = nt;
                if (!np || !nt) {
                    rc = -1;
                    break;
                }
                o->cap = cap;
            }
            k = &o->parts[o->n++];
            memset(k, 0, sizeof *k);
            k->topic = t;
            k->partition = p->partition;
            k->lag = lag_metric ? lag_metric(arg, t, p->partition) : NULL;
        }
        k->owned = 1;
        k->stored = -1;
        k->pending = -1;
    }
    pthread_mutex_unlock(&o->mu);
    return rc;
}

static void disown(kpart *k, const sluice_api *api)
{
    k->owned = 0;
    if (k->lag)
        api->metric_set(k->lag, 0);
}

void ko_revoke(koffsets *o, const sluice_api *api, const rd_kafka_topic_partition_list_t *l)
{
    pthread_mutex_lock(&o->mu);
    for (int i = 0; i < l->cnt; i++) {
        kpart *k = find(o, l->elems[i].topic, l->elems[i].partition);
        if (k)
            disown(k, api);
    }
    pthread_mutex_unlock(&o->mu);
}

void ko_revoke_all(koffsets *o, const sluice_api *api)
{
    pthread_mutex_lock(&o->mu);
    for (size_t i = 0; i < o->n; i++)
        disown(&o->parts[i], api);
    pthread_mutex_unlock(&o->mu);
}

int ko_owned(koffsets *o, const char *topic, int32_t partition)
{
    pthread_mutex_lock(&o->mu);
    kpart *k = find(o, topic, partition);
    int owned = k && k->owned;
    pthread_mutex_unlock(&o->mu);
    return owned;
}

int ko_ack(koffsets *o, rd_kafka_t *rk, const sluice_api *api, const sluice_batch *b,
           char *err, size_t errlen)
{
    size_t n = api->batch_count(b), nt = 0;
    int moved = 0;
    pthread_mutex_lock(&o->mu);
    for (size_t i = 0; i < n; i++) {
        const sluice_record *r = api->batch_at(b, i);
        if (!r->origin.topic || r->origin.partition < 0 || r->origin.offset < 0)
            continue;
        kpart *k = find(o, r->origin.topic, r->origin.partition);
        if (!k || !k->owned)
            continue;
        if (k->pending < 0)
            o->touched[nt++] = (size_t)(k - o->parts);
        if (r->origin.offset + 1 > k->pending)
            k->pending = r->origin.offset + 1;
    }
    rd_kafka_topic_partition_list_t *l = NULL;
    for (size_t i = 0; i < nt; i++) {
        kpart *k = &o->parts[o->touched[i]];
        if (k->pending > k->stored) {
            if (!l)
                l = rd_kafka_topic_partition_list_new((int)(nt - i));
            rd_kafka_topic_partition_list_add(l, k->topic, k->partition)->offset = k->pending;
            k->stored = k->pending;
        }
        k->pending = -1;
    }
    int rc = 0;
    if (l) {
        rd_kafka_resp_err_t e = rd_kafka_offsets_store(rk, l);
        for (int i = 0; i < l->cnt; i++) {
            if (!l->elems[i].err) {
                moved++;
            } else if (!rc) {
                snprintf(err, errlen, "storing offset %lld of %s/%d: %s",
                         (long long)l->elems[i].offset, l->elems[i].topic,
                         (int)l->elems[i].partition, rd_kafka_err2str(l->elems[i].err));
                rc = -1;
            }
        }
        if (e && !rc) {
            snprintf(err, errlen, "storing offsets: %s", rd_kafka_err2str(e));
            rc = -1;
        }
        rd_kafka_topic_partition_list_destroy(l);
    }
    pthread_mutex_unlock(&o->mu);
    return rc ? -1 : moved;
}

void ko_set_lag(koffsets *o, const sluice_api *api, const char *topic, int32_t partition,
                double lag)
{
    pthread_mutex_lock(&o->mu);
    kpart *k = find(o, topic, partition);
    if (k && k->owned && k->lag)
        api->metric_set(k->lag, lag);
    pthread_mutex_unlock(&o->mu);
}
