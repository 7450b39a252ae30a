/* The source's view of its partitions: which it owns now, and the offset it
 * last stored for each.  acks (sink thread) and rebalances (source thread)
 * meet here, under one mutex.
 *
 * An ack stores, per partition of the batch, the highest offset + 1, but
 * only for partitions still owned and only forward: an ack for a batch
 * polled before a revoke is ignored for the revoked partitions (their new
 * owner starts from the committed offset), and a late ack never moves a
 * partition's stored offset back. */
#ifndef KAFKA_KOFFSETS_H
#define KAFKA_KOFFSETS_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <sluice/sluice.h>

typedef struct kpart {
    const char *topic;       /* interned */
    int32_t partition;
    int owned;
    int64_t stored;          /* last offset stored (next to read), -1: none */
    int64_t pending;         /* during an ack: highest offset + 1 in the batch */
    sluice_metric *lag;      /* sluice_kafka_consumer_lag{partition="topic/N"} */
} kpart;

typedef struct koffsets {
    pthread_mutex_t mu;
    kpart *parts;
    size_t n, cap;
    size_t *touched;         /* indexes of parts an ack saw, cap entries */
    size_t last;             /* last part found: records come in runs */
    char **topics;           /* interned topic names */
    size_t n_topics, cap_topics;
} koffsets;

int ko_init(koffsets *o);
void ko_free(koffsets *o);

/* A stable copy of a topic name (source thread only).  NULL on OOM. */
const char *ko_intern(koffsets *o, const char *topic);

/* Marks the partitions of `l` owned (stored offsets reset) or not owned.
 * `lag_metric` registers a partition's lag gauge when it is first seen.
 * Return -1 on OOM. */
int ko_assign(koffsets *o, const rd_kafka_topic_partition_list_t *l,
              sluice_metric *(*lag_metric)(void *arg, const char *topic, int32_t partition),
              void *arg);
/* Revoked partitions' lag gauges go to 0: their new owner reports them. */
void ko_revoke(koffsets *o, const sluice_api *api, const rd_kafka_topic_partition_list_t *l);
void ko_revoke_all(koffsets *o, const sluice_api *api);
int ko_owned(koffsets *o, const char *topic, int32_t partition);

/* Stores the offsets an acknowledged batch covers.  Returns the number of
 * partitions whose stored offset moved (then a commit is worth it), or -1
 * with err when librdkafka refused the store. */
int ko_ack(koffsets *o, rd_kafka_t *rk, const sluice_api *api, const sluice_batch *b,
           char *err, size_t errlen);

/* Sets the lag gauge of an owned partition. */
void ko_set_lag(koffsets *o, const sluice_api *api, const char *topic, int32_t partition,
                double lag);

#endif
