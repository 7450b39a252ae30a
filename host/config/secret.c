#include "secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sl_secret_read(const char *basedir, const char *path, char **out, char *err, size_t errlen)
{
    *out = NULL;
    char *full = NULL;
    if (path[0] != '/' && basedir && *basedir) {
        size_t n = strlen(basedir) + strlen(path) + 2;
        full = malloc(n);
        if (!full) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        snprintf(full, n, "%s/%s", basedir, path);
    }
    const char *p = full ? full : path;
    char *buf = NULL;
    int rc = -1;
    FILE *f = fopen(p, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read secret file \"%s\": %s", p, strerror(errno));
        goto out;
    }
    buf = malloc(SL_SECRET_MAX + 2);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    errno = 0;
    size_t n = fread(buf, 1, SL_SECRET_MAX + 1, f);
    if (ferror(f)) {
        /* fread on a directory fails with EISDIR; errno says so. */
        snprintf(err, errlen, "cannot read secret file \"%s\": %s", p,
                 strerror(errno ? errno : EIO));
        goto out;
    }
    if (n > SL_SECRET_MAX) {
        snprintf(err, errlen, "secret file \"%s\" is larger than %d bytes", p, SL_SECRET_MAX);
        goto out;
    }
    if (memchr(buf, '\0', n)) {
        snprintf(err, errlen, "secret file \"%s\" contains a NUL byte", p);
        goto out;
    }
    /* Editors and `echo` add a final newline that is never part of the secret. */
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    *out = strdup(buf);
    if (!*out) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    rc = 0;
out:
    if (f)
        fclose(f);
    if (buf) {
        /* It may hold part of a secret: do not leave it in freed memory. */
        explicit_bzero(buf, SL_SECRET_MAX + 2);
        free(buf);
    }
    free(full);
    return rc;
}
