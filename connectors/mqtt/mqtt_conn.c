/* See mqtt_conn.h. */
#include "mqtt_conn.h"

#include <sluice/sluice_util.h>
#include <errno.h>
#include <stdarg.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* How long the network thread keeps going after shutdown to get DISCONNECT
 * out; a broker that stopped reading cannot hold a stop up for longer. */
#define QUIT_GRACE_NS (3000LL * 1000000LL)
/* select() timeout of one mosquitto_loop() round: bounds how late a stop or
 * a connect timeout is noticed.  Publishes wake it at once. */
#define LOOP_TIMEOUT_MS 100
#define PENDING (-1)
#define READ_BURST 64

struct mq_conn {
    mq_conn_cfg cfg;
    mq_conn_hooks hooks;
    const sluice_api *api;
    sluice_ctx *ctx;
    struct mosquitto *mosq;

    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;           /* CLOCK_MONOTONIC */
    _Atomic int quit;            /* set under mu, read lock-free by the loop */
    int disconnect_sent;         /* network thread only */
    int linger_fd, linger_shut;  /* see linger_step */
    int64_t quit_ns;
    int first_status;            /* PENDING until the first attempt's outcome */
    char first_err[SLUICE_ERRLEN];

    /* Network thread only. */
    int ever;                    /* a connection was established once */
    int connack;                 /* the current socket got CONNACK 0 */
    int need_reconnect;          /* current socket is given up */
    int failures;                /* consecutive failed attempts */
    int64_t attempt_ns, outage_ns, up_ns;
    int quick_losses;            /* losses right after connecting, in a row */
    int refused;                 /* CONNACK refusal on the current attempt */
    int refused_permanent;
    int disc_errno;              /* errno when libmosquitto reported a disconnect */
    int disc_rc;

    _Atomic int up;
    _Atomic unsigned long gen;

    pthread_mutex_t err_mu;      /* last_err and lib_err; leaf lock */
    char last_err[SLUICE_ERRLEN];
    char lib_err[300];

    sluice_metric *m_connected, *m_reconnects;
};


static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
/* Never cleaned up: other instances may be using the library, and the
 * process exit frees it. */
static void lib_init(void) { mosquitto_lib_init(); }

/* ---- options ---------------------------------------------------------- */

static int readable(const char *opt, const char *path, char *err)
{
    if (access(path, R_OK) == 0)
        return 0;
    mq_errf(err, "%s: cannot read \"%s\": %s", opt, path, strerror(errno));
    return -1;
}

sluice_status mq_conn_cfg_read(mq_conn_cfg *cc, const sluice_api *api, const sluice_config *cfg,
                               const char *default_id, char *err)
{
    memset(cc, 0, sizeof *cc);
    const char *url = api->cfg_string(cfg, "url");
    if (mq_url_parse(url, &cc->url, err, SLUICE_ERRLEN))
        return SLUICE_ERR;
    snprintf(cc->url_text, sizeof cc->url_text, "%s://%s%s%s:%d", cc->url.tls ? "mqtts" : "mqtt",
             strchr(cc->url.host, ':') ? "[" : "", cc->url.host,
             strchr(cc->url.host, ':') ? "]" : "", cc->url.port);

    const char *id = api->cfg_string(cfg, "client_id");
    if (!id)
        id = default_id;
    if (!*id || strlen(id) >= sizeof cc->client_id) {
        mq_errf(err, "client_id: must be 1 to %zu bytes long",
                 sizeof cc->client_id - 1);
        return SLUICE_ERR;
    }
    snprintf(cc->client_id, sizeof cc->client_id, "%s", id);

    cc->username = api->cfg_string(cfg, "username");
    cc->password = api->cfg_string(cfg, "password");
    if (cc->password && !cc->username) {
        mq_errf(err, "password: set without username (MQTT sends a password only "
                 "with a user name)");
        return SLUICE_ERR;
    }

    const char *proto = api->cfg_string(cfg, "protocol");
    cc->protocol = proto && !strcmp(proto, "5") ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311;

    int64_t ka = api->opt_int(cfg, "keepalive");
    if (ka != 0 && (ka < 5000 || ka > 65535000LL)) {
        mq_errf(err, "keepalive: %lld ms is out of range; expected 0 (off) or 5s "
                 "to 65535s", (long long)ka);
        return SLUICE_ERR;
    }
    cc->keepalive_s = (int)((ka + 999) / 1000);

    cc->connect_timeout_ms = api->opt_int(cfg, "connect_timeout");
    cc->reconnect_min_ms = api->opt_int(cfg, "reconnect_min");
    cc->reconnect_max_ms = api->opt_int(cfg, "reconnect_max");
    if (cc->reconnect_max_ms < cc->reconnect_min_ms) {
        mq_errf(err, "reconnect_min/reconnect_max: need 0 < reconnect_min <= "
                 "reconnect_max (got %lld ms and %lld ms)", (long long)cc->reconnect_min_ms,
                 (long long)cc->reconnect_max_ms);
        return SLUICE_ERR;
    }

    cc->tls_ca = api->cfg_string(cfg, "tls_ca");
    cc->tls_cert = api->cfg_string(cfg, "tls_cert");
    cc->tls_key = api->cfg_string(cfg, "tls_key");
    cc->tls_insecure = api->opt_bool(cfg, "tls_insecure");
    const char *tls_opt = cc->tls_ca ? "tls_ca" : cc->tls_cert ? "tls_cert"
                        : cc->tls_key ? "tls_key" : cc->tls_insecure ? "tls_insecure" : NULL;
    if (tls_opt && !cc->url.tls) {
        mq_errf(err, "%s: set, but the url \"%s\" is not TLS; use mqtts://",
                 tls_opt, url);
        return SLUICE_ERR;
    }
    if (!cc->tls_cert != !cc->tls_key) {
        mq_errf(err, "%s: set without %s (a client certificate needs both)",
                 cc->tls_cert ? "tls_cert" : "tls_key", cc->tls_cert ? "tls_key" : "tls_cert");
        return SLUICE_ERR;
    }
    if ((cc->tls_ca && readable("tls_ca", cc->tls_ca, err)) ||
        (cc->tls_cert && readable("tls_cert", cc->tls_cert, err)) ||
        (cc->tls_key && readable("tls_key", cc->tls_key, err)))
        return SLUICE_ERR;
    cc->clean_session = 1;
    cc->session_expiry_s = -1;
    return SLUICE_OK;
}

/* ---- reasons and errors ------------------------------------------------ */

void mq_errf(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, SLUICE_ERRLEN, fmt, ap);
    va_end(ap);
}

/* Text for a CONNACK refusal under this protocol. */
static const char *mq_conn_reason(const mq_conn *c, int rc)
{
    if (c->cfg.protocol == MQTT_PROTOCOL_V5)
        return mosquitto_reason_string(rc);
    return mosquitto_connack_string(rc);
}

/* A CONNACK refusal that trying again will not cure. */
static int refusal_is_permanent(const mq_conn *c, int rc)
{
    if (c->cfg.protocol == MQTT_PROTOCOL_V5)
        return rc == MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION ||
               rc == MQTT_RC_CLIENTID_NOT_VALID || rc == MQTT_RC_BAD_USERNAME_OR_PASSWORD ||
               rc == MQTT_RC_NOT_AUTHORIZED || rc == MQTT_RC_BANNED ||
               rc == MQTT_RC_BAD_AUTHENTICATION_METHOD;
    return rc == 1 || rc == 2 || rc == 4 || rc == 5;
}

static void set_last_err(mq_conn *c, const char *fmt, ...) SLUICE_PRINTF(2, 3);
static void set_last_err(mq_conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&c->err_mu);
    vsnprintf(c->last_err, sizeof c->last_err, fmt, ap);
    pthread_mutex_unlock(&c->err_mu);
    va_end(ap);
}

void mq_conn_last_error(mq_conn *c, char *buf, size_t len)
{
    pthread_mutex_lock(&c->err_mu);
    snprintf(buf, len, "%s", c->last_err[0] ? c->last_err : "not connected yet");
    pthread_mutex_unlock(&c->err_mu);
}

/* Describes a failed connection or attempt from libmosquitto's return code. */
/* Returns nonzero when it was TLS that failed: OpenSSL's reasons arrive
 * through the log callback, and under TLS 1.3 a refused client certificate
 * only shows as a lost connection after the handshake. */
static int describe(mq_conn *c, int rc, int err_no, char *buf, size_t len)
{
    char lib[sizeof c->lib_err];
    pthread_mutex_lock(&c->err_mu);
    snprintf(lib, sizeof lib, "%s", c->lib_err);
    c->lib_err[0] = '\0';
    pthread_mutex_unlock(&c->err_mu);
    int tls = rc == MOSQ_ERR_TLS || (c->cfg.url.tls && (strstr(lib, "OpenSSL") ||
                                                        strstr(lib, "host name verification")));
    if (tls) {
        snprintf(buf, len, "TLS handshake failed%s%s", lib[0] ? ": " : "", lib);
        return 1;
    }
    if (c->cfg.url.tls && !c->connack &&
        (rc == MOSQ_ERR_PROTOCOL || (rc == MOSQ_ERR_ERRNO && err_no == EPROTO))) {
        /* What a broker that refuses the client certificate after a TLS 1.3
         * handshake looks like when its alert comes in late (libmosquitto
         * turns an SSL read error into EPROTO). */
        snprintf(buf, len, "TLS handshake failed: the broker broke off the connection before "
                 "accepting it (protocol error); does it require a client certificate "
                 "(tls_cert, tls_key)?");
        return 1;
    }
    switch (rc) {
    case MOSQ_ERR_ERRNO:
        snprintf(buf, len, "%s", strerror(err_no ? err_no : EIO));
        break;
    case MOSQ_ERR_EAI:
        snprintf(buf, len, "cannot resolve host \"%s\": %s", c->cfg.url.host,
                 gai_strerror(err_no));
        break;
    case MOSQ_ERR_KEEPALIVE:
        snprintf(buf, len, "no answer from the broker within the keepalive interval");
        break;
    case MOSQ_ERR_PROTOCOL:
        snprintf(buf, len, "protocol error (is it an MQTT broker, and does it speak MQTT %s?)",
                 c->cfg.protocol == MQTT_PROTOCOL_V5 ? "5" : "3.1.1");
        break;
    default:
        if (c->cfg.protocol == MQTT_PROTOCOL_V5 && rc >= 0x80)
            snprintf(buf, len, "the broker closed the connection: %s%s", mosquitto_reason_string(rc),
                     rc == MQTT_RC_SESSION_TAKEN_OVER ? " (another client connected with the same "
                     "client_id)" : "");
        else
            snprintf(buf, len, "%s%s%s", mosquitto_strerror(rc), lib[0] ? ": " : "", lib);
    }
    return 0;
}

/* ---- state changes (network thread) ----------------------------------- */

static void finish_first(mq_conn *c, sluice_status st, const char *msg)
{
    pthread_mutex_lock(&c->mu);
    if (c->first_status == PENDING) {
        c->first_status = st;
        snprintf(c->first_err, sizeof c->first_err, "%s", msg ? msg : "");
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
}

static void mark_established(mq_conn *c)
{
    if (atomic_load(&c->up))
        return;
    atomic_store(&c->up, 1);
    c->up_ns = sluice_mono_ns();
    mosquitto_log_callback_set(c->mosq, NULL);
    c->api->set_ready(c->ctx, 1);
    c->api->metric_set(c->m_connected, 1);
    if (c->ever) {
        c->api->metric_add(c->m_reconnects, 1);
        c->api->log(c->ctx, SLUICE_LOG_INFO, "reconnected to %s after %.1f s",
                    c->cfg.url_text, (double)(sluice_mono_ns() - c->outage_ns) / 1e9);
    } else {
        c->api->log(c->ctx, SLUICE_LOG_INFO, "connected to %s as \"%s\" (MQTT %s)",
                    c->cfg.url_text, c->cfg.client_id,
                    c->cfg.protocol == MQTT_PROTOCOL_V5 ? "5" : "3.1.1");
    }
    c->ever = 1;
    c->failures = 0;
    finish_first(c, SLUICE_OK, NULL);
}

void mq_conn_established(mq_conn *c) { mark_established(c); }

void mq_conn_fail_first(mq_conn *c, const char *reason)
{
    set_last_err(c, "%s", reason);
    finish_first(c, SLUICE_ERR, reason);
}

/* The current socket is given up: lost after CONNACK, or the attempt failed. */
static void conn_down(mq_conn *c, const char *why, int permanent)
{
    set_last_err(c, "%s", why);
    c->need_reconnect = 1;
    c->connack = 0;
    if (atomic_load(&c->up)) {
        atomic_store(&c->up, 0);
        atomic_fetch_add(&c->gen, 1);
        c->api->set_ready(c->ctx, 0);
        c->api->metric_set(c->m_connected, 0);
        c->outage_ns = sluice_mono_ns();
        c->api->log(c->ctx, SLUICE_LOG_WARN, "lost the connection to %s: %s; reconnecting",
                    c->cfg.url_text, why);
        /* MQTT 3.1.1 does not say why a broker closed a connection; one
         * that keeps closing it at once is usually a client id taken over. */
        c->quick_losses = c->outage_ns - c->up_ns < 2000000000LL ? c->quick_losses + 1 : 0;
        if (c->quick_losses == 3 || (c->quick_losses && c->quick_losses % 20 == 0))
            c->api->log(c->ctx, SLUICE_LOG_WARN,
                        "the broker keeps closing the connection right after accepting it: is "
                        "another client connected as \"%s\"? (every process needs its own "
                        "client_id)", c->cfg.client_id);
        if (c->hooks.on_lost)
            c->hooks.on_lost(c->hooks.arg);
        return;
    }
    c->failures++;
    if (!c->ever) {
        /* The first connection's failure is init's to report. */
        char msg[SLUICE_ERRLEN];
        snprintf(msg, sizeof msg, "cannot connect to %s: %s", c->cfg.url_text, why);
        finish_first(c, permanent ? SLUICE_ERR : SLUICE_RETRY, msg);
        return;
    }
    /* While the broker stays away: the first failure, then every tenth. */
    if (c->failures == 1 || c->failures % 10 == 0 || permanent)
        c->api->log(c->ctx, permanent ? SLUICE_LOG_ERROR : SLUICE_LOG_WARN,
                    "cannot reconnect to %s (attempt %d): %s", c->cfg.url_text, c->failures, why);
}

static int64_t backoff_ms(const mq_conn *c)
{
    int64_t d = c->cfg.reconnect_min_ms;
    for (int i = 1; i < c->failures && d < c->cfg.reconnect_max_ms; i++)
        d *= 2;
    return d < c->cfg.reconnect_max_ms ? d : c->cfg.reconnect_max_ms;
}

/* ---- libmosquitto callbacks (network thread) --------------------------- */

static void cb_connect(struct mosquitto *m, void *arg, int rc, int flags)
{
    (void)m;
    mq_conn *c = arg;
    if (rc != 0) {
        c->refused = 1;
        c->refused_permanent = refusal_is_permanent(c, rc);
        char why[300];
        snprintf(why, sizeof why, "the broker refused the connection: %s",
                 mq_conn_reason(c, rc));
        conn_down(c, why, c->refused_permanent);
        return;
    }
    c->connack = 1;
    int session_present = flags & 1;
    if (!c->cfg.clean_session && c->ever && !session_present)
        c->api->log(c->ctx, SLUICE_LOG_WARN,
                    "%s had no session for \"%s\" any more (broker restarted without "
                    "persistence, or the session expired): messages published while "
                    "disconnected are lost", c->cfg.url_text, c->cfg.client_id);
    int wait = c->hooks.on_connected
                   ? c->hooks.on_connected(c->hooks.arg, c, session_present, c->ever)
                   : 0;
    if (!wait)
        mark_established(c);
}

static void cb_disconnect(struct mosquitto *m, void *arg, int rc)
{
    (void)m;
    mq_conn *c = arg;
    c->disc_errno = errno;   /* first: anything below may change it */
    c->disc_rc = rc;
}

static void cb_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
    (void)m;
    mq_conn *c = arg;
    if (c->hooks.on_message)
        c->hooks.on_message(c->hooks.arg, msg);
}

/* The v5 callback for every protocol: under MQTT 5 a PUBACK can carry a
 * refusal (an ACL, a quota); under 3.1.1 the reason is always 0. */
static void cb_publish(struct mosquitto *m, void *arg, int mid, int reason,
                       const mosquitto_property *props)
{
    (void)m;
    (void)props;
    mq_conn *c = arg;
    if (c->hooks.on_publish)
        c->hooks.on_publish(c->hooks.arg, mid, reason);
}

static void cb_subscribe(struct mosquitto *m, void *arg, int mid, int n, const int *granted)
{
    (void)m;
    mq_conn *c = arg;
    if (c->hooks.on_subscribe)
        c->hooks.on_subscribe(c->hooks.arg, c, mid, n, granted);
}

static void cb_log(struct mosquitto *m, void *arg, int level, const char *line)
{
    (void)m;
    mq_conn *c = arg;
    if (level & MOSQ_LOG_ERR) {
        /* OpenSSL's reasons arrive only here; keep the first of a failure. */
        pthread_mutex_lock(&c->err_mu);
        if (!c->lib_err[0])
            snprintf(c->lib_err, sizeof c->lib_err, "%s", line);
        pthread_mutex_unlock(&c->err_mu);
    }
    if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING | MOSQ_LOG_NOTICE))
        c->api->log(c->ctx, SLUICE_LOG_DEBUG, "libmosquitto: %s", line);
}

/* ---- the network thread ------------------------------------------------ */

/* Waits out the backoff; returns nonzero if told to quit meanwhile. */
static int backoff_wait(mq_conn *c)
{
    struct timespec dl = sluice_deadline_ms(backoff_ms(c));
    pthread_mutex_lock(&c->mu);
    while (!c->quit && pthread_cond_timedwait(&c->cv, &c->mu, &dl) != ETIMEDOUT) {
    }
    int q = c->quit;
    pthread_mutex_unlock(&c->mu);
    return q;
}

/* Starts one connection attempt; returns nonzero if told to quit. */
static int attempt(mq_conn *c, int first)
{
    if (!first && backoff_wait(c))
        return 1;
    pthread_mutex_lock(&c->mu);
    if (c->quit) {
        pthread_mutex_unlock(&c->mu);
        return 1;
    }
    c->attempt_ns = sluice_mono_ns();
    c->refused = c->connack = 0;
    c->need_reconnect = 0;
    c->disc_errno = 0;
    c->disc_rc = 0;
    pthread_mutex_lock(&c->err_mu);
    c->lib_err[0] = '\0';
    pthread_mutex_unlock(&c->err_mu);
    /* Only while connecting: with a log callback set, libmosquitto formats
     * (malloc, vsnprintf) a line for every packet, a cost at full rate. */
    mosquitto_log_callback_set(c->mosq, cb_log);
    /* Non-blocking connects, so a broker that does not answer SYN never
     * holds up a stop; the CONNECT goes out from mosquitto_loop(). */
    int rc = first ? mosquitto_connect_async(c->mosq, c->cfg.url.host, c->cfg.url.port,
                                             c->cfg.keepalive_s)
                   : mosquitto_reconnect_async(c->mosq);
    int e = errno;
    pthread_mutex_unlock(&c->mu);
    if (rc != MOSQ_ERR_SUCCESS) {
        char why[400];
        int tls = describe(c, rc, e, why, sizeof why);
        conn_down(c, why, tls && !c->ever);
    }
    return 0;
}

/* After shutdown, on our duplicate of the socket: half-close, then read
 * and discard until the broker closes too.  Closing a socket whose receive
 * queue holds unread bytes (messages the broker kept sending) makes the
 * kernel send RST, and an RST makes the broker drop what it has not read
 * yet: our last PUBACKs and the DISCONNECT, so it would deliver those
 * messages again.  Returns nonzero when done. */
static int linger_step(mq_conn *c)
{
    if (c->linger_fd < 0)
        return 1;
    if (!c->linger_shut) {
        c->linger_shut = 1;
        shutdown(c->linger_fd, SHUT_WR);
    }
    struct pollfd pfd = {.fd = c->linger_fd, .events = POLLIN};
    if (poll(&pfd, 1, LOOP_TIMEOUT_MS) <= 0)
        return 0;
    char scratch[16384];
    for (;;) {
        ssize_t n = read(c->linger_fd, scratch, sizeof scratch);
        if (n > 0)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return 0;
        close(c->linger_fd);     /* EOF or an error: the broker is done */
        c->linger_fd = -1;
        return 1;
    }
}

/* After shutdown: DISCONNECT goes out behind every PUBACK already queued,
 * and nothing more is read, so no message is taken in whose PUBACK would
 * never be sent (the broker delivers those again on the next connect).
 * Returns nonzero once the connection is closed or the grace has passed. */
static int quit_step(mq_conn *c, int64_t quit_ns)
{
    int fd = mosquitto_socket(c->mosq);
    if (sluice_mono_ns() - quit_ns > QUIT_GRACE_NS || c->need_reconnect)
        return 1;
    if (!c->disconnect_sent) {
        c->disconnect_sent = 1;
        if (fd < 0)
            return 1;
        /* libmosquitto closes its descriptor right after writing DISCONNECT;
         * ours keeps the socket open for linger_step. */
        c->linger_fd = dup(fd);
        mosquitto_disconnect(c->mosq);
    }
    if (fd < 0)
        return linger_step(c);
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    if (poll(&pfd, 1, LOOP_TIMEOUT_MS) < 0 && errno != EINTR)
        return 1;
    int rc = mosquitto_loop_write(c->mosq, 1);
    return rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN && mosquitto_socket(c->mosq) >= 0;
}

/* One round of the loop once connected, when only this thread uses the
 * client (the source): like mosquitto_loop(), but after one poll() it reads
 * packets until the socket runs dry (up to READ_BURST), where
 * mosquitto_loop() reads one per select().  At full rate that is one poll
 * per burst instead of per message. */
static int burst_loop(mq_conn *c)
{
    int fd = mosquitto_socket(c->mosq);
    if (fd < 0)
        return MOSQ_ERR_NO_CONN;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (mosquitto_want_write(c->mosq))
        p.events |= POLLOUT;
    int n = poll(&p, 1, LOOP_TIMEOUT_MS);
    if (n < 0)
        return errno == EINTR ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ERRNO;
    int rc;
    if (n > 0 && (p.revents & (POLLIN | POLLERR | POLLHUP))) {
        for (int k = 0; k < READ_BURST; k++) {
            errno = 0;
            rc = mosquitto_loop_read(c->mosq, 1);
            if (rc != MOSQ_ERR_SUCCESS || mosquitto_socket(c->mosq) < 0)
                return rc;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
        }
    }
    if (mosquitto_want_write(c->mosq)) {
        rc = mosquitto_loop_write(c->mosq, 1);
        if (rc != MOSQ_ERR_SUCCESS || mosquitto_socket(c->mosq) < 0)
            return rc;
    }
    return mosquitto_loop_misc(c->mosq);
}

static void *net_main(void *arg)
{
    mq_conn *c = arg;
    /* Named for top -H, perf and gdb. */
    pthread_setname_np(pthread_self(), "mqtt-net");
    if (attempt(c, 1) == 0) {
        for (;;) {
            int sock_open = mosquitto_socket(c->mosq) != -1;
            if (atomic_load(&c->quit)) {
                /* quit_ns was written before quit was set. */
                if (quit_step(c, c->quit_ns))
                    break;
                continue;
            }
            if (!sock_open || c->need_reconnect) {
                if (attempt(c, 0))
                    break;
                continue;
            }
            /* Connecting (TCP, TLS handshake, CONNACK) is mosquitto_loop()'s;
             * so is a client other threads publish through, whose wake-ups
             * arrive on libmosquitto's internal socket pair. */
            int rc = c->connack && !c->cfg.shared ? burst_loop(c)
                                                  : mosquitto_loop(c->mosq, LOOP_TIMEOUT_MS, 1);
            int e = errno;
            if (rc == MOSQ_ERR_SUCCESS || rc == MOSQ_ERR_NO_CONN) {
                if (!c->connack && mosquitto_socket(c->mosq) != -1 &&
                    sluice_mono_ns() - c->attempt_ns > c->cfg.connect_timeout_ms * 1000000LL) {
                    char why[128];
                    snprintf(why, sizeof why, "no answer within connect_timeout (%lld ms)",
                             (long long)c->cfg.connect_timeout_ms);
                    conn_down(c, why, 0);
                }
                continue;
            }
            if (c->refused)
                continue;    /* cb_connect has reported it */
            char why[400];
            int code = rc;
            if (c->disc_rc && c->cfg.protocol == MQTT_PROTOCOL_V5 && c->disc_rc >= 0x80)
                code = c->disc_rc;   /* the broker's DISCONNECT reason */
            int tls = describe(c, code, c->disc_errno ? c->disc_errno : e, why, sizeof why);
            /* A certificate problem at the first connection is
             * configuration; later it may be a broker being replaced. */
            conn_down(c, why, tls && !c->ever);
        }
    }
    if (c->linger_fd >= 0) {
        close(c->linger_fd);
        c->linger_fd = -1;
    }
    if (atomic_load(&c->up)) {
        atomic_store(&c->up, 0);
        c->api->set_ready(c->ctx, 0);
        c->api->metric_set(c->m_connected, 0);
    }
    finish_first(c, SLUICE_RETRY, "stopped before the first connection");
    if (c->hooks.on_exit)
        c->hooks.on_exit(c->hooks.arg);
    return NULL;
}

/* ---- lifecycle -------------------------------------------------------- */

static sluice_status setup_client(mq_conn *c, char *err)
{
    const mq_conn_cfg *cc = &c->cfg;
    c->mosq = mosquitto_new(cc->client_id, cc->clean_session ? true : false, c);
    if (!c->mosq) {
        mq_errf(err, "cannot create an MQTT client: %s", strerror(errno));
        return SLUICE_ERR;
    }
    struct mosquitto *m = c->mosq;
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, cc->protocol);
    /* Threaded mode makes every packet libmosquitto sends only queue (and
     * wake our loop); our loop writes them.  With other threads publishing,
     * two threads never write the socket at once.  For a source it is what
     * makes delivery exact across a crash: libmosquitto 2.0 sends a QoS 1
     * message's PUBACK before it calls on_message, and unthreaded that
     * PUBACK would hit the socket at once; queued, it leaves in the loop's
     * write after the read burst, once on_message has appended the message
     * to the spool (a kill -9 in between lost a message in e2e_embedded). */
    mosquitto_threaded_set(m, true);
    /* Our loop writes a batch's publishes (or a read burst's PUBACKs) as one
     * small write each; with Nagle every one after the first waits for the
     * broker's ACK.  The broker's side is its own setting (set_tcp_nodelay,
     * docs/operations.md "Broker settings"), which is what moved the
     * latency; this side measured within run-to-run noise (p99 31 ms with
     * TCP_NODELAY, 46 ms without, one run each; repeats spanned 31-62). */
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    if (cc->max_inflight > 0)
        mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, cc->max_inflight);
    if (cc->username && mosquitto_username_pw_set(m, cc->username, cc->password)) {
        mq_errf(err, "username: not accepted by libmosquitto");
        return SLUICE_ERR;
    }
    if (cc->url.tls) {
        int rc;
        if (cc->tls_ca) {
            rc = mosquitto_tls_set(m, cc->tls_ca, NULL, cc->tls_cert, cc->tls_key, NULL);
        } else {
            mosquitto_int_option(m, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
            /* tls_set needs some CA location; the system's is what we use. */
            rc = cc->tls_cert ? mosquitto_tls_set(m, NULL, "/etc/ssl/certs", cc->tls_cert,
                                                  cc->tls_key, NULL)
                              : MOSQ_ERR_SUCCESS;
        }
        if (rc != MOSQ_ERR_SUCCESS) {
            mq_errf(err, "TLS setup failed (tls_ca, tls_cert, tls_key): %s",
                     mosquitto_strerror(rc));
            return SLUICE_ERR;
        }
        if (cc->tls_insecure)
            mosquitto_tls_insecure_set(m, true);
    }
    if (cc->protocol == MQTT_PROTOCOL_V5 && !cc->clean_session) {
        /* An MQTT 5 session ends with the connection unless CONNECT gives it
         * an expiry.  libmosquitto has no asynchronous connect that takes
         * CONNECT properties; connect_bind_v5 stores them for every later
         * (re)connect before it looks at the host, so a NULL host stores
         * them without connecting (tests/mqtt checks the session survives). */
        mosquitto_property *props = NULL;
        uint32_t exp = cc->session_expiry_s < 0 ? UINT32_MAX : (uint32_t)cc->session_expiry_s;
        int rc = mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, exp);
        if (rc == MOSQ_ERR_SUCCESS)
            rc = mosquitto_connect_bind_v5(m, NULL, cc->url.port, cc->keepalive_s, NULL, props);
        mosquitto_property_free_all(&props);
        if (rc != MOSQ_ERR_INVAL) {
            mq_errf(err, "cannot set the MQTT 5 session expiry: %s",
                     mosquitto_strerror(rc));
            return SLUICE_ERR;
        }
    }
    mosquitto_connect_with_flags_callback_set(m, cb_connect);
    mosquitto_disconnect_callback_set(m, cb_disconnect);
    mosquitto_message_callback_set(m, cb_message);
    mosquitto_publish_v5_callback_set(m, cb_publish);
    mosquitto_subscribe_callback_set(m, cb_subscribe);
    return SLUICE_OK;
}

sluice_status mq_conn_open(const mq_conn_cfg *cc, const mq_conn_hooks *hooks,
                           const sluice_api *api, sluice_ctx *ctx, mq_conn **out, char *err)
{
    *out = NULL;
    pthread_once(&lib_once, lib_init);
    mq_conn *c = calloc(1, sizeof *c);
    if (!c) {
        mq_errf(err, "out of memory");
        return SLUICE_ERR;
    }
    c->cfg = *cc;
    c->hooks = *hooks;
    c->api = api;
    c->ctx = ctx;
    c->first_status = PENDING;
    c->linger_fd = -1;
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->err_mu, NULL);
    sluice_cond_init_monotonic(&c->cv);
    c->m_connected = api->metric(ctx, SLUICE_METRIC_GAUGE, "sluice_mqtt_connected",
                                 "1 while connected to the MQTT broker", NULL);
    c->m_reconnects = api->metric(ctx, SLUICE_METRIC_COUNTER, "sluice_mqtt_reconnects_total",
                                  "Connections re-established after a loss", NULL);
    api->set_ready(ctx, 0);

    sluice_status st = setup_client(c, err);
    if (st != SLUICE_OK) {
        mq_conn_close(c);
        return st;
    }
    if (pthread_create(&c->thread, NULL, net_main, c) != 0) {
        mq_errf(err, "cannot start the MQTT network thread");
        mq_conn_close(c);
        return SLUICE_ERR;
    }
    c->thread_started = 1;

    /* The thread enforces connect_timeout per attempt; this bound also
     * covers the owner's subscriptions. */
    int64_t wait_ms = cc->connect_timeout_ms + LOOP_TIMEOUT_MS + 500;
    struct timespec dl = sluice_deadline_ms(wait_ms);
    pthread_mutex_lock(&c->mu);
    while (c->first_status == PENDING)
        if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) == ETIMEDOUT)
            break;
    if (c->first_status == PENDING) {
        c->first_status = SLUICE_RETRY;
        snprintf(c->first_err, sizeof c->first_err,
                 "cannot connect to %s: no answer within connect_timeout (%lld ms)",
                 cc->url_text, (long long)cc->connect_timeout_ms);
    }
    st = (sluice_status)c->first_status;
    if (st != SLUICE_OK)
        mq_errf(err, "%s", c->first_err);
    pthread_mutex_unlock(&c->mu);
    if (st != SLUICE_OK) {
        mq_conn_close(c);
        return st;
    }
    *out = c;
    return SLUICE_OK;
}

void mq_conn_shutdown(mq_conn *c)
{
    if (!c)
        return;
    /* The network thread sends DISCONNECT itself (see quit_step); it notices
     * within one loop round, or at once when it waits out a backoff. */
    pthread_mutex_lock(&c->mu);
    if (!atomic_load(&c->quit)) {
        c->quit_ns = sluice_mono_ns();
        atomic_store(&c->quit, 1);
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
}

void mq_conn_close(mq_conn *c)
{
    if (!c)
        return;
    if (c->thread_started) {
        mq_conn_shutdown(c);
        if (c->hooks.on_close)
            c->hooks.on_close(c->hooks.arg);
        pthread_join(c->thread, NULL);
    }
    if (c->mosq)
        mosquitto_destroy(c->mosq);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->err_mu);
    free(c);
}

struct mosquitto *mq_conn_mosq(mq_conn *c) { return c->mosq; }
const mq_conn_cfg *mq_conn_config(const mq_conn *c) { return &c->cfg; }
int mq_conn_is_up(mq_conn *c) { return atomic_load(&c->up); }
unsigned long mq_conn_generation(mq_conn *c) { return atomic_load(&c->gen); }
int mq_conn_ever_established(mq_conn *c) { return c->ever; }
