/* The bare librdkafka producer of the bench: COUNT messages of SIZE bytes
 * to TOPIC, configured like the kafka sink (idempotent, acks=all, lz4,
 * linger 5 ms), produced as fast as the queue takes them, then flushed.
 * With SYNC, it flushes (waits for every delivery report) after each SYNC
 * messages: the durability the kafka sink gives each batch it writes.
 * Prints the records/s from client creation to the last delivery report.
 *
 *   kbench_produce BROKERS TOPIC COUNT SIZE [SYNC] */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long delivered, failed;

static void dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err)
        failed++;
    else
        delivered++;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v)
{
    char e[512];
    if (rd_kafka_conf_set(c, k, v, e, sizeof e) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "%s: %s\n", k, e);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: kbench_produce BROKERS TOPIC COUNT SIZE [SYNC]\n");
        return 2;
    }
    long sync = argc == 6 ? atol(argv[5]) : 0;
    long count = atol(argv[3]);
    size_t size = (size_t)atol(argv[4]);
    char *payload = malloc(size + 32);
    double t0 = now();
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    set(c, "bootstrap.servers", argv[1]);
    set(c, "enable.idempotence", "true");
    set(c, "acks", "all");
    set(c, "compression.type", "lz4");
    set(c, "linger.ms", "5");
    rd_kafka_conf_set_dr_msg_cb(c, dr);
    char e[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof e);
    if (!rk) {
        fprintf(stderr, "%s\n", e);
        return 2;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, argv[2], NULL);
    for (long i = 0; i < count; i++) {
        /* The generator's payload: {"seq":N} padded with spaces. */
        int n = snprintf(payload, size + 32, "{\"seq\":%ld}", i);
        if ((size_t)n < size)
            memset(payload + n, ' ', size - (size_t)n);
        for (;;) {
            rd_kafka_resp_err_t err = rd_kafka_producev(
                rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_VALUE(payload, size), RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 10);
                continue;
            }
            if (err) {
                fprintf(stderr, "produce: %s\n", rd_kafka_err2str(err));
                return 1;
            }
            break;
        }
        if (sync && i % sync == sync - 1)
            rd_kafka_flush(rk, 60000);
        else if ((i & 1023) == 0)
            rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 60000);
    double t1 = now();
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    free(payload);
    if (delivered != count || failed) {
        fprintf(stderr, "delivered %ld of %ld, %ld failed\n", delivered, count, failed);
        return 1;
    }
    printf("%.0f\n", count / (t1 - t0));
    return 0;
}
