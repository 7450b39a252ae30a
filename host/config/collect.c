/* FILE|DIR arguments to the list of pipeline files.  A directory is a
 * deployment: its *.yaml and *.yml files, not its subdirectories (they may
 * hold secrets or drafts), and not hidden files (editors' swap files). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct list {
    char **v;
    size_t n, cap;
} list;

static int add(list *l, char *s)
{
    if (!s)
        return -1;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        char **nv = realloc(l->v, nc * sizeof(*nv));
        if (!nv) {
            free(s);
            return -1;
        }
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = s;
    return 0;
}

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a > b && strcmp(s + a - b, suf) == 0;
}

static char *join(const char *dir, const char *name)
{
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    size_t n = dl + strlen(name) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%.*s%s%s", (int)dl, dir, dir[dl - 1] == '/' ? "" : "/", name);
    return s;
}

/* Adds a directory's pipeline files; -1 on a problem (reported). */
static int scan_dir(list *l, const char *dir, sl_diag *d)
{
    DIR *dp = opendir(dir);
    if (!dp) {
        sl_diag_add(d, dir, 0, 0, "cannot read directory: %s", strerror(errno));
        return -1;
    }
    size_t before = l->n;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (e->d_name[0] == '.')
            continue;
        if (!has_suffix(e->d_name, ".yaml") && !has_suffix(e->d_name, ".yml"))
            continue;
        char *p = join(dir, e->d_name);
        struct stat st;
        if (p && stat(p, &st) == 0 && !S_ISREG(st.st_mode)) {
            free(p);
            continue;
        }
        if (add(l, p) != 0) {
            sl_diag_add(d, dir, 0, 0, "out of memory");
            rc = -1;
            break;
        }
    }
    closedir(dp);
    if (rc == 0 && l->n == before) {
        sl_diag_add(d, dir, 0, 0, "no pipeline files (*.yaml, *.yml) in this directory");
        rc = -1;
    }
    return rc;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int sl_conf_collect(char *const *args, int nargs, char ***paths, sl_diag *diag)
{
    list l = {0};
    int bad = 0;
    *paths = NULL;
    for (int i = 0; i < nargs; i++) {
        struct stat st;
        if (stat(args[i], &st) != 0) {
            sl_diag_add(diag, args[i], 0, 0, "%s", strerror(errno));
            bad = 1;
        } else if (S_ISDIR(st.st_mode)) {
            if (scan_dir(&l, args[i], diag) != 0)
                bad = 1;
        } else if (add(&l, strdup(args[i])) != 0) {
            sl_diag_add(diag, args[i], 0, 0, "out of memory");
            bad = 1;
        }
    }
    if (!bad && l.n == 0) {
        sl_diag_add(diag, NULL, 0, 0, "no pipeline files given");
        bad = 1;
    }
    if (bad) {
        for (size_t i = 0; i < l.n; i++)
            free(l.v[i]);
        free(l.v);
        return -1;
    }
    qsort(l.v, l.n, sizeof(*l.v), cmp);
    /* The same file named twice (a file and its directory) runs once. */
    size_t w = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (w && strcmp(l.v[w - 1], l.v[i]) == 0)
            free(l.v[i]);
        else
            l.v[w++] = l.v[i];
    }
    *paths = l.v;
    return (int)w;
}
