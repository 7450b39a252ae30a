#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *type_name(sluice_opt_type t)
{
    switch (t) {
    case SLUICE_OPT_STRING: return "string";
    case SLUICE_OPT_INT: return "int";
    case SLUICE_OPT_DOUBLE: return "number";
    case SLUICE_OPT_BOOL: return "bool";
    case SLUICE_OPT_DURATION: return "duration";
    case SLUICE_OPT_SIZE: return "size";
    case SLUICE_OPT_LIST: return "list";
    case SLUICE_OPT_MAP: return "map";
    case SLUICE_OPT_SECRET: return "secret";
    }
    return "?";
}

static void kinds(const sluice_plugin *d, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s%s%s", d->source ? "source" : "",
             d->source && (d->transform || d->sink) ? "," : "", d->transform ? "transform" : "",
             d->transform && d->sink ? "," : "", d->sink ? "sink" : "");
}

static void describe_options(const char *kind, const sluice_option *o)
{
    printf("\n  %s options:\n", kind);
    if (!o || !o->name) {
        printf("    (none)\n");
        return;
    }
    for (; o->name; o++) {
        printf("    %-22s %-9s %s", o->name, type_name(o->type),
               (o->flags & SLUICE_OPT_REQUIRED) ? "required" : "optional");
        if (o->def)
            printf(", default %s", o->def);
        if (o->choices)
            printf(", one of %s", o->choices);
        if (o->min && o->max)
            printf(", %s..%s", o->min, o->max);
        else if (o->min)
            printf(", at least %s", o->min);
        else if (o->max)
            printf(", at most %s", o->max);
        printf("\n        %s\n", o->doc ? o->doc : "");
    }
}

static void plugins_usage(FILE *f)
{
    fprintf(f, "usage: sluice plugins [-P DIR]... [--describe NAME]\n"
               "\n"
               "Lists the plugins found (name, kinds, version, file), or with --describe\n"
               "every option of one plugin: type, required or default, and what it does.\n"
               "Plugin files that were refused are listed as errors; exit status 1 then.\n");
}

int sl_cmd_plugins(int argc, char **argv)
{
    sl_cli_common c = {0};
    const char *describe = NULL;
    for (int i = 1; i < argc; i++) {
        if (sl_cli_plugin_opt(&c, argc, argv, &i))
            continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            plugins_usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--describe")) {
            if (i + 1 >= argc || !argv[i + 1][0] || argv[i + 1][0] == '-') {
                fprintf(stderr, "sluice plugins: --describe needs a plugin name, e.g. "
                                "`sluice plugins --describe mqtt`; `sluice plugins` lists "
                                "them\n");
                return 2;
            }
            describe = argv[++i];
            continue;
        }
        if (!strncmp(argv[i], "--describe=", 11)) {
            describe = argv[i] + 11;
            continue;
        }
        fprintf(stderr, "sluice plugins: unexpected argument \"%s\"\n", argv[i]);
        plugins_usage(stderr);
        return 2;
    }
    sl_registry *reg = sl_registry_new();
    int refused = sl_cli_load_plugins(reg, &c, argv[0]);
    int rc = refused != 0 ? 1 : 0;
    char k[64];
    if (describe) {
        const sl_plugin_entry *e = sl_registry_find(reg, describe);
        if (!e) {
            fprintf(stderr, "sluice plugins: no plugin named \"%s\"; `sluice plugins` lists "
                            "them\n", describe);
            sl_registry_free(reg);
            return 1;
        }
        const sluice_plugin *d = e->desc;
        kinds(d, k, sizeof k);
        printf("%s %s — %s\n  kinds: %s\n  file: %s\n  ABI: %d.%d\n", d->name,
               d->version ? d->version : "", d->description ? d->description : "", k, e->path,
               d->abi_major, d->abi_minor);
        if (d->source)
            describe_options("source", e->source_options);
        if (d->transform)
            describe_options("transform", e->transform_options);
        if (d->sink)
            describe_options("sink", e->sink_options);
    } else {
        if (sl_registry_count(reg) == 0)
            printf("no plugins found; add a directory with -P DIR or SLUICE_PLUGIN_PATH\n");
        for (size_t i = 0; i < sl_registry_count(reg); i++) {
            const sl_plugin_entry *e = sl_registry_at(reg, i);
            kinds(e->desc, k, sizeof k);
            printf("%-12s %-22s %-8s %s\n             %s\n", e->desc->name, k,
                   e->desc->version ? e->desc->version : "", e->path,
                   e->desc->description ? e->desc->description : "");
        }
    }
    sl_registry_free(reg);
    return rc;
}
