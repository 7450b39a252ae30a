/* The operations endpoint on libmicrohttpd: one internal polling thread,
 * GET only, small bodies built per request.  What it knows about pipelines
 * comes through the runner's hooks; other paths go to the documents plugin
 * instances serve (http_routes.h). */
#include "http.h"
#include "http_routes.h"
#include "log.h"

#include <microhttpd.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#if MHD_VERSION < 0x00097002
typedef int MHD_RESULT;
#else
typedef enum MHD_Result MHD_RESULT;
#endif

struct sl_http {
    struct MHD_Daemon *d;
    sl_metrics *metrics;
    sl_http_hooks hooks;     /* copied: callers pass a struct on their stack */
    char *token;             /* our copy of hooks.bearer_token, or NULL */
    int port;
};

#define CT_JSON "application/json"
#define CT_TEXT "text/plain; charset=utf-8"
#define CT_PROM "text/plain; version=0.0.4; charset=utf-8"

/* Queues a response.  `owned` bodies were malloc'd and pass to MHD. */
static MHD_RESULT reply(struct MHD_Connection *c, unsigned code, const char *ctype,
                        const char *body, int owned)
{
    size_t len = strlen(body);
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, (void *)body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        if (owned)
            free((void *)body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    /* Every answer describes this instant; a cached one would mislead. */
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    MHD_RESULT ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

/* Whether the request may see configuration: no token configured, or the
 * right one.  The comparison takes the same time wherever they differ. */
static int authorized(const sl_http *h, struct MHD_Connection *c)
{
    if (!h->token)
        return 1;
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION);
    if (!a || strncasecmp(a, "Bearer ", 7) != 0)
        return 0;
    a += 7;
    while (*a == ' ')
        a++;
    size_t la = strlen(a), lt = strlen(h->token);
    unsigned char diff = (unsigned char)(la != lt);
    for (size_t i = 0; i < lt; i++)
        diff |= (unsigned char)(h->token[i] ^ (i < la ? a[i] : 0));
    return diff == 0;
}

static MHD_RESULT unauthorized(struct MHD_Connection *c)
{
    static const char body[] =
        "{\"error\":\"unauthorized\",\"hint\":\"send Authorization: Bearer <token>, the "
        "token in the file given to --http-token-file\"}\n";
    struct MHD_Response *r = MHD_create_response_from_buffer(sizeof body - 1, (void *)body,
                                                             MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CT_JSON);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"sluice\"");
    MHD_RESULT ret = MHD_queue_response(c, MHD_HTTP_UNAUTHORIZED, r);
    MHD_destroy_response(r);
    return ret;
}

static MHD_RESULT serve_metrics(sl_http *h, struct MHD_Connection *c)
{
    char *body = sl_metrics_render(h->metrics, NULL);
    if (!body)
        return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, CT_JSON,
                     "{\"error\":\"metrics could not be rendered\"}\n", 0);
    return reply(c, MHD_HTTP_OK, CT_PROM, body, 1);
}

static MHD_RESULT serve_ready(sl_http *h, struct MHD_Connection *c)
{
    if (!h->hooks.ready)
        return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, CT_JSON,
                     "{\"ready\":false,\"reason\":\"no readiness source\"}\n", 0);
    if (h->hooks.ready(h->hooks.arg) == 1)
        return reply(c, MHD_HTTP_OK, CT_JSON, "{\"ready\":true}\n", 0);
    /* The status document tells an operator which pipeline holds it back;
     * with a token configured, only a caller who has it sees it. */
    char *st = h->hooks.status_json && authorized(h, c) ? h->hooks.status_json(h->hooks.arg)
                                                         : NULL;
    static const char head[] =
        "{\"ready\":false,\"reason\":\"a pipeline is not running or an instance is not ready\"";
    size_t n = sizeof head + (st ? strlen(st) + 16 : 0) + 4;
    char *body = malloc(n);
    if (!body) {
        free(st);
        return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, CT_JSON, "{\"ready\":false}\n", 0);
    }
    if (st)
        snprintf(body, n, "%s,\"status\":%s}\n", head, st);
    else
        snprintf(body, n, "%s}\n", head);
    free(st);
    return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, CT_JSON, body, 1);
}

static MHD_RESULT serve_health(sl_http *h, struct MHD_Connection *c)
{
    char *why = h->hooks.health_json ? h->hooks.health_json(h->hooks.arg) : NULL;
    if (why)
        return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, CT_JSON, why, 1);
    return reply(c, MHD_HTTP_OK, CT_TEXT, "ok\n", 0);
}

static MHD_RESULT serve_status(sl_http *h, struct MHD_Connection *c)
{
    if (!authorized(h, c))
        return unauthorized(c);
    if (!h->hooks.status_json)
        return reply(c, MHD_HTTP_OK, CT_JSON, "{\"pipelines\":[]}\n", 0);
    char *st = h->hooks.status_json(h->hooks.arg);
    if (!st)
        return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, CT_JSON,
                     "{\"error\":\"status unavailable\"}\n", 0);
    return reply(c, MHD_HTTP_OK, CT_JSON, st, 1);
}

typedef struct query_buf {
    char *p;
    size_t len, cap;
    int overflow;
} query_buf;

static MHD_RESULT add_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    query_buf *q = cls;
    size_t need = strlen(key) + (value ? strlen(value) + 1 : 0) + 2;
    if (q->len + need >= q->cap) {
        q->overflow = 1;
        return MHD_NO;
    }
    q->len += (size_t)snprintf(q->p + q->len, q->cap - q->len, "%s%s%s%s", q->len ? "&" : "",
                               key, value ? "=" : "", value ? value : "");
    return MHD_YES;
}

/* A path a plugin instance serves (api->http_json), or 404 listing what
 * there is. */
static MHD_RESULT serve_plugin(const sl_http *h, struct MHD_Connection *c, const char *url)
{
    /* Plugin documents are as private as /status (f2_decode's lists every
     * controller): the same token guards them, and the list of paths. */
    if (!authorized(h, c))
        return unauthorized(c);
    char qs[2048];
    query_buf q = {qs, 0, sizeof qs, 0};
    qs[0] = '\0';
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, &q);
    if (q.overflow)
        return reply(c, MHD_HTTP_BAD_REQUEST, CT_JSON,
                     "{\"error\":\"query string longer than 2 KiB\"}\n", 0);
    char *body = NULL;
    int status = sl_http_routes_serve(url, qs, &body);
    if (status > 0) {
        if (!body)
            return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, CT_JSON,
                         "{\"error\":\"the document could not be built; see the log\"}\n", 0);
        return reply(c, (unsigned)status, CT_JSON, body, 1);
    }
    char *extra = sl_http_routes_list();
    size_t n = 128 + (extra ? strlen(extra) : 0);
    char *nf = malloc(n);
    if (!nf) {
        free(extra);
        return reply(c, MHD_HTTP_NOT_FOUND, CT_JSON, "{\"error\":\"not found\"}\n", 0);
    }
    snprintf(nf, n,
             "{\"error\":\"not found\",\"endpoints\":"
             "[\"/metrics\",\"/health\",\"/ready\",\"/status\"%s]}\n",
             extra ? extra : "");
    free(extra);
    return reply(c, MHD_HTTP_NOT_FOUND, CT_JSON, nf, 1);
}

static MHD_RESULT on_request(void *cls, struct MHD_Connection *c, const char *url,
                             const char *method, const char *version, const char *upload,
                             size_t *upload_size, void **req)
{
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)req;
    sl_http *h = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, CT_JSON,
                     "{\"error\":\"method not allowed\",\"allow\":[\"GET\",\"HEAD\"]}\n", 0);
    if (strcmp(url, "/metrics") == 0)
        return serve_metrics(h, c);
    if (strcmp(url, "/health") == 0)
        return serve_health(h, c);
    if (strcmp(url, "/ready") == 0)
        return serve_ready(h, c);
    if (strcmp(url, "/status") == 0)
        return serve_status(h, c);
    return serve_plugin(h, c, url);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    /* Clients decide how often MHD complains (each dropped connection is a
     * line): at most 20 lines a minute, and a count of the rest.  Only
     * MHD's one thread calls this. */
    static time_t window;
    static unsigned shown, dropped;
    time_t now = time(NULL);
    if (now - window >= 60) {
        if (dropped)
            sl_log(SLUICE_LOG_WARN, NULL, "http", "%u more messages like these in the last "
                   "minute were not logged", dropped);
        window = now;
        shown = dropped = 0;
    }
    if (++shown > 20) {
        dropped++;
        return;
    }
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    sl_log(SLUICE_LOG_WARN, NULL, "http", "%s", msg);
}

/* Binds and listens ourselves rather than letting MHD do it: MHD only says
 * "failed", and an operator needs "Address already in use" for the port. */
static int open_listener(const char *addr, int port, int *bound_port, char *err, size_t errlen)
{
    char host[256];
    size_t alen = strlen(addr);
    if (alen >= 2 && addr[0] == '[' && addr[alen - 1] == ']') {
        snprintf(host, sizeof host, "%.*s", (int)(alen - 2), addr + 1);
    } else {
        snprintf(host, sizeof host, "%s", addr);
    }
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host, service, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "cannot resolve listen address \"%s\": %s", host,
                 gai_strerror(gai));
        return -1;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        /* A restart must not wait for the old process's TIME_WAIT sockets;
         * on Linux this never lets two listeners share the port. */
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", addr, port,
                 strerror(saved ? saved : EADDRNOTAVAIL));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    *bound_port = port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            *bound_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            *bound_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return fd;
}

static void free_token(sl_http *h)
{
    if (h->token) {
        explicit_bzero(h->token, strlen(h->token));
        free(h->token);
    }
}

sl_http *sl_http_start(const char *addr, int port, sl_metrics *metrics,
                       const sl_http_hooks *hooks, char *err, size_t errlen)
{
    char dummy[8];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (port < 0 || port > 65535) {
        snprintf(err, errlen, "port %d out of range (0-65535)", port);
        return NULL;
    }
    if (!addr || !*addr)
        addr = "127.0.0.1";   /* never expose the endpoint by accident */
    sl_http *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->metrics = metrics;
    if (hooks)
        h->hooks = *hooks;
    if (h->hooks.bearer_token && *h->hooks.bearer_token &&
        !(h->token = strdup(h->hooks.bearer_token))) {
        snprintf(err, errlen, "out of memory");
        free(h);
        return NULL;
    }
    h->hooks.bearer_token = NULL; /* the caller's copy may go away */
    int fd = open_listener(addr, port, &h->port, err, errlen);
    if (fd < 0) {
        free(h);
        return NULL;
    }
    h->d = MHD_start_daemon(
        MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, h,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, (void *)NULL,
        MHD_OPTION_LISTEN_SOCKET, fd,
        /* The event loop answers /health however slow other clients are;
         * these bound what slow or idle clients can hold: a few connections
         * per address, none idle for long, so one client (or a few) can
         * neither fill the table nor keep its share for ever. */
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)SL_HTTP_MAX_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)SL_HTTP_MAX_PER_IP,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SL_HTTP_IDLE_TIMEOUT_S,
        MHD_OPTION_END);
    if (!h->d) {
        /* With the poll backend MHD's failure paths leave a provided socket
         * open (it closes it only on MHD_stop_daemon), so it is ours. */
        close(fd);
        snprintf(err, errlen, "cannot start the HTTP server on %s:%d", addr, h->port);
        free_token(h);
        free(h);
        return NULL;
    }
    return h;
}

int sl_http_port(const sl_http *h) { return h ? h->port : -1; }

void sl_http_stop(sl_http *h)
{
    if (!h)
        return;
    /* Joins the polling thread (so no hook runs afterwards) and closes the
     * listening socket. */
    MHD_stop_daemon(h->d);
    free_token(h);
    free(h);
}
