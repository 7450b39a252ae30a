/* sluice: a plugin host that moves records from a source, through
 * transforms, into a sink, as pipeline files say. */
#include "cli.h"
#include "crash.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sluice <command> [options]\n"
            "\n"
            "commands:\n"
            "  run FILE|DIR...        run pipelines until SIGTERM/SIGINT (SIGHUP reloads)\n"
            "  validate FILE|DIR...   check pipeline files without running them\n"
            "  redrive DEAD_LETTER_FILE PIPELINE_FILE [--dead-letter OUT]\n"
            "                         run a pipeline's transforms and sink again over\n"
            "                         its dead letters (a file sink's envelopes)\n"
            "  plugins [--describe NAME]\n"
            "                         list the plugins found, or one plugin's options\n"
            "  version                print the version and plugin ABI\n"
            "\n"
            "`sluice <command> --help` describes a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "run"))
        return sl_crash_exit_ours(sl_cmd_run(argc - 1, argv + 1));
    if (!strcmp(cmd, "validate"))
        return sl_cmd_validate(argc - 1, argv + 1);
    if (!strcmp(cmd, "redrive"))
        return sl_crash_exit_ours(sl_cmd_redrive(argc - 1, argv + 1));
    if (!strcmp(cmd, "plugins"))
        return sl_cmd_plugins(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        if (argc > 2) {
            if (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")) {
                printf("usage: sluice version\n\nPrints sluice's version and the plugin ABI "
                       "(major.minor) it loads.\n");
                return 0;
            }
            fprintf(stderr, "sluice version: unexpected argument \"%s\"; it takes none\n",
                    argv[2]);
            return 2;
        }
        printf("sluice %s (plugin ABI %d.%d)\n", sl_version(), SLUICE_ABI_MAJOR,
               SLUICE_ABI_MINOR);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "sluice: unknown command \"%s\"\n\n", cmd);
    usage(stderr);
    return 2;
}
