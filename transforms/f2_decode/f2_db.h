/* The device_params connection: one libpq connection that both LISTENs for
 * the triggers' notifications and runs the lookups of cache misses.  It is
 * driven from the decode thread without blocking it: notifications are
 * read with PQconsumeInput (the socket is non-blocking), and a lost
 * connection is re-established asynchronously, with backoff, while the
 * cache keeps serving what it holds. */
#ifndef F2_DB_H
#define F2_DB_H

#include "f2_cache.h"

#include <libpq-fe.h>
#include <sluice/sluice.h>

typedef enum f2_db_state { F2_DB_DOWN, F2_DB_CONNECTING, F2_DB_UP } f2_db_state;

typedef struct f2_db {
    const sluice_api *api;
    sluice_ctx *ctx;
    const char *dsn;         /* secret: never logged */
    const char *channel;     /* NULL: do not LISTEN */
    PGconn *conn;
    f2_db_state state;
    PostgresPollingStatusType poll_dir;
    int64_t connect_started_ns;
    int64_t next_attempt_ns;
    int64_t backoff_ms;
    int64_t hold_until_ns;   /* no lookups before this after a query error */
    int ever_up;
    char last_error[320];     /* "!" first: the schema, not the network */
} f2_db;

/* What the owner is told about the connection. */
typedef struct f2_db_events {
    void (*notify)(void *arg, const char *payload); /* one per notification */
    void (*reconnected)(void *arg);                 /* notifications may have been missed */
    void *arg;
} f2_db_events;

/* First, synchronous connection at init.  0: connected; 1: unreachable
 * (the instance starts anyway and reconnects later); -1: connected but the
 * schema is wrong, or the DSN is malformed (err says which). */
int f2_db_open(f2_db *db, char *err, size_t errlen);
void f2_db_close(f2_db *db);

/* Reads notifications and advances a reconnection, never waiting. */
void f2_db_tick(f2_db *db, const f2_db_events *ev);

/* Makes the connection usable for a lookup, waiting at most wait_ms for a
 * reconnection that is due.  0 when up; -1 (err set) when not. */
int f2_db_ready(f2_db *db, int wait_ms, const f2_db_events *ev, char *err, size_t errlen);

/* Loads one controller's parameters.  0 with *out set (d->known = 0 when
 * nothing matches the MAC); -1 with err when the database failed (the
 * connection is then marked down and retried with backoff). */
int f2_db_load(f2_db *db, uint64_t mac, const char *mac_hex, f2_device **out, char *err,
               size_t errlen);

/* Runs one statement on the connection (f2_decode's parking INSERT).
 * vals/lens/fmts as PQexecParams.  0, or -1 with err: a broken connection
 * is marked down (and reconnected with backoff); a failed statement on a
 * live one leaves it up. */
int f2_db_command(f2_db *db, const char *sql, int n, const char *const *vals, const int *lens,
                  const int *fmts, char *err, size_t errlen);

#endif
