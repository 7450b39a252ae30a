/* Batches: a bounded array of records plus the arena their memory comes from.
 * A batch is allocated once and recycled, so steady-state flow does no malloc. */
#ifndef SL_BATCH_H
#define SL_BATCH_H

#include <sluice/sluice.h>
#include "arena.h"

struct sluice_batch {
    sluice_record *recs;
    size_t n, cap;
    sl_arena arena;
    size_t n_failed;         /* records marked by record_fail */
    int64_t created_ns;      /* monotonic time the first record was added */
    uint64_t seq;            /* position in the pipeline's stream, for acks */
    /* Set when a record or arena allocation was refused for lack of room
     * (cleared by reset and by the host before each transform call): it
     * tells a transform's "full" failure from a real one, so records of
     * 1.0 transforms that return SLUICE_ERR when out is full are retried
     * into an emptied batch as well (see SLUICE_FULL). */
    int out_of_room;
    /* Where to_json writes when the arena is full.  A source may fill the
     * arena to the brim, and the JSON a sink has the host write for a good
     * record must not fail for lack of room; up to twice the arena's
     * limit, its chunks kept across resets like the arena's. */
    sl_arena spill;
};

sluice_batch *sl_batch_new(size_t max_records, size_t arena_bytes);
void sl_batch_reset(sluice_batch *b);
void sl_batch_free(sluice_batch *b);

#endif
