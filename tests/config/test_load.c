/* A file using every section and option type loads into exactly the values
 * written; a minimal file gets every documented default; the getters behave
 * as sluice.h promises; describe hides secrets. */
#include "cfgtest.h"

#include <unistd.h>

static void good_file(sl_registry *r)
{
    sl_diag d = {0};
    const char *path = fixture("good.yaml");
    sl_pipeline_conf *c = sl_conf_load(path, r, &d);
    CHECK(c != NULL);
    CHECK_INT_EQ(d.n, 0);
    dump_diag(&d);
    if (!c) {
        sl_diag_free(&d);
        return;
    }
    CHECK(strcmp(c->name, "good-pipe.1") == 0);
    CHECK(strcmp(c->path, path) == 0);

    /* source: every option type */
    const sluice_config *s = c->source.cfg;
    CHECK(strcmp(c->source.plugin, "cfg_io") == 0);
    CHECK(c->source.kind == SL_SOURCE);
    CHECK(c->source.entry && strcmp(c->source.entry->desc->name, "cfg_io") == 0);
    CHECK_INT_EQ(c->source.line, 5);
    CHECK_INT_EQ(c->source.col, 3);
    CHECK(strcmp(sl_cfg_string(s, "host"), "broker.local") == 0);
    CHECK_INT_EQ(sl_cfg_int(s, "port", 0), 1884);
    CHECK(sl_cfg_double(s, "ratio", 0) == 0.5);
    CHECK_INT_EQ(sl_cfg_bool(s, "verbose", 0), 1);
    CHECK_INT_EQ(sl_cfg_int(s, "interval", 0), 90000);
    CHECK_INT_EQ(sl_cfg_int(s, "buffer", 0), 2 * 1024 * 1024);
    CHECK_INT_EQ(sl_cfg_list_len(s, "topics"), 3);
    CHECK(strcmp(sl_cfg_list_at(s, "topics", 2), "t3") == 0);
    CHECK(sl_cfg_list_at(s, "topics", 3) == NULL);
    CHECK_INT_EQ(sl_cfg_map_len(s, "labels"), 2);
    CHECK(strcmp(sl_cfg_map_key(s, "labels", 1), "rack") == 0);
    CHECK(strcmp(sl_cfg_map_value(s, "labels", 1), "7") == 0);
    CHECK(strcmp(sl_cfg_string(s, "password"), "s3cr3t-from-file") == 0); /* newline stripped */
    CHECK_INT_EQ(sl_cfg_int(s, "qos", 0), 2);
    CHECK(strcmp(sl_cfg_string(s, "mode"), "fast") == 0);
    /* An option without default that is not given reads as absent. */
    CHECK(!sl_cfg_has(s, "client_id"));
    CHECK(sl_cfg_string(s, "client_id") == NULL);
    CHECK(sl_cfg_has(s, "port"));
    /* Undeclared names read as the caller's default. */
    CHECK_INT_EQ(sl_cfg_int(s, "nope", 42), 42);
    CHECK(sl_cfg_double(s, "nope", 1.5) == 1.5);
    CHECK_INT_EQ(sl_cfg_bool(s, "nope", 1), 1);
    CHECK(sl_cfg_string(s, "nope") == NULL);
    CHECK_INT_EQ(sl_cfg_list_len(s, "nope"), 0);
    CHECK(sl_cfg_map_key(s, "nope", 0) == NULL);
    /* The text of a scalar stays available whatever its type. */
    CHECK(strcmp(sl_cfg_string(s, "interval"), "1m30s") == 0);
    /* A getter of the wrong kind reads the caller's default, not garbage. */
    CHECK_INT_EQ(sl_cfg_int(s, "host", -7), -7);
    CHECK_INT_EQ(sl_cfg_list_len(s, "labels"), 0);

    /* transforms, in order, with their own defaults */
    CHECK_INT_EQ(c->n_transforms, 2);
    CHECK(c->transforms[0].kind == SL_TRANSFORM);
    CHECK(strcmp(sl_cfg_string(c->transforms[0].cfg, "field"), "value") == 0);
    CHECK_INT_EQ(sl_cfg_bool(c->transforms[0].cfg, "upper", 0), 1);
    CHECK_INT_EQ(sl_cfg_list_len(c->transforms[0].cfg, "tags"), 0);
    CHECK(strcmp(sl_cfg_string(c->transforms[1].cfg, "field"), "key") == 0);
    CHECK_INT_EQ(sl_cfg_bool(c->transforms[1].cfg, "upper", 1), 0);
    CHECK_INT_EQ(sl_cfg_list_len(c->transforms[1].cfg, "tags"), 2);
    CHECK_INT_EQ(c->transforms[0].line, 21);
    CHECK_INT_EQ(c->transforms[1].line, 23);

    /* sink and dead letter */
    CHECK(c->sink.kind == SL_SINK);
    CHECK(strcmp(sl_cfg_string(c->sink.cfg, "format"), "csv") == 0);
    CHECK(strcmp(sl_cfg_string(c->sink.cfg, "token"), "literal-token") == 0);
    CHECK(sl_cfg_has(c->sink.cfg, "headers"));
    CHECK_INT_EQ(sl_cfg_map_len(c->sink.cfg, "headers"), 0); /* {} overrides the default */
    CHECK(c->tolerance == SL_TOLERANCE_ALL);
    CHECK_INT_EQ(c->log_errors, 0);
    CHECK_INT_EQ(c->has_dead_letter, 1);
    CHECK(c->dead_letter.kind == SL_SINK && c->dead_letter.entry);
    CHECK(strcmp(sl_cfg_string(c->dead_letter.cfg, "path"), "/tmp/dead") == 0);

    /* the pipeline's own sections */
    CHECK_INT_EQ(c->batch_max_records, 500);
    CHECK_INT_EQ(c->batch_linger_ms, 250);
    CHECK_INT_EQ(c->batch_arena_bytes, 1024 * 1024);
    CHECK_INT_EQ(c->queue_batches, 8);
    CHECK_INT_EQ(c->retry_initial_ms, 50);
    CHECK_INT_EQ(c->retry_max_ms, 10000);
    CHECK_INT_EQ(c->retry_max_attempts, 7);
    CHECK_INT_EQ(c->restart_initial_ms, 2000);
    CHECK_INT_EQ(c->restart_max_ms, 120000);
    CHECK_INT_EQ(c->watchdog_ms, 90000);

    /* describe: values as written, secrets as *** */
    char buf[2048];
    sl_config_describe(s, buf, sizeof buf);
    CHECK_STR_CONTAINS(buf, "host=broker.local, port=1884");
    CHECK_STR_CONTAINS(buf, "topics=[t1, t2, t3]");
    CHECK_STR_CONTAINS(buf, "labels={site: north, rack: 7}");
    CHECK_STR_CONTAINS(buf, "password=***");
    CHECK(strstr(buf, "s3cr3t") == NULL);
    CHECK(strstr(buf, "client_id") == NULL); /* not set: not shown */
    sl_config_describe(c->sink.cfg, buf, sizeof buf);
    CHECK_STR_CONTAINS(buf, "token=***");
    CHECK(strstr(buf, "literal-token") == NULL);
    /* A short buffer is cut with "..." and stays terminated. */
    char small[16];
    memset(small, 'X', sizeof small);
    sl_config_describe(s, small, sizeof small);
    CHECK(strcmp(small, "host=broker....") == 0);
    /* Every buffer size: always terminated, never overrun (ASan watches). */
    for (size_t len = 1; len < 80; len++) {
        char *b = malloc(len);
        sl_config_describe(s, b, len);
        CHECK(strlen(b) < len);
        free(b);
    }
    sl_config_describe(NULL, buf, sizeof buf);
    CHECK_INT_EQ(buf[0], 0);

    /* Loading the same file again gives the same digest. */
    sl_pipeline_conf *again = sl_conf_load(path, r, &d);
    CHECK(again && again->digest == c->digest);
    sl_conf_free(again);
    sl_conf_free(c);
    sl_diag_free(&d);
}

static void defaults(sl_registry *r)
{
    sl_diag d = {0};
    sl_pipeline_conf *c = sl_conf_load(fixture("minimal.yaml"), r, &d);
    CHECK(c != NULL);
    dump_diag(&d);
    if (!c)
        return;
    CHECK(strcmp(c->name, "minimal") == 0); /* the file name without .yaml */
    CHECK_INT_EQ(c->n_transforms, 0);
    CHECK(c->transforms == NULL);
    CHECK(c->tolerance == SL_TOLERANCE_NONE);
    CHECK_INT_EQ(c->log_errors, 1);
    CHECK_INT_EQ(c->has_dead_letter, 0);
    CHECK_INT_EQ(c->batch_max_records, 1000);
    CHECK_INT_EQ(c->batch_linger_ms, 100);
    CHECK_INT_EQ(c->batch_arena_bytes, 8 * 1024 * 1024);
    CHECK_INT_EQ(c->queue_batches, 4);
    CHECK_INT_EQ(c->spool, 0);
    CHECK(c->spool_path == NULL);
    CHECK_INT_EQ(c->spool_max_bytes, 1024LL * 1024 * 1024);
    CHECK_INT_EQ(c->spool_segment_bytes, 64 * 1024 * 1024);
    CHECK(c->spool_fsync == SL_SPOOL_FSYNC_BATCH);
    CHECK_INT_EQ(c->spool_fsync_interval_ms, 1000);
    CHECK_INT_EQ(c->retry_initial_ms, 100);
    CHECK_INT_EQ(c->retry_max_ms, 30000);
    CHECK_INT_EQ(c->retry_max_attempts, 0);
    CHECK_INT_EQ(c->restart_initial_ms, 1000);
    CHECK_INT_EQ(c->restart_max_ms, 60000);
    CHECK_INT_EQ(c->watchdog_ms, 300000);

    /* Declared defaults, parsed with their types. */
    const sluice_config *s = c->source.cfg;
    CHECK_INT_EQ(sl_cfg_int(s, "port", 0), 1883);
    CHECK(sl_cfg_double(s, "ratio", 0) == 0.25);
    CHECK_INT_EQ(sl_cfg_bool(s, "verbose", 1), 0);
    CHECK_INT_EQ(sl_cfg_int(s, "interval", 0), 5000);
    CHECK_INT_EQ(sl_cfg_int(s, "buffer", 0), 65536);
    CHECK_INT_EQ(sl_cfg_list_len(s, "topics"), 2);
    CHECK(strcmp(sl_cfg_list_at(s, "topics", 1), "b") == 0);
    CHECK(!sl_cfg_has(s, "labels"));
    CHECK(!sl_cfg_has(s, "password"));
    CHECK_INT_EQ(sl_cfg_int(s, "qos", 0), 1);
    CHECK(strcmp(sl_cfg_string(s, "mode"), "safe") == 0);
    CHECK_INT_EQ(sl_cfg_map_len(c->sink.cfg, "headers"), 1);
    CHECK(strcmp(sl_cfg_map_key(c->sink.cfg, "headers", 0), "x-a") == 0);
    CHECK(strcmp(sl_cfg_map_value(c->sink.cfg, "headers", 0), "1") == 0);
    CHECK(strcmp(sl_cfg_string(c->sink.cfg, "format"), "json") == 0);
    sl_conf_free(c);
    sl_diag_free(&d);
}

/* A plugin without an option table, and YAML nulls meaning "not given". */
static void nulls_and_no_options(void)
{
    static const char *const names[] = {"cfg_io", "cfg_noopts", NULL};
    sl_registry *r = fixture_registry(names);
    sl_diag d = {0};
    sl_pipeline_conf *c = sl_conf_load(fixture("nulls.yaml"), r, &d);
    CHECK(c != NULL);
    dump_diag(&d);
    if (c) {
        CHECK_INT_EQ(c->n_transforms, 1);
        CHECK_INT_EQ(c->transforms[0].cfg->n, 0);
        CHECK_INT_EQ(sl_cfg_int(c->source.cfg, "port", 0), 1883); /* port: ~ -> default */
        CHECK(strcmp(sl_cfg_string(c->source.cfg, "mode"), "safe") == 0);
        CHECK(strcmp(sl_cfg_string(c->source.cfg, "client_id"), "") == 0); /* "" is a value */
        CHECK_INT_EQ(c->batch_max_records, 1000); /* batch: (null) -> defaults */
    }
    sl_conf_free(c);
    sl_diag_free(&d);
    sl_registry_free(r);
}

/* A pipe is read to its end: process substitution works. */
/* Every buffer key of a disk buffer, read into the pipeline's settings. */
static void spool_keys(sl_registry *r)
{
    sl_diag d = {0};
    sl_pipeline_conf *c = sl_conf_load(fixture("spool.yaml"), r, &d);
    CHECK(c != NULL);
    dump_diag(&d);
    if (c) {
        CHECK_INT_EQ(c->spool, 1);
        CHECK(c->spool_path && strcmp(c->spool_path, "var/spool/spooled") == 0);
        CHECK_INT_EQ(c->spool_max_bytes, 2LL * 1024 * 1024 * 1024);
        CHECK_INT_EQ(c->spool_segment_bytes, 16 * 1024 * 1024);
        CHECK(c->spool_fsync == SL_SPOOL_FSYNC_INTERVAL);
        CHECK_INT_EQ(c->spool_fsync_interval_ms, 250);
    }
    sl_conf_free(c);
    sl_diag_free(&d);
    /* fsync: never, defaults otherwise. */
    const char *y = "source: { plugin: cfg_io, host: h }\nsink: { plugin: cfg_io, path: x }\n"
                    "buffer: { type: disk, path: /s, fsync: never }\n";
    int fds[2];
    CHECK(pipe(fds) == 0);
    CHECK(write(fds[1], y, strlen(y)) == (ssize_t)strlen(y));
    close(fds[1]);
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
    c = sl_conf_load(path, r, &d);
    CHECK(c != NULL);
    dump_diag(&d);
    if (c) {
        CHECK(c->spool_fsync == SL_SPOOL_FSYNC_NEVER);
        CHECK_INT_EQ(c->spool_max_bytes, 1024LL * 1024 * 1024);
        CHECK(strcmp(c->spool_path, "/s") == 0);
    }
    sl_conf_free(c);
    sl_diag_free(&d);
    close(fds[0]);
}

static void from_pipe(sl_registry *r)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    const char *y = "name: piped\nsource: { plugin: cfg_io, host: h }\nsink: { plugin: cfg_io, path: x }\n";
    CHECK(write(fds[1], y, strlen(y)) == (ssize_t)strlen(y));
    close(fds[1]);
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
    sl_diag d = {0};
    sl_pipeline_conf *c = sl_conf_load(path, r, &d);
    CHECK(c != NULL);
    dump_diag(&d);
    if (c)
        CHECK(strcmp(c->name, "piped") == 0);
    sl_conf_free(c);
    sl_diag_free(&d);
    close(fds[0]);
}

int main(void)
{
    sl_registry *r = std_registry();
    good_file(r);
    defaults(r);
    nulls_and_no_options();
    from_pipe(r);
    spool_keys(r);
    /* A NULL diag is allowed: the caller wants only the verdict. */
    sl_pipeline_conf *c = sl_conf_load(fixture("minimal.yaml"), r, NULL);
    CHECK(c != NULL);
    sl_conf_free(c);
    CHECK(sl_conf_load(fixture("missing.yaml"), r, NULL) == NULL);
    sl_conf_free(NULL);
    sl_config_free(NULL);
    sl_registry_free(r);
    return CHECK_DONE();
}
