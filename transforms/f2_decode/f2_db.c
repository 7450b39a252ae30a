#include "f2_db.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sluice/sluice_util.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 10000
/* libpq leaves connect_timeout to the caller in asynchronous mode. */
#define CONNECT_TIMEOUT_MS 10000

static const char SQL_CONTROLLER[] =
    "WITH ctl AS (SELECT \"DeviceId\" FROM \"Device\""
    "             WHERE lower(translate(\"MacAddress\", ':-. ', '')) = $1"
    "             ORDER BY \"DeviceId\" LIMIT 1)"
    " SELECT c.\"ConnectorNumber\", p.\"Position\", p.\"PinId\", t.\"Name\", dp.\"Label\","
    "        dp.\"DataEncoding\", dp.\"Offset\", dp.\"Length\", dp.\"Decimals\","
    "        dp.\"Prepend\", dp.\"Append\""
    " FROM ctl"
    " LEFT JOIN \"Connector\" c ON c.\"ControllerId\" = ctl.\"DeviceId\""
    " LEFT JOIN \"Pin\" p ON p.\"ConnectorId\" = c.\"ConnectorId\""
    " LEFT JOIN \"Device\" s ON s.\"DeviceId\" = p.\"DeviceId\""
    " LEFT JOIN \"DeviceTemplate\" t ON t.\"DeviceTemplateId\" = s.\"DeviceTemplateId\""
    " LEFT JOIN \"DataPoint\" dp ON dp.\"DeviceTemplateId\" = t.\"DeviceTemplateId\""
    " ORDER BY c.\"ConnectorNumber\", p.\"Position\", p.\"PinId\", dp.\"Offset\","
    "          dp.\"DataPointId\"";

/* device_id is matched as 'f2-<mac>' or the bare MAC, in any case. */
static const char SQL_PARAMS[] =
    "SELECT connector_mode, component_type, component_id, encoding_type, units,"
    "       scaling_factor"
    " FROM device_parameters WHERE lower(device_id) IN ($1, $2) ORDER BY id";

static int64_t now_ns(const f2_db *db) { return db->api->mono_ns(); }

/* libpq prints server notices on stderr by default; a plugin logs instead. */
static void notice_to_log(void *arg, const char *msg)
{
    f2_db *db = arg;
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        n--;
    db->api->log(db->ctx, SLUICE_LOG_DEBUG, "device_params: %.*s", (int)n, msg);
}

/* The first line of libpq's message, without its newline. */
static void pq_error(PGconn *conn, const char *what, char *err, size_t errlen)
{
    const char *m = conn ? PQerrorMessage(conn) : "out of memory";
    size_t n = strcspn(m, "\n");
    snprintf(err, errlen, "%s: %.*s", what, (int)n, *m ? m : "unknown error");
}

static PGconn *start_connect(f2_db *db)
{
    /* Our defaults come first so that the DSN's own settings win. */
    const char *keys[] = {"connect_timeout", "application_name", "tcp_user_timeout",
                          "dbname", NULL};
    const char *vals[] = {"10", "sluice-f2_decode", "10000", db->dsn, NULL};
    return PQconnectStartParams(keys, vals, 1);
}

static void set_down(f2_db *db, const char *why)
{
    if (db->conn) {
        PQfinish(db->conn);
        db->conn = NULL;
    }
    if (db->state == F2_DB_UP)
        db->api->log(db->ctx, SLUICE_LOG_WARN,
                     "device_params connection lost (%s); decoding from the cache", why);
    snprintf(db->last_error, sizeof db->last_error, "%s", why);
    db->state = F2_DB_DOWN;
    db->backoff_ms = db->backoff_ms ? db->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (db->backoff_ms > BACKOFF_MAX_MS)
        db->backoff_ms = BACKOFF_MAX_MS;
    db->next_attempt_ns = now_ns(db) + db->backoff_ms * 1000000LL;
    db->api->set_ready(db->ctx, 0);
}

/* Prepares the lookups and LISTENs.  0, or -1 with err (schema problems). */
static int setup(f2_db *db, char *err, size_t errlen)
{
    PQsetNoticeProcessor(db->conn, notice_to_log, db);
    PGresult *r = PQprepare(db->conn, "f2_controller", SQL_CONTROLLER, 1, NULL);
    int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (ok) {
        r = PQprepare(db->conn, "f2_params", SQL_PARAMS, 2, NULL);
        ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
    }
    if (!ok) {
        pq_error(db->conn, "device_params: preparing the lookups failed (is sql/device_params.sql "
                           "applied?)", err, errlen);
        return -1;
    }
    if (db->channel) {
        char *id = PQescapeIdentifier(db->conn, db->channel, strlen(db->channel));
        char sql[300];
        snprintf(sql, sizeof sql, "LISTEN %s", id ? id : "\"\"");
        PQfreemem(id);
        r = PQexec(db->conn, sql);
        ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) {
            pq_error(db->conn, "device_params: LISTEN failed", err, errlen);
            return -1;
        }
    }
    return 0;
}

static void became_up(f2_db *db, const f2_db_events *ev)
{
    db->state = F2_DB_UP;
    db->backoff_ms = 0;
    db->last_error[0] = '\0';
    db->api->set_ready(db->ctx, 1);
    if (db->ever_up) {
        db->api->log(db->ctx, SLUICE_LOG_INFO, "device_params connection re-established");
        if (ev && ev->reconnected)
            ev->reconnected(ev->arg);
    }
    db->ever_up = 1;
}

static void begin_connect(f2_db *db)
{
    db->conn = start_connect(db);
    db->state = F2_DB_CONNECTING;
    db->poll_dir = PGRES_POLLING_WRITING;
    db->connect_started_ns = now_ns(db);
}

int f2_db_open(f2_db *db, char *err, size_t errlen)
{
    const char *d = db->dsn;
    if (strchr(d, '=') || strncmp(d, "postgres://", 11) == 0 ||
        strncmp(d, "postgresql://", 13) == 0) {
        char *perr = NULL;
        PQconninfoOption *o = PQconninfoParse(d, &perr);
        if (!o) {
            char msg[300];
            sluice_unquote_error(msg, sizeof msg, perr ? perr : "out of memory");
            snprintf(err, errlen, "params_dsn is not a valid libpq connection string: %s "
                     "(quote values with spaces in single quotes)", msg);
            PQfreemem(perr);
            return -1;
        }
        PQconninfoFree(o);
    }
    begin_connect(db);
    char why[256];
    if (f2_db_ready(db, CONNECT_TIMEOUT_MS, NULL, why, sizeof why) == 0)
        return 0;
    if (db->conn == NULL && db->last_error[0] == '!') {
        /* setup() failed on a live connection: the schema is missing. */
        snprintf(err, errlen, "%s", db->last_error + 1);
        return -1;
    }
    snprintf(err, errlen, "%s", why);
    return 1;
}

void f2_db_close(f2_db *db)
{
    if (db->conn)
        PQfinish(db->conn);
    db->conn = NULL;
    db->state = F2_DB_DOWN;
}

/* Advances a connection attempt; waits at most wait_ms in total. */
static void drive_connect(f2_db *db, int wait_ms, const f2_db_events *ev)
{
    int64_t deadline = now_ns(db) + (int64_t)wait_ms * 1000000LL;
    for (;;) {
        if (!db->conn || PQstatus(db->conn) == CONNECTION_BAD) {
            char why[256];
            pq_error(db->conn, "cannot connect to device_params", why, sizeof why);
            set_down(db, why);
            return;
        }
        if (db->poll_dir == PGRES_POLLING_OK) {
            char why[256];
            if (setup(db, why, sizeof why) != 0) {
                set_down(db, why);
                /* Marked with '!' so f2_db_open can tell it from unreachable. */
                snprintf(db->last_error, sizeof db->last_error, "!%s", why);
                return;
            }
            became_up(db, ev);
            return;
        }
        int64_t now = now_ns(db);
        if (now - db->connect_started_ns > (int64_t)CONNECT_TIMEOUT_MS * 1000000LL) {
            set_down(db, "cannot connect to device_params: timed out");
            return;
        }
        int left = now >= deadline ? 0 : (int)((deadline - now) / 1000000LL);
        struct pollfd pfd = {.fd = PQsocket(db->conn),
                             .events = db->poll_dir == PGRES_POLLING_READING ? POLLIN : POLLOUT};
        int pr = poll(&pfd, 1, left > 50 ? 50 : left);
        if (pr < 0 && errno != EINTR) {
            set_down(db, "cannot connect to device_params: poll failed");
            return;
        }
        if (pr > 0) {
            db->poll_dir = PQconnectPoll(db->conn);
            if (db->poll_dir == PGRES_POLLING_FAILED) {
                char why[256];
                pq_error(db->conn, "cannot connect to device_params", why, sizeof why);
                set_down(db, why);
                return;
            }
            continue;
        }
        if (left == 0)
            return;
    }
}

void f2_db_tick(f2_db *db, const f2_db_events *ev)
{
    if (db->state == F2_DB_DOWN && now_ns(db) >= db->next_attempt_ns)
        begin_connect(db);
    if (db->state == F2_DB_CONNECTING) {
        drive_connect(db, 0, ev);
        return;
    }
    if (db->state != F2_DB_UP)
        return;
    if (!PQconsumeInput(db->conn)) {
        char why[256];
        pq_error(db->conn, "reading notifications failed", why, sizeof why);
        set_down(db, why);
        return;
    }
    PGnotify *n;
    while ((n = PQnotifies(db->conn)) != NULL) {
        if (ev && ev->notify)
            ev->notify(ev->arg, n->extra);
        PQfreemem(n);
    }
}

int f2_db_ready(f2_db *db, int wait_ms, const f2_db_events *ev, char *err, size_t errlen)
{
    /* Without a wait budget the connection is left to f2_db_tick, so that
     * a slow reconnection never costs a syscall per record. */
    if (wait_ms > 0) {
        if (db->state == F2_DB_DOWN && now_ns(db) >= db->next_attempt_ns)
            begin_connect(db);
        if (db->state == F2_DB_CONNECTING)
            drive_connect(db, wait_ms, ev);
    }
    if (db->state == F2_DB_UP && now_ns(db) >= db->hold_until_ns)
        return 0;
    const char *why = db->last_error[0] == '!' ? db->last_error + 1 : db->last_error;
    if (db->state == F2_DB_UP)
        snprintf(err, errlen, "device_params lookups paused after an error (%s)", why);
    else if (db->state == F2_DB_CONNECTING)
        snprintf(err, errlen, "device_params database: still connecting");
    else
        snprintf(err, errlen, "device_params database unavailable (%s)",
                 *why ? why : "not connected");
    return -1;
}

/* ---- turning rows into a cache entry --------------------------------- */

static char *dup_trim(const char *s)
{
    if (!s)
        return NULL;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static const char *val(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static int ival(const PGresult *r, int row, int col, int def)
{
    const char *v = val(r, row, col);
    return v ? (int)strtol(v, NULL, 10) : def;
}

/* "Prepend Append", each trimmed; NULL when both are empty. */
static char *make_unit(const char *prepend, const char *append)
{
    char *p = dup_trim(prepend), *a = dup_trim(append);
    char *u = NULL;
    size_t pn = p ? strlen(p) : 0, an = a ? strlen(a) : 0;
    if (pn || an) {
        u = malloc(pn + an + 2);
        if (u)
            snprintf(u, pn + an + 2, "%s%s%s", pn ? p : "", pn && an ? " " : "", an ? a : "");
    }
    free(p);
    free(a);
    return u;
}

static int load_pins(f2_device *d, const PGresult *r)
{
    int rows = PQntuples(r);
    if (rows == 0)
        return 0;
    d->known = 1;
    d->pins = calloc((size_t)rows, sizeof(*d->pins));
    if (!d->pins)
        return -1;
    f2_pin *cur = NULL;
    const char *cur_pin_id = NULL;
    for (int i = 0; i < rows; i++) {
        if (PQgetisnull(r, i, 0) || PQgetisnull(r, i, 1))
            continue; /* a connector without pins */
        int conn = ival(r, i, 0, 0), pos = ival(r, i, 1, 0);
        const char *pin_id = val(r, i, 2);
        if (!cur || cur->connector != conn || cur->position != pos) {
            cur = &d->pins[d->n_pins++];
            cur->connector = conn;
            cur->position = pos;
            cur->template_name = dup_trim(val(r, i, 3));
            cur->dps = calloc((size_t)rows, sizeof(*cur->dps));
            if (!cur->dps)
                return -1;
            cur_pin_id = pin_id;
        } else if (cur_pin_id && pin_id && strcmp(cur_pin_id, pin_id) != 0) {
            continue; /* a second pin at the same position: the first one counts */
        }
        if (PQgetisnull(r, i, 4))
            continue; /* a template without data points */
        f2_datapoint *dp = &cur->dps[cur->n_dps++];
        dp->label = dup_trim(val(r, i, 4));
        const char *enc = val(r, i, 5);
        dp->encoding = dup_trim(enc ? enc : "(null)");
        dp->enc_ok = dp->encoding && f2_binenc_parse(dp->encoding, &dp->enc) == 0;
        dp->offset = ival(r, i, 6, -1);
        dp->length = ival(r, i, 7, dp->enc_ok ? dp->enc.size : -1);
        dp->decimals = ival(r, i, 8, 0);
        dp->unit = make_unit(val(r, i, 9), val(r, i, 10));
        if (!dp->label || !dp->encoding)
            return -1;
    }
    return 0;
}

/* `units`: one unit for every field ("V"), or per field ("voltage=V,current=A"). */
static int parse_units(f2_param *p, const char *units)
{
    if (!units)
        return 0;
    if (!strchr(units, '=')) {
        p->unit = dup_trim(units);
        if (p->unit && !*p->unit) {
            free(p->unit);
            p->unit = NULL;
        }
        return 0;
    }
    size_t n = 1;
    for (const char *s = units; *s; s++)
        n += *s == ',' || *s == ';';
    p->units = calloc(n, sizeof(*p->units));
    if (!p->units)
        return -1;
    char *copy = strdup(units);
    if (!copy)
        return -1;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",;", &save); tok; tok = strtok_r(NULL, ",;", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq)
            continue;
        *eq = '\0';
        f2_unit *u = &p->units[p->n_units];
        u->field = dup_trim(tok);
        u->unit = dup_trim(eq + 1);
        if (!u->field || !u->unit) {
            free(u->field);
            free(u->unit);
            free(copy);
            return -1;
        }
        p->n_units++;
    }
    free(copy);
    return 0;
}

static int load_params(f2_device *d, const PGresult *r)
{
    int rows = PQntuples(r);
    if (rows == 0)
        return 0;
    d->known = 1;
    d->params = calloc((size_t)rows, sizeof(*d->params));
    if (!d->params)
        return -1;
    for (int i = 0; i < rows; i++) {
        f2_param *p = &d->params[d->n_params++];
        p->mode = dup_trim(val(r, i, 0));
        p->ctype = dup_trim(val(r, i, 1));
        p->cid = dup_trim(val(r, i, 2));
        const char *enc = val(r, i, 3);
        p->encoding = dup_trim(enc ? enc : "(null)");
        p->enc = f2_tenc_parse(p->encoding);
        const char *sf = val(r, i, 5);
        p->scale = sf ? strtod(sf, NULL) : 1.0;
        if (!p->mode || !p->ctype || !p->encoding || parse_units(p, val(r, i, 4)) != 0)
            return -1;
        /* An empty component_id means "any", like NULL. */
        if (p->cid && !*p->cid) {
            free(p->cid);
            p->cid = NULL;
        }
    }
    return 0;
}

static PGresult *exec(f2_db *db, const char *stmt, int n, const char *const *params, char *err,
                      size_t errlen)
{
    PGresult *r = PQexecPrepared(db->conn, stmt, n, params, NULL, NULL, 0);
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK)
        return r;
    char why[256];
    if (r && PQresultStatus(r) == PGRES_FATAL_ERROR && PQstatus(db->conn) == CONNECTION_OK) {
        const char *m = PQresultErrorMessage(r);
        snprintf(why, sizeof why, "%.*s", (int)strcspn(m, "\n"), m);
        snprintf(err, errlen, "device_params lookup failed: %s", why);
        /* The connection is fine but the query is not (a schema change?):
         * pause lookups with backoff rather than fail every record at once. */
        snprintf(db->last_error, sizeof db->last_error, "%s", why);
        db->backoff_ms = db->backoff_ms ? db->backoff_ms * 2 : BACKOFF_MIN_MS;
        if (db->backoff_ms > BACKOFF_MAX_MS)
            db->backoff_ms = BACKOFF_MAX_MS;
        db->hold_until_ns = now_ns(db) + db->backoff_ms * 1000000LL;
    } else {
        pq_error(db->conn, "device_params lookup failed", why, sizeof why);
        snprintf(err, errlen, "%s", why);
        set_down(db, why);
    }
    PQclear(r);
    return NULL;
}

int f2_db_load(f2_db *db, uint64_t mac, const char *mac_hex, f2_device **out, char *err,
               size_t errlen)
{
    if (db->state != F2_DB_UP) {
        snprintf(err, errlen, "device_params database unavailable");
        return -1;
    }
    char dev_id[16];
    snprintf(dev_id, sizeof dev_id, "f2-%s", mac_hex);
    const char *p1[] = {mac_hex};
    PGresult *rc = exec(db, "f2_controller", 1, p1, err, errlen);
    if (!rc)
        return -1;
    const char *p2[] = {dev_id, mac_hex};
    PGresult *rp = exec(db, "f2_params", 2, p2, err, errlen);
    if (!rp) {
        PQclear(rc);
        return -1;
    }
    f2_device *d = calloc(1, sizeof(*d));
    int rv = d ? 0 : -1;
    if (d) {
        d->mac = mac;
        if (load_pins(d, rc) != 0 || load_params(d, rp) != 0)
            rv = -1;
    }
    PQclear(rc);
    PQclear(rp);
    if (rv != 0) {
        f2_device_free(d);
        snprintf(err, errlen, "out of memory loading device parameters");
        return -1;
    }
    db->backoff_ms = 0;
    *out = d;
    return 0;
}

int f2_db_command(f2_db *db, const char *sql, int n, const char *const *vals, const int *lens,
                  const int *fmts, char *err, size_t errlen)
{
    if (db->state != F2_DB_UP || !db->conn) {
        snprintf(err, errlen, "device_params database unavailable (%s)",
                 db->last_error[0] ? db->last_error : "not connected");
        return -1;
    }
    PGresult *r = n == 0 ? PQexec(db->conn, sql)
                         : PQexecParams(db->conn, sql, n, NULL, vals, lens, fmts, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        PQclear(r);
        return 0;
    }
    if (r && PQstatus(db->conn) == CONNECTION_OK) {
        const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        if (!m)
            m = PQresultErrorMessage(r);
        snprintf(err, errlen, "%.*s", (int)strcspn(m, "\n"), m);
    } else {
        char why[256];
        pq_error(db->conn, "device_params connection failed", why, sizeof why);
        snprintf(err, errlen, "%s", why);
        set_down(db, why);
    }
    PQclear(r);
    return -1;
}
