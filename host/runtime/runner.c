#include "runner.h"

#include "ctx.h"
#include "log.h"
#include "redact.h"
#include "guard.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sluice/sluice_time.h>

void sl_runner_init(sl_runner *r, const sl_registry *reg, char **args, int nargs)
{
    memset(r, 0, sizeof(*r));
    r->reg = reg;
    r->args = args;
    r->nargs = nargs;
    pthread_mutex_init(&r->mu, NULL);
}

static int add(sl_runner *r, sl_pipeline *p)
{
    pthread_mutex_lock(&r->mu);
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 8;
        sl_pipeline **nv = realloc(r->v, nc * sizeof(*nv));
        if (!nv) {
            pthread_mutex_unlock(&r->mu);
            return -1;
        }
        r->v = nv;
        r->cap = nc;
    }
    r->v[r->n++] = p;
    pthread_mutex_unlock(&r->mu);
    return 0;
}

static void print_diag(sl_diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        sl_log(SLUICE_LOG_ERROR, NULL, NULL, "%s", d->msgs[i]);
}

/* Loads every file; all or nothing. */
static int load_all(sl_runner *r, sl_pipeline_conf ***out, size_t *nout)
{
    sl_diag d = {0};
    char **paths = NULL;
    int np = sl_conf_collect(r->args, r->nargs, &paths, &d);
    if (np < 0) {
        print_diag(&d);
        sl_diag_free(&d);
        return -1;
    }
    sl_pipeline_conf **confs = calloc((size_t)np + 1, sizeof(*confs));
    int bad = 0;
    for (int i = 0; i < np; i++) {
        confs[i] = sl_conf_load(paths[i], r->reg, &d);
        if (!confs[i])
            bad = 1;
    }
    /* Two files with one pipeline name would fight over metrics and
     * consumer ids: refuse. */
    for (int i = 0; i < np && !bad; i++)
        for (int j = 0; j < i; j++)
            if (confs[i] && confs[j] && strcmp(confs[i]->name, confs[j]->name) == 0) {
                sl_diag_add(&d, confs[i]->path, 1, 1,
                            "pipeline name \"%s\" is already used by %s; give each file its "
                            "own `name:`", confs[i]->name, confs[j]->path);
                bad = 1;
            }
    for (int i = 0; i < np; i++)
        free(paths[i]);
    free(paths);
    if (bad) {
        print_diag(&d);
        sl_diag_free(&d);
        for (int i = 0; i < np; i++)
            sl_conf_free(confs[i]);
        free(confs);
        return -1;
    }
    sl_diag_free(&d);
    *out = confs;
    *nout = (size_t)np;
    return 0;
}

/* A file with `lanes: N` runs as N pipelines, each from its own load of the
 * file, so that no configuration is shared between lanes and each frees its
 * own.  Takes ownership of c; fills lanes[0..c->lanes-1] and returns the
 * count, or -1 (errors printed, everything freed). */
static int expand_lanes(sl_runner *r, sl_pipeline_conf *c, sl_pipeline_conf **lanes)
{
    int n = c->lanes;
    lanes[0] = c;
    if (n == 1)
        return 1;
    for (int k = 1; k < n; k++) {
        sl_diag d = {0};
        lanes[k] = sl_conf_load(c->path, r->reg, &d);
        if (!lanes[k] || lanes[k]->digest != c->digest) {
            if (d.n)
                print_diag(&d);
            sl_log(SLUICE_LOG_ERROR, c->name, NULL,
                   "%s: the file changed while its %d lanes were being loaded; not started "
                   "(reload again with SIGHUP)", c->path, n);
            sl_diag_free(&d);
            for (int j = 0; j <= k; j++)
                sl_conf_free(lanes[j]);
            return -1;
        }
        sl_diag_free(&d);
    }
    for (int k = 0; k < n; k++)
        if (sl_conf_set_lane(lanes[k], k + 1) != 0) {
            sl_log(SLUICE_LOG_ERROR, NULL, NULL, "out of memory starting %s", c->path);
            for (int j = 0; j < n; j++)
                sl_conf_free(lanes[j]);
            return -1;
        }
    return n;
}

/* Records in the spool of a lane that no longer exists (the file had more
 * lanes, or had lanes and has none now) are delivered by nobody: say so. */
static void warn_orphan_spools(const sl_pipeline_conf *c)
{
    if (!c->spool_path)
        return;
    char dir[4200];
    struct stat st;
    snprintf(dir, sizeof dir, "%s/lock", c->spool_path);
    if (c->lanes > 1 && stat(dir, &st) == 0)
        sl_log(SLUICE_LOG_WARN, c->name, NULL,
               "%s is the disk buffer this file used without lanes; with lanes: %d each lane "
               "has its own (%s/1 ...), and records left in it are not delivered: set lanes: 1 "
               "until it is empty, then remove its files",
               c->spool_path, c->lanes, c->spool_path);
    for (int k = c->lanes > 1 ? c->lanes + 1 : 1; k <= SL_MAX_LANES; k++) {
        snprintf(dir, sizeof dir, "%s/%d", c->spool_path, k);
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
            sl_log(SLUICE_LOG_WARN, c->name, NULL,
                   "%s is the disk buffer of lane %d, which this file (lanes: %d) no longer "
                   "runs; records left in it are not delivered: set lanes: back to %d or more "
                   "until it is empty, then remove it",
                   dir, k, c->lanes, k < 2 ? 2 : k);
    }
}

/* Starts the lanes of one file; returns -1 if any could not start. */
static int start_file(sl_runner *r, sl_pipeline_conf *c)
{
    sl_pipeline_conf *lanes[SL_MAX_LANES];
    warn_orphan_spools(c);
    int n = expand_lanes(r, c, lanes);
    if (n < 0)
        return -1;
    int rc = 0;
    for (int k = 0; k < n; k++) {
        sl_pipeline *p = sl_pipeline_new(lanes[k]);
        if (!p || add(r, p) != 0) {
            sl_log(SLUICE_LOG_ERROR, NULL, NULL, "out of memory starting %s", lanes[k]->path);
            if (!p)
                sl_conf_free(lanes[k]);
            else
                sl_pipeline_free(p);
            rc = -1;
            continue;
        }
        char err[1200];
        if (sl_pipeline_start(p, err, sizeof err) != 0) {
            sl_log(SLUICE_LOG_ERROR, NULL, NULL, "%s", err);
            rc = -1;
        }
    }
    return rc;
}

int sl_runner_start(sl_runner *r)
{
    sl_pipeline_conf **confs;
    size_t n;
    if (load_all(r, &confs, &n) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc != 0) {
            sl_conf_free(confs[i]);
            continue;
        }
        rc = start_file(r, confs[i]);
    }
    free(confs);
    return rc;
}

/* A reload stops a pipeline and waits for it, which may take long (a sink
 * retrying until its server is back).  SIGTERM meanwhile starts the
 * shutdown deadline, and at the deadline the retries are abandoned, as the
 * main loop would do; the main loop then finds the deadline passed. */
static void stop_and_join(sl_pipeline *p)
{
    sl_pipeline_request_stop(p);
    while (p->supervisor_started) {
        sl_pipe_state s = sl_pipeline_state(p);
        if (s == SL_PIPE_STOPPED || s == SL_PIPE_FINISHED || s == SL_PIPE_FAILED)
            break;
        if (sl_guard_poll_stop_signal(p->conf->name, "while reloading: waiting for the "
                                                     "pipeline being replaced until the "
                                                     "shutdown deadline") &&
            sl_guard_now_ms() >= sl_guard_shutdown_begin())
            sl_pipeline_abort(p);
        sluice_sleep_ms(20);
    }
    sl_pipeline_join(p);
}

static sl_pipeline *find_by_path(sl_runner *r, const char *path)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i]->conf->path, path) == 0)
            return r->v[i];
    return NULL;
}

static void remove_at(sl_runner *r, size_t i)
{
    pthread_mutex_lock(&r->mu);
    sl_pipeline *p = r->v[i];
    memmove(&r->v[i], &r->v[i + 1], (r->n - i - 1) * sizeof(*r->v));
    r->n--;
    pthread_mutex_unlock(&r->mu);
    sl_pipeline_free(p);
}

void sl_runner_reload(sl_runner *r)
{
    sl_log(SLUICE_LOG_INFO, NULL, NULL, "reloading pipeline files");
    sl_diag d = {0};
    char **paths = NULL;
    int np = sl_conf_collect(r->args, r->nargs, &paths, &d);
    if (np < 0) {
        print_diag(&d);
        sl_diag_free(&d);
        sl_log(SLUICE_LOG_ERROR, NULL, NULL, "reload abandoned; pipelines keep running");
        return;
    }
    /* Stop pipelines whose file is gone: all asked first, so that the
     * lanes of a file drain together. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = r->n; i-- > 0;) {
            int present = 0;
            for (int j = 0; j < np; j++)
                if (strcmp(paths[j], r->v[i]->conf->path) == 0)
                    present = 1;
            if (present)
                continue;
            if (pass == 0) {
                sl_pipeline_request_stop(r->v[i]);
                continue;
            }
            sl_log(SLUICE_LOG_INFO, r->v[i]->conf->name, NULL, "file removed: stopping");
            stop_and_join(r->v[i]);
            remove_at(r, i);
        }
    }
    for (int j = 0; j < np; j++) {
        sl_diag_free(&d);
        sl_pipeline_conf *c = sl_conf_load(paths[j], r->reg, &d);
        sl_pipeline *old = find_by_path(r, paths[j]);
        if (!c) {
            print_diag(&d);
            sl_log(SLUICE_LOG_ERROR, NULL, NULL, "%s: not reloaded%s", paths[j],
                   old ? "; the running pipeline keeps its old configuration" : "");
            continue;
        }
        /* An unchanged file keeps its pipeline (all its lanes), unless one
         * failed for good: a reload is how an operator retries it. */
        int any_failed = 0;
        for (size_t i = 0; i < r->n; i++)
            if (strcmp(r->v[i]->conf->path, paths[j]) == 0 &&
                sl_pipeline_state(r->v[i]) == SL_PIPE_FAILED)
                any_failed = 1;
        if (old && old->conf->digest == c->digest && !any_failed) {
            /* ... and a lane waiting to restart (parked on a sink that
             * refused, or restarting) tries again now. */
            for (size_t i = 0; i < r->n; i++)
                if (strcmp(r->v[i]->conf->path, paths[j]) == 0)
                    sl_pipeline_retry_now(r->v[i]);
            sl_conf_free(c);
            continue;
        }
        if (old) {
            const char *gname = old->conf->group ? old->conf->group : old->conf->name;
            sl_log(SLUICE_LOG_INFO, gname, NULL, "changed: restarting");
            /* Every lane is asked first, so that they drain together rather
             * than one after the other. */
            for (size_t i = 0; i < r->n; i++)
                if (strcmp(r->v[i]->conf->path, paths[j]) == 0)
                    sl_pipeline_request_stop(r->v[i]);
            while ((old = find_by_path(r, paths[j])) != NULL) {
                stop_and_join(old);
                for (size_t i = 0; i < r->n; i++)
                    if (r->v[i] == old) {
                        remove_at(r, i);
                        break;
                    }
            }
        } else {
            sl_log(SLUICE_LOG_INFO, c->name, NULL, "new file %s: starting", paths[j]);
        }
        start_file(r, c);
    }
    sl_diag_free(&d);
    for (int j = 0; j < np; j++)
        free(paths[j]);
    free(paths);
}

int sl_runner_all_done(sl_runner *r)
{
    int done = 1;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++) {
        sl_pipe_state s = sl_pipeline_state(r->v[i]);
        if (s != SL_PIPE_STOPPED && s != SL_PIPE_FINISHED && s != SL_PIPE_FAILED)
            done = 0;
    }
    pthread_mutex_unlock(&r->mu);
    return done;
}

void sl_runner_stop(sl_runner *r)
{
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++)
        sl_pipeline_request_stop(r->v[i]);
    pthread_mutex_unlock(&r->mu);
}

void sl_runner_abort(sl_runner *r)
{
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++)
        sl_pipeline_abort(r->v[i]);
    pthread_mutex_unlock(&r->mu);
}

int sl_runner_join(sl_runner *r)
{
    int rc = 0;
    for (size_t i = 0; i < r->n; i++) {
        sl_pipeline_join(r->v[i]);
        if (sl_pipeline_state(r->v[i]) == SL_PIPE_FAILED)
            rc = 1;
    }
    return rc;
}

void sl_runner_free(sl_runner *r)
{
    for (size_t i = 0; i < r->n; i++)
        sl_pipeline_free(r->v[i]);
    free(r->v);
    r->v = NULL;
    r->n = 0;
    pthread_mutex_destroy(&r->mu);
}

int sl_runner_ready(void *arg)
{
    sl_runner *r = arg;
    int ready = 1;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++) {
        sl_pipe_state s = sl_pipeline_state(r->v[i]);
        /* A pipeline that finished its bounded input is not a problem. */
        if (s != SL_PIPE_FINISHED && !sl_pipeline_ready(r->v[i]))
            ready = 0;
    }
    pthread_mutex_unlock(&r->mu);
    return ready;
}

static json_t *stage_json(const sl_stage_conf *c)
{
    char desc[2048];
    sl_config_describe(c->cfg, desc, sizeof desc);
    return json_pack("{s:s,s:s}", "plugin", c->plugin, "options", desc);
}

static json_t *spool_json(sl_pipeline *p)
{
    pthread_mutex_lock(&p->spool_mu);
    sl_spool_view v = p->spool_view;
    int open = p->spool != NULL;
    pthread_mutex_unlock(&p->spool_mu);
    int64_t now = sl_api()->now_us();
    double age = v.last.oldest_us > 0 && now > v.last.oldest_us
                     ? (double)(now - v.last.oldest_us) / 1e6
                     : 0.0;
    return json_pack("{s:s,s:b,s:I,s:I,s:I,s:f,s:b,s:I,s:I,s:I,s:I}", "path",
                     p->conf->spool_path, "open", open, "bytes", (json_int_t)v.last.bytes,
                     "records", (json_int_t)v.last.records, "max_bytes",
                     (json_int_t)p->conf->spool_max_bytes, "oldest_age_seconds", age, "full",
                     v.paused, "appended", (json_int_t)v.appended, "released",
                     (json_int_t)v.released, "replayed", (json_int_t)v.replayed, "torn",
                     (json_int_t)v.torn);
}

void sl_runner_tick(sl_runner *r)
{
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++)
        sl_pipeline_spool_tick(r->v[i], 0);
    pthread_mutex_unlock(&r->mu);
}

char *sl_runner_status_json(void *arg)
{
    sl_runner *r = arg;
    json_t *arr = json_array();
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++) {
        sl_pipeline *p = r->v[i];
        json_t *tr = json_array();
        for (size_t t = 0; t < p->conf->n_transforms; t++)
            json_array_append_new(tr, stage_json(&p->conf->transforms[t]));
        char err[1024];
        pthread_mutex_lock(&p->err_mu);
        snprintf(err, sizeof err, "%s", p->last_error);
        pthread_mutex_unlock(&p->err_mu);
        sl_secret_scrub(err, sizeof err);
        json_t *reason = NULL;
        sl_pipe_state ps = sl_pipeline_state(p);
        int64_t next = sl_pipeline_next_try_ms(p);
        if (ps == SL_PIPE_STARTING) {
            /* Retrying after a park: the reason stays visible meanwhile. */
            char why[1500] = "";
            pthread_mutex_lock(&p->err_mu);
            if (p->park_reason[0])
                snprintf(why, sizeof why, "retrying now after %s", p->park_reason);
            pthread_mutex_unlock(&p->err_mu);
            sl_secret_scrub(why, sizeof why);
            if (why[0])
                reason = json_string(why);
        } else if (ps == SL_PIPE_PARKED || ps == SL_PIPE_RESTARTING) {
            char why[1600];
            pthread_mutex_lock(&p->err_mu);
            if (ps == SL_PIPE_PARKED)
                snprintf(why, sizeof why, "%s; next try in %lld s or on SIGHUP", p->park_reason,
                         (long long)((next + 999) / 1000));
            else
                snprintf(why, sizeof why, "restarting: %s; next try in %lld s or on SIGHUP",
                         p->last_error, (long long)((next + 999) / 1000));
            pthread_mutex_unlock(&p->err_mu);
            sl_secret_scrub(why, sizeof why);
            reason = json_string(why);
        }
        json_t *o = json_pack(
            "{s:s,s:s,s:s,s:b,s:o,s:o,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:s?}", "name", p->conf->name,
            "file", p->conf->path, "state", sl_pipe_state_name(sl_pipeline_state(p)), "ready",
            sl_pipeline_ready(p), "source", stage_json(&p->conf->source), "transforms", tr,
            "sink", stage_json(&p->conf->sink), "records_in", (json_int_t)atomic_load(&p->n_in),
            "records_out", (json_int_t)atomic_load(&p->n_out), "records_failed",
            (json_int_t)atomic_load(&p->n_failed), "dead_lettered",
            (json_int_t)atomic_load(&p->n_dead), "rejected",
            (json_int_t)atomic_load(&p->n_rejected), "restarts",
            (json_int_t)atomic_load(&p->n_restarts), "last_error", err[0] ? err : NULL);
        if (o && p->has_dlq)
            json_object_set_new(o, "dead_letter", stage_json(&p->conf->dead_letter));
        if (o) {
            json_object_set_new(o, "records_lost", json_integer((json_int_t)atomic_load(&p->n_lost)));
            json_object_set_new(o, "reason", reason ? reason : json_null());
            reason = NULL;
        }
        json_decref(reason);
        if (o && p->conf->spool)
            json_object_set_new(o, "spool", spool_json(p));
        /* Lanes of one file are listed next to each other; "group" ties them. */
        if (o && p->conf->lane) {
            json_object_set_new(o, "group", json_string(p->conf->group));
            json_object_set_new(o, "lane", json_integer(p->conf->lane));
            json_object_set_new(o, "lanes", json_integer(p->conf->lanes));
        }
        if (o)
            json_array_append_new(arr, o);
    }
    pthread_mutex_unlock(&r->mu);
    json_t *doc = json_pack("{s:o}", "pipelines", arr);
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return s;
}

void sl_runner_log_stats(sl_runner *r, double interval_s)
{
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++) {
        sl_pipeline *p = r->v[i];
        uint64_t in = atomic_load(&p->n_in), out = atomic_load(&p->n_out);
        double rin = (double)(in - p->stats_prev_in) / interval_s;
        double rout = (double)(out - p->stats_prev_out) / interval_s;
        p->stats_prev_in = in;
        p->stats_prev_out = out;
        sl_log(SLUICE_LOG_INFO, p->conf->name, NULL,
               "%s: in %llu (%.0f/s), out %llu (%.0f/s), failed %llu, dead-lettered %llu, "
               "rejected %llu, restarts %llu",
               sl_pipe_state_name(sl_pipeline_state(p)), (unsigned long long)in, rin,
               (unsigned long long)out, rout, (unsigned long long)atomic_load(&p->n_failed),
               (unsigned long long)atomic_load(&p->n_dead),
               (unsigned long long)atomic_load(&p->n_rejected),
               (unsigned long long)atomic_load(&p->n_restarts));
    }
    pthread_mutex_unlock(&r->mu);
}
