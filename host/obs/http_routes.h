/* JSON documents that plugin instances serve on the HTTP endpoint
 * (api->http_json).  The registry is process-wide, like the metrics
 * registry, so the server and the plugins meet without knowing each other. */
#ifndef SL_HTTP_ROUTES_H
#define SL_HTTP_ROUTES_H

#include <sluice/sluice.h>
#include <stddef.h>

typedef int (*sl_http_json_fn)(void *arg, const char *query, char *buf, size_t cap,
                               size_t *len);

/* Adds (fn) or removes (fn NULL) ctx's route for path.  0, or -1 with err. */
int sl_http_routes_set(sluice_ctx *ctx, const char *path, sl_http_json_fn fn, void *arg,
                       char *err, size_t errlen);

/* Removes every route of ctx; on return none of its callbacks runs. */
void sl_http_routes_drop(sluice_ctx *ctx);

/* Serves path: 0 when no route has it; else the HTTP status with *body
 * (malloc'd, NUL-terminated) set, or NULL when it could not be built. */
int sl_http_routes_serve(const char *path, const char *query, char **body);

/* The served paths as JSON array items, each preceded by a comma
 * (",\"/devices\"", malloc'd; "" when none).  NULL on exhaustion. */
char *sl_http_routes_list(void);

#endif
