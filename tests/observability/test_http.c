/* The HTTP endpoint, spoken to over a plain TCP socket: every route, the
 * readiness hook flipping, missing hooks, methods, the ephemeral port and
 * the errors an operator sees when the address cannot be used, and the
 * documents plugin instances serve through api->http_json. */
#include "check.h"
#include "ctx.h"
#include "http.h"
#include "metrics.h"
#include "promtext.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

typedef struct resp {
    int status;
    char head[2048];
    char *body;
} resp;

/* One request on a fresh connection; reads until the server closes. */
static int request(int port, const char *method, const char *path, resp *r)
{
    memset(r, 0, sizeof *r);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    char req[512];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n%s", method,
                     path, strcmp(method, "POST") ? "" : "Content-Length: 3\r\n",
                     strcmp(method, "POST") ? "" : "a=b");
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 4096 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t got = read(fd, buf + len, cap - len - 1);
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    buf[len] = '\0';
    char *sep = strstr(buf, "\r\n\r\n");
    if (!sep || sscanf(buf, "HTTP/1.1 %d", &r->status) != 1) {
        free(buf);
        return -1;
    }
    snprintf(r->head, sizeof r->head, "%.*s", (int)(sep - buf), buf);
    r->body = strdup(sep + 4);
    free(buf);
    return 0;
}

static int has_header(const resp *r, const char *line)
{
    /* Header names are case-insensitive; MHD writes them canonically. */
    return strcasestr(r->head, line) != NULL;
}

static atomic_int g_ready;
static int g_status_calls;

static int hook_ready(void *arg)
{
    CHECK(arg == &g_ready);
    return atomic_load(&g_ready);
}

static char *hook_status(void *arg)
{
    (void)arg;
    g_status_calls++;
    return strdup("{\"pipelines\":[{\"name\":\"p1\",\"state\":\"running\"}]}");
}

static char *hook_status_fails(void *arg)
{
    (void)arg;
    return NULL;
}

static void test_routes(void)
{
    sl_metrics *m = sl_metrics_new();
    static int owner;
    sluice_metric *c = sl_metric_register(m, SLUICE_METRIC_COUNTER, "sluice_records_out_total",
                                          "Records written", "p1", "sink", NULL, &owner);
    sl_metric_add(c, 42);
    sl_http_hooks hooks = {.arg = &g_ready, .ready = hook_ready, .status_json = hook_status};
    char err[256] = "untouched";
    sl_http *h = sl_http_start("127.0.0.1", 0, m, &hooks, err, sizeof err);
    /* The hooks struct was copied: the caller's may go out of scope. */
    memset(&hooks, 0, sizeof hooks);
    CHECK(h != NULL);
    if (!h) {
        fprintf(stderr, "start: %s\n", err);
        return;
    }
    int port = sl_http_port(h);
    CHECK(port > 0 && port < 65536);

    resp r;
    CHECK(request(port, "GET", "/metrics", &r) == 0);
    CHECK_INT_EQ(r.status, 200);
    CHECK(has_header(&r, "Content-Type: text/plain; version=0.0.4"));
    CHECK_STR_CONTAINS(r.body, "sluice_records_out_total{pipeline=\"p1\",stage=\"sink\"} 42\n");
    pt_doc doc;
    CHECK(r.body && pt_parse(r.body, &doc) == 0);
    pt_free(&doc);
    free(r.body);

    /* A later update shows in the next scrape. */
    sl_metric_add(c, 1);
    CHECK(request(port, "GET", "/metrics?ignored=1", &r) == 0);
    CHECK_STR_CONTAINS(r.body, "stage=\"sink\"} 43\n");
    free(r.body);

    CHECK(request(port, "GET", "/health", &r) == 0);
    CHECK_INT_EQ(r.status, 200);
    CHECK(r.body && !strcmp(r.body, "ok\n"));
    free(r.body);

    atomic_store(&g_ready, 0);
    g_status_calls = 0;
    CHECK(request(port, "GET", "/ready", &r) == 0);
    CHECK_INT_EQ(r.status, 503);
    CHECK(has_header(&r, "Content-Type: application/json"));
    CHECK_STR_CONTAINS(r.body, "{\"ready\":false,");
    /* It says which pipeline holds readiness back. */
    CHECK_STR_CONTAINS(r.body, "\"status\":{\"pipelines\":[{\"name\":\"p1\"");
    CHECK_INT_EQ(g_status_calls, 1);
    free(r.body);

    atomic_store(&g_ready, 1);
    CHECK(request(port, "GET", "/ready", &r) == 0);
    CHECK_INT_EQ(r.status, 200);
    CHECK(r.body && !strcmp(r.body, "{\"ready\":true}\n"));
    free(r.body);

    atomic_store(&g_ready, 0);
    CHECK(request(port, "GET", "/ready", &r) == 0);
    CHECK_INT_EQ(r.status, 503);
    free(r.body);

    CHECK(request(port, "GET", "/status", &r) == 0);
    CHECK_INT_EQ(r.status, 200);
    CHECK(has_header(&r, "Content-Type: application/json"));
    CHECK(r.body && !strcmp(r.body, "{\"pipelines\":[{\"name\":\"p1\",\"state\":\"running\"}]}"));
    free(r.body);

    const char *missing[] = {"/", "/metrics/", "/nope", "/health/x", "/READY"};
    for (size_t i = 0; i < sizeof missing / sizeof *missing; i++) {
        CHECK(request(port, "GET", missing[i], &r) == 0);
        CHECK_INT_EQ(r.status, 404);
        CHECK(has_header(&r, "Content-Type: application/json"));
        CHECK_STR_CONTAINS(r.body, "{\"error\":\"not found\"");
        free(r.body);
    }

    const char *methods[] = {"POST", "PUT", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++) {
        CHECK(request(port, methods[i], "/metrics", &r) == 0);
        CHECK_INT_EQ(r.status, 405);
        CHECK(has_header(&r, "Allow: GET, HEAD"));
        free(r.body);
    }
    /* HEAD is a GET without the body. */
    CHECK(request(port, "HEAD", "/health", &r) == 0);
    CHECK_INT_EQ(r.status, 200);
    CHECK(r.body && r.body[0] == '\0');
    free(r.body);

    /* Port in use: a second server on the same address fails and says why. */
    err[0] = '\0';
    sl_http *h2 = sl_http_start("127.0.0.1", port, m, NULL, err, sizeof err);
    CHECK(h2 == NULL);
    CHECK_STR_CONTAINS(err, "Address already in use");
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%d", port);
    CHECK_STR_CONTAINS(err, want);
    sl_http_stop(h2);

    sl_http_stop(h);
    /* After stop the port is closed: nothing answers. */
    CHECK(request(port, "GET", "/health", &r) == -1);
    /* And it can be bound again at once (no TIME_WAIT trouble). */
    h = sl_http_start("127.0.0.1", port, m, NULL, err, sizeof err);
    CHECK(h != NULL);
    CHECK_INT_EQ(sl_http_port(h), port);
    sl_http_stop(h);
    sl_metrics_free(m);
}

static void test_missing_hooks(void)
{
    sl_metrics *m = sl_metrics_new();
    char err[256];
    sl_http *h = sl_http_start("127.0.0.1", 0, m, NULL, err, sizeof err);
    CHECK(h != NULL);
    int port = sl_http_port(h);
    resp r;
    CHECK(request(port, "GET", "/ready", &r) == 0);
    CHECK_INT_EQ(r.status, 503);
    CHECK_STR_CONTAINS(r.body, "\"ready\":false");
    free(r.body);
    CHECK(request(port, "GET", "/status", &r) == 0);
    CHECK_INT_EQ(r.status, 200);
    CHECK(r.body && !strcmp(r.body, "{\"pipelines\":[]}\n"));
    free(r.body);
    /* An empty registry is an empty, valid exposition. */
    CHECK(request(port, "GET", "/metrics", &r) == 0);
    CHECK_INT_EQ(r.status, 200);
    CHECK(r.body && r.body[0] == '\0');
    free(r.body);
    sl_http_stop(h);

    /* A status hook that fails is a 500, not a crash or an empty 200;
     * /ready without status detail still answers. */
    sl_http_hooks hooks = {.arg = &g_ready, .ready = hook_ready,
                           .status_json = hook_status_fails};
    atomic_store(&g_ready, 0);
    h = sl_http_start("127.0.0.1", 0, m, &hooks, err, sizeof err);
    CHECK(h != NULL);
    port = sl_http_port(h);
    CHECK(request(port, "GET", "/status", &r) == 0);
    CHECK_INT_EQ(r.status, 500);
    CHECK_STR_CONTAINS(r.body, "\"error\"");
    free(r.body);
    CHECK(request(port, "GET", "/ready", &r) == 0);
    CHECK_INT_EQ(r.status, 503);
    CHECK_STR_CONTAINS(r.body, "\"ready\":false");
    CHECK(r.body && !strstr(r.body, "\"status\""));
    free(r.body);
    sl_http_stop(h);

    /* No registry at all: /metrics reports the failure as a 500. */
    h = sl_http_start("127.0.0.1", 0, NULL, NULL, err, sizeof err);
    CHECK(h != NULL);
    CHECK(request(sl_http_port(h), "GET", "/metrics", &r) == 0);
    CHECK_INT_EQ(r.status, 500);
    free(r.body);
    sl_http_stop(h);
    sl_metrics_free(m);
}

static void test_start_errors(void)
{
    char err[256];
    err[0] = '\0';
    CHECK(sl_http_start("127.0.0.1", 70000, NULL, NULL, err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, "out of range");
    CHECK(sl_http_start("127.0.0.1", -1, NULL, NULL, err, sizeof err) == NULL);
    err[0] = '\0';
    CHECK(sl_http_start("not an address", 0, NULL, NULL, err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, "not an address");
    /* An address this host does not have. */
    err[0] = '\0';
    CHECK(sl_http_start("192.0.2.1", 0, NULL, NULL, err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, "cannot listen on 192.0.2.1:0");
    /* No error buffer: still fails cleanly. */
    CHECK(sl_http_start("192.0.2.1", 0, NULL, NULL, NULL, 0) == NULL);
    sl_http_stop(NULL);
    CHECK_INT_EQ(sl_http_port(NULL), -1);

    /* NULL address means loopback, never every interface. */
    sl_http *h = sl_http_start(NULL, 0, NULL, NULL, err, sizeof err);
    CHECK(h != NULL);
    resp r;
    CHECK(request(sl_http_port(h), "GET", "/health", &r) == 0);
    free(r.body);
    sl_http_stop(h);

    /* IPv6 loopback, bracketed as in "--http [::1]:9464", where available. */
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int have6 = probe >= 0 && bind(probe, (struct sockaddr *)&s6, sizeof s6) == 0;
    if (probe >= 0)
        close(probe);
    if (have6) {
        h = sl_http_start("[::1]", 0, NULL, NULL, err, sizeof err);
        CHECK(h != NULL && sl_http_port(h) > 0);
        sl_http_stop(h);
    }
}

/* A plugin's document: echoes the query; `big` pads it past the host's
 * first buffer so that the host must call again with a larger one. */
typedef struct doc_arg {
    const char *name;
    int big, calls;
} doc_arg;

static int serve_doc(void *arg, const char *query, char *buf, size_t cap, size_t *len)
{
    doc_arg *d = arg;
    d->calls++;
    if (strstr(query, "bad=1")) {
        *len = (size_t)snprintf(buf, cap, "{\"error\":\"bad query\"}");
        return 400;
    }
    size_t pad = d->big ? 100000 : 0;
    size_t need = strlen(d->name) + strlen(query) + pad + 64;
    if (need >= cap) {
        *len = need;   /* more than fits: the host calls again */
        return 200;
    }
    int n = snprintf(buf, cap, "{\"name\":\"%s\",\"query\":\"%s\",\"pad\":\"", d->name, query);
    memset(buf + n, 'x', pad);
    n += (int)pad;
    n += snprintf(buf + n, cap - (size_t)n, "\"}");
    *len = (size_t)n;
    return 200;
}

static void test_plugin_routes(void)
{
    const sluice_api *api = sl_api();
    CHECK(SLUICE_API_HAS(api, http_json));
    sl_metrics *m = sl_metrics_new();
    char err[SLUICE_ERRLEN] = "";
    sl_http *h = sl_http_start("127.0.0.1", 0, m, NULL, err, sizeof err);
    CHECK(h != NULL);
    if (!h)
        return;
    int port = sl_http_port(h);
    sluice_ctx *a = sl_ctx_new("pa", "transform[0]", "fake");
    sluice_ctx *b = sl_ctx_new("pb", "transform[0]", "fake");
    doc_arg da = {"a", 1, 0}, db = {"b", 0, 0};

    /* Paths the host owns or cannot route are refused with a reason. */
    CHECK(api->http_json(a, "/status", serve_doc, &da, err) == SLUICE_ERR);
    CHECK_STR_CONTAINS(err, "the host's own");
    CHECK(api->http_json(a, "devices", serve_doc, &da, err) == SLUICE_ERR);
    CHECK_STR_CONTAINS(err, "must start with '/'");
    CHECK(api->http_json(a, "/a?b", serve_doc, &da, err) == SLUICE_ERR);

    resp r;
    CHECK(request(port, "GET", "/devices", &r) == 0);
    CHECK_INT_EQ(r.status, 404);
    free(r.body);

    CHECK(api->http_json(a, "/devices", serve_doc, &da, err) == SLUICE_OK);
    CHECK(request(port, "GET", "/devices?state=silent&limit=2&x=%41", &r) == 0);
    CHECK_INT_EQ(r.status, 200);
    CHECK(has_header(&r, "Content-Type: application/json"));
    /* Arguments arrive URL-decoded, in order; the big document took a
     * second call with a buffer of the size asked for. */
    CHECK_STR_CONTAINS(r.body, "\"name\":\"a\",\"query\":\"state=silent&limit=2&x=A\"");
    CHECK(r.body && strlen(r.body) > 100000);
    CHECK_INT_EQ(da.calls, 2);
    free(r.body);

    CHECK(request(port, "GET", "/devices?bad=1", &r) == 0);
    CHECK_INT_EQ(r.status, 400);
    CHECK_STR_CONTAINS(r.body, "bad query");
    free(r.body);

    /* An unknown path lists the plugin's route beside the host's. */
    CHECK(request(port, "GET", "/nope", &r) == 0);
    CHECK_INT_EQ(r.status, 404);
    CHECK_STR_CONTAINS(r.body, "\"/status\",\"/devices\"]");
    free(r.body);

    /* A newer instance on the same path takes over (a reloaded pipeline)
     * and hands it back when it goes. */
    CHECK(api->http_json(b, "/devices", serve_doc, &db, err) == SLUICE_OK);
    CHECK(request(port, "GET", "/devices", &r) == 0);
    CHECK_STR_CONTAINS(r.body, "\"name\":\"b\"");
    free(r.body);
    CHECK(request(port, "GET", "/nope", &r) == 0);
    CHECK_STR_CONTAINS(r.body, "\"/status\",\"/devices\"]");   /* listed once */
    free(r.body);
    sl_ctx_free(b);
    CHECK(request(port, "GET", "/devices", &r) == 0);
    CHECK_STR_CONTAINS(r.body, "\"name\":\"a\"");
    free(r.body);

    /* fn NULL removes the route. */
    CHECK(api->http_json(a, "/devices", NULL, NULL, err) == SLUICE_OK);
    CHECK(request(port, "GET", "/devices", &r) == 0);
    CHECK_INT_EQ(r.status, 404);
    free(r.body);
    sl_ctx_free(a);
    sl_http_stop(h);
    sl_metrics_free(m);
}

int main(void)
{
    test_routes();
    test_missing_hooks();
    test_start_errors();
    test_plugin_routes();
    return CHECK_DONE();
}
