/* The loader refuses, with one line naming the file and the reason, every
 * plugin it cannot trust; it accepts the good one and a second load of it. */
#include "check.h"
#include "ctx.h"
#include "plugin_registry.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Exact string equality; NULL never equals. */
#define CHECK_STR_EQ(got, want)                                                        \
    do {                                                                               \
        const char *g_ = (got);                                                        \
        CHECK(g_ != NULL && strcmp(g_, (want)) == 0);                                  \
        if (g_ && strcmp(g_, (want)) != 0)                                             \
            fprintf(stderr, "    got:  %s\n    want: %s\n", g_, (want));              \
    } while (0)

static char dir[PATH_MAX];

static const char *fx(const char *c)
{
    static char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s/abi_%s.so", dir, c, c);
    return p;
}

/* SLUICE_HAS / SLUICE_API_HAS read only struct_size (and, for the api, the
 * pointer once it is known to be there). */
static void has_macros(void)
{
    sluice_api api = *sl_api();
    CHECK(SLUICE_API_HAS(&api, opt_int));
    CHECK(SLUICE_API_HAS(&api, spool_append));
    api.struct_size = offsetof(sluice_api, spooled); /* a 1.0 host's table */
    CHECK(!SLUICE_API_HAS(&api, spool_append));
    CHECK(!SLUICE_HAS(&api, opt_bool));
    CHECK(SLUICE_API_HAS(&api, from_json));
    api.struct_size = offsetof(sluice_api, opt_int); /* a 1.1 host's table */
    CHECK(SLUICE_API_HAS(&api, http_json));
    CHECK(!SLUICE_HAS(&api, opt_int));
    api.struct_size = sizeof api;
    api.opt_int = NULL;
    CHECK(SLUICE_HAS(&api, opt_int) && !SLUICE_API_HAS(&api, opt_int));

    sluice_source_ops ops = {0};
    ops.struct_size = sizeof ops;
    CHECK(SLUICE_HAS(&ops, destroy));
    ops.struct_size = offsetof(sluice_source_ops, destroy);
    CHECK(!SLUICE_HAS(&ops, destroy));
    CHECK(SLUICE_HAS(&ops, stop));
}

int main(void)
{
    has_macros();
    const char *d = getenv("ABI_FIXTURES");
    if (!d) {
        fprintf(stderr, "ABI_FIXTURES not set\n");
        return 1;
    }
    snprintf(dir, sizeof dir, "%s", d);
    /* Every fixture's constructor appends its name here when it runs. */
    char marker[PATH_MAX + 32];
    snprintf(marker, sizeof marker, "%s/loader-marker.%ld", dir, (long)getpid());
    unlink(marker);
    setenv("ABI_MARKER", marker, 1);
    sl_registry *r = sl_registry_new();
    char err[1024];

    CHECK_INT_EQ(sl_registry_load_file(r, fx("good"), err, sizeof err), 0);
    CHECK_INT_EQ(sl_registry_load_file(r, fx("good"), err, sizeof err), 0); /* twice: fine */
    CHECK_INT_EQ(sl_registry_count(r), 1);
    const sl_plugin_entry *e = sl_registry_find(r, "abi_good");
    CHECK(e && e->desc->source && e->desc->sink && !e->desc->transform);

    /* A plugin built against ABI 1.0 (before api->spool_append, with the
     * shorter sluice_option) loads, its options read with the 1.0 stride. */
    CHECK_INT_EQ(sl_registry_load_file(r, fx("old"), err, sizeof err), 0);
    const sl_plugin_entry *old = sl_registry_find(r, "abi_old");
    CHECK(old && old->source_options);
    if (old && old->source_options) {
        CHECK_STR_EQ(old->source_options[1].name, "count");
        CHECK(old->source_options[1].max == NULL);
        CHECK_STR_EQ(old->source_options[2].name, "token");
        CHECK(old->source_options[3].name == NULL);
    }

    err[0] = 0;
    CHECK_INT_EQ(sl_registry_load_file(r, fx("major"), err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "abi_major.so\": ABI version mismatch: host 1.2, plugin 99.0");

    CHECK_INT_EQ(sl_registry_load_file(r, fx("minor"), err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "ABI version mismatch: host 1.2, plugin 1.99");
    CHECK_STR_CONTAINS(err, "needs a newer sluice");

    /* The note says 1.0, the descriptor 99.2: refused once it can be read. */
    CHECK_INT_EQ(sl_registry_load_file(r, fx("liar"), err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "abi_liar.so\": ABI version mismatch: host 1.2, plugin 99.2");

    CHECK_INT_EQ(sl_registry_load_file(r, fx("nonote"), err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "abi_nonote.so\": not a sluice plugin (no .note.sluice; "
                            "rebuild against sluice.h >= 1.0");

    CHECK_INT_EQ(sl_registry_load_file(r, fx("noentry"), err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "no entry function sluice_plugin_entry()");

    CHECK_INT_EQ(sl_registry_load_file(r, fx("dup"), err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "duplicate plugin name \"abi_good\"");

    CHECK_INT_EQ(sl_registry_load_file(r, fx("badname"), err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "invalid plugin name \"Bad-Name\"");

    /* A file that is not a shared object at all. */
    char junk[PATH_MAX + 32];
    snprintf(junk, sizeof junk, "%s/junk.so", dir);
    FILE *f = fopen(junk, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("not an ELF file\n", f);
        fclose(f);
    }
    CHECK_INT_EQ(sl_registry_load_file(r, junk, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "junk.so\": could not load: not an ELF shared object");
    unlink(junk);

    CHECK_INT_EQ(sl_registry_load_file(r, "/nonexistent/x.so", err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "/nonexistent/x.so\": No such file or directory");

    /* Callback tables: too small for ABI 1.0 is refused by name and sizes;
     * larger (a future minor's) is accepted. */
    CHECK_INT_EQ(sl_registry_load_file(r, fx("small"), err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "abi_small.so\" (abi_small): its source table is too small: "
                            "struct_size 8, but a sluice_source_ops holds at least ");
    CHECK_STR_CONTAINS(err, "set .struct_size = sizeof(sluice_source_ops) and rebuild");
    CHECK_INT_EQ(sl_registry_load_file(r, fx("big"), err, sizeof err), 0);

    /* An option table whose default breaks its own bounds: the plugin's
     * bug, refused before any pipeline could trip over it. */
    CHECK_INT_EQ(sl_registry_load_file(r, fx("badbounds"), err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "abi_badbounds.so\" (abi_badbounds): source option \"count\": the "
                            "default 3 is out of range 5..10; a bug in the plugin's option "
                            "table");

    /* A 1.2 plugin's table, read with the 1.2 stride, keeps its bounds. */
    const sl_plugin_entry *g = sl_registry_find(r, "abi_good");
    CHECK(g && g->source_options && g->sink_options);
    if (g && g->source_options) {
        CHECK_STR_EQ(g->source_options[1].name, "count");
        CHECK_STR_EQ(g->source_options[1].max, "1000000");
        CHECK(g->source_options[3].name == NULL);
    }

    /* Built with ABI 1.1's shorter sluice_option: every element is read
     * with the 1.1 stride (with the 1.2 one, "label" and the rest would be
     * read from the middle of other elements), and has no bounds. */
    CHECK_INT_EQ(sl_registry_load_file(r, fx("v11"), err, sizeof err), 0);
    const sl_plugin_entry *v = sl_registry_find(r, "abi_v11");
    CHECK(v && v->source_options && v->sink_options);
    if (v && v->source_options) {
        const sluice_option *o = v->source_options;
        CHECK_STR_EQ(o[0].name, "count");
        CHECK_STR_EQ(o[0].def, "3");
        CHECK_STR_EQ(o[1].name, "label");
        CHECK_STR_EQ(o[1].def, "old");
        CHECK_STR_EQ(o[2].name, "mode");
        CHECK_STR_EQ(o[2].choices, "a|b");
        CHECK_STR_EQ(o[3].name, "wait");
        CHECK_INT_EQ(o[3].type, SLUICE_OPT_DURATION);
        CHECK_INT_EQ(o[3].flags, SLUICE_OPT_REQUIRED);
        for (int i = 0; i < 4; i++)
            CHECK(o[i].min == NULL && o[i].max == NULL);
        CHECK(o[4].name == NULL);
    }

    CHECK_INT_EQ(sl_registry_count(r), 4); /* abi_good, abi_old, abi_big, abi_v11 */

    /* Only the good plugin, the liar (note 1.0), the duplicate and the
     * misnamed one got as far as dlopen; the wrong-ABI and note-less files
     * never ran a constructor. */
    char marks[4096] = "";
    f = fopen(marker, "r");
    CHECK(f != NULL);
    if (f) {
        size_t n = fread(marks, 1, sizeof marks - 1, f);
        marks[n] = '\0';
        fclose(f);
    }
    CHECK_STR_CONTAINS(marks, "abi_good\n");
    CHECK(strstr(marks, "abi_major") == NULL);
    CHECK(strstr(marks, "abi_minor") == NULL);
    CHECK(strstr(marks, "abi_nonote") == NULL);
    CHECK_STR_CONTAINS(marks, "abi_liar\n");
    unlink(marker);
    sl_registry_free(r);
    return CHECK_DONE();
}
