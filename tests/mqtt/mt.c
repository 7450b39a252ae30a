/* See mt.h. */
#include "mt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "batch_api.h"
#include "tl.h"

#include <sluice/sluice_time.h>

/* ---- environment ------------------------------------------------------- */

static mt_broker *brokers[16];
static size_t n_brokers;

static void stop_all_brokers(void)
{
    while (n_brokers)
        mt_broker_stop(brokers[n_brokers - 1]);
}

void mt_setup(mt_env *e, const char *test_name)
{
    memset(e, 0, sizeof *e);
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stderr, NULL, _IOLBF, 0);
    e->api = sl_api();
    e->port = tl_server_port("SLUICE_TEST_MQTT_PORT", "Mosquitto");
    tl_scratch_dir(e->dir, sizeof e->dir, test_name);
    static const char *const names[] = {"mqtt", NULL};
    e->reg = tl_registry(names);
    e->plugin = tl_plugin(e->reg, "mqtt");
    if (!e->plugin->source || !e->plugin->sink)
        mt_die("plugin mqtt lacks a source or a sink");
    atexit(stop_all_brokers);
}

void mt_teardown(mt_env *e)
{
    stop_all_brokers();
    sl_registry_free(e->reg);
    tl_rm_rf(e->dir);
    memset(e, 0, sizeof *e);
}

const char *mt_uniq(const char *prefix)
{
    static char buf[8][128];
    static int slot, seq;
    char *b = buf[slot++ % 8];
    snprintf(b, 128, "%s-%d-%d", prefix, (int)getpid(), seq++);
    return b;
}

/* ---- instances --------------------------------------------------------- */

/* Writes `opts` indented under a stage of a pipeline file. */
static void put_indented(FILE *f, const char *opts)
{
    const char *p = opts;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        fprintf(f, "  %.*s\n", (int)n, p);
        p += n + (nl ? 1 : 0);
    }
}

static sluice_status open_inst(mt_env *e, mt_inst *s, const char *pipeline, int source,
                               const char *fmt, va_list ap)
{
    memset(s, 0, sizeof *s);
    s->env = e;
    s->is_source = source;
    char opts[8192];
    vsnprintf(opts, sizeof opts, fmt, ap);
    char path[600];
    snprintf(path, sizeof path, "%s/%s.yaml", e->dir, pipeline);
    char yaml[16384];
    FILE *f = fmemopen(yaml, sizeof yaml, "w");
    if (!f)
        mt_die("fmemopen: %s", strerror(errno));
    fprintf(f, "name: %s\nsource:\n  plugin: mqtt\n", pipeline);
    if (source)
        put_indented(f, opts);
    fprintf(f, "sink:\n  plugin: mqtt\n");
    if (!source)
        put_indented(f, opts);
    else
        fprintf(f, "  topic: unused\n");
    fclose(f);
    s->conf = tl_conf_load_text(e->reg, path, yaml, s->err, sizeof s->err);
    if (!s->conf) {
        /* Refused by the option table (a value outside its declared
         * bounds): reported like an init error, so tests of bad options
         * need not care which of the two caught it. */
        s->st = SLUICE_ERR;
        return s->st;
    }
    s->st = tl_init(e->plugin, source ? TL_SOURCE : TL_SINK,
                    source ? s->conf->source.cfg : s->conf->sink.cfg, pipeline,
                    source ? "source" : "sink", &s->ctx, &s->inst, s->err);
    s->batch = sl_batch_new(1000, 64u << 20);
    return s->st;
}

sluice_status mt_source(mt_env *e, mt_inst *s, const char *pipeline, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sluice_status st = open_inst(e, s, pipeline, 1, fmt, ap);
    va_end(ap);
    return st;
}

sluice_status mt_sink(mt_env *e, mt_inst *s, const char *pipeline, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sluice_status st = open_inst(e, s, pipeline, 0, fmt, ap);
    va_end(ap);
    return st;
}

void mt_close(mt_inst *s)
{
    if (s->env)
        tl_destroy(s->env->plugin, s->is_source ? TL_SOURCE : TL_SINK, s->ctx, s->inst);
    if (s->conf)
        sl_conf_free(s->conf);
    if (s->batch)
        sl_batch_free(s->batch);
    memset(s, 0, sizeof *s);
}

int mt_ready(const mt_inst *s) { return tl_ready(s->ctx); }

double mt_metric(const mt_inst *s, const char *name)
{
    return tl_metric(s->ctx, SLUICE_METRIC_COUNTER, name, NULL);
}

double mt_gauge(const mt_inst *s, const char *name)
{
    return tl_metric(s->ctx, SLUICE_METRIC_GAUGE, name, NULL);
}

/* ---- collected messages ------------------------------------------------- */

static void *xmemdup(const void *p, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        mt_die("out of memory");
    if (n)
        memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

void mt_got_add(mt_got *g, const char *topic, const char *key, size_t key_len,
                const void *value, size_t len, int64_t ts)
{
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 256;
        g->m = realloc(g->m, g->cap * sizeof *g->m);
        if (!g->m)
            mt_die("out of memory");
    }
    mt_msg *m = &g->m[g->n++];
    m->topic = xmemdup(topic ? topic : "", topic ? strlen(topic) : 0);
    m->key = key ? xmemdup(key, key_len) : NULL;
    m->key_len = key_len;
    m->value = xmemdup(value, len);
    m->len = len;
    m->ts = ts;
}

void mt_got_free(mt_got *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->m[i].topic);
        free(g->m[i].key);
        free(g->m[i].value);
    }
    free(g->m);
    memset(g, 0, sizeof *g);
}

long mt_got_find(const mt_got *g, const char *value)
{
    size_t l = strlen(value);
    for (size_t i = 0; i < g->n; i++)
        if (g->m[i].len == l && !memcmp(g->m[i].value, value, l))
            return (long)i;
    return -1;
}

static size_t take(mt_inst *s, mt_got *g, int timeout_ms)
{
    sl_batch_reset(s->batch);
    s->err[0] = '\0';
    sluice_status st = s->env->plugin->source->poll(s->inst, s->batch, timeout_ms, s->err);
    if (st != SLUICE_OK)
        mt_die("poll returned %d: %s", st, s->err);
    size_t n = sl_batch_count(s->batch);
    for (size_t i = 0; i < n; i++) {
        const sluice_record *r = sl_batch_at(s->batch, i);
        mt_got_add(g, r->origin.topic, r->key.ptr, r->key.len, r->value.ptr, r->value.len,
                   r->timestamp);
    }
    return n;
}

size_t mt_collect(mt_inst *s, mt_got *g, size_t want, int timeout_ms)
{
    size_t got = 0;
    int64_t end = mt_now_ms() + timeout_ms;
    while (got < want && mt_now_ms() < end)
        got += take(s, g, 100);
    return got;
}

size_t mt_stop_drain(mt_inst *s, mt_got *g)
{
    s->env->plugin->source->stop(s->inst);
    s->stopped = 1;
    size_t got = 0, n;
    while ((n = take(s, g, 0)) > 0)
        got += n;
    return got;
}

sluice_status mt_write(mt_inst *s, sluice_batch *b)
{
    s->err[0] = '\0';
    return s->env->plugin->sink->write(s->inst, b, s->err);
}

/* ---- publisher and subscriber ----------------------------------------- */

struct mt_client {
    struct mosquitto *m;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long sent, acked;
    int subscribed;
    mt_got got;
};

static void c_publish(struct mosquitto *m, void *arg, int mid)
{
    (void)m;
    (void)mid;
    mt_client *c = arg;
    pthread_mutex_lock(&c->mu);
    c->acked++;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void c_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
    (void)m;
    mt_client *c = arg;
    pthread_mutex_lock(&c->mu);
    mt_got_add(&c->got, msg->topic, NULL, 0, msg->payload, (size_t)msg->payloadlen, 0);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void c_subscribe(struct mosquitto *m, void *arg, int mid, int n, const int *q)
{
    (void)m;
    (void)mid;
    (void)n;
    (void)q;
    mt_client *c = arg;
    pthread_mutex_lock(&c->mu);
    c->subscribed = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static mt_client *client_open(int port, int protocol)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, (void (*)(void))mosquitto_lib_init);
    mt_client *c = calloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    sluice_cond_init_monotonic(&c->cv);
    c->m = mosquitto_new(NULL, true, c);
    if (!c->m)
        mt_die("mosquitto_new failed");
    mosquitto_int_option(c->m, MOSQ_OPT_PROTOCOL_VERSION,
                         protocol == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
    mosquitto_max_inflight_messages_set(c->m, 1000);
    mosquitto_publish_callback_set(c->m, c_publish);
    mosquitto_message_callback_set(c->m, c_message);
    mosquitto_subscribe_callback_set(c->m, c_subscribe);
    int rc = mosquitto_connect(c->m, "127.0.0.1", port, 30);
    if (rc)
        mt_die("test client cannot connect to 127.0.0.1:%d: %s", port, mosquitto_strerror(rc));
    mosquitto_loop_start(c->m);
    return c;
}

mt_client *mt_pub_open(int port, int protocol) { return client_open(port, protocol); }

void mt_pub(mt_client *c, const char *topic, const void *payload, size_t len, int qos,
            int retain)
{
    pthread_mutex_lock(&c->mu);
    c->sent++;
    pthread_mutex_unlock(&c->mu);
    int rc;
    /* libmosquitto refuses while its queue is at the limit: wait a little. */
    while ((rc = mosquitto_publish(c->m, NULL, topic, (int)len, payload, qos, retain ? true : false)) ==
           MOSQ_ERR_NOMEM)
        mt_sleep_ms(1);
    if (rc)
        mt_die("test publish to %s failed: %s", topic, mosquitto_strerror(rc));
}

void mt_pubf(mt_client *c, const char *topic, int qos, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    mt_pub(c, topic, buf, (size_t)n, qos, 0);
}

void mt_pub_wait(mt_client *c)
{
    struct timespec dl = sluice_deadline_ms(60000);
    pthread_mutex_lock(&c->mu);
    while (c->acked < c->sent)
        if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) == ETIMEDOUT)
            mt_die("test publisher: only %ld of %ld publishes acknowledged in 60 s", c->acked,
                   c->sent);
    pthread_mutex_unlock(&c->mu);
}

mt_client *mt_sub_open(int port, const char *filter, int qos)
{
    mt_client *c = client_open(port, 4);
    int rc = mosquitto_subscribe(c->m, NULL, filter, qos);
    if (rc)
        mt_die("test subscribe to %s failed: %s", filter, mosquitto_strerror(rc));
    struct timespec dl = sluice_deadline_ms(10000);
    pthread_mutex_lock(&c->mu);
    while (!c->subscribed)
        if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) == ETIMEDOUT)
            mt_die("test subscriber: no SUBACK for %s", filter);
    pthread_mutex_unlock(&c->mu);
    return c;
}

size_t mt_sub_wait(mt_client *c, size_t n, int timeout_ms)
{
    struct timespec dl = sluice_deadline_ms(timeout_ms);
    pthread_mutex_lock(&c->mu);
    while (c->got.n < n)
        if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) == ETIMEDOUT)
            break;
    size_t got = c->got.n;
    pthread_mutex_unlock(&c->mu);
    return got;
}

const mt_got *mt_sub_got(mt_client *c) { return &c->got; }

void mt_client_close(mt_client *c)
{
    if (!c)
        return;
    mosquitto_disconnect(c->m);
    mosquitto_loop_stop(c->m, false);
    mosquitto_destroy(c->m);
    mt_got_free(&c->got);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* ---- private brokers --------------------------------------------------- */

/* Running private brokers, stopped at exit if a test dies first.  The
 * structs live in the tests' frames, so a broker leaves the list when it
 * stops. */
static void track_broker(mt_broker *b, int on)
{
    for (size_t i = 0; i < n_brokers; i++)
        if (brokers[i] == b) {
            if (!on)
                brokers[i] = brokers[--n_brokers];
            return;
        }
    if (on && n_brokers < sizeof brokers / sizeof *brokers)
        brokers[n_brokers++] = b;
}

static void broker_launch(mt_broker *b)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "mosquitto -c '%s' -d 2>'%s/start.err'", b->conf, b->dir);
    if (mt_sh("%s", cmd) != 0) {
        mt_sh("cat '%s/start.err' '%s/mosquitto.log' >&2", b->dir, b->dir);
        mt_die("mosquitto failed to start (%s)", b->conf);
    }
    int64_t end = mt_now_ms() + 10000;
    for (;;) {
        char pf[600];
        snprintf(pf, sizeof pf, "%s/mosquitto.pid", b->dir);
        FILE *f = fopen(pf, "r");
        int pid = 0;
        if (f) {
            if (fscanf(f, "%d", &pid) != 1)
                pid = 0;
            fclose(f);
        }
        if (pid > 0 && tl_port_open(b->port)) {
            b->pid = pid;
            track_broker(b, 1);
            return;
        }
        if (mt_now_ms() > end) {
            mt_sh("cat '%s/mosquitto.log' >&2", b->dir);
            mt_die("private mosquitto did not answer on 127.0.0.1:%d within 10 s", b->port);
        }
        mt_sleep_ms(50);
    }
}

void mt_broker_start(mt_env *e, mt_broker *b, const char *name, int port,
                     const char *listener_conf, const char *extra_conf)
{
    memset(b, 0, sizeof *b);
    b->port = port > 0 ? port : mt_free_port();
    snprintf(b->dir, sizeof b->dir, "%s/%s", e->dir, name);
    if (mkdir(b->dir, 0700) && errno != EEXIST)
        mt_die("mkdir %s: %s", b->dir, strerror(errno));
    snprintf(b->conf, sizeof b->conf, "%s/mosquitto.conf", b->dir);
    FILE *f = fopen(b->conf, "w");
    if (!f)
        mt_die("%s: %s", b->conf, strerror(errno));
    /* As tests/infra/mosquitto.sh configures the suite's broker, plus the
     * test's own listener settings. */
    if (getuid() == 0)
        fprintf(f, "user root\n");
    fprintf(f, "pid_file %s/mosquitto.pid\n", b->dir);
    fprintf(f, "persistence true\npersistence_location %s/\n", b->dir);
    fprintf(f, "autosave_interval 30\nmax_queued_messages 100000\nmax_inflight_messages 1000\n");
    fprintf(f, "log_dest file %s/mosquitto.log\nlog_type all\nconnection_messages true\n",
            b->dir);
    fprintf(f, "per_listener_settings true\n");
    fprintf(f, "listener %d 127.0.0.1\n", b->port);
    fprintf(f, "%s\n", listener_conf ? listener_conf : "allow_anonymous true");
    if (extra_conf)
        fprintf(f, "%s\n", extra_conf);
    fclose(f);
    broker_launch(b);
}

void mt_broker_stop(mt_broker *b)
{
    track_broker(b, 0);
    if (b->pid <= 0)
        return;
    kill(b->pid, SIGTERM);
    int64_t end = mt_now_ms() + 20000;
    while (kill(b->pid, 0) == 0) {
        if (mt_now_ms() > end) {
            kill(b->pid, SIGKILL);
            break;
        }
        mt_sleep_ms(20);
    }
    /* The port must be free again before a restart binds it. */
    while (tl_port_open(b->port) && mt_now_ms() < end)
        mt_sleep_ms(20);
    b->pid = 0;
}

void mt_broker_restart(mt_broker *b)
{
    mt_broker_stop(b);
    broker_launch(b);
}
