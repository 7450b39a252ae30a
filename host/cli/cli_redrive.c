/* `sluice redrive DEAD_LETTER_FILE PIPELINE_FILE`: runs a pipeline's
 * transforms and sink once more over the records it dead-lettered (e.g.
 * readings of a device registered since), with the pipeline's source
 * replaced by the file source reading the envelopes and its dead-letter sink
 * by a new envelope file.  It is an ordinary pipeline run (host/config and
 * host/runtime as `sluice run` uses them) that ends at the file's end. */
#include "cli.h"

#include "config/config.h"
#include "config/options.h"
#include "config/ynode.h"
#include "crash.h"
#include "log.h"
#include "runtime/guard.h"
#include "runtime/pipeline.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void redrive_usage(FILE *f)
{
    fprintf(f,
            "usage: sluice redrive [options] DEAD_LETTER_FILE PIPELINE_FILE\n"
            "\n"
            "Runs the transforms and the sink of the pipeline in PIPELINE_FILE over the\n"
            "dead letters in DEAD_LETTER_FILE (what a file sink with format: envelope\n"
            "wrote), restoring each record's origin, key, headers, value, timestamp\n"
            "and fields.  The pipeline's own source and dead-letter sink are not used:\n"
            "records that fail again go to a new envelope file, and lines that are not\n"
            "envelopes go there too, with the reason.  Error tolerance is all.  The\n"
            "input file is never written.  At the end it prints the counts: read,\n"
            "written, failed again (and the new file), rejected.\n"
            "\n"
            "Running it twice is harmless when the sink is idempotent on its key (the\n"
            "timescale sink ignores rows whose primary key exists).\n"
            "\n"
            "Exit status: 0 when every record was written or dead-lettered again;\n"
            "1 when the pipeline failed (nothing is retried by restarting it) or a\n"
            "record was rejected; 2 for a usage error.\n"
            "\n"
            "options:\n"
            "      --dead-letter OUT      where records that fail again go (default:\n"
            "                             DEAD_LETTER_FILE.redrive-<UTC time>.jsonl);\n"
            "                             appended to if it exists; never the input\n"
            "  -P, --plugin-dir DIR       also load plugins from DIR (repeatable)\n"
            "      --log-level LEVEL      error, warn (default), info, debug\n");
}

/* The same file, whether or not it exists yet: by device and inode when
 * both exist, else by name. */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    return strcmp(a, b) == 0;
}

/* A double-quoted YAML scalar of s. */
static int yaml_quote(char *buf, size_t len, const char *s)
{
    size_t o = 0;
    if (len < 3)
        return -1;
    buf[o++] = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (o + 5 >= len)
            return -1;
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return 0;
}

/* Builds the stage `plugin: file` of `kind` with the given YAML options,
 * validated by the same code as a pipeline file's stages. */
static int file_stage(const sl_registry *reg, sl_stage_kind kind, const char *yaml,
                      sl_stage_conf *st)
{
    const sl_plugin_entry *e = sl_registry_find(reg, "file");
    const sluice_option *opts = NULL;
    if (e && kind == SL_SOURCE && e->desc->source)
        opts = e->source_options;
    else if (e && kind == SL_SINK && e->desc->sink)
        opts = e->sink_options;
    if (!opts) {
        sl_log(SLUICE_LOG_ERROR, NULL, NULL, "redrive needs the file plugin (a source and a "
               "sink), which was not found; check -P and SLUICE_PLUGIN_PATH");
        return -1;
    }
    sl_diag d = {0};
    sl_ynode *root = NULL;
    sluice_config *cfg = NULL;
    const char *where = kind == SL_SOURCE ? "redrive source" : "redrive dead_letter";
    if (sl_yaml_parse(where, yaml, strlen(yaml), &root, &d) == 0 && root) {
        sl_optctx x = {.file = where, .basedir = ".", .d = &d, .where = where};
        cfg = sl_options_build(&x, opts, root, NULL, 1, 1);
    }
    sl_ynode_free(root);
    if (d.n || !cfg) {
        for (size_t i = 0; i < d.n; i++)
            sl_log(SLUICE_LOG_ERROR, NULL, NULL, "%s", d.msgs[i]);
        sl_diag_free(&d);
        sl_config_free(cfg);
        return -1;
    }
    sl_diag_free(&d);
    free(st->plugin);
    sl_config_free(st->cfg);
    memset(st, 0, sizeof(*st));
    st->plugin = strdup("file");
    st->kind = kind;
    st->entry = e;
    st->cfg = cfg;
    st->line = st->col = 1;
    return st->plugin ? 0 : -1;
}

/* Swaps the source and the dead-letter sink; everything else is the
 * pipeline's own. */
static int rewire(sl_pipeline_conf *c, const sl_registry *reg, const char *in, const char *out)
{
    char qin[8192], qout[8192], yaml[16640];
    if (yaml_quote(qin, sizeof qin, in) || yaml_quote(qout, sizeof qout, out)) {
        sl_log(SLUICE_LOG_ERROR, NULL, NULL, "a file name is too long");
        return -1;
    }
    /* An envelope is longer than the record it holds (base64 makes binary
     * values a third longer): allow lines well beyond the source's 1MiB
     * default.  The buffers are allocated but only touched as lines need. */
    snprintf(yaml, sizeof yaml, "path: %s\nformat: envelope\nmax_line: 4MiB\n", qin);
    if (file_stage(reg, SL_SOURCE, yaml, &c->source) != 0)
        return -1;
    /* fsync: the input is left as it is, so the new file is the only copy
     * of what failed again once the operator deletes the old one. */
    snprintf(yaml, sizeof yaml, "path: %s\nformat: envelope\nfsync: true\n", qout);
    if (file_stage(reg, SL_SINK, yaml, &c->dead_letter) != 0)
        return -1;
    c->has_dead_letter = 1;
    c->tolerance = SL_TOLERANCE_ALL;
    return 0;
}

/* The wrong file given (the arguments swapped, a capture rather than its
 * dead letters) would otherwise be "re-driven" line by line into a new file
 * of failures: the first line that is not blank must look like what the
 * file sink's envelope format writes.  Later bad lines are failed one by
 * one, with their line number, by the source. */
static int looks_like_envelopes(const char *path, char *why, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, len, "cannot read %s: %s", path, strerror(errno));
        return 0;
    }
    char buf[4096];
    long line = 0;
    int ok = 1;
    while (fgets(buf, sizeof buf, f)) {
        line++;
        const char *c = buf;
        while (*c == ' ' || *c == '\t' || *c == '\r' || *c == '\n')
            c++;
        if (!*c)
            continue;
        if (strncmp(c, "{\"origin\":", 10) != 0) {
            snprintf(why, len, "%s:%ld is not a dead-letter envelope (a line such as "
                     "{\"origin\":{...},\"value\":...} that a file sink with format: "
                     "envelope writes); is it the right file?", path, line);
            ok = 0;
        }
        break;
    }
    fclose(f);
    return ok;
}

static void default_out(char *buf, size_t len, const char *in)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(buf, len, "%s.redrive-%s.jsonl", in, stamp);
}

int sl_cmd_redrive(int argc, char **argv)
{
    sl_cli_common c = {0};
    const char *pos[2] = {NULL, NULL};
    int npos = 0;
    const char *out_arg = NULL;
    int level = SLUICE_LOG_WARN;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (sl_cli_plugin_opt(&c, argc, argv, &i))
            continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            redrive_usage(stdout);
            return 0;
        }
        int has_val = i + 1 < argc;
        if (!strcmp(a, "--dead-letter") && has_val) {
            out_arg = argv[++i];
        } else if (!strncmp(a, "--dead-letter=", 14)) {
            out_arg = a + 14;
        } else if (!strcmp(a, "--log-level") && has_val) {
            level = sl_log_parse_level(argv[++i]);
            if (level < 0) {
                fprintf(stderr, "sluice redrive: --log-level: expected error, warn, info or "
                                "debug, got \"%s\"\n", argv[i]);
                return 2;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "sluice redrive: unknown option or missing value: \"%s\"\n", a);
            redrive_usage(stderr);
            return 2;
        } else if (npos < 2) {
            pos[npos++] = a;
        } else {
            fprintf(stderr, "sluice redrive: unexpected argument \"%s\"; it takes one dead-letter "
                            "file and one pipeline file\n", a);
            return 2;
        }
    }
    if (npos < 2) {
        fprintf(stderr, "sluice redrive: %s\n", npos ? "no pipeline file given"
                                                      : "no dead-letter file given");
        redrive_usage(stderr);
        return 2;
    }
    const char *in = pos[0], *pipe_file = pos[1];
    sl_log_configure((sluice_log_level)level, SL_LOG_TEXT);

    struct stat st;
    if (stat(in, &st) != 0) {
        fprintf(stderr, "sluice redrive: cannot read the dead-letter file %s: %s\n", in,
                strerror(errno));
        return 1;
    }
    if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "sluice redrive: the dead-letter file %s is not a regular file\n", in);
        return 1;
    }
    char why[1024];
    if (!looks_like_envelopes(in, why, sizeof why)) {
        fprintf(stderr, "sluice redrive: %s\n", why);
        return 1;
    }
    char outbuf[4096];
    if (out_arg) {
        snprintf(outbuf, sizeof outbuf, "%s", out_arg);
    } else {
        default_out(outbuf, sizeof outbuf, in);
    }
    const char *out = outbuf;
    if (same_file(in, out)) {
        fprintf(stderr, "sluice redrive: --dead-letter %s is the input file; records that fail "
                        "again must go to another file (the input is never written)\n", out);
        return 2;
    }
    int out_existed = access(out, F_OK) == 0;

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    sl_crash_install();

    sl_registry *reg = sl_registry_new();
    if (sl_cli_load_plugins(reg, &c, argv[0]) != 0) {
        sl_log(SLUICE_LOG_ERROR, NULL, NULL, "refusing to run with plugins that failed to "
                                             "load; remove or rebuild them");
        sl_registry_free(reg);
        return 1;
    }
    sl_diag d = {0};
    sl_pipeline_conf *conf = sl_conf_load(pipe_file, reg, &d);
    if (!conf) {
        for (size_t i = 0; i < d.n; i++)
            fprintf(stderr, "%s\n", d.msgs[i]);
        fprintf(stderr, "sluice redrive: %s is not a valid pipeline file; nothing was "
                        "re-driven\n", pipe_file);
        sl_diag_free(&d);
        sl_registry_free(reg);
        return 1;
    }
    sl_diag_free(&d);
    if (rewire(conf, reg, in, out) != 0) {
        sl_conf_free(conf);
        sl_registry_free(reg);
        return 1;
    }
    const char *sink_plugin_name = conf->sink.plugin;
    char sink_plugin[128];
    snprintf(sink_plugin, sizeof sink_plugin, "%s", sink_plugin_name);

    if (sl_guard_start(30000) != 0)
        sl_log(SLUICE_LOG_WARN, NULL, NULL, "cannot start the watchdog thread");
    sl_pipeline *p = sl_pipeline_new(conf);
    if (!p) {
        sl_log(SLUICE_LOG_ERROR, NULL, NULL, "out of memory creating the pipeline");
        sl_conf_free(conf);
        sl_guard_stop();
        sl_registry_free(reg);
        return 1;
    }
    char err[1200];
    int rc = 0;
    if (sl_pipeline_start(p, err, sizeof err) != 0) {
        sl_log(SLUICE_LOG_ERROR, NULL, NULL, "%s", err);
        rc = 1;
    }
    int stopping = 0;
    while (!rc || stopping) {
        sl_pipe_state s = sl_pipeline_state(p);
        if (s == SL_PIPE_FINISHED || s == SL_PIPE_STOPPED || s == SL_PIPE_FAILED)
            break;
        if (!stopping && (s == SL_PIPE_RESTARTING || atomic_load(&p->n_restarts))) {
            /* A restart would read the file again from its start and
             * dead-letter the same records twice: end here instead. */
            pthread_mutex_lock(&p->err_mu);
            sl_log(SLUICE_LOG_ERROR, NULL, NULL, "the pipeline failed: %s", p->last_error);
            pthread_mutex_unlock(&p->err_mu);
            sl_pipeline_request_stop(p);
            stopping = 1;
            rc = 1;
            continue;
        }
        struct timespec tick = {0, 50 * 1000000L};
        int sig = sl_guard_take_stop_signal();
        if (!sig)
            sig = sigtimedwait(&sigs, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            if (stopping) {
                sl_pipeline_abort(p);
            } else {
                sl_log(SLUICE_LOG_WARN, NULL, NULL, "%s: stopping the re-drive (what was read "
                       "is written or dead-lettered first)", sig == SIGTERM ? "SIGTERM" : "SIGINT");
                sl_pipeline_request_stop(p);
                sl_guard_shutdown_begin();
                stopping = 1;
                rc = 1;
            }
        }
    }
    sl_pipeline_join(p);
    sl_pipe_state fin = sl_pipeline_state(p);
    if (fin == SL_PIPE_FAILED) {
        pthread_mutex_lock(&p->err_mu);
        sl_log(SLUICE_LOG_ERROR, NULL, NULL, "the pipeline failed: %s",
               p->init_error[0] ? p->init_error : p->last_error);
        pthread_mutex_unlock(&p->err_mu);
        rc = 1;
    } else if (fin != SL_PIPE_FINISHED) {
        rc = 1;
    }
    unsigned long long n_in = atomic_load(&p->n_in), n_out = atomic_load(&p->n_out),
                       n_dead = atomic_load(&p->n_dead), n_rej = atomic_load(&p->n_rejected);
    if (n_rej)
        rc = 1;
    /* An empty new file says nothing: remove it, unless it was there. */
    struct stat ost;
    int out_kept = stat(out, &ost) == 0;
    if (out_kept && !out_existed && ost.st_size == 0 && !n_dead) {
        unlink(out);
        out_kept = 0;
    }
    printf("redrive %s (pipeline \"%s\"): %s\n", in, p->conf->name,
           rc ? "did not finish" : "finished");
    printf("  read:          %llu dead letters\n", n_in);
    printf("  written:       %llu records by the sink (plugin \"%s\")\n", n_out, sink_plugin);
    if (n_dead || out_kept)
        printf("  failed again:  %llu, dead-lettered to %s\n", n_dead, out);
    else
        printf("  failed again:  0 (no new dead-letter file)\n");
    printf("  rejected:      %llu\n", n_rej);
    fflush(stdout);
    sl_pipeline_free(p);
    sl_guard_stop();
    sl_registry_free(reg);
    return rc;
}
