/* Shared helpers for the MQTT plugin tests: the plugin loaded through the
 * host's real loader, instances configured through the real pipeline-file
 * loader, a runner-like poll loop, a libmosquitto publisher and subscriber
 * to drive and observe the broker, private brokers with their own
 * configuration (passwords, TLS), and captured log output.
 *
 * The tests talk to a real Mosquitto: the suite's on 127.0.0.1:
 * $SLUICE_TEST_MQTT_PORT (they fail, never skip, when it is missing), and
 * private ones they start themselves when they need to restart a broker or
 * configure it differently. */
#ifndef MT_H
#define MT_H

#include <sluice/sluice.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "batch.h"
#include "config/config.h"
#include "ctx.h"
#include "metrics.h"
#include "plugin_registry.h"
#include "tl.h"

/* What is not about MQTT comes from tests/lib (tl.h). */
#define mt_die tl_die
#define mt_sh tl_sh
#define mt_now_ms tl_now_ms
#define mt_sleep_ms tl_sleep_ms
#define mt_free_port tl_free_port
#define mt_capture_begin tl_capture_begin
/* Returns what was logged meanwhile (static buffer), and echoes it. */
#define mt_capture_end tl_capture_end

typedef struct mt_env {
    const sluice_api *api;
    sl_registry *reg;
    const sluice_plugin *plugin;
    int port;                /* the suite's broker */
    char dir[256];           /* scratch directory of this test */
} mt_env;

/* Loads mqtt.so and checks the suite's broker answers.  Exits (fails) when
 * either is missing. */
void mt_setup(mt_env *e, const char *test_name);
void mt_teardown(mt_env *e);

/* A unique name per call (topics, client ids), so that tests sharing the
 * suite's broker never see each other's messages. */
const char *mt_uniq(const char *prefix);

/* ---- plugin instances -------------------------------------------------- */

typedef struct mt_inst {
    mt_env *env;
    sl_pipeline_conf *conf;
    sluice_ctx *ctx;
    void *inst;
    int is_source;
    int stopped;
    sluice_status st;        /* init's status */
    char err[SLUICE_ERRLEN]; /* init's (or the last call's) error */
    sluice_batch *batch;
} mt_inst;

/* Inits a source (or sink) whose options are `fmt` (printf-style): YAML
 * lines of the stage's mapping, without indentation, e.g.
 * "url: mqtt://127.0.0.1:%d\ntopics: [a/#]".  The options go through the
 * real pipeline-file loader; a file that does not load is fatal. */
sluice_status mt_source(mt_env *e, mt_inst *s, const char *pipeline, const char *fmt, ...)
    SLUICE_PRINTF(4, 5);
sluice_status mt_sink(mt_env *e, mt_inst *s, const char *pipeline, const char *fmt, ...)
    SLUICE_PRINTF(4, 5);
/* Destroys the instance (whatever its state) and frees everything. */
void mt_close(mt_inst *s);

int mt_ready(const mt_inst *s);
double mt_metric(const mt_inst *s, const char *name);   /* a counter */
double mt_gauge(const mt_inst *s, const char *name);

/* Messages as the tests keep them (copied out of the batches). */
typedef struct mt_msg {
    char *topic;
    char *key;               /* NULL: no key */
    size_t key_len;
    char *value;
    size_t len;
    int64_t ts;
} mt_msg;

typedef struct mt_got {
    mt_msg *m;
    size_t n, cap;
} mt_got;

void mt_got_add(mt_got *g, const char *topic, const char *key, size_t key_len,
                const void *value, size_t len, int64_t ts);
void mt_got_free(mt_got *g);
/* Index of the message with this value, or -1. */
long mt_got_find(const mt_got *g, const char *value);

/* Polls the source as the runner does (batches of up to 1000, 100 ms
 * timeouts) until `want` messages have come or timeout_ms passed; returns
 * how many came in this call.  Anything but SLUICE_OK from poll is fatal. */
size_t mt_collect(mt_inst *s, mt_got *g, size_t want, int timeout_ms);
/* stop() and the runner's final drain (poll with timeout 0 until a poll
 * brings nothing); returns how many the drain brought. */
size_t mt_stop_drain(mt_inst *s, mt_got *g);

/* Writes a batch to the sink; returns write's status, err in s->err. */
sluice_status mt_write(mt_inst *s, sluice_batch *b);

/* ---- a publisher and a subscriber -------------------------------------- */

typedef struct mt_client mt_client;

/* Connects (blocking) to 127.0.0.1:port as a plain client. */
mt_client *mt_pub_open(int port, int protocol);
void mt_pub(mt_client *c, const char *topic, const void *payload, size_t len, int qos,
            int retain);
void mt_pubf(mt_client *c, const char *topic, int qos, const char *fmt, ...) SLUICE_PRINTF(4, 5);
/* Waits until the broker acknowledged everything published (fatal after
 * 60 s). */
void mt_pub_wait(mt_client *c);

/* Subscribes to `filter` and waits for SUBACK. */
mt_client *mt_sub_open(int port, const char *filter, int qos);
/* Waits until n messages arrived or timeout_ms passed; returns the count. */
size_t mt_sub_wait(mt_client *c, size_t n, int timeout_ms);
const mt_got *mt_sub_got(mt_client *c);

void mt_client_close(mt_client *c);

/* ---- private brokers --------------------------------------------------- */

typedef struct mt_broker {
    char dir[512];
    char conf[600];
    int port;
    pid_t pid;
} mt_broker;

/* Starts Mosquitto with its files in <env dir>/<name>, listening on `port`
 * (0: a free one) with `listener_conf` lines after the listener line (NULL
 * for a plain anonymous one) and `extra_conf` lines after that (more
 * listeners, say).  Waits until it accepts connections. */
void mt_broker_start(mt_env *e, mt_broker *b, const char *name, int port,
                     const char *listener_conf, const char *extra_conf);
void mt_broker_stop(mt_broker *b);
/* Stop (persistence saved) and start again on the same port. */
void mt_broker_restart(mt_broker *b);

#endif
