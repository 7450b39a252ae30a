/* Publishes COUNT messages of SIZE bytes at QoS 1 as fast as the broker
 * acknowledges them, MAX_INFLIGHT at a time; prints the rate.
 *   mqtt_bench_pub PORT TOPIC COUNT SIZE */
#include "bench_common.h"

#include <mosquitto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long acked;

static void on_publish(struct mosquitto *m, void *arg, int mid)
{
    (void)m, (void)arg, (void)mid;
    pthread_mutex_lock(&mu);
    acked++;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
}

int main(int argc, char **argv)
{
    if (argc != 5)
        bench_die("usage: mqtt_bench_pub PORT TOPIC COUNT SIZE");
    int port = (int)bench_arg(argv[1], "port");
    const char *topic = argv[2];
    long count = bench_arg(argv[3], "count"), size = bench_arg(argv[4], "size");
    const long window = 1000;
    mosquitto_lib_init();
    struct mosquitto *m = mosquitto_new(NULL, true, NULL);
    mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, (int)window);
    mosquitto_publish_callback_set(m, on_publish);
    if (mosquitto_connect(m, "127.0.0.1", port, 60))
        bench_die("cannot connect to 127.0.0.1:%d", port);
    mosquitto_loop_start(m);
    char *payload = malloc((size_t)size + 32);
    memset(payload, 'x', (size_t)size + 32);
    double t0 = bench_now();
    for (long i = 0; i < count; i++) {
        /* Keep at most two windows queued in libmosquitto. */
        pthread_mutex_lock(&mu);
        while (i - acked >= 2 * window)
            pthread_cond_wait(&cv, &mu);
        pthread_mutex_unlock(&mu);
        int n = snprintf(payload, 32, "%ld ", i);
        payload[n] = 'x';
        int rc = mosquitto_publish(m, NULL, topic, (int)size, payload, 1, false);
        if (rc)
            bench_die("publish: %s", mosquitto_strerror(rc));
    }
    pthread_mutex_lock(&mu);
    while (acked < count)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    double dt = bench_now() - t0;
    printf("published %ld messages of %ld bytes in %.3f s: %.0f msg/s\n", count, size, dt,
           (double)count / dt);
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    free(payload);
    return 0;
}
