/* The guard slots and the watchdog thread (see guard.h). */
#include "guard.h"

#include "log.h"
#include "metrics.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <sluice/sluice_time.h>

/* More threads than this run no watchdog (they still run): two per
 * pipeline plus transient ones, so hundreds of pipelines fit. */
#define MAX_SLOTS 1024
#define TICK_MS 200
/* After the shutdown deadline has made retries give up, the pipelines get
 * this long to unwind before the process ends regardless. */
#define GRACE_MS 1000
/* How long `sluice run` waits for one pipeline's first init before it
 * starts the next pipeline anyway. */
#define START_WAIT_MS 10000
/* Per thread, so that a stack overflow is reported too; ample for the
 * crash report and backtrace(). */
#define ALTSTACK_BYTES (64 * 1024)

_Thread_local sl_guard_slot *sl_guard_tls;

static sl_guard_slot g_slots[MAX_SLOTS];
static _Atomic int g_hiwater;            /* slots ever claimed: scans stop there */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv;
static pthread_t g_thread;
static int g_running, g_quit;
static pthread_key_t g_key;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;

static int64_t g_shutdown_ms = 30000;
static _Atomic int64_t g_soft_at;        /* 0 until a shutdown began */
static _Atomic int g_stop_sig;           /* taken during start-up, for the main loop */
static _Atomic int g_stop_sig_taken;

int64_t sl_guard_now_ms(void)
{
    return sluice_mono_ms();
}

/* At thread exit: give the slot back and drop our alternate stack. */
static void slot_release(void *arg)
{
    sl_guard_slot *s = arg;
    if (s->altstack) {
        stack_t off = {.ss_flags = SS_DISABLE};
        if (sigaltstack(&off, NULL) == 0)
            free(s->altstack);
        s->altstack = NULL;
    }
    /* A callback cannot be running any more: close it for the watchdog. */
    unsigned gen = atomic_load(&s->gen);
    if (gen & 1u)
        atomic_store(&s->gen, gen + 1u);
    sl_guard_tls = NULL;
    atomic_store(&s->in_use, 0);
}

static void key_init(void) { pthread_key_create(&g_key, slot_release); }

sl_guard_slot *sl_guard_claim(void)
{
    /* A thread that found every slot taken does not search again per call. */
    static _Thread_local int no_slot;
    if (no_slot)
        return NULL;
    pthread_once(&g_key_once, key_init);
    for (int i = 0; i < MAX_SLOTS; i++) {
        int expected = 0;
        if (!atomic_compare_exchange_strong(&g_slots[i].in_use, &expected, 1))
            continue;
        sl_guard_slot *s = &g_slots[i];
        atomic_store(&s->tid, (int)syscall(SYS_gettid));
        int hw = atomic_load(&g_hiwater);
        while (hw < i + 1 && !atomic_compare_exchange_weak(&g_hiwater, &hw, i + 1))
            ;
        /* An alternate signal stack, unless someone (ASan) set one: the
         * crash report must run even when the thread overflowed its own. */
        stack_t cur;
        s->altstack = NULL;
        if (sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_DISABLE)) {
            stack_t st = {.ss_sp = malloc(ALTSTACK_BYTES), .ss_size = ALTSTACK_BYTES};
            if (st.ss_sp && sigaltstack(&st, NULL) == 0)
                s->altstack = st.ss_sp;
            else
                free(st.ss_sp);
        }
        sl_guard_tls = s;
        pthread_setspecific(g_key, s);
        return s;
    }
    no_slot = 1;
    return NULL;
}

void sl_guard_pipe_init(sl_guard_pipe *g, const char *name, int64_t limit_ms, const void *owner)
{
    g->name = name;
    g->limit_ms = limit_ms > 0 ? limit_ms : 300000;
    g->stuck = 0;
    sl_metrics *m = sl_metrics_global();
    g->stuck_total = sl_metric_register(
        m, SLUICE_METRIC_COUNTER, "sluice_pipeline_stuck_total",
        "Plugin callbacks that had not returned within watchdog.timeout", name, "pipeline",
        NULL, owner);
    g->stuck_now = sl_metric_register(
        m, SLUICE_METRIC_GAUGE, "sluice_pipeline_stuck",
        "Plugin callbacks of the pipeline over watchdog.timeout right now", name, "pipeline",
        NULL, owner);
}

void sl_guard_pipe_fini(sl_guard_pipe *g)
{
    pthread_mutex_lock(&g_mu);
    int hw = atomic_load(&g_hiwater);
    for (int i = 0; i < hw; i++) {
        sl_guard_slot *s = &g_slots[i];
        if (s->flagged == g)
            s->flagged = NULL;
        sl_guard_pipe *expected = g;
        atomic_compare_exchange_strong(&s->pipe, &expected, NULL);
    }
    pthread_mutex_unlock(&g_mu);
}

static void fmt_duration(char *buf, size_t len, int64_t ms)
{
    if (ms % 1000 == 0)
        snprintf(buf, len, "%llds", (long long)(ms / 1000));
    else
        snprintf(buf, len, "%lldms", (long long)ms);
}

static void unflag(sl_guard_slot *s, int64_t now)
{
    sl_guard_pipe *g = s->flagged;
    s->flagged = NULL;
    if (!g)
        return;
    g->stuck--;
    sl_metric_set(g->stuck_now, g->stuck);
    sl_log(SLUICE_LOG_WARN, g->name, s->f_stage,
           "watchdog: %s.%s of plugin \"%s\" returned after %lld s%s", s->f_stage,
           s->f_callback, s->f_plugin, (long long)((now - s->seen_at_ms) / 1000),
           g->stuck ? "" : "; the pipeline is no longer stuck");
}

/* One look at every slot, under g_mu. */
static void scan(int64_t now)
{
    int hw = atomic_load(&g_hiwater);
    for (int i = 0; i < hw; i++) {
        sl_guard_slot *s = &g_slots[i];
        unsigned gen = atomic_load_explicit(&s->gen, memory_order_acquire);
        if (gen != s->seen_gen) {
            unflag(s, now);
            s->seen_gen = gen;
            s->seen_at_ms = now;
            continue;
        }
        if (!(gen & 1u) || s->flagged)
            continue;
        sl_guard_pipe *g = atomic_load(&s->pipe);
        if (!g)
            continue;
        int64_t allow = atomic_load(&s->allow_ms);
        if (now - s->seen_at_ms <= g->limit_ms + allow)
            continue;
        s->flagged = g;
        s->f_stage = atomic_load(&s->stage);
        s->f_plugin = atomic_load(&s->plugin);
        s->f_callback = atomic_load(&s->callback);
        g->stuck++;
        sl_metric_add(g->stuck_total, 1);
        sl_metric_set(g->stuck_now, g->stuck);
        char lim[32];
        fmt_duration(lim, sizeof lim, g->limit_ms);
        sl_log(SLUICE_LOG_ERROR, g->name, s->f_stage,
               "watchdog: %s.%s of plugin \"%s\" has not returned for %lld s (watchdog.timeout "
               "%s); the pipeline is stuck and /health answers 503 until it returns",
               s->f_stage, s->f_callback, s->f_plugin, (long long)((now - s->seen_at_ms) / 1000),
               lim);
    }
}

/* Names every callback still running; for the last words before _exit. */
static void log_running(int64_t now)
{
    int hw = atomic_load(&g_hiwater), n = 0;
    for (int i = 0; i < hw; i++) {
        sl_guard_slot *s = &g_slots[i];
        if (!(atomic_load(&s->gen) & 1u) || !atomic_load(&s->in_use))
            continue;
        sl_guard_pipe *g = atomic_load(&s->pipe);
        n++;
        sl_log(SLUICE_LOG_ERROR, g ? g->name : NULL, atomic_load(&s->stage),
               "shutdown deadline passed: %s.%s of plugin \"%s\" has not returned (running for "
               "%lld s)",
               atomic_load(&s->stage), atomic_load(&s->callback), atomic_load(&s->plugin),
               (long long)((now - s->seen_at_ms) / 1000));
    }
    if (!n)
        sl_log(SLUICE_LOG_ERROR, NULL, NULL,
               "shutdown deadline passed: the pipelines did not finish stopping");
}

static void *watchdog(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g_mu);
    while (!g_quit) {
        struct timespec until = sluice_deadline_ms(TICK_MS);
        pthread_cond_timedwait(&g_cv, &g_mu, &until);
        if (g_quit)
            break;
        int64_t now = sl_guard_now_ms();
        scan(now);
        int64_t soft = atomic_load(&g_soft_at);
        if (soft && now >= soft + GRACE_MS) {
            log_running(now);
            sl_log(SLUICE_LOG_ERROR, NULL, NULL,
                   "exiting with status 1 without waiting for them; records not acknowledged "
                   "will be replayed by sources that can replay");
            _exit(1);
        }
    }
    pthread_mutex_unlock(&g_mu);
    return NULL;
}

int sl_guard_start(int64_t shutdown_ms)
{
    g_shutdown_ms = shutdown_ms;
    sluice_cond_init_monotonic(&g_cv);
    g_quit = 0;
    if (pthread_create(&g_thread, NULL, watchdog, NULL) != 0)
        return -1;
    g_running = 1;
    return 0;
}

void sl_guard_stop(void)
{
    if (!g_running)
        return;
    pthread_mutex_lock(&g_mu);
    g_quit = 1;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
    pthread_join(g_thread, NULL);
    pthread_cond_destroy(&g_cv);
    g_running = 0;
}

int64_t sl_guard_shutdown_begin(void)
{
    int64_t expected = 0, at = sl_guard_now_ms() + g_shutdown_ms;
    if (!atomic_compare_exchange_strong(&g_soft_at, &expected, at))
        return expected;
    return at;
}

int sl_guard_poll_stop_signal(const char *pipeline, const char *doing)
{
    int sig = atomic_load(&g_stop_sig);
    if (sig)
        return sig;
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    struct timespec zero = {0, 0};
    sig = sigtimedwait(&stop, NULL, &zero);
    if (sig <= 0)
        return 0;
    atomic_store(&g_stop_sig, sig);
    /* The deadline runs from the signal, not from when the main loop
     * gets to it. */
    sl_guard_shutdown_begin();
    sl_log(SLUICE_LOG_INFO, pipeline, NULL, "%s %s", sig == SIGTERM ? "SIGTERM" : "SIGINT",
           doing);
    return sig;
}

int sl_guard_start_wait(const char *pipeline, int64_t since_ms)
{
    if (sl_guard_poll_stop_signal(pipeline,
                                  "during start-up: not waiting for the pipeline to start"))
        return 0;
    if (sl_guard_now_ms() - since_ms >= START_WAIT_MS) {
        sl_log(SLUICE_LOG_WARN, pipeline, NULL,
               "a plugin's init has not returned after %d s; starting the other pipelines "
               "meanwhile (the watchdog reports it if it never does)",
               START_WAIT_MS / 1000);
        return 0;
    }
    return 1;
}

int sl_guard_take_stop_signal(void)
{
    int sig = atomic_load(&g_stop_sig);
    if (!sig || atomic_exchange(&g_stop_sig_taken, 1))
        return 0;
    return sig;
}

char *sl_guard_health_json(void *unused)
{
    (void)unused;
    json_t *arr = NULL;
    char reason[512] = "";
    int64_t now = sl_guard_now_ms();
    pthread_mutex_lock(&g_mu);
    int hw = atomic_load(&g_hiwater);
    for (int i = 0; i < hw; i++) {
        sl_guard_slot *s = &g_slots[i];
        sl_guard_pipe *g = s->flagged;
        if (!g)
            continue;
        if (!arr)
            arr = json_array();
        long long secs = (long long)((now - s->seen_at_ms) / 1000);
        if (!reason[0])
            snprintf(reason, sizeof reason,
                     "pipeline \"%s\": %s.%s of plugin \"%s\" has not returned for %lld s",
                     g->name, s->f_stage, s->f_callback, s->f_plugin, secs);
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}", "pipeline", g->name,
                                             "stage", s->f_stage, "plugin", s->f_plugin,
                                             "callback", s->f_callback, "seconds",
                                             (json_int_t)secs, "timeout_ms",
                                             (json_int_t)g->limit_ms));
    }
    pthread_mutex_unlock(&g_mu);
    if (!arr)
        return NULL;
    json_t *doc = json_pack("{s:s,s:s,s:o}", "health", "stuck", "reason", reason, "stuck", arr);
    char *out = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!out)
        return strdup("{\"health\":\"stuck\"}");
    size_t n = strlen(out);
    char *nl = realloc(out, n + 2);
    if (!nl)
        return out;
    nl[n] = '\n';
    nl[n + 1] = '\0';
    return nl;
}
