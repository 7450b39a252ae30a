/* The connection: opening it, telling the failures that a retry cures from
 * those it does not, and the per-session state the write path needs. */
#include "ts_sink.h"
#include "ts_sql.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ts_fmt(char *dst, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, len, fmt, ap);
    va_end(ap);
}

void ts_one_line(char *dst, size_t len, const char *src)
{
    /* libpq's messages end in newlines and continue on tab-indented lines;
     * sluice's errors are one line each.  A line break becomes "; " (unless
     * the line already ended in punctuation), so two sentences do not run
     * into one. */
    size_t o = 0;
    int space = 0, newline = 0;
    if (!len)
        return;
    for (const char *p = src ? src : ""; *p && o + 1 < len; p++) {
        if (isspace((unsigned char)*p)) {
            space = o > 0;
            newline |= *p == '\n' && o > 0;
            continue;
        }
        if (newline && !strchr(".;:,", dst[o - 1]) && o + 3 < len)
            dst[o++] = ';';
        if (space && o + 2 < len)
            dst[o++] = ' ';
        space = newline = 0;
        dst[o++] = *p;
    }
    dst[o] = '\0';
}

static void on_notice(void *arg, const char *message)
{
    ts_sink *s = arg;
    char line[512];
    ts_one_line(line, sizeof line, message);
    s->api->log(s->ctx, SLUICE_LOG_INFO, "timescale: server says: %s", line);
}

/* The server answered and refused us: retrying with the same settings
 * cannot help.  libpq gives no SQLSTATE for a failed connection, so this
 * reads the server's (English) message; anything else, an unreachable or
 * starting server above all, is worth retrying. */
static int connect_refusal_is_permanent(PGconn *c, const char *msg)
{
    static const char *const permanent[] = {
        "authentication failed", "does not exist", "pg_hba.conf", "password is required",
        "permission denied", "invalid ", "no password supplied", "SSL is not enabled",
        "unsupported frontend protocol", NULL};
    if (PQconnectionNeedsPassword(c))
        return 1;
    for (size_t i = 0; permanent[i]; i++)
        if (strstr(msg, permanent[i]))
            return 1;
    return 0;
}

sluice_status ts_connect(ts_sink *s, char *err)
{
    char timeout[24];
    int64_t secs = (s->connect_timeout_ms + 999) / 1000;
    snprintf(timeout, sizeof timeout, "%lld", (long long)(secs > 0 ? secs : 0));
    /* Ours come first: expand_dbname lets the dsn override any of them.
     * Keepalives notice a dead peer on an idle connection in about 25 s. */
    const char *kw[] = {"connect_timeout", "application_name", "client_encoding",
                        "keepalives", "keepalives_idle", "keepalives_interval",
                        "keepalives_count", "dbname", NULL};
    const char *val[] = {timeout, s->appname, "UTF8", "1", "10", "5", "3", s->dsn, NULL};
    PGconn *c = PQconnectdbParams(kw, val, 1);
    if (!c) {
        snprintf(err, SLUICE_ERRLEN, "timescale: cannot connect to PostgreSQL: out of memory");
        return SLUICE_RETRY;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        char msg[400];
        ts_one_line(msg, sizeof msg, PQerrorMessage(c));
        int permanent = connect_refusal_is_permanent(c, msg);
        snprintf(err, SLUICE_ERRLEN, "timescale: cannot connect to PostgreSQL%s: %s",
                 permanent ? "" : " (will retry)", msg);
        PQfinish(c);
        s->api->set_ready(s->ctx, 0);
        return permanent ? SLUICE_ERR : SLUICE_RETRY;
    }
    PQsetNoticeProcessor(c, on_notice, s);
    s->conn = c;
    s->session_ready = 0;
    s->server_version = PQserverVersion(c);

    ts_pgerr e;
    char sql[96];
    snprintf(sql, sizeof sql, "SET statement_timeout = %lld",
             (long long)(s->statement_timeout_ms > 0 ? s->statement_timeout_ms : 0));
    ts_errclass cls = ts_exec(s, sql, &e);
    if (cls != TS_E_NONE) {
        ts_pgerr_format(&e, "setting statement_timeout", err, SLUICE_ERRLEN);
        ts_disconnect(s);
        return cls == TS_E_RETRY ? SLUICE_RETRY : SLUICE_ERR;
    }
    s->api->set_ready(s->ctx, 1);
    return SLUICE_OK;
}

void ts_disconnect(ts_sink *s)
{
    if (s->conn)
        PQfinish(s->conn);
    s->conn = NULL;
    s->session_ready = 0;
    s->api->set_ready(s->ctx, 0);
}

static void copy_field(char *dst, size_t len, const char *src)
{
    ts_one_line(dst, len, src ? src : "");
}

/* Errors raised while COPY reads a row carry "COPY t, line N, column c" in
 * their context: the row within the range sent, and the column. */
static void parse_copy_context(const char *ctx, ts_pgerr *e)
{
    const char *p = ctx ? strstr(ctx, "COPY ") : NULL;
    if (!p)
        return;
    const char *l = strstr(p, ", line ");
    if (!l)
        return;
    char *end;
    long line = strtol(l + 7, &end, 10);
    if (line > 0)
        e->line = line;
    if (strncmp(end, ", column ", 9) == 0 && !e->column[0]) {
        const char *c = end + 9;
        size_t n = strcspn(c, ":\n");
        if (n >= sizeof e->column)
            n = sizeof e->column - 1;
        memcpy(e->column, c, n);
        e->column[n] = '\0';
    }
}

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

ts_errclass ts_classify(PGconn *conn, const PGresult *res, ts_pgerr *e)
{
    memset(e, 0, sizeof *e);
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state)
        snprintf(e->sqlstate, sizeof e->sqlstate, "%s", state);
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (primary) {
        copy_field(e->msg, sizeof e->msg, primary);
    } else {
        /* libpq's own text: "FATAL:  why\nserver closed the connection..."
         * The first line is the news; the rest is boilerplate. */
        const char *m = PQerrorMessage(conn);
        for (const char *const *pre = (const char *const[]){"FATAL:", "ERROR:", NULL}; *pre;
             pre++)
            if (!strncmp(m, *pre, strlen(*pre)))
                m += strlen(*pre);
        char first[sizeof e->msg];
        size_t n = strcspn(m, "\n");
        ts_fmt(first, sizeof first, "%.*s", (int)n, m);
        copy_field(e->msg, sizeof e->msg, first);
    }
    if (!e->msg[0])
        snprintf(e->msg, sizeof e->msg, "unknown error");
    if (res) {
        copy_field(e->detail, sizeof e->detail, PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL));
        copy_field(e->column, sizeof e->column, PQresultErrorField(res, PG_DIAG_COLUMN_NAME));
        parse_copy_context(PQresultErrorField(res, PG_DIAG_CONTEXT), e);
    }
    if (strstr(e->msg, "must be preloaded")) {
        /* TimescaleDB ends the session (FATAL) when its library is not in
         * shared_preload_libraries; every retry would end the same way. */
        e->cls = TS_E_FATAL;
        e->conn_lost = 1;
    } else if (PQstatus(conn) == CONNECTION_BAD || !state) {
        /* No SQLSTATE: libpq itself failed (a broken socket, memory). */
        e->cls = TS_E_RETRY;
        e->conn_lost = 1;
    } else if (starts(state, "08") || starts(state, "57P") || !strcmp(state, "25006")) {
        /* Connection failures, server shutdown, and a read-only server (a
         * standby after failover): the next connection may do better. */
        e->cls = TS_E_RETRY;
        e->conn_lost = 1;
    } else if (!strcmp(state, "53400")) {
        /* configuration_limit_exceeded: TimescaleDB's "tuple decompression
         * limit exceeded" when an upsert would decompress too many rows of
         * a compressed chunk.  The same batch hits the same limit on every
         * retry: only a change of the setting (or of the chunk) helps. */
        e->cls = TS_E_FATAL;
    } else if (starts(state, "53") || starts(state, "40") || starts(state, "58") ||
               !strcmp(state, "55P03") || !strcmp(state, "57014")) {
        /* Out of resources, serialization or deadlock, lock or statement
         * timeout, I/O: the same batch may well go through later. */
        e->cls = TS_E_RETRY;
    } else if (starts(state, "22") || starts(state, "23") || starts(state, "54") ||
               starts(state, "P0")) {
        /* Data exceptions, constraint violations, values too large, errors
         * raised by triggers: a property of some rows. */
        e->cls = TS_E_DATA;
    } else {
        e->cls = TS_E_FATAL;
    }
    return e->cls;
}

static int is_digits_us(const char *p, const char *end, const char **after)
{
    /* <digits>_ */
    const char *q = p;
    while (q < end && isdigit((unsigned char)*q))
        q++;
    if (q == p || q >= end || *q != '_')
        return 0;
    *after = q + 1;
    return 1;
}

static int own_name(const ts_sink *s, const char *p, size_t n)
{
    const sluice_buf *b = &s->own_names;
    for (size_t o = 0; o < b->len;) {
        size_t l = strlen(b->p + o);
        if (l == n && !memcmp(b->p + o, p, n))
            return 1;
        o += l + 1;
    }
    return 0;
}

/* The quoted name [p, end) as the user knows it, or NULL to keep it. */
static const char *unchunk_name(const ts_sink *s, const char *p, const char *end,
                                size_t *len)
{
    const char *q = p, *a;
    if ((size_t)(end - p) > 8 && !strncmp(p, "compress", 8))
        q = p + 8;
    if ((size_t)(end - q) > 13 && !strncmp(q, "_hyper_", 7) && is_digits_us(q + 7, end, &a) &&
        is_digits_us(a, end, &a) && (size_t)(end - a) == 5 && !strncmp(a, "chunk", 5)) {
        *len = strlen(s->table.name);
        return s->table.name;
    }
    /* A chunk's copy of a constraint or index: "<n>_<name>" or
     * "<n>_<m>_<name>", where <name> is one of the table's own. */
    q = p;
    for (int i = 0; i < 2 && is_digits_us(q, end, &a); i++) {
        q = a;
        if (own_name(s, q, (size_t)(end - q))) {
            *len = (size_t)(end - q);
            return q;
        }
    }
    return NULL;
}

static void unchunk(const ts_sink *s, char *text, size_t cap)
{
    char out[sizeof ((ts_pgerr *)0)->msg];
    size_t o = 0;
    if (cap > sizeof out)
        cap = sizeof out;
    for (const char *p = text; *p && o + 1 < cap;) {
        const char *end = *p == '"' ? strchr(p + 1, '"') : NULL;
        size_t n;
        const char *name = end ? unchunk_name(s, p + 1, end, &n) : NULL;
        if (name) {
            int w = snprintf(out + o, cap - o, "\"%.*s\"", (int)n, name);
            o = w < 0 ? o : (size_t)w + o >= cap ? cap - 1 : o + (size_t)w;
            p = end + 1;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    memcpy(text, out, o + 1);
}

void ts_pgerr_unchunk(const ts_sink *s, ts_pgerr *e)
{
    if (!s->is_hyper)
        return;
    unchunk(s, e->msg, sizeof e->msg);
    unchunk(s, e->detail, sizeof e->detail);
}

void ts_pgerr_format(const ts_pgerr *e, const char *what, char *err, size_t len)
{
    ts_fmt(err, len, "timescale: %s: %s%s%s%s%s%s", what, e->msg, e->detail[0] ? " (" : "",
             e->detail, e->detail[0] ? ")" : "", e->sqlstate[0] ? " SQLSTATE " : "",
             e->sqlstate);
}

ts_errclass ts_exec(ts_sink *s, const char *sql, ts_pgerr *e)
{
    PGresult *r = PQexec(s->conn, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    ts_errclass cls = TS_E_NONE;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        cls = ts_classify(s->conn, r, e);
    PQclear(r);
    return cls;
}

PGresult *ts_query(ts_sink *s, const char *sql, int n, const char *const *params,
                   ts_pgerr *e)
{
    PGresult *r = PQexecParams(s->conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        ts_classify(s->conn, r, e);
        PQclear(r);
        return NULL;
    }
    return r;
}

ts_errclass ts_session_prepare(ts_sink *s, ts_pgerr *e)
{
    if (s->conflict == TS_CONFLICT_ERROR) {
        s->session_ready = 1;
        return TS_E_NONE;
    }
    sluice_buf_reset(&s->scratch);
    ts_sql_staging(&s->scratch, &s->table, &s->map);
    const char *sql = sluice_buf_cstr(&s->scratch);
    if (!sql) {
        memset(e, 0, sizeof *e);
        e->cls = TS_E_RETRY;
        snprintf(e->msg, sizeof e->msg, "out of memory");
        return TS_E_RETRY;
    }
    ts_errclass cls = ts_exec(s, sql, e);
    if (cls == TS_E_NONE)
        s->session_ready = 1;
    return cls;
}
