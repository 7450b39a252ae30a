#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sl_open_regular(const char *path, char *why, size_t whylen)
{
    /* O_NONBLOCK: opening a FIFO with no writer would otherwise block
     * forever, before fstat could tell what it is.  Symlinks are followed on
     * purpose: Kubernetes mounts each secret as a symlink into ..data/. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, whylen, "not a regular file (%s); give the path of a plain file",
                 S_ISFIFO(st.st_mode)   ? "a FIFO"
                 : S_ISDIR(st.st_mode)  ? "a directory"
                 : S_ISCHR(st.st_mode)  ? "a character device"
                 : S_ISBLK(st.st_mode)  ? "a block device"
                 : S_ISSOCK(st.st_mode) ? "a socket"
                                        : "a special file");
        close(fd);
        return -1;
    }
    /* A regular file never blocks; clearing the flag keeps reads ordinary. */
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

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
    char why[256];
    int fd = sl_open_regular(p, why, sizeof why);
    if (fd < 0) {
        snprintf(err, errlen, "cannot read secret file \"%s\": %s", p, why);
        goto out;
    }
    buf = malloc(SL_SECRET_MAX + 2);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    size_t n = 0;
    while (n < SL_SECRET_MAX + 1) {
        ssize_t got = read(fd, buf + n, SL_SECRET_MAX + 1 - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            snprintf(err, errlen, "cannot read secret file \"%s\": %s", p, strerror(errno));
            goto out;
        }
        if (got == 0)
            break;
        n += (size_t)got;
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
    if (fd >= 0)
        close(fd);
    if (buf) {
        /* It may hold part of a secret: do not leave it in freed memory. */
        explicit_bzero(buf, SL_SECRET_MAX + 2);
        free(buf);
    }
    free(full);
    return rc;
}
