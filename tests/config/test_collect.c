/* FILE|DIR arguments become a sorted list of pipeline files: *.yaml and
 * *.yml of a directory (not hidden files, not subdirectories), named files
 * as given, duplicates once; a missing path or an empty directory is an
 * error naming it. */
#include "cfgtest.h"

#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/sluice-cfg-XXXXXX";

static void touch(const char *name)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (f)
        fclose(f);
}

static void free_paths(char **paths, int n)
{
    for (int i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    char p[PATH_MAX], sub[PATH_MAX], empty[PATH_MAX];
    touch("b.yml");
    touch("a.yaml");
    touch("c.yaml");
    touch(".hidden.yaml");
    touch("notes.txt");
    touch("d.yaml~");
    touch("yaml");
    snprintf(sub, sizeof sub, "%s/sub.yaml", dir); /* a directory named like a file */
    mkdir(sub, 0755);
    snprintf(p, sizeof p, "%s/sub.yaml/inner.yaml", dir);
    fclose(fopen(p, "w"));
    snprintf(empty, sizeof empty, "%s/empty", dir);
    mkdir(empty, 0755);

    sl_diag d = {0};
    char **paths = NULL;
    char *args1[] = {dir};
    int n = sl_conf_collect(args1, 1, &paths, &d);
    CHECK_INT_EQ(n, 3);
    CHECK_INT_EQ(d.n, 0);
    char want[2 * PATH_MAX];
    if (n == 3) {
        snprintf(want, sizeof want, "%s/a.yaml", dir);
        CHECK(strcmp(paths[0], want) == 0);
        snprintf(want, sizeof want, "%s/b.yml", dir);
        CHECK(strcmp(paths[1], want) == 0);
        snprintf(want, sizeof want, "%s/c.yaml", dir);
        CHECK(strcmp(paths[2], want) == 0);
    }
    free_paths(paths, n);

    /* A trailing slash does not double; a file named too is listed once;
     * a named file need not end in .yaml; the result is sorted. */
    char withslash[PATH_MAX + 2], named[PATH_MAX + 16], txt[PATH_MAX + 16];
    snprintf(withslash, sizeof withslash, "%s/", dir);
    snprintf(named, sizeof named, "%s/c.yaml", dir);
    snprintf(txt, sizeof txt, "%s/notes.txt", dir);
    char *args2[] = {txt, withslash, named};
    n = sl_conf_collect(args2, 3, &paths, &d);
    CHECK_INT_EQ(n, 4);
    if (n == 4) {
        CHECK(strcmp(paths[2], named) == 0);
        CHECK(strcmp(paths[3], txt) == 0);
        snprintf(want, sizeof want, "%s/a.yaml", dir);
        CHECK(strcmp(paths[0], want) == 0);
    }
    free_paths(paths, n);

    /* Errors: every bad argument is named; no list comes back. */
    char missing[PATH_MAX + 16];
    snprintf(missing, sizeof missing, "%s/nope.yaml", dir);
    char *args3[] = {missing, empty, dir};
    char *sentinel[1];
    paths = sentinel; /* must be reset */
    n = sl_conf_collect(args3, 3, &paths, &d);
    CHECK_INT_EQ(n, -1);
    CHECK(paths == NULL);
    CHECK_INT_EQ(d.n, 2);
    snprintf(want, sizeof want, "%s: No such file or directory", missing);
    CHECK_STR_CONTAINS(d.n > 0 ? d.msgs[0] : NULL, want);
    snprintf(want, sizeof want, "%s: no pipeline files (*.yaml, *.yml)", empty);
    CHECK_STR_CONTAINS(d.n > 1 ? d.msgs[1] : NULL, want);
    sl_diag_free(&d);

    n = sl_conf_collect(NULL, 0, &paths, &d);
    CHECK_INT_EQ(n, -1);
    CHECK_STR_CONTAINS(d.n ? d.msgs[0] : NULL, "no pipeline files given");
    sl_diag_free(&d);

    /* Clean up. */
    const char *names[] = {"b.yml", "a.yaml", "c.yaml", ".hidden.yaml", "notes.txt", "d.yaml~",
                           "yaml", "sub.yaml/inner.yaml"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(sub);
    rmdir(empty);
    rmdir(dir);
    return CHECK_DONE();
}
