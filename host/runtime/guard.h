/* Which plugin callback each thread is running, and what watches them.
 *
 * Every call into a plugin is bracketed by SL_GUARD_ENTER / SL_GUARD_LEAVE.
 * They record, in a slot owned by the calling thread, the pipeline, stage,
 * plugin and callback, so that
 *   - the crash handler (crash.c) can say who was running when a fatal
 *     signal arrived, from a signal handler (the slot holds only pointers to
 *     strings that outlive the call: no formatting, no locks);
 *   - an exit() called by a plugin can be blamed on it (crash.c);
 *   - the watchdog thread can mark a pipeline stuck when a callback has not
 *     returned within its pipeline's watchdog.timeout, and can end the
 *     process when a shutdown outlives --shutdown-timeout.
 *
 * ENTER and LEAVE cost a few stores to a thread-local slot and no clock
 * read: the watchdog notices a callback by its generation number and times
 * it itself, so the guard can stay on per-record transform calls. */
#ifndef SL_GUARD_H
#define SL_GUARD_H

#include <sluice/sluice.h>
#include <stdatomic.h>
#include <stdint.h>

/* The watchdog's view of one pipeline; embedded in sl_pipeline. */
typedef struct sl_guard_pipe {
    const char *name;            /* the pipeline's name (its conf outlives this) */
    int64_t limit_ms;            /* watchdog.timeout */
    int stuck;                   /* callbacks over the limit now; under the guard lock */
    sluice_metric *stuck_total, *stuck_now;
} sl_guard_pipe;

typedef struct sl_guard_slot {
    _Atomic int in_use;          /* claimed by a live thread */
    _Atomic unsigned gen;        /* odd while a callback runs; +2 per callback */
    sl_guard_pipe *_Atomic pipe;
    const char *_Atomic stage;   /* "source", "transform[0]", "sink", "dead_letter" */
    const char *_Atomic plugin;
    const char *_Atomic callback;/* "init", "poll", "write", ... */
    _Atomic int64_t allow_ms;    /* time the host itself granted (a poll's timeout) */
    _Atomic int tid;
    void *altstack;              /* ours, freed at thread exit */
    /* The watchdog's own bookkeeping, under the guard lock. */
    unsigned seen_gen;
    int64_t seen_at_ms;
    sl_guard_pipe *flagged;      /* the pipeline this slot made stuck, or NULL */
    const char *f_stage, *f_plugin, *f_callback;
} sl_guard_slot;

extern _Thread_local sl_guard_slot *sl_guard_tls;
sl_guard_slot *sl_guard_claim(void);

static inline void sl_guard_enter(sl_guard_pipe *g, const char *stage, const char *plugin,
                                  const char *callback, int64_t allow_ms)
{
    sl_guard_slot *s = sl_guard_tls ? sl_guard_tls : sl_guard_claim();
    if (!s)
        return;
    atomic_store_explicit(&s->pipe, g, memory_order_relaxed);
    atomic_store_explicit(&s->stage, stage, memory_order_relaxed);
    atomic_store_explicit(&s->plugin, plugin, memory_order_relaxed);
    atomic_store_explicit(&s->callback, callback, memory_order_relaxed);
    atomic_store_explicit(&s->allow_ms, allow_ms, memory_order_relaxed);
    unsigned gen = atomic_load_explicit(&s->gen, memory_order_relaxed);
    atomic_store_explicit(&s->gen, (gen | 1u) + ((gen & 1u) ? 2u : 0u), memory_order_release);
}

static inline void sl_guard_leave(void)
{
    sl_guard_slot *s = sl_guard_tls;
    if (!s)
        return;
    unsigned gen = atomic_load_explicit(&s->gen, memory_order_relaxed);
    if (gen & 1u)
        atomic_store_explicit(&s->gen, gen + 1u, memory_order_release);
}

/* p is an sl_pipeline *; stage and plugin must outlive the call. */
#define SL_GUARD_ENTER(p, stage, plugin, cb) sl_guard_enter(&(p)->guard, stage, plugin, cb, 0)
#define SL_GUARD_ENTER_T(p, stage, plugin, cb, timeout_ms) \
    sl_guard_enter(&(p)->guard, stage, plugin, cb, timeout_ms)
#define SL_GUARD_LEAVE() sl_guard_leave()

/* Per pipeline: registers the stuck metrics (owned by `owner`, released
 * with the pipeline's other series); fini before the pipeline is freed. */
void sl_guard_pipe_init(sl_guard_pipe *g, const char *name, int64_t limit_ms, const void *owner);
void sl_guard_pipe_fini(sl_guard_pipe *g);

/* The watchdog thread.  shutdown_ms is --shutdown-timeout. */
int sl_guard_start(int64_t shutdown_ms);
void sl_guard_stop(void);

/* Arms the absolute shutdown deadline (the first call only) and returns
 * the moment retries are to be abandoned (CLOCK_MONOTONIC ms).  Past that
 * moment plus a grace second the watchdog ends the process with status 1,
 * naming the callbacks that had not returned, whatever the threads do. */
int64_t sl_guard_shutdown_begin(void);

/* For start-up waits on the main thread: 1 while waiting may go on, 0 once
 * SIGTERM/SIGINT arrived (taken and remembered for the main loop) or the
 * wait for `pipeline` has lasted the start-up limit since since_ms. */
int sl_guard_start_wait(const char *pipeline, int64_t since_ms);
/* Takes a pending SIGTERM/SIGINT on the main thread while it waits for
 * something else: remembers it for the main loop, arms the shutdown
 * deadline and logs "SIGTERM <doing>".  Returns the signal, or 0. */
int sl_guard_poll_stop_signal(const char *pipeline, const char *doing);
/* The stop signal taken while waiting, once; 0 if none. */
int sl_guard_take_stop_signal(void);

/* The /health hook: NULL while no pipeline is stuck, else a malloc'd JSON
 * document naming every stuck callback. */
char *sl_guard_health_json(void *unused);

int64_t sl_guard_now_ms(void);

#endif
