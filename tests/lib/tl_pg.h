/* PostgreSQL for the C tests (sluice_testlib_pg, built when libpq is): the
 * suite's server, and SQL that must succeed.  Any failure ends the test
 * with status 2, printing the statement and the server's message. */
#ifndef SLUICE_TEST_TL_PG_H
#define SLUICE_TEST_TL_PG_H

#include <libpq-fe.h>

#include <sluice/sluice.h>

/* The suite's PostgreSQL port (SLUICE_TEST_PG_PORT), checked to answer. */
int tl_pg_port(void);
/* "host=127.0.0.1 port=PORT user=postgres dbname=DB" into buf. */
void tl_pg_dsn(char *buf, size_t len, int port, const char *db);
/* Connects as postgres to db on 127.0.0.1:port, notices silenced. */
PGconn *tl_pg_connect(int port, const char *db);

/* Runs SQL (one or more statements) that must succeed. */
void tl_pg_exec(PGconn *c, const char *fmt, ...) SLUICE_PRINTF(2, 3);
/* First column of the first row, or NULL (no row, or SQL NULL); static
 * buffer, valid until the next call. */
const char *tl_pg_value(PGconn *c, const char *fmt, ...) SLUICE_PRINTF(2, 3);
/* The same as a long; -1 when there is none. */
long tl_pg_long(PGconn *c, const char *fmt, ...) SLUICE_PRINTF(2, 3);

#endif
