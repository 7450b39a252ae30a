/* The loader refuses, with one line naming the file and the reason, every
 * plugin it cannot trust; it accepts the good one and a second load of it. */
#include "check.h"
#include "plugin_registry.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[PATH_MAX];

static const char *fx(const char *c)
{
    static char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s/abi_%s.so", dir, c, c);
    return p;
}

int main(void)
{
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

    /* A plugin built against ABI 1.0 (before api->spool_append) loads. */
    CHECK_INT_EQ(sl_registry_load_file(r, fx("old"), err, sizeof err), 0);
    CHECK(sl_registry_find(r, "abi_old") != NULL);

    err[0] = 0;
    CHECK_INT_EQ(sl_registry_load_file(r, fx("major"), err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "abi_major.so\": ABI version mismatch: host 1.1, plugin 99.1");

    CHECK_INT_EQ(sl_registry_load_file(r, fx("minor"), err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "ABI version mismatch: host 1.1, plugin 1.99");
    CHECK_STR_CONTAINS(err, "needs a newer sluice");

    /* The note says 1.0, the descriptor 99.0: refused once it can be read. */
    CHECK_INT_EQ(sl_registry_load_file(r, fx("liar"), err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "abi_liar.so\": ABI version mismatch: host 1.0, plugin 99.0");

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

    CHECK_INT_EQ(sl_registry_count(r), 2); /* abi_good and abi_old */

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
