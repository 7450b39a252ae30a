/* Plugin trust (StrictModes): a plugin file, or a directory above it, that
 * someone other than root or us owns or that group/others can write is
 * refused with one line naming that path, and never opened.  Run as root in
 * CI, so "foreign" means nobody (65534): root itself is always trusted. */
#include "check.h"
#include "plugin_registry.h"
#include "plugin_trust.h"

#include <fcntl.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOBODY 65534

static char marker[PATH_MAX];

static int copy(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    int rc = in && out ? 0 : -1;
    char buf[65536];
    size_t n;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = -1;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        rc = -1;
    return rc == 0 ? chmod(to, 0755) : -1;
}

static int marked(void) { return access(marker, F_OK) == 0; }

/* Loads `so` into a fresh registry; returns the verdict, err filled. */
static int load(const char *so, char *err, size_t len)
{
    sl_registry *r = sl_registry_new();
    unlink(marker);
    err[0] = '\0';
    int rc = sl_registry_load_file(r, so, err, len);
    sl_registry_free(r);
    return rc;
}

static int load_dir(const char *dir, char *err, size_t len)
{
    sl_registry *r = sl_registry_new();
    unlink(marker);
    err[0] = '\0';
    int rc = sl_registry_load_dir(r, dir, NULL, NULL, err, len);
    sl_registry_free(r);
    return rc;
}

/* The note reader takes untrusted files: truncated and mangled copies of
 * a real plugin must give an answer, never a crash (ASan watches). */
static void mangled_elf(const char *src, const char *dir)
{
    FILE *in = fopen(src, "rb");
    CHECK(in != NULL);
    if (!in)
        return;
    static unsigned char orig[1 << 20];
    size_t n = fread(orig, 1, sizeof orig, in);
    fclose(in);
    char p[PATH_MAX + 32], err[512];
    snprintf(p, sizeof p, "%s/mangled.so", dir);
    int major, minor, found_intact = 0;
    srand(42);
    for (int round = 0; round < 200; round++) {
        static unsigned char buf[1 << 20];
        memcpy(buf, orig, n);
        size_t len = n;
        if (round % 4 == 0) {
            len = (size_t)rand() % (n < 4096 ? n : 4096); /* truncated */
        } else {
            for (int k = 0; k < 1 + round % 8; k++) {
                /* Mostly in the headers, where the reader looks. */
                size_t at = (size_t)rand() % (n < 1024 ? n : 1024);
                buf[at] = (unsigned char)rand();
            }
        }
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        CHECK(fd >= 0);
        if (fd < 0)
            return;
        if (write(fd, buf, len) != (ssize_t)len)
            CHECK(0);
        close(fd);
        fd = open(p, O_RDONLY);
        int r = sl_elf_abi_note(fd, &major, &minor, err, sizeof err);
        close(fd);
        CHECK(r >= -1 && r <= 1);
        if (r == 1 && major == 1 && minor == 0)
            found_intact++;
    }
    fprintf(stderr, "mangled ELF copies: %d of 200 still carried an intact note\n", found_intact);
    unlink(p);
}

int main(void)
{
    const char *fx = getenv("ABI_FIXTURES");
    if (!fx) {
        fprintf(stderr, "ABI_FIXTURES not set\n");
        return 1;
    }
    /* Each load must really open and close the copy, or its constructor
     * would not run again. */
    unsetenv("SLUICE_KEEP_PLUGINS_LOADED");
    int root = geteuid() == 0;
    /* mkdtemp under /tmp: /tmp is a root-owned sticky ancestor, which the
     * rule accepts; the directory itself is ours, mode 0700. */
    char top[] = "/tmp/sluice-trust.XXXXXX";
    CHECK(mkdtemp(top) != NULL);
    chmod(top, 0755);
    char dir[PATH_MAX], so[PATH_MAX + 32], src[PATH_MAX + 32], err[2048];
    snprintf(dir, sizeof dir, "%s/plugins", top);
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(so, sizeof so, "%s/abi_good.so", dir);
    snprintf(src, sizeof src, "%s/good/abi_good.so", fx);
    CHECK(copy(src, so) == 0);
    snprintf(marker, sizeof marker, "%s/marker", top);
    setenv("ABI_MARKER", marker, 1);

    /* The copy is trusted and runs: the marker shows the test can see it. */
    CHECK_INT_EQ(load(so, err, sizeof err), 0);
    CHECK(marked());
    CHECK_INT_EQ(load_dir(dir, err, sizeof err), 0);

    /* World-writable file. */
    chmod(so, 0666);
    CHECK_INT_EQ(load(so, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "abi_good.so\": refused: file \"");
    CHECK_STR_CONTAINS(err, "is writable by others (mode 0666)");
    CHECK_STR_CONTAINS(err, "chmod go-w");
    CHECK(!marked());
    /* Group-writable file. */
    chmod(so, 0775);
    CHECK_INT_EQ(load(so, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "is writable by its group (mode 0775)");
    CHECK(!marked());
    chmod(so, 0755);

    /* World-writable directory, sticky or not: refused for a single file
     * and for a scan, which then looks at nothing in it. */
    chmod(dir, 0777);
    CHECK_INT_EQ(load(so, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "refused: directory \"");
    CHECK_STR_CONTAINS(err, "/plugins\" is writable by others (mode 0777)");
    CHECK_INT_EQ(load_dir(dir, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "plugin directory \"");
    CHECK_STR_CONTAINS(err, "refused: directory");
    CHECK(!marked());
    chmod(dir, 01777);
    CHECK_INT_EQ(load(so, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "(mode 1777)");
    CHECK(!marked());
    chmod(dir, 0755);

    /* An ancestor others can write, not sticky: refused, naming it. */
    chmod(top, 0777);
    CHECK_INT_EQ(load(so, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, top);
    CHECK_STR_CONTAINS(err, "is writable by others (mode 0777)");
    CHECK(!marked());
    if (root) {
        /* A root-owned sticky ancestor, as /tmp: nobody else can rename our
         * directory inside it, so it is accepted. */
        chmod(top, 01777);
        CHECK_INT_EQ(load(so, err, sizeof err), 0);
        CHECK(marked());
    }
    chmod(top, 0755);

    if (root) {
        /* Foreign-owned file: refused although its mode is safe. */
        CHECK(chown(so, NOBODY, NOBODY) == 0);
        CHECK_INT_EQ(load(so, err, sizeof err), -1);
        CHECK_STR_CONTAINS(err, "is owned by uid 65534, not by root or the user running "
                                "sluice (uid 0)");
        CHECK(!marked());
        CHECK(chown(so, 0, 0) == 0);
        /* Foreign-owned directory. */
        CHECK(chown(dir, NOBODY, NOBODY) == 0);
        CHECK_INT_EQ(load(so, err, sizeof err), -1);
        CHECK_STR_CONTAINS(err, "/plugins\" is owned by uid 65534");
        CHECK_INT_EQ(load_dir(dir, err, sizeof err), -1);
        CHECK_STR_CONTAINS(err, "is owned by uid 65534");
        CHECK(!marked());
        /* Foreign-owned ancestor. */
        CHECK(chown(dir, 0, 0) == 0);
        CHECK(chown(top, NOBODY, NOBODY) == 0);
        CHECK_INT_EQ(load(so, err, sizeof err), -1);
        CHECK_STR_CONTAINS(err, "is owned by uid 65534");
        CHECK(!marked());
        CHECK(chown(top, 0, 0) == 0);
    } else {
        fprintf(stderr, "not root: the foreign-owner cases need chown and are skipped\n");
    }

    /* Everything restored: trusted again. */
    CHECK_INT_EQ(load(so, err, sizeof err), 0);
    CHECK(marked());

    /* A symlink into an untrusted place is judged by where it leads. */
    char link[PATH_MAX + 32];
    snprintf(link, sizeof link, "%s/link.so", top);
    CHECK(symlink(so, link) == 0);
    chmod(dir, 0777);
    CHECK_INT_EQ(load(link, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "is writable by others");
    chmod(dir, 0755);

    mangled_elf(src, top);

    unlink(link);
    unlink(marker);
    unlink(so);
    rmdir(dir);
    rmdir(top);
    return CHECK_DONE();
}
