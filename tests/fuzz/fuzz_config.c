/* The YAML pipeline loader (host/config: sl_conf_load): YAML parsing,
 * ${VAR} expansion, secret files, the pipeline's own sections, and every
 * plugin option type, through the real registry.
 *
 * The input is written to pipeline.yaml in a private temporary directory
 * (the loader reads a path, as `sluice run` does), next to a secret.txt that
 * `{file: secret.txt}` finds.  The plugins are the configuration tests'
 * fixtures (tests/config/fixtures/cfg_plugins.c: cfg_io, a source and sink
 * with an option of every type; cfg_xform, a transform; cfg_noopts), loaded
 * from FUZZ_CFG_PLUGIN_DIR (set at build time; CFG_PLUGIN_DIR overrides).
 *
 * Checks beyond "no crash, no leak": a refused file has at least one
 * message, every message names the file, and a loaded one describes its
 * stages without showing a secret. */
#include "fuzz.h"

#include "config/config.h"

#include <limits.h>
#include <string.h>
#include <unistd.h>

#ifndef FUZZ_CFG_PLUGIN_DIR
#define FUZZ_CFG_PLUGIN_DIR "."
#endif

#define SECRET "fuzz-secret-Zq7w"

static sl_registry *reg;
/* dir is shorter than PATH_MAX by room for the file names. */
static char dir[PATH_MAX - 32], yaml[PATH_MAX], secret[PATH_MAX];

static void teardown(void)
{
    unlink(yaml);
    unlink(secret);
    rmdir(dir);
    sl_registry_free(reg);
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
        fprintf(stderr, "fuzz_config: cannot write \"%s\"\n", path);
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    /* A file write and read per input: memory (/dev/shm) is several times
     * faster than a disk under load, unless TMPDIR says otherwise. */
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/sluice-fuzz-config.XXXXXX", tmp);
    if (!mkdtemp(dir)) {
        perror("fuzz_config: mkdtemp");
        abort();
    }
    snprintf(yaml, sizeof yaml, "%s/pipeline.yaml", dir);
    snprintf(secret, sizeof secret, "%s/secret.txt", dir);
    write_file(secret, SECRET "\n", strlen(SECRET) + 1);

    const char *pdir = getenv("CFG_PLUGIN_DIR");
    if (!pdir || !*pdir)
        pdir = FUZZ_CFG_PLUGIN_DIR;
    reg = sl_registry_new();
    static const char *const names[] = {"cfg_io", "cfg_xform", "cfg_noopts"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char p[PATH_MAX], err[1024];
        snprintf(p, sizeof p, "%s/%s.so", pdir, names[i]);
        if (sl_registry_load_file(reg, p, err, sizeof err) != 0) {
            fprintf(stderr, "fuzz_config: cannot load fixture plugin: %s\n", err);
            abort();
        }
    }
    /* Variables the seeds use; any other name reads the process's
     * environment, which stays the same for the whole run. */
    setenv("FUZZ_HOST", "broker.local", 1);
    setenv("FUZZ_PORT", "1884", 1);
    setenv("FUZZ_EMPTY", "", 1);
    atexit(teardown);
    return 0;
}

/* Whether the input itself spells the secret (then it may be echoed). */
static int input_has_secret;

static void check_no_secret(const char *text)
{
    if (!input_has_secret && strstr(text, SECRET)) {
        fprintf(stderr, "the secret file's content shows: %s\n", text);
        FUZZ_CHECK(!"secret shown");
    }
}

static void check_stage(const sl_stage_conf *s)
{
    FUZZ_CHECK(s->plugin && s->entry && s->cfg);
    char buf[4096];
    sl_config_describe(s->cfg, buf, sizeof buf);
    FUZZ_CHECK(memchr(buf, '\0', sizeof buf) != NULL);
    check_no_secret(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    write_file(yaml, data, size);
    input_has_secret = memmem(data, size, SECRET, strlen(SECRET)) != NULL;
    sl_diag d = {0};
    sl_pipeline_conf *c = sl_conf_load(yaml, reg, &d);
    size_t plen = strlen(yaml);
    for (size_t i = 0; i < d.n; i++) {
        if (strncmp(d.msgs[i], yaml, plen) != 0 || d.msgs[i][plen] != ':')
            fprintf(stderr, "message without FILE:LINE:COL: %s\n", d.msgs[i]);
        FUZZ_CHECK(strncmp(d.msgs[i], yaml, plen) == 0 && d.msgs[i][plen] == ':');
        check_no_secret(d.msgs[i]);
    }
    if (!c) {
        FUZZ_CHECK(d.n > 0);
    } else {
        check_stage(&c->source);
        for (size_t i = 0; i < c->n_transforms; i++)
            check_stage(&c->transforms[i]);
        check_stage(&c->sink);
        if (c->has_dead_letter)
            check_stage(&c->dead_letter);
        FUZZ_CHECK(c->name && c->batch_max_records > 0 && c->queue_batches > 0);
        sl_conf_free(c);
    }
    sl_diag_free(&d);
    return 0;
}
