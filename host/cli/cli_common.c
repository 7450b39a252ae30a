#include "cli.h"

#include "log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *sl_version(void) { return SLUICE_VERSION; }

int sl_cli_plugin_opt(sl_cli_common *c, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    const char *val = NULL;
    if (!strcmp(a, "-P") || !strcmp(a, "--plugin-dir")) {
        if (*i + 1 >= argc) {
            fprintf(stderr, "sluice: %s needs a directory\n", a);
            exit(2);
        }
        val = argv[++*i];
    } else if (!strncmp(a, "--plugin-dir=", 13)) {
        val = a + 13;
    } else {
        return 0;
    }
    if (c->n_plugin_dirs < (int)(sizeof c->plugin_dirs / sizeof *c->plugin_dirs))
        c->plugin_dirs[c->n_plugin_dirs++] = val;
    return 1;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void report(void *arg, const char *msg)
{
    (void)arg;
    sl_log(SLUICE_LOG_ERROR, NULL, NULL, "%s", msg);
}

static int load_dir(sl_registry *reg, const char *dir, int must_exist)
{
    if (!is_dir(dir)) {
        if (must_exist) {
            sl_log(SLUICE_LOG_ERROR, NULL, NULL, "plugin directory \"%s\": %s", dir,
                   errno ? strerror(errno) : "not a directory");
            return -1;
        }
        return 0;
    }
    char err[1024];
    int r = sl_registry_load_dir(reg, dir, report, NULL, err, sizeof err);
    if (r < 0) {
        sl_log(SLUICE_LOG_ERROR, NULL, NULL, "%s", err);
        return must_exist ? -1 : 0;
    }
    return r;
}

int sl_cli_load_plugins(sl_registry *reg, const sl_cli_common *c, const char *argv0)
{
    (void)argv0;
    int refused = 0, r;
    for (int i = 0; i < c->n_plugin_dirs; i++) {
        if ((r = load_dir(reg, c->plugin_dirs[i], 1)) < 0)
            return -1;
        refused += r;
    }
    const char *env = getenv("SLUICE_PLUGIN_PATH");
    if (env && *env) {
        char *copy = strdup(env), *save = NULL;
        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save))
            if ((r = load_dir(reg, d, 0)) > 0)
                refused += r;
        free(copy);
    }
    /* The executable's own tree: bin/../plugins in a build tree,
     * bin/../lib/sluice/plugins once installed.  Found relative to the
     * executable, so a build tree and an installed copy never mix. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char dir[PATH_MAX + 64];
            snprintf(dir, sizeof dir, "%s/../plugins", exe);
            if (is_dir(dir)) {
                refused += load_dir(reg, dir, 0);
            } else {
                snprintf(dir, sizeof dir, "%s/../lib/sluice/plugins", exe);
                if (is_dir(dir))
                    refused += load_dir(reg, dir, 0);
                else if (is_dir(SLUICE_PLUGIN_INSTALL_DIR))
                    refused += load_dir(reg, SLUICE_PLUGIN_INSTALL_DIR, 0);
            }
        }
    }
    return refused;
}
