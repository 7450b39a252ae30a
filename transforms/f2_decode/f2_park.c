/* The parking thread: re-injects parked readings once their controller is
 * registered, expires the ones parked longer than park_for, and keeps the
 * gauges.  See f2_park.h for the life of a parked reading. */
#include "f2_park.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A registration is a few statements (Device, Connector, Pin) that may
 * come in separate transactions: scan this long after the first
 * notification, not at once. */
#define SETTLE_NS (1000 * 1000000LL)
/* The fallback scan, for readings parked in the instant between a
 * registration and the decoder's cache hearing of it. */
#define FALLBACK_NS (30 * 1000000000LL)
#define STATS_NS (5 * 1000000000LL)
#define CHUNK "500"
#define BACKOFF_MAX_MS 10000

const char F2_PARK_DDL[] =
    "CREATE TABLE IF NOT EXISTS f2_parked ("
    " id bigserial PRIMARY KEY,"
    " owner text NOT NULL,"
    " mac text NOT NULL,"
    " parked_at timestamptz NOT NULL DEFAULT now(),"
    " received_us bigint,"
    " tries integer NOT NULL DEFAULT 0,"
    " topic text NOT NULL,"
    " payload text NOT NULL,"
    " reason text NOT NULL);"
    "CREATE INDEX IF NOT EXISTS f2_parked_owner_mac ON f2_parked (owner, mac);"
    "CREATE INDEX IF NOT EXISTS f2_parked_owner_parked_at ON f2_parked (owner, parked_at)";

/* The parked readings of this owner whose controller is known now: a
 * "Device" with that MAC, or device_parameters rows.  $2/$3: the id window
 * of this scan (keyset pages; rows parked again during the scan are not
 * taken twice); $4: also rows that were re-injected before (a
 * notification: their parameters may have changed) or only first-timers
 * (the fallback); $5: park_for in ms (expired rows are left to expiry). */
static const char SQL_KNOWN[] =
    "WITH m AS (SELECT DISTINCT mac FROM f2_parked WHERE owner = $1),"
    " k AS (SELECT m.mac FROM m WHERE"
    "   EXISTS (SELECT 1 FROM \"Device\" d"
    "           WHERE lower(translate(d.\"MacAddress\", ':-. ', '')) = m.mac)"
    "   OR EXISTS (SELECT 1 FROM device_parameters dp"
    "              WHERE lower(dp.device_id) IN (m.mac, 'f2-' || m.mac)))"
    " SELECT p.id, p.topic, p.payload, p.tries,"
    "        (extract(epoch FROM p.parked_at) * 1000000)::bigint, coalesce(p.received_us, 0),"
    "        p.reason"
    " FROM f2_parked p JOIN k ON k.mac = p.mac"
    " WHERE p.owner = $1 AND p.id > $2 AND p.id <= $3 AND ($4 OR p.tries = 0)"
    "   AND p.parked_at >= now() - $5::bigint * interval '1 millisecond'"
    " ORDER BY p.id LIMIT " CHUNK;

static const char SQL_EXPIRED[] =
    "SELECT id, topic, payload, tries, (extract(epoch FROM parked_at) * 1000000)::bigint,"
    "       coalesce(received_us, 0), reason"
    " FROM f2_parked WHERE owner = $1 AND id > $2 AND id <= $3"
    "   AND parked_at < now() - $4::bigint * interval '1 millisecond'"
    " ORDER BY id LIMIT " CHUNK;

static const char SQL_MAX_ID[] = "SELECT coalesce(max(id), 0) FROM f2_parked WHERE owner = $1";
static const char SQL_DELETE[] = "DELETE FROM f2_parked WHERE id = ANY($1::bigint[])";
static const char SQL_STATS[] =
    "SELECT count(*), coalesce(extract(epoch FROM now() - min(parked_at)), 0)"
    " FROM f2_parked WHERE owner = $1";

struct f2_park {
    const sluice_api *api;
    sluice_ctx *ctx;
    f2_park_conf c;
    char park_for_text[32];
    pthread_t th;
    atomic_int stop;
    PGconn *conn;
    int64_t backoff_ms, next_connect_ns;
    int down_logged;
    struct {
        sluice_metric *parked, *oldest, *parked_total, *unparked, *expired;
    } m;
};

void f2_park_fmt_duration(char *buf, size_t n, int64_t ms)
{
    if (ms % 3600000 == 0)
        snprintf(buf, n, "%" PRId64 "h", ms / 3600000);
    else if (ms % 60000 == 0)
        snprintf(buf, n, "%" PRId64 "m", ms / 60000);
    else if (ms % 1000 == 0)
        snprintf(buf, n, "%" PRId64 "s", ms / 1000);
    else
        snprintf(buf, n, "%" PRId64 "ms", ms);
}

static int64_t mono(const f2_park *pk) { return pk->api->mono_ns(); }

static void drop_conn(f2_park *pk, const char *what)
{
    const char *m = pk->conn ? PQerrorMessage(pk->conn) : "out of memory";
    if (!pk->down_logged)
        pk->api->log(pk->ctx, SLUICE_LOG_WARN,
                     "parking: %s: %.*s; parked readings wait until the device_params "
                     "database answers again",
                     what, (int)strcspn(m, "\n"), *m ? m : "unknown error");
    pk->down_logged = 1;
    if (pk->conn)
        PQfinish(pk->conn);
    pk->conn = NULL;
    pk->backoff_ms = pk->backoff_ms ? pk->backoff_ms * 2 : 200;
    if (pk->backoff_ms > BACKOFF_MAX_MS)
        pk->backoff_ms = BACKOFF_MAX_MS;
    pk->next_connect_ns = mono(pk) + pk->backoff_ms * 1000000LL;
}

/* A query on the thread's connection; NULL (and the connection dropped when
 * it is broken, or the error logged when it is the statement) on failure. */
static PGresult *q(f2_park *pk, const char *sql, int n, const char *const *vals,
                   const char *what)
{
    PGresult *r = n == 0 ? PQexec(pk->conn, sql)
                         : PQexecParams(pk->conn, sql, n, NULL, vals, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return r;
    if (r && PQstatus(pk->conn) == CONNECTION_OK) {
        const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        if (!m)
            m = PQresultErrorMessage(r);
        pk->api->log(pk->ctx, SLUICE_LOG_ERROR, "parking: %s failed: %.*s; retried later",
                     what, (int)strcspn(m, "\n"), m);
        PQclear(r);
        return NULL;
    }
    PQclear(r);
    drop_conn(pk, what);
    return NULL;
}

/* libpq prints server notices on stderr by default; a plugin logs instead
 * ("relation f2_parked already exists, skipping"). */
static void notice_to_log(void *arg, const char *msg)
{
    f2_park *pk = arg;
    pk->api->log(pk->ctx, SLUICE_LOG_DEBUG, "parking: %.*s", (int)strcspn(msg, "\n"), msg);
}

static int connect_db(f2_park *pk)
{
    const char *keys[] = {"connect_timeout", "application_name", "tcp_user_timeout", "dbname",
                          NULL};
    const char *vals[] = {"5", "sluice-f2_decode-park", "10000", pk->c.dsn, NULL};
    pk->conn = PQconnectdbParams(keys, vals, 1);
    if (!pk->conn || PQstatus(pk->conn) != CONNECTION_OK) {
        drop_conn(pk, "cannot connect to device_params");
        return -1;
    }
    PQsetNoticeProcessor(pk->conn, notice_to_log, pk);
    PGresult *r = q(pk, F2_PARK_DDL, 0, NULL, "creating table f2_parked");
    if (!r) {
        if (pk->conn)
            drop_conn(pk, "creating table f2_parked");
        return -1;
    }
    PQclear(r);
    if (pk->c.channel) {
        char *id = PQescapeIdentifier(pk->conn, pk->c.channel, strlen(pk->c.channel));
        char sql[300];
        snprintf(sql, sizeof sql, "LISTEN %s", id ? id : "\"\"");
        PQfreemem(id);
        r = q(pk, sql, 0, NULL, "LISTEN");
        if (!r) {
            if (pk->conn)
                drop_conn(pk, "LISTEN");
            return -1;
        }
        PQclear(r);
    }
    if (pk->down_logged)
        pk->api->log(pk->ctx, SLUICE_LOG_INFO, "parking: device_params connection re-established");
    pk->down_logged = 0;
    pk->backoff_ms = 0;
    return 0;
}

static int64_t max_id(f2_park *pk)
{
    const char *v[] = {pk->c.owner};
    PGresult *r = q(pk, SQL_MAX_ID, 1, v, "reading f2_parked");
    if (!r)
        return -1;
    int64_t id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return id;
}

static void iso_time(char *buf, size_t n, int64_t us)
{
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Hands the rows of r to the spool, syncs it, deletes what went in.
 * Returns the number re-injected; *full when the spool had no room (the
 * rest stay parked for the next round); -1 when the spool or the database
 * failed. */
static long reinject(f2_park *pk, PGresult *r, int expired, int64_t *last_id, int *full)
{
    const sluice_api *api = pk->api;
    int rows = PQntuples(r);
    char err[SLUICE_ERRLEN];
    /* The ids that went in, as an array literal for the DELETE. */
    size_t cap = (size_t)rows * 21 + 3, len = 0;
    char *ids = malloc(cap);
    if (!ids)
        return -1;
    ids[len++] = '{';
    long n = 0;
    for (int i = 0; i < rows; i++) {
        const char *id = PQgetvalue(r, i, 0);
        char parked[64], reason[SLUICE_ERRLEN];
        int64_t parked_us = strtoll(PQgetvalue(r, i, 4), NULL, 10);
        snprintf(parked, sizeof parked, "%s %" PRId64, PQgetvalue(r, i, 3), parked_us);
        sluice_header h[2];
        memset(h, 0, sizeof h);
        h[0].key = F2_PARK_HDR;
        h[0].value.ptr = parked;
        h[0].value.len = strlen(parked);
        if (expired) {
            char at[32];
            iso_time(at, sizeof at, parked_us);
            snprintf(reason, sizeof reason,
                     "parked reading expired unregistered: parked at %s, not decodable after "
                     "park_for (%s): %.300s",
                     at, pk->park_for_text, PQgetvalue(r, i, 6));
            h[1].key = F2_PARK_EXPIRED_HDR;
            h[1].value.ptr = reason;
            h[1].value.len = strlen(reason);
        }
        sluice_record rec;
        memset(&rec, 0, sizeof rec);
        rec.value.ptr = PQgetvalue(r, i, 2);
        rec.value.len = (size_t)PQgetlength(r, i, 2);
        rec.origin.topic = PQgetvalue(r, i, 1);
        rec.origin.partition = -1;
        rec.origin.offset = -1;
        rec.timestamp = strtoll(PQgetvalue(r, i, 5), NULL, 10);
        rec.headers = h;
        rec.n_headers = expired ? 2 : 1;
        sluice_status st = api->spool_append(pk->ctx, &rec, err);
        if (st == SLUICE_FULL) {
            *full = 1;
            break;
        }
        if (st != SLUICE_OK) {
            api->log(pk->ctx, SLUICE_LOG_ERROR, "parking: cannot re-inject a parked reading: %s",
                     err);
            break;
        }
        len += (size_t)snprintf(ids + len, cap - len, "%s%s", n ? "," : "", id);
        *last_id = strtoll(id, NULL, 10);
        n++;
    }
    ids[len++] = '}';
    ids[len] = '\0';
    long rv = n;
    if (n > 0) {
        /* The spool's copy is durable before ours goes. */
        if (api->spool_append(pk->ctx, NULL, err) != SLUICE_OK) {
            api->log(pk->ctx, SLUICE_LOG_ERROR,
                     "parking: %s; the re-injected readings stay parked and come again", err);
            rv = -1;
        } else {
            const char *v[] = {ids};
            PGresult *d = q(pk, SQL_DELETE, 1, v, "deleting re-injected rows of f2_parked");
            if (d)
                PQclear(d);
            else
                rv = -1; /* they come again: duplicates, which the sink's key absorbs */
            api->metric_add(expired ? pk->m.expired : pk->m.unparked, (double)n);
        }
    }
    free(ids);
    return rv;
}

/* One pass over the parked rows of known controllers (or the expired
 * ones), a page at a time.  1 when the spool was full (come back soon). */
static int scan(f2_park *pk, int expired, int all)
{
    int64_t top = max_id(pk);
    if (top <= 0)
        return 0;
    int64_t last = 0;
    long total = 0;
    int full = 0;
    char pf[24], lo[24], hi[24];
    snprintf(pf, sizeof pf, "%" PRId64, pk->c.park_for_ms);
    snprintf(hi, sizeof hi, "%" PRId64, top);
    while (!atomic_load(&pk->stop) && pk->conn) {
        snprintf(lo, sizeof lo, "%" PRId64, last);
        PGresult *r;
        if (expired) {
            const char *v[] = {pk->c.owner, lo, hi, pf};
            r = q(pk, SQL_EXPIRED, 4, v, "looking for expired parked readings");
        } else {
            const char *v[] = {pk->c.owner, lo, hi, all ? "true" : "false", pf};
            r = q(pk, SQL_KNOWN, 5, v, "looking for parked readings of registered devices");
        }
        if (!r)
            break;
        int rows = PQntuples(r);
        long n = rows ? reinject(pk, r, expired, &last, &full) : 0;
        PQclear(r);
        if (n < 0 || rows == 0)
            break;
        total += n;
        if (full || n < rows)
            break;
    }
    if (total > 0)
        pk->api->log(pk->ctx, SLUICE_LOG_INFO,
                     expired ? "parking: %ld parked readings expired (park_for %s); sent to the "
                               "error policy"
                             : "parking: %ld parked readings re-injected, their devices are "
                               "registered now%.0s",
                     total, pk->park_for_text);
    return full;
}

static void stats(f2_park *pk)
{
    const char *v[] = {pk->c.owner};
    PGresult *r = q(pk, SQL_STATS, 1, v, "counting parked readings");
    if (!r)
        return;
    pk->api->metric_set(pk->m.parked, strtod(PQgetvalue(r, 0, 0), NULL));
    pk->api->metric_set(pk->m.oldest, strtod(PQgetvalue(r, 0, 1), NULL));
    PQclear(r);
}

static void *run(void *arg)
{
    f2_park *pk = arg;
    int64_t expire_every = pk->c.park_for_ms / 4 * 1000000LL;
    if (expire_every < 250 * 1000000LL)
        expire_every = 250 * 1000000LL;
    if (expire_every > FALLBACK_NS)
        expire_every = FALLBACK_NS;
    int64_t settle_at = 0, next_fallback = 0, next_expire = 0, next_stats = 0;
    while (!atomic_load(&pk->stop)) {
        int64_t now = mono(pk);
        if (!pk->conn) {
            if (now < pk->next_connect_ns || connect_db(pk) != 0) {
                struct timespec ts = {0, 200 * 1000000L};
                nanosleep(&ts, NULL);
                continue;
            }
            /* Notifications were missed while away (or this is the start,
             * after a restart): look at everything. */
            settle_at = now;
        }
        struct pollfd pfd = {.fd = PQsocket(pk->conn), .events = POLLIN};
        if (poll(&pfd, 1, 200) < 0 && errno != EINTR) {
            drop_conn(pk, "poll");
            continue;
        }
        if (!PQconsumeInput(pk->conn)) {
            drop_conn(pk, "reading notifications");
            continue;
        }
        PGnotify *nt;
        now = mono(pk);
        while ((nt = PQnotifies(pk->conn)) != NULL) {
            if (!settle_at)
                settle_at = now + SETTLE_NS;
            PQfreemem(nt);
        }
        int moved = 0;
        if (settle_at && now >= settle_at) {
            settle_at = scan(pk, 0, 1) ? now + SETTLE_NS : 0;
            moved = 1;
        }
        if (pk->conn && now >= next_fallback) {
            /* Without notifications, the fallback is the only trigger. */
            if (scan(pk, 0, pk->c.channel == NULL) && !settle_at)
                settle_at = now + SETTLE_NS;
            next_fallback = now + FALLBACK_NS;
            moved = 1;
        }
        if (pk->conn && now >= next_expire) {
            scan(pk, 1, 0);
            next_expire = now + expire_every;
            moved = 1;
        }
        if (pk->conn && (moved || now >= next_stats)) {
            stats(pk);
            next_stats = now + STATS_NS;
        }
    }
    if (pk->conn)
        PQfinish(pk->conn);
    pk->conn = NULL;
    return NULL;
}

void f2_park_count(f2_park *pk, size_t n) { pk->api->metric_add(pk->m.parked_total, (double)n); }

f2_park *f2_park_start(const sluice_api *api, sluice_ctx *ctx, const f2_park_conf *c,
                       char *err, size_t errlen)
{
    f2_park *pk = calloc(1, sizeof(*pk));
    if (!pk) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pk->api = api;
    pk->ctx = ctx;
    pk->c = *c;
    f2_park_fmt_duration(pk->park_for_text, sizeof pk->park_for_text, c->park_for_ms);
    atomic_init(&pk->stop, 0);
    pk->m.parked = api->metric(ctx, SLUICE_METRIC_GAUGE, "sluice_f2_parked",
                               "Readings parked until their device is registered", NULL);
    pk->m.oldest = api->metric(ctx, SLUICE_METRIC_GAUGE, "sluice_f2_parked_oldest_seconds",
                               "Age of the oldest parked reading", NULL);
    pk->m.parked_total = api->metric(ctx, SLUICE_METRIC_COUNTER, "sluice_f2_parked_total",
                                     "Readings parked (again, when re-injected too early)", NULL);
    pk->m.unparked = api->metric(ctx, SLUICE_METRIC_COUNTER, "sluice_f2_unparked_total",
                                 "Parked readings re-injected once their device was registered",
                                 NULL);
    pk->m.expired = api->metric(ctx, SLUICE_METRIC_COUNTER, "sluice_f2_park_expired_total",
                                "Parked readings sent to the error policy after park_for", NULL);
    if (pthread_create(&pk->th, NULL, run, pk) != 0) {
        snprintf(err, errlen, "cannot start the parking thread");
        free(pk);
        return NULL;
    }
    return pk;
}

void f2_park_stop(f2_park *pk)
{
    if (!pk)
        return;
    atomic_store(&pk->stop, 1);
    pthread_join(pk->th, NULL);
    free(pk);
}
