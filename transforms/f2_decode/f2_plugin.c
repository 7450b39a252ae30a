/* f2_decode: F2 Smart Controller readings to measurements, with the device
 * parameters from PostgreSQL held in a cache that triggers keep current,
 * and the fleet's health (f2_fleet_run.h). */
#include "f2_decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const default_true[] = {"true", "on", "open", "active", "locked",
                                           "pressed", "detected"};
static const char *const default_false[] = {"false", "off", "closed", "inactive", "unlocked",
                                            "released"};

static const sluice_option f2_options[] = {
    {"params_dsn", SLUICE_OPT_SECRET, SLUICE_OPT_REQUIRED, NULL,
     "libpq connection string or URI of the device_params database", NULL, NULL, NULL},
    {"ttl", SLUICE_OPT_DURATION, 0, "5m",
     "refresh a cached device after this long without a notification; unknown devices are "
     "remembered as long",
     NULL, "1ms", NULL},
    {"listen", SLUICE_OPT_BOOL, 0, "true",
     "LISTEN for the parameter tables' change notifications and refresh at once", NULL, NULL,
     NULL},
    {"channel", SLUICE_OPT_STRING, 0, "sluice_device_params",
     "notification channel of the triggers in sql/device_params.sql", NULL, NULL, NULL},
    {"timezone", SLUICE_OPT_STRING, 0, "UTC",
     "zone of payload timestamps that carry none: UTC or a fixed offset such as +02:00", NULL,
     NULL, NULL},
    {"true_words", SLUICE_OPT_LIST, 0, "[true, on, open, active, locked, pressed, detected]",
     "two-state words read as 1", NULL, NULL, NULL},
    {"false_words", SLUICE_OPT_LIST, 0, "[false, off, closed, inactive, unlocked, released]",
     "two-state words read as 0", NULL, NULL, NULL},
    {"max_payload", SLUICE_OPT_SIZE, 0, "64KiB", "readings with a larger payload fail", NULL,
     "1", NULL},
    F2_FLEET_OPTIONS,
    {"unknown_device", SLUICE_OPT_STRING, 0, "dead_letter",
     "readings of unregistered devices: fail them (error policy), or park them in f2_parked "
     "until the device is registered (needs buffer: { type: disk })",
     "dead_letter|park", NULL, NULL},
    /* No declared default, so that park_for without park can be refused
     * (cfg_has sees defaults); 24h is applied below. */
    {"park_for", SLUICE_OPT_DURATION, 0, NULL,
     "with unknown_device: park, how long a reading waits for its device before it fails as "
     "expired (default 24h)",
     NULL, "1ms", NULL},
    SLUICE_OPTIONS_END};

/* The declared defaults reach us through the host; the built-in copies
 * serve only a host that predates list defaults.  An explicit empty list
 * means no words. */
static int load_words(const sluice_api *api, const sluice_config *cfg, const char *name,
                      const char *const *defaults, size_t n_def, f2_words *out)
{
    size_t n = api->cfg_list_len(cfg, name);
    if (n == 0 && !api->cfg_has(cfg, name)) {
        out->w = (const char **)defaults;
        out->n = n_def;
        return 0;
    }
    if (n == 0) {
        out->w = NULL;
        out->n = 0;
        return 0;
    }
    out->w = malloc(n * sizeof(*out->w));
    if (!out->w)
        return -1;
    for (size_t i = 0; i < n; i++)
        out->w[i] = api->cfg_list_at(cfg, name, i);
    out->n = n;
    return 0;
}

static void free_words(f2_words *w, const char *const *defaults)
{
    if (w->w && w->w != (const char **)defaults)
        free(w->w);
    w->w = NULL;
}

static void f2_destroy(void *inst)
{
    f2_inst *fi = inst;
    if (!fi)
        return;
    f2_fleet_stop(fi->fleet);
    f2_park_stop(fi->park);
    f2_park_rows_free(&fi->parked);
    f2_db_close(&fi->db);
    f2_cache_free(&fi->cache);
    free_words(&fi->true_words, default_true);
    free_words(&fi->false_words, default_false);
    free(fi);
}

static sluice_status f2_commit(void *arg, char *err);

static sluice_status f2_init(const sluice_init_args *a, void **out, char *err)
{
    const sluice_api *api = a->api;
    const sluice_config *cfg = a->cfg;
    f2_inst *fi = calloc(1, sizeof(*fi));
    if (!fi || f2_cache_init(&fi->cache) != 0) {
        free(fi);
        snprintf(err, SLUICE_ERRLEN, "out of memory");
        return SLUICE_ERR;
    }
    fi->api = api;
    fi->ctx = a->ctx;
    f2_events_init(fi);

    int64_t ttl_ms = api->opt_int(cfg, "ttl");
    int64_t maxp = api->opt_int(cfg, "max_payload");
    const char *dsn = api->cfg_string(cfg, "params_dsn");
    if (!dsn || !*dsn) {
        snprintf(err, SLUICE_ERRLEN, "params_dsn is required");
        goto fail;
    }
    if (ttl_ms <= 0) {
        snprintf(err, SLUICE_ERRLEN, "ttl must be positive");
        goto fail;
    }
    if (maxp <= 0) {
        snprintf(err, SLUICE_ERRLEN, "max_payload must be positive");
        goto fail;
    }
    fi->ttl_ns = ttl_ms * 1000000LL;
    fi->max_payload = (size_t)maxp;
    if (f2_parse_tz(api->cfg_string(cfg, "timezone"), &fi->tz_offset_s, err, SLUICE_ERRLEN) != 0)
        goto fail;
    if (load_words(api, cfg, "true_words", default_true,
                   sizeof default_true / sizeof *default_true, &fi->true_words) != 0 ||
        load_words(api, cfg, "false_words", default_false,
                   sizeof default_false / sizeof *default_false, &fi->false_words) != 0) {
        snprintf(err, SLUICE_ERRLEN, "out of memory");
        goto fail;
    }

    sluice_ctx *ctx = a->ctx;
    fi->m.readings = api->metric(ctx, SLUICE_METRIC_COUNTER, "sluice_f2_readings_decoded_total",
                                 "F2 readings decoded into measurements", NULL);
    fi->m.measurements = api->metric(ctx, SLUICE_METRIC_COUNTER, "sluice_f2_measurements_total",
                                     "Measurements produced from F2 readings", NULL);
    fi->m.hits = api->metric(ctx, SLUICE_METRIC_COUNTER, "sluice_f2_cache_hits_total",
                             "Readings whose device parameters came from the cache", NULL);
    fi->m.misses = api->metric(ctx, SLUICE_METRIC_COUNTER, "sluice_f2_cache_misses_total",
                               "Readings whose device was not cached and was looked up", NULL);
    fi->m.failed = api->metric(ctx, SLUICE_METRIC_COUNTER, "sluice_f2_lookups_failed_total",
                               "Device lookups the database could not answer", NULL);
    fi->m.reloads = api->metric(ctx, SLUICE_METRIC_COUNTER, "sluice_f2_cache_reloads_total",
                                "Cached devices refreshed after a notification, the ttl or a "
                                "reconnection",
                                NULL);

    fi->db.api = api;
    fi->db.ctx = ctx;
    fi->db.dsn = dsn;
    fi->db.channel = api->opt_bool(cfg, "listen") ? api->cfg_string(cfg, "channel") : NULL;
    if (fi->db.channel && !*fi->db.channel) {
        snprintf(err, SLUICE_ERRLEN, "channel must not be empty when listen is on");
        goto fail;
    }
    char why[SLUICE_ERRLEN];
    int rc = f2_db_open(&fi->db, why, sizeof why);
    if (rc < 0) {
        snprintf(err, SLUICE_ERRLEN, "%s", why);
        goto fail;
    }
    if (rc > 0)
        api->log(ctx, SLUICE_LOG_WARN,
                 "%s; starting anyway: readings of devices not yet cached are retried until "
                 "the database answers",
                 why);
    const char *ud = api->cfg_string(cfg, "unknown_device");
    int park_on = ud && strcmp(ud, "park") == 0;
    int64_t park_for_ms = api->cfg_int(cfg, "park_for", 86400000);
    if (!park_on && api->cfg_has(cfg, "park_for")) {
        snprintf(err, SLUICE_ERRLEN,
                 "park_for is set but unknown_device is not park; set unknown_device: park, or "
                 "remove park_for");
        goto fail;
    }
    if (park_on && !SLUICE_API_HAS(api, commit_hook)) {
        snprintf(err, SLUICE_ERRLEN,
                 "unknown_device: park needs a newer sluice host (api->commit_hook); set "
                 "unknown_device: dead_letter");
        goto fail;
    }
    if (park_on && !(SLUICE_API_HAS(api, spooled) && api->spooled(ctx))) {
        snprintf(err, SLUICE_ERRLEN,
                 "unknown_device: park needs a disk buffer on this pipeline: parked readings "
                 "are re-injected through its spool; add `buffer: { type: disk, path: ... }` "
                 "(for a Kafka source too), or set unknown_device: dead_letter and re-drive "
                 "the dead letters with `sluice redrive`");
        goto fail;
    }
    if (park_on) {
        if (rc == 0 && f2_db_command(&fi->db, F2_PARK_DDL, 0, NULL, NULL, NULL, why,
                                     sizeof why) != 0) {
            snprintf(err, SLUICE_ERRLEN,
                     "unknown_device: park: cannot create table f2_parked in the device_params "
                     "database: %.300s; create it as its owner with sql/f2_parked.sql",
                     why);
            goto fail;
        }
        snprintf(fi->park_owner, sizeof fi->park_owner, "%s/%s", a->pipeline ? a->pipeline : "",
                 a->instance ? a->instance : "");
        f2_park_conf pc = {.dsn = dsn,
                           .channel = fi->db.channel,
                           .owner = fi->park_owner,
                           .park_for_ms = park_for_ms};
        if (api->commit_hook(ctx, f2_commit, fi, why) != SLUICE_OK) {
            snprintf(err, SLUICE_ERRLEN, "%s", why);
            goto fail;
        }
        fi->park = f2_park_start(api, ctx, &pc, why, sizeof why);
        if (!fi->park) {
            snprintf(err, SLUICE_ERRLEN, "%s", why);
            goto fail;
        }
    }
    int fleet_off;
    fi->fleet = f2_fleet_start(api, cfg, ctx, &fleet_off, why, sizeof why);
    if (!fi->fleet && !fleet_off) {
        snprintf(err, SLUICE_ERRLEN, "%s", why);
        goto fail;
    }
    fi->last_tick_ns = api->mono_ns();
    *out = fi;
    return SLUICE_OK;
fail:
    f2_destroy(fi);
    return SLUICE_ERR;
}

/* The batch's parked readings, in one INSERT, before the host lets the
 * batch go (api->commit_hook). */
static sluice_status f2_commit(void *arg, char *err)
{
    f2_inst *fi = arg;
    size_t n = fi->parked.n;
    if (!n)
        return SLUICE_OK;
    char why[SLUICE_ERRLEN];
    if (f2_db_ready(&fi->db, F2_MISS_WAIT_MS, &fi->ev, why, sizeof why) != 0) {
        snprintf(err, SLUICE_ERRLEN, "cannot park %zu readings in f2_parked: %.400s", n, why);
        return SLUICE_RETRY;
    }
    if (f2_park_rows_write(&fi->parked, &fi->db, fi->park_owner, why, sizeof why) != 0) {
        snprintf(err, SLUICE_ERRLEN, "%s", why);
        /* A table dropped under us comes back for the retry; any other
         * failure is the database's to fix, the batch waits meanwhile. */
        char ignored[SLUICE_ERRLEN];
        if (strstr(why, "does not exist"))
            (void)f2_db_command(&fi->db, F2_PARK_DDL, 0, NULL, NULL, NULL, ignored,
                                sizeof ignored);
        return SLUICE_RETRY;
    }
    f2_park_count(fi->park, n);
    return SLUICE_OK;
}

static const sluice_transform_ops f2_transform = {
    .struct_size = sizeof(sluice_transform_ops),
    .options = f2_options,
    .init = f2_init,
    .process = f2_process,
    .destroy = f2_destroy,
};

static const sluice_plugin f2_decode_plugin = {
    SLUICE_PLUGIN_HEAD,
    .name = "f2_decode",
    .version = "1.0.0",
    .description = "Decodes F2 Smart Controller readings into measurements using device "
                   "parameters from PostgreSQL",
    .transform = &f2_transform,
};

SLUICE_PLUGIN(f2_decode_plugin)
