#include "kpath.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Set by CMake: the schema directory relative to the installed plugin
 * directory, and its absolute installed location. */
#ifndef KAFKA_SCHEMA_REL
#define KAFKA_SCHEMA_REL "../../../share/sluice/schemas"
#endif
#ifndef KAFKA_SCHEMA_ABS
#define KAFKA_SCHEMA_ABS "/usr/local/share/sluice/schemas"
#endif

static int exists(const char *p) { return access(p, R_OK) == 0; }

void kpath_resolve(const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s", name);
    if (name[0] == '/' || exists(name))
        return;
    char self[4096] = "";
    Dl_info info;
    if (dladdr((void *)&kpath_resolve, &info) && info.dli_fname) {
        snprintf(self, sizeof self, "%s", info.dli_fname);
        char *slash = strrchr(self, '/');
        if (slash)
            *slash = '\0';
        else
            snprintf(self, sizeof self, ".");
    }
    /* Installed, then the build tree (plugins/ next to share/). */
    const char *const rel[] = {KAFKA_SCHEMA_REL, "../share/sluice/schemas"};
    char cand[8192];
    for (size_t i = 0; self[0] && i < sizeof rel / sizeof rel[0]; i++) {
        snprintf(cand, sizeof cand, "%s/%s/%s", self, rel[i], name);
        if (exists(cand)) {
            snprintf(out, n, "%s", cand);
            return;
        }
    }
    snprintf(cand, sizeof cand, "%s/%s", KAFKA_SCHEMA_ABS, name);
    if (exists(cand))
        snprintf(out, n, "%s", cand);
}
