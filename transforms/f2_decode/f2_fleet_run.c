/* The fleet thread and the device_last_seen flush.  The thread, not the
 * sink thread, does both: counts must move when every controller has gone
 * quiet (then process() is never called), and a slow database must never
 * hold up readings.  A failed flush is logged and retried next period; it
 * never fails a reading. */
#include "f2_fleet_run.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <sluice/sluice_util.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCAN_MS 1000

static const char SQL_UPSERT[] =
    "INSERT INTO device_last_seen AS d (device_id, last_seen, readings, last_topic)"
    " SELECT u.id, timestamptz 'epoch' + u.us * interval '1 microsecond', u.n, u.t"
    " FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[]) AS u(id, us, n, t)"
    " ON CONFLICT (device_id) DO UPDATE SET"
    "  readings = d.readings + EXCLUDED.readings,"
    "  last_topic = CASE WHEN EXCLUDED.last_seen >= d.last_seen"
    "               THEN coalesce(EXCLUDED.last_topic, d.last_topic) ELSE d.last_topic END,"
    "  last_seen = greatest(d.last_seen, EXCLUDED.last_seen)";

/* One element of a text[] literal: quoted, with " and \ escaped. */
static void tquote(sluice_buf *b, const char *s)
{
    sluice_buf_putc(b, '"');
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            sluice_buf_putc(b, '\\');
        sluice_buf_putc(b, *p);
    }
    sluice_buf_putc(b, '"');
}

static void pq_msg(PGconn *c, char *err, size_t errlen, const char *what)
{
    const char *m = c ? PQerrorMessage(c) : "out of memory";
    size_t n = strcspn(m, "\n");
    snprintf(err, errlen, "%s: %.*s", what, (int)n, *m ? m : "unknown error");
}

static int ensure_conn(f2_fleet_run *fr, char *err, size_t errlen)
{
    if (fr->conn && PQstatus(fr->conn) == CONNECTION_OK)
        return 0;
    if (fr->conn)
        PQfinish(fr->conn);
    /* Our defaults first, so the DSN's own settings win; a statement
     * timeout bounds how long a stop waits for the last flush. */
    const char *keys[] = {"connect_timeout", "application_name", "options", "dbname", NULL};
    const char *vals[] = {"5", "sluice-f2-fleet", "-c statement_timeout=30000", fr->dsn, NULL};
    fr->conn = PQconnectdbParams(keys, vals, 1);
    if (!fr->conn || PQstatus(fr->conn) != CONNECTION_OK) {
        pq_msg(fr->conn, err, errlen, "cannot connect to fleet_dsn");
        if (fr->conn)
            PQfinish(fr->conn);
        fr->conn = NULL;
        return -1;
    }
    return 0;
}

int f2_fleet_flush(f2_fleet_run *fr, size_t *written, char *err, size_t errlen)
{
    *written = 0;
    if (!fr->dsn)
        return 0;
    uint32_t gen;
    size_t n = f2_fleet_changed(&fr->table, &fr->rows, &fr->rows_cap, &gen);
    if (n == (size_t)-1) {
        snprintf(err, errlen, "out of memory for the flush snapshot");
        return -1;
    }
    if (n == 0) {
        f2_fleet_flushed(&fr->table, fr->rows, 0, gen);
        return 0;
    }
    if (ensure_conn(fr, err, errlen) != 0)
        return -1;
    sluice_buf ids = {0}, us = {0}, cnt = {0}, tops = {0};
    char num[32], topic[F2_FLEET_TOPIC_MAX + 16];
    sluice_buf_puts(&ids, "{");
    sluice_buf_puts(&us, "{");
    sluice_buf_puts(&cnt, "{");
    sluice_buf_puts(&tops, "{");
    for (size_t i = 0; i < n; i++) {
        const f2_fleet_row *r = &fr->rows[i];
        const char *sep = i ? "," : "";
        snprintf(num, sizeof num, "%sf2-%012" PRIx64, sep, r->mac);
        sluice_buf_puts(&ids, num);
        snprintf(num, sizeof num, "%s%" PRId64, sep, r->last_seen_us);
        sluice_buf_puts(&us, num);
        snprintf(num, sizeof num, "%s%" PRIu32, sep, r->delta);
        sluice_buf_puts(&cnt, num);
        sluice_buf_puts(&tops, sep);
        if (f2_fleet_topic(&fr->table, r, topic, sizeof topic) > 0)
            tquote(&tops, topic);
        else
            sluice_buf_puts(&tops, "NULL");
    }
    sluice_buf_puts(&ids, "}");
    sluice_buf_puts(&us, "}");
    sluice_buf_puts(&cnt, "}");
    sluice_buf_puts(&tops, "}");
    int rc = -1;
    const char *params[4] = {sluice_buf_cstr(&ids), sluice_buf_cstr(&us), sluice_buf_cstr(&cnt),
                             sluice_buf_cstr(&tops)};
    if (!params[0] || !params[1] || !params[2] || !params[3]) {
        snprintf(err, errlen, "out of memory for the flush statement");
    } else {
        PGresult *res = PQexecParams(fr->conn, SQL_UPSERT, 4, NULL, params, NULL, NULL, 0);
        if (res && PQresultStatus(res) == PGRES_COMMAND_OK) {
            rc = 0;
            *written = n;
            f2_fleet_flushed(&fr->table, fr->rows, n, gen);
        } else {
            pq_msg(fr->conn, err, errlen, "upsert into device_last_seen failed");
            if (PQstatus(fr->conn) != CONNECTION_OK) {
                PQfinish(fr->conn);
                fr->conn = NULL;
            }
        }
        PQclear(res);
    }
    sluice_buf_free(&ids);
    sluice_buf_free(&us);
    sluice_buf_free(&cnt);
    sluice_buf_free(&tops);
    return rc;
}

static void do_flush(f2_fleet_run *fr)
{
    char err[SLUICE_ERRLEN] = "";
    size_t written;
    if (f2_fleet_flush(fr, &written, err, sizeof err) == 0) {
        if (written)
            fr->api->metric_add(fr->m.flushes, 1);
        if (fr->db_failing)
            fr->api->log(fr->ctx, SLUICE_LOG_INFO,
                         "device_last_seen: flushing again (%zu devices written)", written);
        fr->db_failing = 0;
        return;
    }
    fr->api->metric_add(fr->m.flush_failed, 1);
    /* One line per outage, not one per period. */
    if (!fr->db_failing)
        fr->api->log(fr->ctx, SLUICE_LOG_WARN,
                     "device_last_seen: %s; readings are unaffected, the changes are retried "
                     "every %lld ms (check fleet_dsn and that sql/fleet.sql is applied)",
                     err, (long long)fr->flush_ms);
    fr->db_failing = 1;
}

static void scan(f2_fleet_run *fr)
{
    f2_fleet_counts c;
    f2_fleet_scan(&fr->table, fr->api->now_us(), fr->silent_after_us, &c);
    fr->api->metric_set(fr->m.active, (double)c.active);
    fr->api->metric_set(fr->m.silent, (double)c.silent);
    if (c.went_silent) {
        fr->api->metric_add(fr->m.went_silent, (double)c.went_silent);
        char ex[64] = "";
        size_t o = 0;
        for (size_t i = 0; i < c.n_example; i++)
            o += (size_t)snprintf(ex + o, sizeof ex - o, "%sf2-%012" PRIx64, i ? ", " : "",
                                  c.example[i]);
        fr->api->log(fr->ctx, SLUICE_LOG_WARN,
                     "%zu controller(s) went silent (no reading for %lld s): %s%s; %zu silent, "
                     "%zu active (see /devices?state=silent)",
                     c.went_silent, (long long)(fr->silent_after_us / 1000000), ex,
                     c.went_silent > c.n_example ? ", ..." : "", c.silent, c.active);
    }
    if (c.came_back)
        fr->api->log(fr->ctx, SLUICE_LOG_INFO, "%zu silent controller(s) sent readings again",
                     c.came_back);
    if (c.full && !fr->logged_full) {
        fr->logged_full = 1;
        fr->api->log(fr->ctx, SLUICE_LOG_ERROR,
                     "the fleet table could not grow (out of memory): controllers not seen "
                     "before are not tracked; their readings decode as usual");
    }
    size_t bytes = f2_fleet_bytes(&fr->table);
    fr->api->metric_set(fr->m.bytes, (double)bytes);
    size_t n = c.active + c.silent;
    /* When the table has grown (it doubles), not for every new topic shape. */
    if (n > 0 && bytes >= fr->logged_bytes + fr->logged_bytes / 2) {
        fr->api->log(fr->ctx, SLUICE_LOG_INFO,
                     "fleet table: %zu controllers in %zu bytes (%.1f bytes per controller)", n,
                     bytes, n ? (double)bytes / (double)n : 0.0);
        fr->logged_bytes = bytes;
    }
}

static void *fleet_thread(void *arg)
{
    f2_fleet_run *fr = arg;
    int64_t next_flush = fr->api->mono_ns() + fr->flush_ms * 1000000LL;
    pthread_mutex_lock(&fr->mu);
    while (!fr->quit) {
        struct timespec ts = sluice_deadline_ms(SCAN_MS);
        int rc = 0;
        while (!fr->quit && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&fr->cv, &fr->mu, &ts);
        if (fr->quit)
            break;
        pthread_mutex_unlock(&fr->mu);
        scan(fr);
        if (fr->api->mono_ns() >= next_flush) {
            do_flush(fr);
            next_flush = fr->api->mono_ns() + fr->flush_ms * 1000000LL;
        }
        pthread_mutex_lock(&fr->mu);
    }
    pthread_mutex_unlock(&fr->mu);
    return NULL;
}

f2_fleet_run *f2_fleet_start(const sluice_api *api, const sluice_config *cfg, sluice_ctx *ctx,
                             int *off, char *err, size_t errlen)
{
    *off = !api->opt_bool(cfg, "fleet");
    if (*off)
        return NULL;
    f2_fleet_run *fr = calloc(1, sizeof *fr);
    if (!fr || f2_fleet_init(&fr->table) != 0) {
        free(fr);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    fr->api = api;
    fr->ctx = ctx;
    int64_t silent_ms = api->opt_int(cfg, "silent_after");
    fr->flush_ms = api->opt_int(cfg, "fleet_flush");
    if (silent_ms <= 0 || fr->flush_ms <= 0) {
        snprintf(err, errlen, "%s must be positive",
                 silent_ms <= 0 ? "silent_after" : "fleet_flush");
        f2_fleet_free(&fr->table);
        free(fr);
        return NULL;
    }
    fr->silent_after_us = silent_ms * 1000;
    const char *dsn = api->cfg_string(cfg, "fleet_dsn");
    fr->dsn = dsn && *dsn ? dsn : NULL;
    const char *path = api->cfg_string(cfg, "fleet_path");
    snprintf(fr->path, sizeof fr->path, "%s", path ? path : "");

    fr->m.active = api->metric(ctx, SLUICE_METRIC_GAUGE, "sluice_f2_devices",
                               "F2 controllers seen by this decoder, by state (silent: no "
                               "reading for silent_after)",
                               "state=active");
    fr->m.silent = api->metric(ctx, SLUICE_METRIC_GAUGE, "sluice_f2_devices",
                               "F2 controllers seen by this decoder, by state (silent: no "
                               "reading for silent_after)",
                               "state=silent");
    fr->m.bytes = api->metric(ctx, SLUICE_METRIC_GAUGE, "sluice_f2_fleet_bytes",
                              "Memory of the fleet table (all controllers)", NULL);
    fr->m.went_silent = api->metric(ctx, SLUICE_METRIC_COUNTER,
                                    "sluice_f2_devices_went_silent_total",
                                    "Controllers that went silent (active to silent)", NULL);
    fr->m.flushes = api->metric(ctx, SLUICE_METRIC_COUNTER, "sluice_f2_fleet_flushes_total",
                                "Upserts into device_last_seen", NULL);
    fr->m.flush_failed = api->metric(ctx, SLUICE_METRIC_COUNTER,
                                     "sluice_f2_fleet_flush_failures_total",
                                     "Upserts into device_last_seen that failed (retried)", NULL);

    if (fr->path[0]) {
        char e[SLUICE_ERRLEN] = "";
        if (!SLUICE_API_HAS(api, http_json))
            api->log(ctx, SLUICE_LOG_WARN,
                     "this sluice cannot serve %s (its ABI lacks http_json); the fleet is "
                     "still in the metrics and device_last_seen",
                     fr->path);
        else if (api->http_json(ctx, fr->path, f2_fleet_http, fr, e) != SLUICE_OK) {
            snprintf(err, errlen, "fleet_path: %s", e);
            f2_fleet_free(&fr->table);
            free(fr);
            return NULL;
        }
    }
    pthread_mutex_init(&fr->mu, NULL);
    sluice_cond_init_monotonic(&fr->cv);
    if (pthread_create(&fr->th, NULL, fleet_thread, fr) != 0) {
        snprintf(err, errlen, "cannot start the fleet thread: %s", strerror(errno));
        char e[SLUICE_ERRLEN];
        if (fr->path[0] && SLUICE_API_HAS(api, http_json))
            api->http_json(ctx, fr->path, NULL, NULL, e);
        pthread_cond_destroy(&fr->cv);
        pthread_mutex_destroy(&fr->mu);
        f2_fleet_free(&fr->table);
        free(fr);
        return NULL;
    }
    fr->started = 1;
    return fr;
}

void f2_fleet_stop(f2_fleet_run *fr)
{
    if (!fr)
        return;
    char e[SLUICE_ERRLEN];
    /* The host removes routes before destroy; this covers a failed init. */
    if (fr->path[0] && SLUICE_API_HAS(fr->api, http_json))
        fr->api->http_json(fr->ctx, fr->path, NULL, NULL, e);
    if (fr->started) {
        pthread_mutex_lock(&fr->mu);
        fr->quit = 1;
        pthread_cond_signal(&fr->cv);
        pthread_mutex_unlock(&fr->mu);
        pthread_join(fr->th, NULL);
        /* What changed since the last period. */
        do_flush(fr);
    }
    pthread_cond_destroy(&fr->cv);
    pthread_mutex_destroy(&fr->mu);
    if (fr->conn)
        PQfinish(fr->conn);
    free(fr->rows);
    f2_fleet_free(&fr->table);
    free(fr);
}
