/* The reference consumer: a bare libmosquitto subscriber that counts QoS 1
 * messages and does nothing else with them.
 *   mqtt_bench_sub PORT FILTER COUNT CLIENT_ID prepare|drain|live [threaded]
 * prepare: create a persistent session subscribed to FILTER, then leave;
 * drain:   resume it and take COUNT queued messages;
 * live:    clean session; prints "subscribed" once SUBACK is in, then takes
 *          COUNT messages as they are published.
 * By default libmosquitto's loop runs in the main thread of a one-thread
 * process, the cheapest way there is (glibc skips cancellation handling and
 * lock atomics while a process has one thread).  `threaded` runs it with
 * mosquitto_loop_start(), as an application that does anything else must.
 * Prints the rate between the first and the last message. */
#include "bench_common.h"

#include <mosquitto.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static long want, got;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int done;
static double t_first, t_last;
static int subscribed;

static void on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
    (void)arg, (void)msg;
    if (got++ == 0)
        t_first = bench_now();
    if (got == want) {
        t_last = bench_now();
        mosquitto_disconnect(m);
        pthread_mutex_lock(&mu);
        done = 1;
        pthread_cond_signal(&cv);
        pthread_mutex_unlock(&mu);
    }
}

static void on_subscribe(struct mosquitto *m, void *arg, int mid, int n, const int *q)
{
    (void)m, (void)arg, (void)mid, (void)n, (void)q;
    subscribed = 1;
    printf("subscribed\n");
    fflush(stdout);
}

static void on_connect(struct mosquitto *m, void *arg, int rc)
{
    const char *filter = arg;
    if (rc)
        bench_die("connection refused: %s", mosquitto_connack_string(rc));
    mosquitto_subscribe(m, NULL, filter, 1);
}

int main(int argc, char **argv)
{
    if (argc != 6 && argc != 7)
        bench_die("usage: mqtt_bench_sub PORT FILTER COUNT CLIENT_ID prepare|drain|live "
                  "[threaded]");
    int threaded = argc == 7 && !strcmp(argv[6], "threaded");
    int port = (int)bench_arg(argv[1], "port");
    want = bench_arg(argv[3], "count");
    const char *mode = argv[5];
    int live = !strcmp(mode, "live"), prepare = !strcmp(mode, "prepare");
    mosquitto_lib_init();
    struct mosquitto *m = mosquitto_new(argv[4], live, argv[2]);
    mosquitto_connect_callback_set(m, on_connect);
    mosquitto_message_callback_set(m, on_message);
    mosquitto_subscribe_callback_set(m, on_subscribe);
    if (mosquitto_connect(m, "127.0.0.1", port, 60))
        bench_die("cannot connect to 127.0.0.1:%d", port);
    if (prepare) {
        while (!subscribed)
            mosquitto_loop(m, 100, 1);
        mosquitto_disconnect(m);
        mosquitto_loop(m, 100, 1);
    } else if (threaded) {
        mosquitto_loop_start(m);
        pthread_mutex_lock(&mu);
        while (!done)
            pthread_cond_wait(&cv, &mu);
        pthread_mutex_unlock(&mu);
        mosquitto_loop_stop(m, false);
    } else {
        mosquitto_loop_forever(m, 1000, 1);
    }
    if (!prepare) {
        if (got < want)
            bench_die("only %ld of %ld messages arrived", got, want);
        printf("bare subscriber%s: %ld messages in %.3f s: %.0f msg/s\n",
               threaded ? " (threaded)" : "", got, t_last - t_first,
               (double)(got - 1) / (t_last - t_first));
    }
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    return 0;
}
