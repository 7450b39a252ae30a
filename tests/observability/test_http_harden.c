/* The HTTP endpoint under hostile clients: slow half-open connections do
 * not delay /health beyond a second, one address cannot hold more than its
 * share, idle connections are closed, and with a bearer token /status (and
 * the status inside /ready) answers only to a caller who has it. */
#include "check.h"
#include "http.h"
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define TOKEN "tok-7f3a9c1e55"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A connection from `from` (127.0.0.x: all of 127/8 is loopback, so each
 * stands for another client address). */
static int dial(int port, const char *from)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in me = {.sin_family = AF_INET};
    inet_pton(AF_INET, from, &me.sin_addr);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (bind(fd, (struct sockaddr *)&me, sizeof me) != 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One GET; returns the status (or -1) and the body in body (may be NULL). */
static int get(int port, const char *path, const char *auth, char *body, size_t blen)
{
    int fd = dial(port, "127.0.0.1");
    if (fd < 0)
        return -1;
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s%s%s\r\n",
                     path, auth ? "Authorization: " : "", auth ? auth : "", auth ? "\r\n" : "");
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    char buf[16384];
    size_t len = 0;
    ssize_t got;
    while (len + 1 < sizeof buf && (got = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)got;
    close(fd);
    buf[len] = '\0';
    int status = -1;
    if (sscanf(buf, "HTTP/1.1 %d", &status) != 1)
        return -1;
    if (body) {
        char *sep = strstr(buf, "\r\n\r\n");
        snprintf(body, blen, "%s", sep ? sep + 4 : "");
        if (sep)
            *sep = '\0';
        /* Headers too, after the body, for WWW-Authenticate checks. */
        size_t bl = strlen(body);
        snprintf(body + bl, blen - bl, "\n--head--\n%s", buf);
    }
    return status;
}

/* Opens `n` connections from `from` that send half a request and hold. */
static int hold(int port, const char *from, int *fds, int n)
{
    static const char half[] = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    int opened = 0;
    for (int i = 0; i < n; i++) {
        fds[i] = dial(port, from);
        if (fds[i] >= 0 && write(fds[i], half, sizeof half - 1) == (ssize_t)(sizeof half - 1))
            opened++;
    }
    return opened;
}

static void release(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* /health within a second, timed. */
static void health_fast(int port, const char *when)
{
    double t0 = now_s();
    int st = get(port, "/health", NULL, NULL, 0);
    double dt = now_s() - t0;
    fprintf(stderr, "/health %s: %d in %.3f s\n", when, st, dt);
    CHECK_INT_EQ(st, 200);
    CHECK(dt < 1.0);
}

static atomic_int g_ready;
static int hook_ready(void *arg) { (void)arg; return atomic_load(&g_ready); }
static char *hook_status(void *arg)
{
    (void)arg;
    return strdup("{\"pipelines\":[{\"name\":\"p\",\"marker\":\"STATUS-DOC\"}]}");
}

static void slow_clients(int port)
{
    int a[40], b[100];
    /* 40 slow clients on the prober's own address. */
    CHECK_INT_EQ(hold(port, "127.0.0.1", a, 40), 40);
    health_fast(port, "with 40 half-open connections from the same address");
    /* 100 more from one other address: only SL_HTTP_MAX_PER_IP are kept. */
    int got = hold(port, "127.0.0.2", b, 100);
    CHECK(got > 0);
    health_fast(port, "with 100 more from another address");
    /* The ones over the per-address limit were closed by the server. */
    usleep(300 * 1000);
    int closed = 0;
    for (int i = 0; i < 100; i++) {
        char c;
        struct timeval tv = {0, 1000};
        setsockopt(b[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (b[i] < 0 || read(b[i], &c, 1) == 0 || errno == ECONNRESET)
            closed++;
    }
    fprintf(stderr, "connections from 127.0.0.2 closed at once: %d of 100\n", closed);
    CHECK(closed >= 100 - SL_HTTP_MAX_PER_IP);
    release(a, 40);
    release(b, 100);
}

/* A client that sends half a request and stops is dropped after the idle
 * timeout rather than held for ever. */
static void idle_timeout(int port)
{
    int fd;
    CHECK_INT_EQ(hold(port, "127.0.0.3", &fd, 1), 1);
    struct timeval tv = {SL_HTTP_IDLE_TIMEOUT_S + 5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    double t0 = now_s();
    char buf[256];
    ssize_t r = read(fd, buf, sizeof buf);
    double dt = now_s() - t0;
    fprintf(stderr, "idle half-open connection closed after %.1f s (read %zd)\n", dt, r);
    CHECK(r >= 0); /* closed (0) or answered 408, not timed out on our side */
    CHECK(dt < SL_HTTP_IDLE_TIMEOUT_S + 4);
    close(fd);
}

static void token(int port)
{
    char body[20000];
    CHECK_INT_EQ(get(port, "/status", NULL, body, sizeof body), 401);
    CHECK_STR_CONTAINS(body, "\"error\":\"unauthorized\"");
    CHECK(strcasestr(body, "WWW-Authenticate: Bearer realm=\"sluice\"") != NULL);
    CHECK(strstr(body, "STATUS-DOC") == NULL);
    CHECK_INT_EQ(get(port, "/status", "Bearer wrong-token-xx", body, sizeof body), 401);
    CHECK_INT_EQ(get(port, "/status", "Bearer " TOKEN "x", body, sizeof body), 401);
    CHECK_INT_EQ(get(port, "/status", "Bearer tok-7f3a9c1e5", body, sizeof body), 401);
    CHECK_INT_EQ(get(port, "/status", "Basic " TOKEN, body, sizeof body), 401);
    CHECK_INT_EQ(get(port, "/status", "Bearer " TOKEN, body, sizeof body), 200);
    CHECK_STR_CONTAINS(body, "STATUS-DOC");
    CHECK_INT_EQ(get(port, "/status", "bearer " TOKEN, body, sizeof body), 200);
    /* Plugin paths (f2_decode's /devices) and their list are as private. */
    CHECK_INT_EQ(get(port, "/devices", NULL, body, sizeof body), 401);
    CHECK_INT_EQ(get(port, "/nothing-here", NULL, body, sizeof body), 401);
    CHECK_INT_EQ(get(port, "/nothing-here", "Bearer " TOKEN, body, sizeof body), 404);
    /* Probes and scrapers need no token and see no configuration. */
    CHECK_INT_EQ(get(port, "/health", NULL, body, sizeof body), 200);
    CHECK_INT_EQ(get(port, "/metrics", NULL, body, sizeof body), 200);
    atomic_store(&g_ready, 0);
    CHECK_INT_EQ(get(port, "/ready", NULL, body, sizeof body), 503);
    CHECK(strstr(body, "STATUS-DOC") == NULL);
    CHECK_INT_EQ(get(port, "/ready", "Bearer " TOKEN, body, sizeof body), 503);
    CHECK_STR_CONTAINS(body, "STATUS-DOC");
    atomic_store(&g_ready, 1);
    CHECK_INT_EQ(get(port, "/ready", NULL, body, sizeof body), 200);
}

int main(void)
{
    sl_metrics *m = sl_metrics_new();
    char tok[] = TOKEN;
    sl_http_hooks hooks = {.ready = hook_ready, .status_json = hook_status,
                           .bearer_token = tok};
    char err[256];
    sl_http *h = sl_http_start("127.0.0.1", 0, m, &hooks, err, sizeof err);
    CHECK(h != NULL);
    if (!h) {
        fprintf(stderr, "%s\n", err);
        return CHECK_DONE();
    }
    memset(tok, 'x', sizeof tok - 1); /* the server kept its own copy */
    int port = sl_http_port(h);
    health_fast(port, "idle");
    token(port);
    slow_clients(port);
    idle_timeout(port);
    health_fast(port, "afterwards");
    sl_http_stop(h);
    sl_metrics_free(m);
    return CHECK_DONE();
}
