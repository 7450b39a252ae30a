/* The C tests' shared library (sluice_testlib): what every plugin test
 * harness needs the same way, so tests/mqtt (mt), tests/kafka (kt),
 * tests/timescale (tt), tests/f2 (f2t) and tests/plugins (ph) keep only
 * what is specific to their plugin.
 *
 *   - fatal setup errors, the suite's environment (ports, plugin dir) and
 *     scratch files;
 *   - plugins loaded through the host's real loader, options through the
 *     real pipeline-file loader (or built from "name=value" strings);
 *   - a plugin instance initialised and destroyed as the runner does, its
 *     metrics and readiness;
 *   - records built field by field;
 *   - what the host logs, captured.
 *
 * Assertions are check.h's (and strcheck.h's for exact strings).  A setup
 * step that cannot be done ends the test with status 2: these tests fail,
 * never skip, when a server or a plugin is missing. */
#ifndef SLUICE_TEST_TL_H
#define SLUICE_TEST_TL_H

#include <sluice/sluice.h>

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "config/config.h"
#include "ctx.h"
#include "metrics.h"
#include "plugin_registry.h"

/* ---- setup and environment ------------------------------------------- */

/* Prints "FATAL: ..." and exits 2. */
void tl_die(const char *fmt, ...) SLUICE_PRINTF(1, 2) __attribute__((noreturn));
/* An environment variable the suite sets (ctest, scripts/test.sh); dies
 * naming it and `hint` (what to do) when unset or empty. */
const char *tl_env(const char *name, const char *hint);
/* The port in `var` (SLUICE_TEST_MQTT_PORT, ...), after checking that
 * something answers on 127.0.0.1 there; dies naming `what` otherwise. */
int tl_server_port(const char *var, const char *what);
/* 1 when something accepts connections on 127.0.0.1:port. */
int tl_port_open(int port);
/* A TCP port on 127.0.0.1 nobody listens on right now. */
int tl_free_port(void);

int64_t tl_now_ms(void);
void tl_sleep_ms(int64_t ms);
/* Polls cond(arg) every 20 ms until it returns nonzero (1) or timeout_ms
 * pass on the monotonic clock (0; cond is tried once more at the deadline).
 * For "this happens eventually" checks: give a generous bound (seconds),
 * since a loaded machine or a sanitizer build is slow, and a fixed sleep
 * followed by one check is never safe. */
int tl_wait_until(int64_t timeout_ms, int (*cond)(void *arg), void *arg);

/* ---- scratch files ------------------------------------------------------ */

/* Makes $TMPDIR/sluice-<tag>.XXXXXX into buf. */
void tl_scratch_dir(char *buf, size_t len, const char *tag);
void tl_rm_rf(const char *path);
void tl_write_file(const char *path, const char *content);
/* The whole file, malloc'd and NUL-terminated; NULL if it cannot be read. */
char *tl_read_file(const char *path);
/* Runs a shell command; returns its exit status (128 if it did not exit). */
int tl_sh(const char *fmt, ...) SLUICE_PRINTF(1, 2);

/* ---- plugins and their options ------------------------------------------ */

/* A registry with the named plugins (NULL-terminated list) loaded from
 * $SLUICE_PLUGIN_DIR; dies when one does not load. */
sl_registry *tl_registry(const char *const *names);
/* Loads DIR/FILE into reg; dies when it does not load. */
void tl_registry_add(sl_registry *reg, const char *dir, const char *file);
/* The plugin `name` of reg; dies when it is not there. */
const sluice_plugin *tl_plugin(sl_registry *reg, const char *name);

/* Writes `yaml` to `path` (NULL: a temporary file, removed after) and loads
 * it with the host's pipeline loader.  NULL when it does not load: the
 * problems are printed, and the first goes to err (if err). */
sl_pipeline_conf *tl_conf_load_text(sl_registry *reg, const char *path, const char *yaml,
                                    char *err, size_t errlen);

/* A configuration for `opts` without a pipeline file, from NULL-terminated
 * "name=value", "name[]=item" (LIST) and "name{key}=value" (MAP) strings;
 * declared defaults apply as the host's loader applies them.  Dies on an
 * unknown option. */
sluice_config *tl_cfg(const sluice_option *opts, const char *const *kv);
void tl_cfg_free(sluice_config *c);

/* ---- instances ------------------------------------------------------------ */

typedef enum tl_kind { TL_SOURCE, TL_TRANSFORM, TL_SINK } tl_kind;

/* Calls the plugin's init for `kind` as the runner does: a fresh ctx named
 * after pipeline and instance ("source", "transform[0]", "sink"), cfg the
 * stage's.  On failure *ctx and *inst are NULL, err says why. */
sluice_status tl_init(const sluice_plugin *p, tl_kind kind, const sluice_config *cfg,
                      const char *pipeline, const char *instance, sluice_ctx **ctx,
                      void **inst, char *err);
/* Destroys what tl_init made (nothing when ctx is NULL). */
void tl_destroy(const sluice_plugin *p, tl_kind kind, sluice_ctx *ctx, void *inst);
tl_kind tl_stage_kind(const sl_stage_conf *st);

/* The value of a metric the instance registered (registering the same name
 * again returns its series); dies when there is none. */
double tl_metric(sluice_ctx *ctx, sluice_metric_kind kind, const char *name, const char *label);
int tl_ready(sluice_ctx *ctx);

/* ---- records ---------------------------------------------------------------- */

sluice_batch *tl_batch(size_t cap);
sluice_record *tl_rec(sluice_batch *b);
void tl_str(sluice_batch *b, sluice_record *r, const char *name, const char *v);
void tl_strn(sluice_batch *b, sluice_record *r, const char *name, const char *v, size_t n);
void tl_bytes(sluice_batch *b, sluice_record *r, const char *name, const void *v, size_t n);
void tl_dbl(sluice_batch *b, sluice_record *r, const char *name, double v);
void tl_int(sluice_batch *b, sluice_record *r, const char *name, int64_t v);
void tl_bool(sluice_batch *b, sluice_record *r, const char *name, int v);
void tl_ts(sluice_batch *b, sluice_record *r, const char *name, int64_t us);
void tl_null(sluice_batch *b, sluice_record *r, const char *name);
/* The record's failure reason, NULL when it is not marked failed. */
const char *tl_failure(const sluice_batch *b, size_t i);

/* ---- captured log ---------------------------------------------------------- */

/* What the process writes to stderr (the host's log) between the two calls;
 * the end returns it (static buffer) and echoes it, so a failing test's
 * output still tells the whole story. */
void tl_capture_begin(void);
const char *tl_capture_end(void);

#endif
