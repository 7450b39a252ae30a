/* Hostile or mistaken configuration fails fast and clearly: a FIFO (or
 * other special file) given as a secret file, huge mappings, duplicate keys
 * in a large mapping (found in linear time), and too many values in all. */
#include "cfgtest.h"
#include "config/ynode.h"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static sl_registry *reg;

/* The acceptance budget is one second; sanitizer builds run the same code
 * several times slower, so they get more. */
#if defined(__SANITIZE_ADDRESS__)
#define BUDGET 4.0
#else
#define BUDGET 1.0
#endif
static char dir[] = "/tmp/sluice-cfglim.XXXXXX";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *write_file(const char *name, const char *text)
{
    static char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return p;
}

/* Loads and returns the verdict and the time taken; messages in d. */
static sl_pipeline_conf *timed_load(const char *path, sl_diag *d, double *secs)
{
    double t0 = now_s();
    sl_pipeline_conf *c = sl_conf_load(path, reg, d);
    *secs = now_s() - t0;
    return c;
}

static int any_diag(const sl_diag *d, const char *needle)
{
    for (size_t i = 0; i < d->n; i++)
        if (strstr(d->msgs[i], needle))
            return 1;
    return 0;
}

/* A FIFO with no writer: a blocking open would never return. */
static void fifo_secret(void)
{
    char fifo[PATH_MAX];
    snprintf(fifo, sizeof fifo, "%s/secret.fifo", dir);
    CHECK(mkfifo(fifo, 0600) == 0);
    char y[PATH_MAX + 256];
    snprintf(y, sizeof y,
             "source: { plugin: cfg_io, host: h, password: { file: %s } }\n"
             "sink: { plugin: cfg_io, path: x, token: { file: /dev/zero } }\n",
             fifo);
    const char *p = write_file("fifo.yaml", y);
    sl_diag d = {0};
    double secs;
    sl_pipeline_conf *c = timed_load(p, &d, &secs);
    CHECK(c == NULL);
    CHECK(secs < BUDGET);
    dump_diag(&d);
    CHECK(any_diag(&d, "option \"password\": cannot read secret file"));
    CHECK(any_diag(&d, "secret.fifo\": not a regular file (a FIFO); give the path of a "
                       "plain file"));
    /* A device that never ends is refused the same way, not read forever. */
    CHECK(any_diag(&d, "\"/dev/zero\": not a regular file (a character device)"));
    sl_conf_free(c);
    sl_diag_free(&d);
    unlink(fifo);
}

/* A file of `keys` keys under source.labels (a MAP option), the last one
 * repeating the first when `dup` is set. */
static const char *big_map(const char *name, int keys, int dup)
{
    size_t cap = (size_t)keys * 24 + 256;
    char *y = malloc(cap);
    CHECK(y != NULL);
    if (!y)
        return "";
    size_t o = (size_t)snprintf(y, cap, "sink: { plugin: cfg_io, path: x }\n"
                                        "source:\n  plugin: cfg_io\n  host: h\n  labels:\n");
    for (int i = 0; i < keys; i++)
        o += (size_t)snprintf(y + o, cap - o, "    k%d: %d\n", dup && i == keys - 1 ? 0 : i,
                              i);
    const char *p = write_file(name, y);
    free(y);
    return p;
}

static void large_mappings(void)
{
    sl_diag d = {0};
    double secs;
    /* At the limit: accepted, quickly. */
    sl_pipeline_conf *c = timed_load(big_map("ok.yaml", SL_YAML_MAX_KEYS, 0), &d, &secs);
    dump_diag(&d);
    CHECK(c != NULL);
    if (c)
        CHECK_INT_EQ(sl_cfg_map_len(c->source.cfg, "labels"), SL_YAML_MAX_KEYS);
    CHECK(secs < BUDGET);
    fprintf(stderr, "%d keys: %.3f s\n", SL_YAML_MAX_KEYS, secs);
    sl_conf_free(c);
    sl_diag_free(&d);

    /* A duplicate as the last of 10000 keys is found, naming the first. */
    c = timed_load(big_map("dup.yaml", SL_YAML_MAX_KEYS, 1), &d, &secs);
    CHECK(c == NULL);
    CHECK(secs < BUDGET);
    CHECK(any_diag(&d, "duplicate key \"k0\" (first given at 6:5)"));
    sl_conf_free(c);
    sl_diag_free(&d);

    /* 40k and 200k keys: refused clearly, well within a second. */
    int sizes[] = {40000, 200000};
    for (size_t i = 0; i < 2; i++) {
        c = timed_load(big_map("huge.yaml", sizes[i], 0), &d, &secs);
        fprintf(stderr, "%d keys: %.3f s\n", sizes[i], secs);
        CHECK(c == NULL);
        CHECK(secs < BUDGET);
        CHECK(any_diag(&d, "a mapping with more than 10000 keys (the one that started at "
                           "6:5); pipeline files are limited to 10000 keys per mapping"));
        sl_conf_free(c);
        sl_diag_free(&d);
    }
}

/* Many small mappings, each under the per-mapping limit, but too many
 * values in all. */
static void too_many_values(void)
{
    size_t cap = 4u << 20;
    char *y = malloc(cap);
    CHECK(y != NULL);
    if (!y)
        return;
    size_t o = (size_t)snprintf(y, cap, "source: { plugin: cfg_io, host: h }\n"
                                        "sink: { plugin: cfg_io, path: x }\nx-extra:\n");
    for (int i = 0; i < 60000; i++)
        o += (size_t)snprintf(y + o, cap - o, "  - {a: 1}\n");
    const char *p = write_file("many.yaml", y);
    free(y);
    sl_diag d = {0};
    double secs;
    sl_pipeline_conf *c = timed_load(p, &d, &secs);
    fprintf(stderr, "60000 one-key mappings: %.3f s\n", secs);
    CHECK(c == NULL);
    CHECK(secs < BUDGET);
    CHECK(any_diag(&d, "more than 100000 keys and values in all; pipeline files are limited "
                       "to 100000"));
    sl_conf_free(c);
    sl_diag_free(&d);
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
    reg = std_registry();
    fifo_secret();
    large_mappings();
    too_many_values();
    sl_registry_free(reg);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return CHECK_DONE();
}
