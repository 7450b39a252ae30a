/* Secrets given as { file: PATH }: the Docker/Kubernetes convention of one
 * secret per file, mounted read-only next to the configuration. */
#ifndef SL_SECRET_H
#define SL_SECRET_H

#include <stddef.h>

/* Secret files are small; a larger one is a wrong path, not a secret. */
#define SL_SECRET_MAX 65536

/* Reads the secret at `path` (relative paths are taken from `basedir`, the
 * pipeline file's directory) into *out, trailing CR/LF stripped.  Returns 0,
 * or -1 with a reason naming the path in err (never the contents). */
int sl_secret_read(const char *basedir, const char *path, char **out, char *err, size_t errlen);

/* Opens `path` for reading without ever blocking (a FIFO or device would
 * hang a plain open or read) and only if it is a regular file.  Returns the
 * descriptor, or -1 with the reason (without the path) in why. */
int sl_open_regular(const char *path, char *why, size_t whylen);

#endif
