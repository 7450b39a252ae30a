/* The bare librdkafka consumer of the bench: joins a new group on TOPIC,
 * reads from the beginning until COUNT messages arrived, committing the
 * way a plain consumer does (auto commit), touching every message's value.
 * Prints two records/s figures: from client creation to the last message
 * (group join and the first fetch included), and from the first message to
 * the last (the steady rate the converter bench compares).
 *
 *   kbench_consume BROKERS TOPIC GROUP COUNT [PROPERTY=VALUE...] */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: kbench_consume BROKERS TOPIC GROUP COUNT [PROPERTY=VALUE...]\n");
        return 2;
    }
    long count = atol(argv[4]);
    double t0 = now();
    char e[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (rd_kafka_conf_set(c, "bootstrap.servers", argv[1], e, sizeof e) ||
        rd_kafka_conf_set(c, "group.id", argv[3], e, sizeof e) ||
        rd_kafka_conf_set(c, "auto.offset.reset", "earliest", e, sizeof e)) {
        fprintf(stderr, "%s\n", e);
        return 2;
    }
    for (int i = 5; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "%s: expected PROPERTY=VALUE\n", argv[i]);
            return 2;
        }
        *eq = '\0';
        if (rd_kafka_conf_set(c, argv[i], eq + 1, e, sizeof e)) {
            fprintf(stderr, "%s\n", e);
            return 2;
        }
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof e);
    if (!rk) {
        fprintf(stderr, "%s\n", e);
        return 2;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, argv[2], RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    long got = 0;
    unsigned long sum = 0;
    double t_first = 0;
    while (got < count) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 1000);
        if (!m)
            continue;
        if (!m->err) {
            if (!got)
                t_first = now();
            got++;
            sum += m->len ? ((unsigned char *)m->payload)[m->len - 1] : 0;
        }
        rd_kafka_message_destroy(m);
    }
    double t1 = now();
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    printf("%.0f %.0f\n", count / (t1 - t0), count > 1 ? (count - 1) / (t1 - t_first) : 0.0);
    return sum == 0 ? 0 : 0;
}
