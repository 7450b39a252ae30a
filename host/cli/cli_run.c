#include "cli.h"

#include "config/config.h"
#include "config/secret.h"
#include "crash.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "redact.h"
#include "runtime/guard.h"
#include "runtime/runner.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sluice/sluice_time.h>

static void run_usage(FILE *f)
{
    fprintf(f,
            "usage: sluice run [options] FILE|DIR...\n"
            "\n"
            "Runs every pipeline file given (a directory means its *.yaml/*.yml files)\n"
            "in one process until SIGTERM or SIGINT, which stop the sources, drain,\n"
            "flush the sinks and acknowledge, then exit 0.  SIGHUP re-reads the files\n"
            "and restarts only the pipelines whose file changed (and makes a parked or\n"
            "restarting pipeline retry now).  When every pipeline\n"
            "has finished (bounded sources), sluice exits by itself: 0, or 1 if a\n"
            "pipeline failed for good.\n"
            "\n"
            "options:\n"
            "  -P, --plugin-dir DIR       also load plugins from DIR (repeatable)\n"
            "      --http ADDR:PORT       serve /metrics, /health, /ready, /status\n"
            "                             (e.g. 127.0.0.1:9464; port 0 picks one)\n"
            "      --http-token-file FILE /status needs Authorization: Bearer <the\n"
            "                             token in FILE>; /metrics, /health, /ready\n"
            "                             stay open\n"
            "      --log-level LEVEL      error, warn, info (default), debug\n"
            "      --log-format FORMAT    text (default) or json\n"
            "      --stats INTERVAL       log counts and rates per pipeline every\n"
            "                             INTERVAL (e.g. 5s); default off\n"
            "      --shutdown-timeout DUR how long a stop may take to drain before\n"
            "                             retries are abandoned (default 30s); a second\n"
            "                             later sluice exits 1 even if a plugin hangs\n");
}

static int parse_http(const char *s, char *addr, size_t alen, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= alen)
        return -1;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535 || colon[1] == '\0')
        return -1;
    memcpy(addr, s, (size_t)(colon - s));
    addr[colon - s] = '\0';
    *port = (int)p;
    return 0;
}

int sl_cmd_run(int argc, char **argv)
{
    sl_cli_common c = {0};
    char **files = calloc((size_t)argc + 1, sizeof(*files));
    int nfiles = 0;
    const char *http = NULL, *token_file = NULL;
    char *token = NULL;
    int64_t stats_ms = 0, shutdown_ms = 30000;
    int level = SLUICE_LOG_INFO;
    sl_log_format fmt = SL_LOG_TEXT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (sl_cli_plugin_opt(&c, argc, argv, &i))
            continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            run_usage(stdout);
            free(files);
            return 0;
        }
        int has_val = i + 1 < argc;
        if (!strcmp(a, "--http") && has_val) {
            http = argv[++i];
        } else if (!strcmp(a, "--http-token-file") && has_val) {
            token_file = argv[++i];
        } else if (!strcmp(a, "--log-level") && has_val) {
            level = sl_log_parse_level(argv[++i]);
            if (level < 0) {
                fprintf(stderr, "sluice run: --log-level: expected error, warn, info or "
                                "debug, got \"%s\"\n", argv[i]);
                free(files);
                return 2;
            }
        } else if (!strcmp(a, "--log-format") && has_val) {
            const char *v = argv[++i];
            if (!strcmp(v, "json")) {
                fmt = SL_LOG_JSON;
            } else if (!strcmp(v, "text")) {
                fmt = SL_LOG_TEXT;
            } else {
                fprintf(stderr, "sluice run: --log-format: expected text or json, got \"%s\"\n",
                        v);
                free(files);
                return 2;
            }
        } else if ((!strcmp(a, "--stats") || !strcmp(a, "--shutdown-timeout")) && has_val) {
            int64_t ms = sl_parse_duration_ms(argv[++i]);
            if (ms <= 0) {
                fprintf(stderr, "sluice run: %s: expected a duration such as 5s, got \"%s\"\n",
                        a, argv[i]);
                free(files);
                return 2;
            }
            *(!strcmp(a, "--stats") ? &stats_ms : &shutdown_ms) = ms;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "sluice run: unknown option or missing value: \"%s\"\n", a);
            run_usage(stderr);
            free(files);
            return 2;
        } else {
            files[nfiles++] = argv[i];
        }
    }
    if (!nfiles) {
        fprintf(stderr, "sluice run: no pipeline file given\n");
        run_usage(stderr);
        free(files);
        return 2;
    }
    sl_log_configure((sluice_log_level)level, fmt);
    char haddr[256];
    int hport = 0;
    if (http && parse_http(http, haddr, sizeof haddr, &hport) != 0) {
        fprintf(stderr, "sluice run: --http: expected ADDR:PORT such as 127.0.0.1:9464, "
                        "got \"%s\"\n", http);
        free(files);
        return 2;
    }
    if (token_file) {
        char terr[512];
        if (!http) {
            fprintf(stderr, "sluice run: --http-token-file needs --http\n");
            free(files);
            return 2;
        }
        /* Read like a secret file: never blocking, regular files only. */
        if (sl_secret_read(NULL, token_file, &token, terr, sizeof terr) != 0 || !*token) {
            fprintf(stderr, "sluice run: --http-token-file: %s\n",
                    token ? "the token file is empty; put the token in it" : terr);
            free(token);
            free(files);
            return 2;
        }
        sl_secret_register(token);
    }

    /* Signals are taken synchronously by this thread alone: block them
     * before any thread exists so every pipeline thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    sl_crash_install();

    sl_registry *reg = sl_registry_new();
    if (sl_cli_load_plugins(reg, &c, argv[0]) != 0) {
        sl_log(SLUICE_LOG_ERROR, NULL, NULL, "refusing to run with plugins that failed to "
                                             "load; remove or rebuild them");
        sl_registry_free(reg);
        free(token);
        free(files);
        return 1;
    }
    sl_runner r;
    sl_runner_init(&r, reg, files, nfiles);
    sl_http *h = NULL;
    if (http) {
        sl_http_hooks hooks = {.arg = &r, .ready = sl_runner_ready,
                               .status_json = sl_runner_status_json,
                               .health_json = sl_guard_health_json,
                               .bearer_token = token};
        char err[256];
        h = sl_http_start(haddr, hport, sl_metrics_global(), &hooks, err, sizeof err);
        if (!h) {
            sl_log(SLUICE_LOG_ERROR, NULL, NULL, "--http %s: %s", http, err);
            free(token);
            sl_runner_free(&r);
            sl_registry_free(reg);
            free(files);
            return 1;
        }
        sl_log(SLUICE_LOG_INFO, NULL, NULL, "serving /metrics, /health, /ready, /status on "
               "http://%s:%d%s", haddr, sl_http_port(h),
               token ? " (/status needs the bearer token)" : "");
    }
    if (token) {
        explicit_bzero(token, strlen(token));
        free(token);
        token = NULL;
    }
    /* The watchdog runs before any plugin code: an init may never return. */
    if (sl_guard_start(shutdown_ms) != 0)
        sl_log(SLUICE_LOG_WARN, NULL, NULL, "cannot start the watchdog thread: stuck plugins "
                                            "will not be reported and the shutdown deadline "
                                            "is not enforced");
    int start_failed = sl_runner_start(&r) != 0;
    int64_t stop_deadline = 0;
    if (start_failed) {
        /* What did start may be retrying a sink: stop it under the same
         * deadline and signals as any stop, rather than wait without end. */
        sl_log(SLUICE_LOG_ERROR, NULL, NULL, "start failed: stopping the pipelines that "
               "started (deadline %lld ms)", (long long)shutdown_ms);
        sl_runner_stop(&r);
        stop_deadline = sl_guard_shutdown_begin();
    } else {
        sl_log(SLUICE_LOG_INFO, NULL, NULL, "sluice %s: %zu pipeline(s) started", sl_version(),
               r.n);
    }

    int64_t next_stats = stats_ms ? sluice_mono_ms() + stats_ms : 0;
    int aborted = 0;
    for (;;) {
        struct timespec tick = {0, 50 * 1000000L};
        int sig = sl_guard_take_stop_signal(); /* one that arrived during start-up */
        if (!sig)
            sig = sigtimedwait(&sigs, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            if (stop_deadline) {
                sl_log(SLUICE_LOG_WARN, NULL, NULL, "%s while stopping: abandoning retries",
                       sig == SIGTERM ? "SIGTERM" : "SIGINT");
                sl_runner_abort(&r);
                aborted = 1;
            } else {
                sl_log(SLUICE_LOG_INFO, NULL, NULL, "%s: stopping (draining, deadline %lld ms)",
                       sig == SIGTERM ? "SIGTERM" : "SIGINT", (long long)shutdown_ms);
                sl_runner_stop(&r);
                stop_deadline = sl_guard_shutdown_begin();
            }
        } else if (sig == SIGHUP && !stop_deadline) {
            sl_runner_reload(&r);
        }
        int64_t now = sluice_mono_ms();
        if (stop_deadline && !aborted && now > stop_deadline) {
            sl_log(SLUICE_LOG_ERROR, NULL, NULL, "shutdown deadline passed: abandoning retries; "
                   "unacknowledged records will be replayed by sources that can replay, and "
                   "pipelines with a disk buffer keep theirs in the spool");
            sl_runner_abort(&r);
            aborted = 1;
        }
        sl_runner_tick(&r);
        if (next_stats && now >= next_stats) {
            sl_runner_log_stats(&r, (double)stats_ms / 1000.0);
            next_stats = now + stats_ms;
        }
        if (sl_runner_all_done(&r))
            break;
    }
    int rc = sl_runner_join(&r);
    if (aborted || start_failed)
        rc = 1;
    sl_guard_stop();
    sl_http_stop(h);
    sl_runner_free(&r);
    sl_registry_free(reg);
    free(files);
    sl_log(SLUICE_LOG_INFO, NULL, NULL, "exiting with status %d", rc);
    return rc;
}
