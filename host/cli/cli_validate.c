#include "cli.h"

#include "config/config.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void validate_usage(FILE *f)
{
    fprintf(f, "usage: sluice validate [-P DIR]... FILE|DIR...\n"
               "\n"
               "Checks pipeline files against the plugins' declared options without\n"
               "starting anything.  Every problem is listed as FILE:LINE:COLUMN.\n"
               "Exit status: 0 if every file is valid, 1 otherwise.\n"
               "\n"
               "  -P, --plugin-dir DIR   also load plugins from DIR (repeatable)\n"
               "  -q, --quiet            print only problems\n");
}

int sl_cmd_validate(int argc, char **argv)
{
    sl_cli_common c = {0};
    char **files = calloc((size_t)argc + 1, sizeof(*files));
    int nfiles = 0, quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (sl_cli_plugin_opt(&c, argc, argv, &i))
            continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            validate_usage(stdout);
            free(files);
            return 0;
        }
        if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) {
            quiet = 1;
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "sluice validate: unknown option \"%s\"\n", argv[i]);
            validate_usage(stderr);
            free(files);
            return 2;
        }
        files[nfiles++] = argv[i];
    }
    if (!nfiles) {
        validate_usage(stderr);
        free(files);
        return 2;
    }
    sl_registry *reg = sl_registry_new();
    int refused = sl_cli_load_plugins(reg, &c, argv[0]);
    int rc = refused != 0 ? 1 : 0;

    sl_diag d = {0};
    char **paths = NULL;
    int np = sl_conf_collect(files, nfiles, &paths, &d);
    for (size_t i = 0; i < d.n; i++)
        fprintf(stderr, "%s\n", d.msgs[i]);
    if (np < 0) {
        rc = 1;
        np = 0;
    }
    for (int i = 0; i < np; i++) {
        sl_diag_free(&d);
        sl_pipeline_conf *conf = sl_conf_load(paths[i], reg, &d);
        for (size_t k = 0; k < d.n; k++)
            fprintf(stderr, "%s\n", d.msgs[k]);
        if (!conf) {
            rc = 1;
        } else if (!quiet) {
            char lanes[32] = "";
            if (conf->lanes > 1)
                snprintf(lanes, sizeof lanes, ", %d lanes", conf->lanes);
            printf("%s: ok (pipeline \"%s\": %s -> %zu transform(s) -> %s%s)\n", paths[i],
                   conf->name, conf->source.plugin, conf->n_transforms, conf->sink.plugin,
                   lanes);
        }
        sl_conf_free(conf);
        free(paths[i]);
    }
    sl_diag_free(&d);
    free(paths);
    free(files);
    sl_registry_free(reg);
    return rc;
}
