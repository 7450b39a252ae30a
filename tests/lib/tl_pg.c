/* See tl_pg.h. */
#include "tl_pg.h"

#include "tl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int tl_pg_port(void)
{
    return tl_server_port("SLUICE_TEST_PG_PORT", "PostgreSQL");
}

void tl_pg_dsn(char *buf, size_t len, int port, const char *db)
{
    snprintf(buf, len, "host=127.0.0.1 port=%d user=postgres dbname=%s", port, db);
}

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

PGconn *tl_pg_connect(int port, const char *db)
{
    char dsn[256];
    tl_pg_dsn(dsn, sizeof dsn, port, db);
    PGconn *c = PQconnectdb(dsn);
    if (PQstatus(c) != CONNECTION_OK)
        tl_die("cannot reach the test PostgreSQL on 127.0.0.1:%d (database %s): %s", port, db,
               PQerrorMessage(c));
    PQsetNoticeProcessor(c, quiet, NULL);
    return c;
}

static char *vfmt(const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    char *s = malloc((size_t)n + 1);
    if (!s)
        tl_die("out of memory");
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

static PGresult *run(PGconn *c, const char *fmt, va_list ap)
{
    char *sql = vfmt(fmt, ap);
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        tl_die("SQL failed: %s  in: %.300s", PQresultErrorMessage(r), sql);
    free(sql);
    return r;
}

void tl_pg_exec(PGconn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PQclear(run(c, fmt, ap));
    va_end(ap);
}

static const char *value_of(PGresult *r)
{
    static char buf[4096];
    const char *v = NULL;
    if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) {
        snprintf(buf, sizeof buf, "%s", PQgetvalue(r, 0, 0));
        v = buf;
    }
    PQclear(r);
    return v;
}

const char *tl_pg_value(PGconn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PGresult *r = run(c, fmt, ap);
    va_end(ap);
    return value_of(r);
}

long tl_pg_long(PGconn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PGresult *r = run(c, fmt, ap);
    va_end(ap);
    const char *v = value_of(r);
    return v ? atol(v) : -1;
}
