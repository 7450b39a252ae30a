/* Diagnostics: one line per problem, prefixed with where it is, so editors
 * and CI logs can jump to it (the "FILE:LINE:COL: message" convention of
 * compilers). */
#include "config.h"
#include "redact.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void sl_diag_add(sl_diag *d, const char *file, int line, int col, const char *fmt, ...)
{
    if (!d)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sl_secret_scrub(msg, sizeof msg);

    char head[64];
    if (line > 0 && col > 0)
        snprintf(head, sizeof head, ":%d:%d", line, col);
    else if (line > 0)
        snprintf(head, sizeof head, ":%d", line);
    else
        head[0] = '\0';

    int n = file ? snprintf(NULL, 0, "%s%s: %s", file, head, msg) : snprintf(NULL, 0, "%s", msg);
    if (n < 0)
        return;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return;
    if (file)
        snprintf(s, (size_t)n + 1, "%s%s: %s", file, head, msg);
    else
        snprintf(s, (size_t)n + 1, "%s", msg);

    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 8;
        char **nv = realloc(d->msgs, nc * sizeof(*nv));
        if (!nv) {
            free(s);
            return;
        }
        d->msgs = nv;
        d->cap = nc;
    }
    d->msgs[d->n++] = s;
}

void sl_diag_free(sl_diag *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++)
        free(d->msgs[i]);
    free(d->msgs);
    d->msgs = NULL;
    d->n = d->cap = 0;
}
