/* The plugin routes of the HTTP endpoint.  One mutex guards the table and
 * is held while a callback runs: a removal therefore waits for a running
 * callback, which is what lets the host free an instance right after.  The
 * server has one thread, so holding it costs no parallelism. */
#include "http_routes.h"
#include "ctx.h"
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUTE_PATH_MAX 64
#define DOC_MAX (64u << 20)

typedef struct route {
    char path[ROUTE_PATH_MAX];
    sluice_ctx *ctx;
    sl_http_json_fn fn;
    void *arg;
} route;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static route *g_routes;      /* registration order: the last match wins */
static size_t g_n, g_cap;

static int reserved(const char *p)
{
    static const char *const own[] = {"/metrics", "/health", "/ready", "/status"};
    for (size_t i = 0; i < sizeof own / sizeof *own; i++)
        if (strcmp(p, own[i]) == 0)
            return 1;
    return 0;
}

static int path_ok(const char *p, char *err, size_t errlen)
{
    size_t n = p ? strlen(p) : 0;
    if (n < 2 || p[0] != '/' || n >= ROUTE_PATH_MAX) {
        snprintf(err, errlen,
                 "http_json: path \"%s\" must start with '/' and have 2 to %d bytes",
                 p ? p : "(null)", ROUTE_PATH_MAX - 1);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c <= ' ' || c >= 0x7f || c == '?' || c == '#' || c == '%') {
            snprintf(err, errlen,
                     "http_json: path \"%s\" may hold only printable ASCII without '?', "
                     "'#', '%%' or spaces",
                     p);
            return -1;
        }
    }
    if (reserved(p)) {
        snprintf(err, errlen, "http_json: path \"%s\" is the host's own; choose another", p);
        return -1;
    }
    return 0;
}

static void remove_at(size_t i)
{
    memmove(&g_routes[i], &g_routes[i + 1], (g_n - i - 1) * sizeof *g_routes);
    g_n--;
}

int sl_http_routes_set(sluice_ctx *ctx, const char *path, sl_http_json_fn fn, void *arg,
                       char *err, size_t errlen)
{
    if (path_ok(path, err, errlen) != 0)
        return -1;
    pthread_mutex_lock(&g_mu);
    for (size_t i = 0; i < g_n; i++) {
        if (g_routes[i].ctx == ctx && strcmp(g_routes[i].path, path) == 0) {
            remove_at(i);
            break;
        }
    }
    if (!fn) {
        pthread_mutex_unlock(&g_mu);
        return 0;
    }
    if (g_n == g_cap) {
        size_t nc = g_cap ? g_cap * 2 : 8;
        route *nr = realloc(g_routes, nc * sizeof *nr);
        if (!nr) {
            pthread_mutex_unlock(&g_mu);
            snprintf(err, errlen, "http_json: out of memory");
            return -1;
        }
        g_routes = nr;
        g_cap = nc;
    }
    const char *shadowed = NULL;
    for (size_t i = 0; i < g_n; i++)
        if (strcmp(g_routes[i].path, path) == 0)
            shadowed = g_routes[i].ctx ? g_routes[i].ctx->pipeline : "?";
    route *r = &g_routes[g_n++];
    snprintf(r->path, sizeof r->path, "%s", path);
    r->ctx = ctx;
    r->fn = fn;
    r->arg = arg;
    if (shadowed)
        sl_log(SLUICE_LOG_WARN, ctx ? ctx->pipeline : NULL, "http",
               "%s is now served by %s (plugin \"%s\") instead of pipeline \"%s\"; the "
               "earlier one serves it again once this one goes",
               path, ctx ? ctx->instance : "?", ctx ? ctx->plugin : "?", shadowed);
    pthread_mutex_unlock(&g_mu);
    return 0;
}

void sl_http_routes_drop(sluice_ctx *ctx)
{
    pthread_mutex_lock(&g_mu);
    for (size_t i = g_n; i-- > 0;)
        if (g_routes[i].ctx == ctx)
            remove_at(i);
    if (g_n == 0) {
        free(g_routes);
        g_routes = NULL;
        g_cap = 0;
    }
    pthread_mutex_unlock(&g_mu);
}

int sl_http_routes_serve(const char *path, const char *query, char **body)
{
    *body = NULL;
    pthread_mutex_lock(&g_mu);
    const route *r = NULL;
    for (size_t i = g_n; i-- > 0;) {
        if (strcmp(g_routes[i].path, path) == 0) {
            r = &g_routes[i];
            break;
        }
    }
    if (!r) {
        pthread_mutex_unlock(&g_mu);
        return 0;
    }
    size_t cap = 16384, len = 0;
    int status = 500;
    char *buf = NULL;
    for (int round = 0; round < 4; round++) {
        char *nb = realloc(buf, cap);
        if (!nb)
            break;
        buf = nb;
        buf[0] = '\0';
        len = 0;
        status = r->fn(r->arg, query ? query : "", buf, cap, &len);
        if (len < cap)
            break;
        if (len >= DOC_MAX) {
            sl_log(SLUICE_LOG_WARN, r->ctx ? r->ctx->pipeline : NULL, "http",
                   "%s: the document of %zu bytes exceeds the limit of %u MiB; ask for a "
                   "smaller page",
                   path, len, DOC_MAX >> 20);
            len = cap;
            break;
        }
        cap = len + 1;
    }
    pthread_mutex_unlock(&g_mu);
    if (!buf || len >= cap) {
        free(buf);
        return 500;
    }
    if (status < 100 || status > 599)
        status = 500;
    *body = buf;
    return status;
}

char *sl_http_routes_list(void)
{
    pthread_mutex_lock(&g_mu);
    size_t n = 1;
    for (size_t i = 0; i < g_n; i++)
        n += strlen(g_routes[i].path) + 4;
    char *s = malloc(n);
    if (s) {
        size_t o = 0;
        s[0] = '\0';
        for (size_t i = 0; i < g_n; i++) {
            int dup = 0;
            for (size_t k = 0; k < i; k++)
                dup |= strcmp(g_routes[k].path, g_routes[i].path) == 0;
            if (!dup)
                o += (size_t)snprintf(s + o, n - o, ",\"%s\"", g_routes[i].path);
        }
    }
    pthread_mutex_unlock(&g_mu);
    return s;
}
