/* The parked readings of the input batch being processed: process() adds
 * a reading here, and the transform's commit (called by the host before the
 * batch's output goes on, so before the spool releases it) writes them all
 * with one INSERT.  Until then the spool still holds every one of them, so
 * a crash in between loses nothing: the batch is read again. */
#ifndef F2_PARK_ROWS_H
#define F2_PARK_ROWS_H

#include "f2_db.h"

#include <sluice/sluice_util.h>
#include <stddef.h>
#include <stdint.h>

typedef struct f2_park_rows {
    /* PostgreSQL array literals under construction, one per column. */
    sluice_buf mac, topic, payload, reason, tries, parked_us, received_us;
    size_t n;
} f2_park_rows;

/* Adds one reading.  parked_us 0: parked now (its first time).  -1 on out
 * of memory (nothing added). */
int f2_park_rows_add(f2_park_rows *pr, const char *mac_hex, const char *topic,
                     size_t topic_len, const char *payload, size_t payload_len,
                     const char *reason, int tries, int64_t parked_us, int64_t received_us);

/* Writes the rows added since the last write, in one INSERT (committed).
 * 0 (nothing left), or -1 with err: the rows stay, to be written again. */
int f2_park_rows_write(f2_park_rows *pr, f2_db *db, const char *owner, char *err,
                       size_t errlen);

void f2_park_rows_free(f2_park_rows *pr);

#endif
