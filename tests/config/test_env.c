/* ${VAR} expansion (defaults, several per value, nesting, $${ escapes),
 * expansion before type checks, secrets from the environment and from
 * files, and that no secret ever reaches a message or describe output. */
#include "cfgtest.h"

#include <sys/stat.h>
#include <unistd.h>

static sl_registry *reg;

static void set_env(void)
{
    setenv("SLTEST_HOST", "broker.example", 1);
    setenv("SLTEST_PORT", "1900", 1);
    setenv("SLTEST_A", "aa", 1);
    setenv("SLTEST_B", "bb", 1);
    setenv("SLTEST_EMPTY", "", 1);
    setenv("SLTEST_SECRET", "hunter2-env", 1);
    setenv("SLTEST_PORT_BAD", "high", 1);
    unsetenv("SLTEST_UNSET");
    unsetenv("SLTEST_NAME");
    unsetenv("SLTEST_MISSING");
    unsetenv("SLTEST_NOPE");
    unsetenv("SLTEST_SECRET_FILE");
}

static uint64_t expansion(void)
{
    sl_diag d = {0};
    sl_pipeline_conf *c = sl_conf_load(fixture("env.yaml"), reg, &d);
    CHECK(c != NULL);
    dump_diag(&d);
    uint64_t digest = 0;
    if (!c)
        return 0;
    const sluice_config *s = c->source.cfg;
    CHECK(strcmp(c->name, "env-default") == 0);
    CHECK(strcmp(sl_cfg_string(s, "host"), "broker.example") == 0);
    CHECK_INT_EQ(sl_cfg_int(s, "port", 0), 1900); /* expanded, then typed */
    CHECK(strcmp(sl_cfg_string(s, "client_id"), "aa-bb:xaay") == 0);
    CHECK(strcmp(sl_cfg_string(s, "mode"), "fast") == 0); /* empty takes the default */
    CHECK_INT_EQ(sl_cfg_list_len(s, "topics"), 3);
    CHECK(strcmp(sl_cfg_list_at(s, "topics", 0), "${literal}") == 0);
    CHECK(strcmp(sl_cfg_list_at(s, "topics", 1), "cost: $5 $$") == 0);
    CHECK(strcmp(sl_cfg_list_at(s, "topics", 2), "aa") == 0);
    CHECK(strcmp(sl_cfg_map_value(s, "labels", 0), "") == 0);
    CHECK(strcmp(sl_cfg_string(s, "password"), "hunter2-env") == 0);
    CHECK(strcmp(sl_cfg_string(c->sink.cfg, "path"), "/data/aa/out") == 0);
    CHECK(strcmp(sl_cfg_string(c->sink.cfg, "token"), "s3cr3t-from-file") == 0);
    char buf[1024];
    sl_config_describe(s, buf, sizeof buf);
    CHECK_STR_CONTAINS(buf, "password=***");
    CHECK(strstr(buf, "hunter2") == NULL);
    sl_config_describe(c->sink.cfg, buf, sizeof buf);
    CHECK(strstr(buf, "s3cr3t") == NULL);
    digest = c->digest;
    sl_conf_free(c);
    sl_diag_free(&d);
    return digest;
}

static uint64_t digest_now(void)
{
    sl_pipeline_conf *c = sl_conf_load(fixture("env.yaml"), reg, NULL);
    CHECK(c != NULL);
    uint64_t v = c ? c->digest : 0;
    sl_conf_free(c);
    return v;
}

/* SIGHUP restarts a pipeline only when its digest changes: the digest must
 * follow the variables and secret files a file uses, and nothing else. */
static void digests(uint64_t first)
{
    CHECK(first != 0);
    CHECK(digest_now() == first);
    setenv("SLTEST_UNRELATED", "x", 1);
    CHECK(digest_now() == first);
    setenv("SLTEST_A", "changed", 1);
    CHECK(digest_now() != first);
    setenv("SLTEST_A", "aa", 1);
    CHECK(digest_now() == first);
    setenv("SLTEST_UNSET", "now-set", 1); /* a used default's variable appears */
    CHECK(digest_now() != first);
    unsetenv("SLTEST_UNSET");
    setenv("SLTEST_SECRET", "rotated", 1);
    CHECK(digest_now() != first);
    setenv("SLTEST_SECRET", "hunter2-env", 1);
    CHECK(digest_now() == first);

    /* A rotated secret file changes it too. */
    char dir[] = "/tmp/sluice-cfg-XXXXXX", sec[PATH_MAX];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(sec, sizeof sec, "%s/token", dir);
    FILE *f = fopen(sec, "w");
    fputs("one\n", f);
    fclose(f);
    setenv("SLTEST_SECRET_FILE", sec, 1);
    uint64_t a = digest_now();
    f = fopen(sec, "w");
    fputs("two\n", f);
    fclose(f);
    CHECK(digest_now() != a);
    unsetenv("SLTEST_SECRET_FILE");
    unlink(sec);
    rmdir(dir);
}

static void env_errors(void)
{
    sl_diag d = {0};
    const char *p = fixture("env_errors.yaml");
    CHECK(sl_conf_load(p, reg, &d) == NULL);
    CHECK_DIAG(&d, p, 3, 9, "environment variable \"SLTEST_MISSING\" is not set");
    CHECK_DIAG(&d, p, 4, 9, "option \"port\": expected an integer, got \"high\"");
    CHECK_DIAG(&d, p, 5, 14, "malformed variable reference");
    CHECK_DIAG(&d, p, 6, 9, "unterminated variable reference \"${SLTEST_A\"");
    CHECK_DIAG(&d, p, 7, 10, "malformed variable reference \"${SLTEST_A...\"");
    CHECK_DIAG(&d, p, 12, 17, "environment variable \"SLTEST_NOPE\" is not set");
    CHECK_INT_EQ(d.n, 6);
    CHECK_NO_DIAG_TEXT(&d, "hunter2");
    sl_diag_free(&d);
}

static void secret_errors(void)
{
    sl_diag d = {0};
    const char *p = fixture("secret_errors.yaml");
    CHECK(sl_conf_load(p, reg, &d) == NULL);
    char want[PATH_MAX + 128];
    snprintf(want, sizeof want,
             "source (plugin \"cfg_io\"): option \"password\": cannot read secret file \"%s/.\": "
             "not a regular file (a directory); give the path of a plain file",
             env_or_die("CFG_FIXTURES"));
    CHECK_DIAG(&d, p, 4, 21, want);
    /* Relative paths are taken from the pipeline file's directory. */
    snprintf(want, sizeof want,
             "sink (plugin \"cfg_io\"): option \"token\": cannot read secret file "
             "\"%s/does-not-exist.txt\": No such file or directory",
             env_or_die("CFG_FIXTURES"));
    CHECK_DIAG(&d, p, 8, 18, want);
    CHECK_DIAG(&d, p, 14, 14, "dead_letter (plugin \"cfg_io\"): option \"token\": expected { file: PATH }");
    CHECK_INT_EQ(d.n, 3);
    sl_diag_free(&d);
}

/* Secret files: line endings stripped, size bounded, no leak in messages. */
static void secret_files(void)
{
    char dir[] = "/tmp/sluice-cfg-XXXXXX", path[PATH_MAX], sec[PATH_MAX];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/p.yaml", dir);
    snprintf(sec, sizeof sec, "%s/pw", dir);
    FILE *f = fopen(path, "w");
    fputs("source: { plugin: cfg_io, host: h, password: { file: pw }, qos: 9 }\n"
          "sink: { plugin: cfg_io, path: x, token: { file: pw } }\n", f);
    fclose(f);

    f = fopen(sec, "w");
    fputs("top-secret-value\r\n\n", f);
    fclose(f);
    sl_diag d = {0};
    CHECK(sl_conf_load(path, reg, &d) == NULL); /* qos: 9 */
    CHECK_INT_EQ(d.n, 1);
    CHECK_NO_DIAG_TEXT(&d, "top-secret");
    sl_diag_free(&d);

    f = fopen(path, "w");
    fputs("source: { plugin: cfg_io, host: h, password: { file: pw } }\n"
          "sink: { plugin: cfg_io, path: x }\n", f);
    fclose(f);
    sl_pipeline_conf *c = sl_conf_load(path, reg, &d);
    CHECK(c != NULL);
    if (c)
        CHECK(strcmp(sl_cfg_string(c->source.cfg, "password"), "top-secret-value") == 0);
    sl_conf_free(c);

    f = fopen(sec, "w"); /* too large to be a secret */
    for (int i = 0; i < 70000; i++)
        fputc('x', f);
    fclose(f);
    CHECK(sl_conf_load(path, reg, &d) == NULL);
    CHECK_DIAG(&d, path, 1, 54, "is larger than 65536 bytes");
    sl_diag_free(&d);

    f = fopen(sec, "w");
    fwrite("a\0b", 1, 3, f);
    fclose(f);
    CHECK(sl_conf_load(path, reg, &d) == NULL);
    CHECK_DIAG(&d, path, 1, 54, "contains a NUL byte");
    sl_diag_free(&d);

    unlink(sec);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    reg = std_registry();
    set_env();
    uint64_t d0 = expansion();
    digests(d0);
    env_errors();
    secret_errors();
    secret_files();
    sl_registry_free(reg);
    return CHECK_DONE();
}
