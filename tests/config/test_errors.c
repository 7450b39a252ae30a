/* Every kind of mistake in a pipeline file is refused with a message at the
 * exact FILE:LINE:COL of the mistake, naming the key or option; all the
 * mistakes of a file are reported together, in file order; bad input of any
 * shape never crashes the loader. */
#include "cfgtest.h"

#include <unistd.h>

static sl_registry *reg;

/* Loads a fixture that must be refused; returns its messages. */
static sl_diag refused(const char *name, const char **path)
{
    sl_diag d = {0};
    *path = fixture(name);
    sl_pipeline_conf *c = sl_conf_load(*path, reg, &d);
    check_count++;
    if (c) {
        check_failures++;
        fprintf(stderr, "%s: loaded, but should have been refused\n", name);
        sl_conf_free(c);
    }
    CHECK(d.n > 0);
    return d;
}

static void yaml_level(void)
{
    const char *p;
    sl_diag d = refused("syntax.yaml", &p);
    CHECK_DIAG(&d, p, 2, 5,
               "YAML syntax error: did not find expected ',' or '}' while parsing a flow "
               "mapping that started at 1:9");
    CHECK_INT_EQ(d.n, 1);
    sl_diag_free(&d);

    d = refused("toplevel.yaml", &p);
    CHECK_DIAG(&d, p, 1, 1, "the top level must be a mapping");
    sl_diag_free(&d);

    d = refused("empty.yaml", &p);
    CHECK_DIAG(&d, p, 1, 1, "empty pipeline file");
    sl_diag_free(&d);

    d = refused("dupkey.yaml", &p);
    CHECK_DIAG(&d, p, 3, 22, "duplicate key \"linger\" (first given at 3:10)");
    CHECK_DIAG(&d, p, 4, 1, "duplicate key \"sink\" (first given at 2:1)");
    CHECK_INT_EQ(d.n, 2);
    sl_diag_free(&d);

    d = refused("alias.yaml", &p);
    CHECK_DIAG(&d, p, 2, 7, "YAML aliases (*src) are not supported");
    sl_diag_free(&d);

    d = refused("twodocs.yaml", &p);
    CHECK_DIAG(&d, p, 3, 1, "one YAML document");
    sl_diag_free(&d);

    d = refused("complexkey.yaml", &p);
    CHECK_DIAG(&d, p, 2, 3, "a mapping key must be a plain name, not a sequence");
    sl_diag_free(&d);
}

static void structure(void)
{
    const char *p;
    sl_diag d = refused("unknown_keys.yaml", &p);
    CHECK_DIAG(&d, p, 2, 1, "unknown key \"sinks\" in pipeline; did you mean \"sink\"?");
    CHECK_DIAG(&d, p, 3, 1, "unknown key \"frobnicate\" in pipeline; expected one of: name,");
    CHECK_DIAG(&d, p, 1, 1, "missing \"sink:\"");
    sl_diag_free(&d);

    d = refused("missing.yaml", &p);
    CHECK_DIAG(&d, p, 1, 1, "missing \"source:\"");
    CHECK_DIAG(&d, p, 1, 1, "missing \"sink:\"");
    sl_diag_free(&d);

    d = refused("plugins.yaml", &p);
    CHECK_DIAG(&d, p, 2, 11,
               "source: unknown plugin \"cfg_iox\"; did you mean \"cfg_io\"? available: cfg_io");
    CHECK_DIAG(&d, p, 5, 13,
               "transform[0]: plugin \"cfg_io\" is not a transform plugin (it provides: "
               "source, sink); available: cfg_xform");
    CHECK_DIAG(&d, p, 6, 5, "transform[1]: missing \"plugin:\"");
    CHECK_DIAG(&d, p, 7, 5, "transform[2]: expected a mapping with \"plugin:\"");
    CHECK_DIAG(&d, p, 9, 11,
               "sink: plugin \"cfg_xform\" is not a sink plugin (it provides: transform)");
    sl_diag_free(&d);

    d = refused("bad@name.yaml", &p);
    CHECK_DIAG(&d, p, 1, 1, "the file name gives the pipeline name \"bad@name\", which is not valid");
    sl_diag_free(&d);

    d = refused("dlq.yaml", &p);
    CHECK_DIAG(&d, p, 4, 16, "errors.dead_letter is only used with \"tolerance: all\"");
    sl_diag_free(&d);
}

static void options(void)
{
    const char *p;
    sl_diag d = refused("options.yaml", &p);
    const char *src = "source (plugin \"cfg_io\"): ";
    char want[512];
#define WANT(l, c, fmt, ...)                                                                 \
    do {                                                                                     \
        snprintf(want, sizeof want, fmt, __VA_ARGS__);                                       \
        CHECK_DIAG(&d, p, l, c, want);                                                       \
    } while (0)
    WANT(3, 3, "%sunknown option \"hots\"; did you mean \"host\"?", src);
    WANT(2, 3, "%smissing required option \"host\" (broker host)", src);
    WANT(4, 9, "%soption \"port\": expected an integer, got \"abc\"", src);
    WANT(5, 10, "%soption \"ratio\": expected a number, got \"much\"", src);
    WANT(6, 12, "%soption \"verbose\": expected true or false (or yes/no, on/off, 1/0), got \"maybe\"", src);
    WANT(7, 13, "%soption \"interval\": expected a duration such as 250ms", src);
    WANT(8, 11, "%soption \"buffer\": expected a size such as 512, 64KiB, 16MiB, got \"lots\"", src);
    WANT(9, 11, "%soption \"topics\": expected a list (a sequence of scalars, or one scalar), got a mapping", src);
    WANT(10, 11, "%soption \"labels\": expected a mapping of names to scalar values, got a sequence", src);
    WANT(11, 8, "%soption \"qos\": \"5\" is not one of: 0, 1, 2", src);
    WANT(12, 9, "%soption \"mode\": \"fsat\" is not one of: fast, safe; did you mean \"fast\"?", src);
    WANT(13, 13, "%soption \"password\": expected a string or { file: PATH }, got a sequence", src);
    WANT(16, 12, "%s", "transform[0] (plugin \"cfg_xform\"): option \"field\": expected a string, got a mapping");
    WANT(17, 15, "%s", "transform[0] (plugin \"cfg_xform\"): option \"tags\": \"w\" is not one of: x, y, z");
    WANT(21, 11, "%s", "sink (plugin \"cfg_io\"): option \"format\": \"xml\" is not one of: json, csv");
    WANT(22, 17, "%s", "sink (plugin \"cfg_io\"): option \"headers\": expected a mapping of names to scalar values; \"a\" holds a sequence");
    WANT(23, 12, "%s", "sink (plugin \"cfg_io\"): option \"token\": unknown key \"path\" in a secret (expected { file: PATH })");
    CHECK_INT_EQ(d.n, 17); /* all of them, not just the first */
    /* A one-letter typo gets no far-fetched suggestion. */
    CHECK(strstr(diag_find(&d, p, 11, 8, "qos") ? diag_find(&d, p, 11, 8, "qos") : "",
                 "did you mean") == NULL);
    /* Messages come in file order. */
    for (size_t i = 1; i < d.n; i++) {
        int l0 = 0, l1 = 0;
        sscanf(d.msgs[i - 1] + strlen(p), ":%d", &l0);
        sscanf(d.msgs[i] + strlen(p), ":%d", &l1);
        CHECK(l0 <= l1);
    }
    sl_diag_free(&d);
#undef WANT
}

static void sections(void)
{
    const char *p;
    sl_diag d = refused("sections.yaml", &p);
    CHECK_DIAG(&d, p, 1, 7, "name: \"bad name\" is not a valid pipeline name");
    CHECK_DIAG(&d, p, 2, 14, "description: expected a string, got a sequence");
    CHECK_DIAG(&d, p, 5, 13, "transforms: expected a sequence of mappings");
    CHECK_DIAG(&d, p, 7, 14, "errors.tolerance: \"some\" is not one of: none, all");
    CHECK_DIAG(&d, p, 8, 8, "errors.log: expected true or false");
    CHECK_DIAG(&d, p, 10, 16, "batch.max_records: 0 is out of range; expected 1..1000000");
    CHECK_DIAG(&d, p, 11, 3, "unknown key \"lingr\" in batch; did you mean \"linger\"?");
    CHECK_DIAG(&d, p, 12, 14, "batch.max_bytes: 12 is out of range; expected 1KiB..1GiB");
    CHECK_DIAG(&d, p, 14, 16, "buffer.max_batches: 2000 is out of range; expected 1..1024");
    CHECK_DIAG(&d, p, 17, 8, "retry.max (1000ms) is shorter than retry.initial (5000ms)");
    CHECK_DIAG(&d, p, 18, 17, "retry.max_attempts: -1 is out of range");
    CHECK_DIAG(&d, p, 19, 10, "restart: expected a mapping, got a scalar");
    CHECK_DIAG(&d, p, 20, 22, "watchdog.timeout: 10ms is out of range; expected 1s..7d");
    CHECK_INT_EQ(d.n, 13);
    sl_diag_free(&d);
}

static void spool(void)
{
    const char *p;
    sl_diag d = refused("spool_errors.yaml", &p);
    CHECK_DIAG(&d, p, 4, 9, "buffer.type: \"tape\" is not one of: memory, disk");
    CHECK_DIAG(&d, p, 5, 13, "buffer.max_size: 100 is out of range; expected at least 4KiB");
    CHECK_DIAG(&d, p, 6, 17, "buffer.segment_size: 1KiB is out of range; expected 4KiB..1TiB");
    CHECK_DIAG(&d, p, 7, 14, "buffer.when_full: \"drop\" is not one of: block");
    CHECK_DIAG(&d, p, 8, 10, "buffer.fsync: \"always\" is not one of: batch, interval, never");
    CHECK_DIAG(&d, p, 9, 19, "buffer.fsync_interval: 0ms is out of range; expected 1ms..1h");
    CHECK_DIAG(&d, p, 10, 3, "unknown key \"pth\" in buffer; did you mean \"path\"?");
    CHECK_INT_EQ(d.n, 7);
    sl_diag_free(&d);

    d = refused("spool_nopath.yaml", &p);
    CHECK_DIAG(&d, p, 4, 9, "buffer.path is required with \"type: disk\"");
    CHECK_DIAG(&d, p, 6, 17, "buffer.segment_size (2097152 bytes) is larger than buffer.max_size "
                             "(1048576 bytes)");
    CHECK_DIAG(&d, p, 7, 19, "buffer.fsync_interval is only used with \"fsync: interval\"");
    CHECK_INT_EQ(d.n, 3);
    sl_diag_free(&d);

    d = refused("spool_memory_path.yaml", &p);
    CHECK_DIAG(&d, p, 3, 17, "buffer.path is only used with \"type: disk\"");
    CHECK_INT_EQ(d.n, 1);
    sl_diag_free(&d);
}

static void plugin_bug(void)
{
    static const char *const names[] = {"cfg_io", "cfg_baddef", NULL};
    sl_registry *r = fixture_registry(names);
    sl_diag d = {0};
    const char *p = fixture("baddef.yaml");
    CHECK(sl_conf_load(p, r, &d) == NULL);
    CHECK_DIAG(&d, p, 3, 5,
               "transform[0] (plugin \"cfg_baddef\"): the plugin declares an invalid default "
               "\"many\" for option \"n\" (a bug in the plugin)");
    sl_diag_free(&d);
    sl_registry_free(r);

    /* With no plugins at all, the message says so instead of listing none. */
    r = sl_registry_new();
    p = fixture("minimal.yaml");
    CHECK(sl_conf_load(p, r, &d) == NULL);
    CHECK_DIAG(&d, p, 1, 19, "source: unknown plugin \"cfg_io\"; no source plugins are loaded");
    sl_diag_free(&d);
    sl_registry_free(r);
}

/* Writes a scratch pipeline file. */
static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fwrite(data, 1, len, f);
    fclose(f);
}

static void write_str(const char *path, const char *s) { write_file(path, s, strlen(s)); }

static void f_big(const char *path)
{
    FILE *f = fopen(path, "wb");
    for (int i = 0; f && i < 5 * 1024 * 1024 / 32; i++)
        fputs("# a comment line of 32 bytes...\n", f);
    if (f)
        fclose(f);
}

static void hostile_input(void)
{
    char dir[] = "/tmp/sluice-cfg-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(2);
    }
    char path[PATH_MAX];
    sl_diag d = {0};

    /* Not UTF-8. */
    snprintf(path, sizeof path, "%s/bytes.yaml", dir);
    write_str(path, "source: {}\nsink: \xff\xfe\n");
    CHECK(sl_conf_load(path, reg, &d) == NULL);
    CHECK_DIAG(&d, path, 2, 7, "YAML syntax error: invalid leading UTF-8 octet");
    sl_diag_free(&d);

    /* Nesting far deeper than any pipeline: refused, not a stack overflow. */
    char deep[4096];
    size_t n = 0;
    n += (size_t)snprintf(deep, sizeof deep, "source: ");
    for (int i = 0; i < 1000; i++)
        deep[n++] = '[';
    deep[n] = '\0';
    write_file(path, deep, n);
    CHECK(sl_conf_load(path, reg, &d) == NULL);
    /* The top-level mapping is the first level; "[" number 64 is refused. */
    CHECK_DIAG(&d, path, 1, 9 + 63, "nesting deeper than 64 levels");
    sl_diag_free(&d);

    /* A tab where indentation is expected. */
    write_str(path, "source:\n\tplugin: cfg_io\n");
    CHECK(sl_conf_load(path, reg, &d) == NULL);
    CHECK_DIAG(&d, path, 2, 1, "YAML syntax error: found character that cannot start any token");
    sl_diag_free(&d);

    /* A NUL byte in a quoted value. */
    write_str(path, "source: { plugin: cfg_io, host: \"a\\0b\" }\nsink: { plugin: cfg_io, path: x }\n");
    CHECK(sl_conf_load(path, reg, &d) == NULL);
    CHECK_DIAG(&d, path, 1, 33, "contains a NUL character");
    sl_diag_free(&d);

    /* Huge numbers do not wrap. */
    write_str(path, "source: { plugin: cfg_io, host: h, port: 99999999999999999999, ratio: 1e999 }\n"
                    "sink: { plugin: cfg_io, path: x }\n");
    CHECK(sl_conf_load(path, reg, &d) == NULL);
    CHECK_DIAG(&d, path, 1, 42, "option \"port\": expected an integer, got \"99999999999999999999\"");
    CHECK_DIAG(&d, path, 1, 71, "option \"ratio\": expected a number, got \"1e999\"");
    sl_diag_free(&d);

    /* Far too large to be a pipeline file. */
    f_big(path);
    CHECK(sl_conf_load(path, reg, &d) == NULL);
    CHECK_STR_CONTAINS(d.n ? d.msgs[0] : NULL, "bytes.yaml: larger than 4 MiB");
    sl_diag_free(&d);

    /* A directory and a missing file. */
    CHECK(sl_conf_load(dir, reg, &d) == NULL);
    CHECK_STR_CONTAINS(d.n ? d.msgs[0] : NULL, ": cannot read: Is a directory");
    sl_diag_free(&d);
    snprintf(path, sizeof path, "%s/nope.yaml", dir);
    CHECK(sl_conf_load(path, reg, &d) == NULL);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    CHECK_STR_CONTAINS(d.n ? d.msgs[0] : NULL, want);
    sl_diag_free(&d);

    snprintf(path, sizeof path, "%s/bytes.yaml", dir);
    unlink(path);
    rmdir(dir);
}

/* `lanes:`: 1..64, default 1; a lane's name is "NAME#K" in group NAME. */
static void lanes_key(void)
{
    char dir[] = "/tmp/sluice-cfg-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(2);
    }
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/ln.yaml", dir);
    static const char body[] = "source: { plugin: cfg_io, host: h }\nsink: { plugin: cfg_io, path: x }\n";
    static const char *const bad[] = {"0", "65", "two", "2x", "-1", "[2]", NULL};
    sl_diag d = {0};
    for (size_t i = 0; bad[i]; i++) {
        char text[256];
        snprintf(text, sizeof text, "lanes: %s\n%s", bad[i], body);
        write_str(path, text);
        CHECK(sl_conf_load(path, reg, &d) == NULL);
        CHECK_DIAG(&d, path, 1, 8, "is not a number of lanes; expected an integer in 1..64");
        sl_diag_free(&d);
    }
    write_str(path, body);
    sl_pipeline_conf *c = sl_conf_load(path, reg, &d);
    CHECK(c != NULL);
    if (c) {
        CHECK_INT_EQ(c->lanes, 1);
        CHECK_INT_EQ(c->lane, 0);
        CHECK(c->group == NULL);
        sl_conf_free(c);
    }
    write_str(path, "name: dec\nlanes: 64\n" "source: { plugin: cfg_io, host: h }\nsink: { plugin: cfg_io, path: x }\n");
    c = sl_conf_load(path, reg, &d);
    CHECK(c != NULL);
    if (c) {
        CHECK_INT_EQ(c->lanes, 64);
        CHECK_INT_EQ(sl_conf_set_lane(c, 7), 0);
        CHECK(strcmp(c->name, "dec#7") == 0);
        CHECK(c->group && strcmp(c->group, "dec") == 0);
        CHECK_INT_EQ(c->lane, 7);
        sl_conf_free(c);
    }
    dump_diag(&d);
    sl_diag_free(&d);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    reg = std_registry();
    yaml_level();
    structure();
    options();
    sections();
    spool();
    plugin_bug();
    hostile_input();
    lanes_key();
    sl_registry_free(reg);
    return CHECK_DONE();
}
