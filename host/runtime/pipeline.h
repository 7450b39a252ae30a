/* One running pipeline: plugin instances, a source thread, a sink thread
 * (the supervisor's own), the slots that carry batches between them, and the
 * supervisor that restarts the pipeline with backoff when it fails. */
#ifndef SL_PIPELINE_H
#define SL_PIPELINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "../config/config.h"
#include "guard.h"
#include "../spool/spool.h"
#include "queue.h"

typedef enum sl_pipe_state {
    SL_PIPE_STARTING,        /* creating instances (maybe waiting for a server) */
    SL_PIPE_RUNNING,
    SL_PIPE_RESTARTING,      /* failed; waiting for the restart backoff */
    SL_PIPE_STOPPING,
    SL_PIPE_STOPPED,         /* stopped on request */
    SL_PIPE_FINISHED,        /* the source ended and everything was written */
    SL_PIPE_FAILED,          /* stopped for good (tolerance none, or bad init) */
    SL_PIPE_PARKED           /* disk buffer: a run failed with its records kept
                                in the spool; waiting for the restart backoff
                                or SIGHUP */
} sl_pipe_state;

const char *sl_pipe_state_name(sl_pipe_state s);

/* Whether, and why, the current run failed.  The supervisor decides on it:
 * a refused record under errors.tolerance: none keeps the pipeline down
 * (replaying it would fail the same way); any other failure restarts it. */
typedef enum sl_run_fail {
    SL_RUN_OK,               /* no fatal error in this run (yet) */
    SL_RUN_ERROR,            /* a plugin, the spool or the host failed */
    SL_RUN_RECORD_REFUSED    /* a record failed under errors.tolerance: none */
} sl_run_fail;

/* How the first creation of instances went: sl_pipeline_start waits while
 * it is pending, so `sluice run` can refuse bad configuration with an exit
 * code instead of a log line. */
typedef enum sl_first_start {
    SL_FIRST_PENDING,        /* not tried, or trying */
    SL_FIRST_OK,             /* the instances were created (at least once) */
    SL_FIRST_WAITING,        /* failed retriably: waiting for a server */
    SL_FIRST_REFUSED         /* a plugin refused its configuration: init_error */
} sl_first_start;

typedef struct sl_instance {
    const sl_stage_conf *conf;
    sluice_ctx *ctx;
    void *inst;
    char label[64];          /* "source", "transform[0]", "sink", "dead_letter" */
} sl_instance;

/* A slot carries one source batch through the pipeline.  It holds one
 * output batch per transform, because a transform's output may point into
 * its input, so every stage's memory lives until the source is acknowledged. */
typedef struct sl_slot {
    sluice_batch *src;
    sluice_batch *kept;      /* the source's records minus those it failed,
                                for a sink fed directly by the source */
} sl_slot;

typedef struct sl_pipe_metrics {
    sluice_metric *in, *out, *failed_source, *failed_transform, *failed_sink, *dead_letter, *rejected;
    sluice_metric *batches, *write_seconds, *queue_depth, *retries, *restarts;
    sluice_metric *latency, *up, *lost;
    /* disk buffer only (NULL otherwise) */
    sluice_metric *failed_spool, *sp_bytes, *sp_records, *sp_oldest, *sp_replayed, *sp_torn,
        *sp_full, *sp_appended, *sp_released;
} sl_pipe_metrics;

/* What the pipeline last saw of its spool: the counters of the spool's
 * current open (they restart at each open), to turn them into the process's
 * cumulative metrics, and a snapshot that outlives the open for /status. */
typedef struct sl_spool_view {
    sl_spool_stats last;     /* the last stats read (kept while closed) */
    uint64_t seen_appended, seen_released, seen_replayed, seen_torn; /* this open */
    uint64_t appended, released, replayed, torn; /* cumulative, this process */
    uint64_t held_at_close;  /* records this process left in the spool at its
                                last close: a reopen finds them again, but
                                they were counted once already (appended or
                                replayed), so they are not replayed anew */
    int paused;              /* the source is paused on a full spool */
    int64_t next_tick_ms;
} sl_spool_view;

typedef struct sl_pipeline {
    sl_pipeline_conf *conf;

    sl_instance source, sink, dlq;
    sl_instance *transforms;
    int has_dlq;

    sl_slot *slots;
    size_t n_slots;
    sluice_batch **stage;    /* each transform's output, shared by the slots */
    sl_queue ready_q;        /* filled slots, source → sink thread */
    sl_queue free_q;         /* empty slots, sink → source thread */
    sluice_batch *dlq_batch;

    pthread_t supervisor, source_thread;
    int supervisor_started;
    _Atomic int stop;        /* stop requested (clean: drain and flush) */
    _Atomic int abort;       /* shutdown deadline passed: give up retries */
    _Atomic sl_run_fail failed; /* set with sl_pipeline_fail */
    _Atomic int source_done;
    _Atomic int source_eof;  /* the source reported SLUICE_EOF */
    _Atomic int state;       /* sl_pipe_state */
    _Atomic sl_first_start first_start;
    pthread_mutex_t wait_mu; /* for interruptible sleeps */
    pthread_cond_t wait_cv;

    /* Disk buffer: open from the start of a run until its instances are
     * destroyed (a source may append from its own thread until then). */
    sl_spool *spool;
    pthread_mutex_t spool_mu;  /* guards spool (the pointer) and spool_view for
                                  readers on other threads (/status, ticks) */
    sl_spool_view spool_view;
    /* Dead letters and per-record error logs are shared by the sink thread
     * and, with a disk buffer, the source thread (source-failed records are
     * routed before the spool). */
    pthread_mutex_t dlq_mu;
    _Atomic int kick;        /* SIGHUP: end a restart backoff now */
    int64_t next_try_ms;     /* monotonic time of the next restart, 0: none */
    char park_reason[1400];  /* "parked: ...", shown by /status while parked */

    pthread_mutex_t err_mu;
    pthread_mutex_t inst_mu; /* guards instance ctx pointers read by /ready */
    char last_error[1024];
    char init_error[1024];

    uint64_t stats_prev_in, stats_prev_out; /* for the periodic stats line */
    _Atomic uint64_t n_in, n_out, n_failed, n_dead, n_rejected, n_restarts, n_lost;
    sl_pipe_metrics m;
    sl_guard_pipe guard;     /* the watchdog's view (guard.h) */
    int64_t log_window_ns;   /* rate limit for per-record error logs */
    int log_in_window;
    uint64_t log_suppressed;
} sl_pipeline;

/* Takes ownership of conf. */
sl_pipeline *sl_pipeline_new(sl_pipeline_conf *conf);
/* Starts the supervisor; then waits until the first creation of instances
 * either succeeded, is waiting for a server (SLUICE_RETRY), or failed for
 * good.  Returns -1 only in the last case, with the reason in err. */
int sl_pipeline_start(sl_pipeline *p, char *err, size_t errlen);
void sl_pipeline_request_stop(sl_pipeline *p);
void sl_pipeline_abort(sl_pipeline *p);
void sl_pipeline_join(sl_pipeline *p);
void sl_pipeline_free(sl_pipeline *p);
sl_pipe_state sl_pipeline_state(const sl_pipeline *p);
int sl_pipeline_ready(sl_pipeline *p);
void sl_pipeline_set_error(sl_pipeline *p, const char *fmt, ...) SLUICE_PRINTF(2, 3);
/* SIGHUP: a pipeline waiting to restart (parked or restarting) retries now. */
void sl_pipeline_retry_now(sl_pipeline *p);
/* ms until the next restart while parked or restarting, -1 if none. */
int64_t sl_pipeline_next_try_ms(sl_pipeline *p);
/* Reads the spool's numbers into the metrics.  Cheap; called by the sink
 * loop and a timer; does nothing more often than every 250 ms unless force. */
void sl_pipeline_spool_tick(sl_pipeline *p, int force);

/* Internals shared by the pipeline's files. */
/* Marks the run failed.  A more specific reason (a refused record) is kept
 * when a plain error follows it, never the other way round. */
void sl_pipeline_fail(sl_pipeline *p, sl_run_fail why);
static inline int sl_pipeline_failed(sl_pipeline *p)
{
    return atomic_load(&p->failed) != SL_RUN_OK;
}
int sl_pipeline_sleep(sl_pipeline *p, int64_t ms);   /* 1 if woken by stop */
int64_t sl_backoff_next(int64_t cur, int64_t initial, int64_t max);
int sl_instances_create(sl_pipeline *p, int *retriable, char *err, size_t errlen);
void sl_instances_destroy(sl_pipeline *p);
void *sl_source_thread(void *arg);
void *sl_spool_source_thread(void *arg);
/* Acknowledges a batch to the source (ops->ack), retrying a few times. */
void sl_source_ack(sl_pipeline *p, const sluice_batch *b);
/* Routes the records the source failed in b by the error policy (disk
 * buffer: before the spool).  -1 when the pipeline must stop. */
int sl_route_source_failures(sl_pipeline *p, const sluice_batch *b);
/* Processes one slot: transforms, sink, dead letters, then acknowledgement
 * (to the source, or with a disk buffer the spool's release).
 * Returns 0, or -1 on a fatal error (the pipeline fails without acking). */
int sl_slot_process(sl_pipeline *p, sl_slot *s);

#endif
