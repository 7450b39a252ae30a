/* The command-line interface: `sluice run|validate|redrive|plugins|version`. */
#ifndef SL_CLI_H
#define SL_CLI_H

#include "plugin_registry.h"

typedef struct sl_cli_common {
    const char *plugin_dirs[32];
    int n_plugin_dirs;
} sl_cli_common;

/* Loads plugins from -P dirs, SLUICE_PLUGIN_PATH, and the directory next
 * to the executable (build tree or install tree).  Every refusal is
 * printed; returns the number of refusals, or -1 if a -P dir is unreadable. */
int sl_cli_load_plugins(sl_registry *reg, const sl_cli_common *c, const char *argv0);

const char *sl_version(void);

/* Parses -P/--plugin-dir DIR into c; returns 1 if argv[*i] was consumed. */
int sl_cli_plugin_opt(sl_cli_common *c, int argc, char **argv, int *i);

int sl_cmd_run(int argc, char **argv);
int sl_cmd_validate(int argc, char **argv);
int sl_cmd_plugins(int argc, char **argv);
int sl_cmd_redrive(int argc, char **argv);

#endif
