/* Shared helpers for the configuration tests: the fixture plugins, fixture
 * paths, and a check that a message points at an exact FILE:LINE:COL. */
#ifndef CFGTEST_H
#define CFGTEST_H

#include "check.h"
#include "config/config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline const char *env_or_die(const char *name)
{
    const char *v = getenv(name);
    if (!v) {
        fprintf(stderr, "%s is not set (run the test through ctest)\n", name);
        exit(2);
    }
    return v;
}

/* The path of a fixture YAML file (a static buffer per call site round). */
static inline const char *fixture(const char *name)
{
    static char bufs[4][PATH_MAX];
    static int k;
    char *b = bufs[k++ % 4];
    snprintf(b, PATH_MAX, "%s/%s", env_or_die("CFG_FIXTURES"), name);
    return b;
}

/* A registry with the fixture plugins named in the NULL-terminated list. */
static inline sl_registry *fixture_registry(const char *const *names)
{
    sl_registry *r = sl_registry_new();
    for (size_t i = 0; names[i]; i++) {
        char p[PATH_MAX], err[1024];
        snprintf(p, sizeof p, "%s/%s.so", env_or_die("CFG_PLUGIN_DIR"), names[i]);
        if (sl_registry_load_file(r, p, err, sizeof err) != 0) {
            fprintf(stderr, "cannot load fixture plugin: %s\n", err);
            exit(2);
        }
    }
    return r;
}

static inline sl_registry *std_registry(void)
{
    static const char *const names[] = {"cfg_io", "cfg_xform", NULL};
    return fixture_registry(names);
}

static inline void dump_diag(const sl_diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        fprintf(stderr, "    | %s\n", d->msgs[i]);
}

/* The message that starts with "PATH:LINE:COL: " and contains `text`. */
static inline const char *diag_find(const sl_diag *d, const char *path, int line, int col,
                             const char *text)
{
    char head[PATH_MAX + 64];
    snprintf(head, sizeof head, "%s:%d:%d: ", path, line, col);
    for (size_t i = 0; i < d->n; i++)
        if (strncmp(d->msgs[i], head, strlen(head)) == 0 && strstr(d->msgs[i], text))
            return d->msgs[i];
    return NULL;
}

#define CHECK_DIAG(d, path, line, col, text)                                                \
    do {                                                                                    \
        check_count++;                                                                      \
        if (!diag_find((d), (path), (line), (col), (text))) {                               \
            check_failures++;                                                               \
            fprintf(stderr, "%s:%d: no message at %s:%d:%d containing: %s\n  messages:\n",  \
                    __FILE__, __LINE__, (path), (line), (col), (text));                     \
            dump_diag(d);                                                                   \
        }                                                                                   \
    } while (0)

/* No message anywhere contains `text` (for secrets). */
#define CHECK_NO_DIAG_TEXT(d, text)                                                         \
    do {                                                                                    \
        check_count++;                                                                      \
        for (size_t i_ = 0; i_ < (d)->n; i_++)                                              \
            if (strstr((d)->msgs[i_], (text))) {                                            \
                check_failures++;                                                           \
                fprintf(stderr, "%s:%d: message leaks \"%s\": %s\n", __FILE__, __LINE__,    \
                        (text), (d)->msgs[i_]);                                             \
            }                                                                               \
    } while (0)

#endif
