/* The HTTP endpoint (libmicrohttpd): /metrics, /health, /ready, /status, and
 * the paths plugin instances serve through api->http_json (http_routes.h).
 * The runner supplies what it knows through hooks, so the server needs no
 * knowledge of pipelines. */
#ifndef SL_HTTP_H
#define SL_HTTP_H

#include <stddef.h>
#include "metrics.h"

typedef struct sl_http sl_http;

typedef struct sl_http_hooks {
    void *arg;
    /* 1 when every pipeline is running and every instance reports ready. */
    int (*ready)(void *arg);
    /* JSON document describing every pipeline (malloc'd, caller frees):
     * {"pipelines":[{"name","state","file","plugins":{...},"records_in",
     *  "records_out","records_failed","dead_lettered","restarts",
     *  "last_error"}]}.  Never contains secrets. */
    char *(*status_json)(void *arg);
    /* NULL while the process is healthy; else a malloc'd JSON document
     * saying why not (a stuck pipeline), served with 503 on /health. */
    char *(*health_json)(void *arg);
    /* When set (copied at start): /status, and the status document inside
     * a 503 from /ready, need "Authorization: Bearer <token>"; without it
     * /status answers 401.  /metrics, /health and /ready stay open: probes
     * and scrapers carry no credentials, and they show no configuration. */
    const char *bearer_token;
} sl_http_hooks;

/* Connection limits (libmicrohttpd's event loop serves the rest however
 * slow some clients are): in all, per client address, and the seconds a
 * connection may stay idle (mid-request or between requests). */
#define SL_HTTP_MAX_CONNECTIONS 256
#define SL_HTTP_MAX_PER_IP 64
#define SL_HTTP_IDLE_TIMEOUT_S 5

/* Starts serving on addr:port ("127.0.0.1", 9464); port 0 picks a free port
 * (see sl_http_port).  NULL with err on failure (e.g. port in use). */
sl_http *sl_http_start(const char *addr, int port, sl_metrics *metrics,
                       const sl_http_hooks *hooks, char *err, size_t errlen);
int sl_http_port(const sl_http *h);
void sl_http_stop(sl_http *h);

#endif
