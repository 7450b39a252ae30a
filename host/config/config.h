/* Pipeline files: YAML parsing, ${VAR} expansion, secrets, and validation of
 * every plugin's options against the options it declares. */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include <sluice/sluice.h>
#include <stdint.h>
#include "plugin_registry.h"
#include "../spool/spool.h"

/* Diagnostics collected while loading; each message is one line of the form
 * "FILE:LINE:COL: what is wrong; what was expected". */
typedef struct sl_diag {
    char **msgs;
    size_t n, cap;
} sl_diag;

void sl_diag_add(sl_diag *d, const char *file, int line, int col, const char *fmt, ...)
    SLUICE_PRINTF(5, 6);
void sl_diag_free(sl_diag *d);

/* One plugin's resolved options (the concrete type behind the opaque
 * sluice_config of the ABI).  Defaults are applied; values are typed. */
typedef struct sl_optval {
    const sluice_option *opt;
    int set;                 /* given in the file, or defaulted */
    char *str;               /* STRING, SECRET, and the text of every scalar */
    int64_t i;               /* INT, DURATION (ms), SIZE (bytes), BOOL */
    double d;                /* DOUBLE */
    char **items;            /* LIST items; MAP keys */
    char **values;           /* MAP values */
    size_t n_items;
} sl_optval;

struct sluice_config {
    sl_optval *vals;         /* one per declared option, in declaration order */
    size_t n;
};

void sl_config_free(sluice_config *c);
/* Writes the options as "name=value" pairs separated by ", ", secrets as
 * "***", into buf (for logs and the status API). */
void sl_config_describe(const sluice_config *c, char *buf, size_t len);

typedef enum sl_stage_kind { SL_SOURCE, SL_TRANSFORM, SL_SINK } sl_stage_kind;

typedef struct sl_stage_conf {
    char *plugin;            /* plugin name */
    sl_stage_kind kind;
    const sl_plugin_entry *entry;
    sluice_config *cfg;
    int line, col;           /* where the stage's mapping starts */
} sl_stage_conf;

/* Lanes per pipeline file: each is a full copy with its own threads and
 * connections, so the bound keeps a typo from opening thousands. */
#define SL_MAX_LANES 64

typedef enum sl_tolerance { SL_TOLERANCE_NONE, SL_TOLERANCE_ALL } sl_tolerance;

typedef struct sl_pipeline_conf {
    char *name;              /* `name:`, default: file name without extension;
                                a lane's name is "NAME#K" (sl_conf_set_lane) */
    char *group;             /* the file's own name when lanes > 1, else NULL */
    int lanes;               /* `lanes:`, default 1: copies of the pipeline run
                                side by side, each with its own instances */
    int lane;                /* 1..lanes for a lane of a laned file, else 0 */
    char *path;
    uint64_t digest;         /* hash of the file's bytes and the values of the
                                variables it expands, for SIGHUP reloads */
    sl_stage_conf source;
    sl_stage_conf *transforms;
    size_t n_transforms;
    sl_stage_conf sink;

    sl_tolerance tolerance;  /* errors.tolerance, default none */
    int log_errors;          /* errors.log, default true */
    int has_dead_letter;
    sl_stage_conf dead_letter; /* errors.dead_letter: a sink */

    size_t batch_max_records;  /* batch.max_records, default 1000 */
    int64_t batch_linger_ms;   /* batch.linger, default 100ms */
    size_t batch_arena_bytes;  /* batch.max_bytes, default 8MiB: arena per batch */
    size_t queue_batches;      /* buffer.max_batches, default 4 */
    int spool;                 /* buffer.type: disk */
    char *spool_path;          /* buffer.path */
    uint64_t spool_max_bytes;  /* buffer.max_size, default 1GiB */
    uint64_t spool_segment_bytes; /* buffer.segment_size, default 64MiB */
    sl_spool_fsync spool_fsync;   /* buffer.fsync, default batch */
    int64_t spool_fsync_interval_ms; /* buffer.fsync_interval, default 1s */

    int64_t retry_initial_ms;  /* retry.initial, default 100ms */
    int64_t retry_max_ms;      /* retry.max, default 30s */
    int64_t retry_max_attempts;/* retry.max_attempts, default 0 = forever */

    int64_t restart_initial_ms;/* restart.initial, default 1s */
    int64_t restart_max_ms;    /* restart.max, default 60s */
    int64_t watchdog_ms;       /* watchdog.timeout, default 5m */
} sl_pipeline_conf;

/* Loads and validates one pipeline file against the plugins in `reg`.
 * Returns NULL if anything is wrong; every problem found is appended to
 * `diag` (it does not stop at the first). */
sl_pipeline_conf *sl_conf_load(const char *path, const sl_registry *reg, sl_diag *diag);
void sl_conf_free(sl_pipeline_conf *c);
/* Makes c lane `lane` (1..c->lanes) of its file: c->group keeps the file's
 * name, c->name becomes "NAME#LANE" and a disk buffer's path PATH/LANE.
 * 0, or -1 when out of memory. */
int sl_conf_set_lane(sl_pipeline_conf *c, int lane);

/* Expands FILE|DIR arguments into a sorted list of pipeline files (*.yaml,
 * *.yml in directories, not recursive).  Returns count, or -1 with diag. */
int sl_conf_collect(char *const *args, int nargs, char ***paths, sl_diag *diag);

/* The typed getters behind sluice_api.cfg_* (see sluice.h for semantics).
 * DURATION reads as ms and SIZE as bytes through sl_cfg_int. */
int sl_cfg_has(const sluice_config *cfg, const char *name);
const char *sl_cfg_string(const sluice_config *cfg, const char *name);
int64_t sl_cfg_int(const sluice_config *cfg, const char *name, int64_t def);
double sl_cfg_double(const sluice_config *cfg, const char *name, double def);
int sl_cfg_bool(const sluice_config *cfg, const char *name, int def);
/* The 1.2 getters: the declared default, never the caller's. */
int64_t sl_opt_int(const sluice_config *cfg, const char *name);
double sl_opt_double(const sluice_config *cfg, const char *name);
int sl_opt_bool(const sluice_config *cfg, const char *name);
size_t sl_cfg_list_len(const sluice_config *cfg, const char *name);
const char *sl_cfg_list_at(const sluice_config *cfg, const char *name, size_t i);
size_t sl_cfg_map_len(const sluice_config *cfg, const char *name);
const char *sl_cfg_map_key(const sluice_config *cfg, const char *name, size_t i);
const char *sl_cfg_map_value(const sluice_config *cfg, const char *name, size_t i);

/* Parses "250ms", "5s", "2m", "1h", "1d" or a bare number of ms; -1 if bad. */
int64_t sl_parse_duration_ms(const char *s);
/* Parses "512", "64KiB", "64KB", "16MiB", "1GiB"; -1 if bad. */
int64_t sl_parse_size(const char *s);

#endif
