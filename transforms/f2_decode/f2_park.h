/* Readings parked until their device exists (`unknown_device: park`).
 *
 * A reading of a controller the device_params database does not know (or
 * that has no parameters for that reading yet) is not dead-lettered:
 * process() adds it to the batch's parked rows (f2_park_rows.h), which the
 * transform's commit INSERTs into the table f2_parked (sql/f2_parked.sql)
 * of that database, one statement per batch, before the host lets the
 * batch go (so before the spool releases it).  A thread of
 * the instance, with a connection of its own, LISTENs on the parameter
 * channel: a second after a notification (so that a registration made
 * statement by statement is seen whole) it re-injects the parked readings
 * of every controller that is now known into the pipeline's spool
 * (api->spool_append from a transform), syncs the spool, and only then
 * deletes them: a crash in between re-injects them twice, which the
 * timescale sink's key makes harmless.  They flow through f2_decode again,
 * now known, with their original payload and so their original
 * timestamps.  Readings parked longer than park_for are re-injected
 * marked expired, and process() fails them with the reason, so the
 * pipeline's error policy sends them to the dead-letter sink. */
#ifndef F2_PARK_H
#define F2_PARK_H

#include <stddef.h>
#include <stdint.h>
#include <sluice/sluice.h>

/* Header of a re-injected reading: "<tries> <first parked, µs since epoch>". */
#define F2_PARK_HDR "sluice-f2-parked"
/* Header of an expired one: the reason it fails with. */
#define F2_PARK_EXPIRED_HDR "sluice-f2-expired"

/* The table, as sql/f2_parked.sql creates it (run at start: IF NOT EXISTS). */
extern const char F2_PARK_DDL[];

typedef struct f2_park f2_park;

typedef struct f2_park_conf {
    const char *dsn;         /* the device_params database */
    const char *channel;     /* NULL: no LISTEN, a full scan every 30 s */
    const char *owner;       /* "<pipeline>/<instance>": whose rows these are */
    int64_t park_for_ms;
} f2_park_conf;

/* Starts the thread (it connects on its own, with backoff).  NULL with err
 * on out of memory. */
f2_park *f2_park_start(const sluice_api *api, sluice_ctx *ctx, const f2_park_conf *c,
                       char *err, size_t errlen);
void f2_park_stop(f2_park *pk);

/* The decode thread counts the readings it parked (sluice_f2_parked_total). */
void f2_park_count(f2_park *pk, size_t n);

/* "24h", "90s", "1500ms": a duration as the options write it. */
void f2_park_fmt_duration(char *buf, size_t n, int64_t ms);

#endif
