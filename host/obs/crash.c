/* The fatal-signal and exit() reporters (see crash.h).  Everything the
 * signal handler does is async-signal-safe: it formats into a static buffer
 * with its own digit routines, reads the thread's guard slot (pointers to
 * strings that outlive the callback), and writes with write(2).
 * backtrace() is called once at install time, because its first call loads
 * libgcc's unwinder with dlopen and malloc, which a handler must not do. */
#include "crash.h"

#include "log.h"
#include "runtime/guard.h"

#include <execinfo.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STATUS_PLUGIN_EXIT 70 /* EX_SOFTWARE */

static const int fatal_sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#define N_FATAL (sizeof fatal_sigs / sizeof *fatal_sigs)
static struct sigaction g_old[N_FATAL];
static _Atomic int g_ours;       /* sluice itself decided to exit */
static _Atomic int g_reporting;  /* one thread reports; others wait to die */
static char g_main_altstack[64 * 1024];

int sl_crash_exit_ours(int rc)
{
    atomic_store(&g_ours, 1);
    return rc;
}

/* A line assembled without stdio. */
typedef struct line {
    char b[2048];
    size_t n;
} line;

static void put(line *l, const char *s)
{
    for (size_t i = 0; s && s[i] && i < 256 && l->n < sizeof l->b - 2; i++)
        l->b[l->n++] = s[i];
}

/* s as the body of a JSON string. */
static void put_json(line *l, const char *s)
{
    for (size_t i = 0; s && s[i] && i < 1024 && l->n < sizeof l->b - 8; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            l->b[l->n++] = '\\';
            l->b[l->n++] = (char)c;
        } else if (c < 0x20) {
            l->b[l->n++] = ' ';
        } else {
            l->b[l->n++] = (char)c;
        }
    }
}

static void put_uint(line *l, unsigned long long v, int width)
{
    char d[24];
    int n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n < (int)sizeof d);
    while (n < width && n < (int)sizeof d)
        d[n++] = '0';
    while (n && l->n < sizeof l->b - 2)
        l->b[l->n++] = d[--n];
}

static void put_hex(line *l, uintptr_t v)
{
    char d[2 + 2 * sizeof v];
    int n = 0;
    do {
        d[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    put(l, "0x");
    while (n && l->n < sizeof l->b - 2)
        l->b[l->n++] = d[--n];
}

/* The log's timestamp format, from the realtime clock (days to civil date:
 * Howard Hinnant's algorithm, which needs no tables and no locale). */
static void put_timestamp(line *l)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long secs = ts.tv_sec, days = secs / 86400, sod = secs % 86400;
    long long z = days + 719468, era = z / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
    long long m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    put_uint(l, (unsigned long long)y, 4);
    put(l, "-");
    put_uint(l, (unsigned long long)m, 2);
    put(l, "-");
    put_uint(l, (unsigned long long)d, 2);
    put(l, "T");
    put_uint(l, (unsigned long long)(sod / 3600), 2);
    put(l, ":");
    put_uint(l, (unsigned long long)(sod / 60 % 60), 2);
    put(l, ":");
    put_uint(l, (unsigned long long)(sod % 60), 2);
    put(l, ".");
    put_uint(l, (unsigned long long)(ts.tv_nsec / 1000000), 3);
    put(l, "Z");
}

static void flush_line(line *l)
{
    l->b[l->n++] = '\n';
    size_t off = 0;
    while (off < l->n) {
        ssize_t w = write(STDERR_FILENO, l->b + off, l->n - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    l->n = 0;
}

static const char *sig_name(int sig, const char **what)
{
    switch (sig) {
    case SIGSEGV: *what = "invalid memory access"; return "SIGSEGV";
    case SIGBUS: *what = "bus error"; return "SIGBUS";
    case SIGFPE: *what = "arithmetic error"; return "SIGFPE";
    case SIGILL: *what = "illegal instruction"; return "SIGILL";
    case SIGABRT: *what = "aborted"; return "SIGABRT";
    default: *what = "fatal signal"; return "signal";
    }
}

/* The thread's pipeline, and whether a callback is running now. */
static int context(const sl_guard_slot *s, const sl_guard_pipe **gp)
{
    *gp = s ? atomic_load(&s->pipe) : NULL;
    return s && (atomic_load(&s->gen) & 1u) != 0;
}

/* Writes msg as an error line in the log's format (sl_logv's layout). */
static void emit(const sl_guard_slot *s, const sl_guard_pipe *g, const line *msg)
{
    static line l;
    char body[sizeof msg->b];
    size_t n = msg->n < sizeof body - 1 ? msg->n : sizeof body - 1;
    memcpy(body, msg->b, n);
    body[n] = '\0';
    const char *pipe = g && g->name ? g->name : NULL;
    const char *stage = pipe ? atomic_load(&s->stage) : NULL;
    l.n = 0;
    if (sl_log_is_json()) {
        put(&l, "{\"ts\":\"");
        put_timestamp(&l);
        put(&l, "\",\"level\":\"error\"");
        if (pipe) {
            put(&l, ",\"pipeline\":\"");
            put_json(&l, pipe);
            put(&l, "\",\"component\":\"");
            put_json(&l, stage);
            put(&l, "\"");
        }
        put(&l, ",\"msg\":\"");
        put_json(&l, body);
        put(&l, "\"}");
    } else {
        put_timestamp(&l);
        put(&l, " error ");
        if (pipe) {
            put(&l, "[");
            put(&l, pipe);
            put(&l, "/");
            put(&l, stage);
            put(&l, "] ");
        }
        for (size_t i = 0; i < n && l.n < sizeof l.b - 2; i++)
            l.b[l.n++] = body[i];
    }
    flush_line(&l);
}

/* "sink.write of plugin "x" in pipeline "p"" */
static void put_callback(line *l, const sl_guard_slot *s, const sl_guard_pipe *g)
{
    put(l, atomic_load(&s->stage));
    put(l, ".");
    put(l, atomic_load(&s->callback));
    put(l, " of plugin \"");
    put(l, atomic_load(&s->plugin));
    put(l, "\" in pipeline \"");
    put(l, g && g->name ? g->name : "?");
    put(l, "\"");
}

static void report_signal(int sig, const siginfo_t *si)
{
    static line l;
    const sl_guard_slot *s = sl_guard_tls;
    const sl_guard_pipe *g;
    const char *what, *name = sig_name(sig, &what);
    l.n = 0;
    int in_cb = context(s, &g);
    put(&l, "fatal signal ");
    put(&l, name);
    put(&l, " (");
    put(&l, what);
    if ((sig == SIGSEGV || sig == SIGBUS) && si && si->si_code > 0) {
        put(&l, " at ");
        put_hex(&l, (uintptr_t)si->si_addr);
    }
    put(&l, ") ");
    if (in_cb) {
        put(&l, "in ");
        put_callback(&l, s, g);
    } else if (s && g) {
        put(&l, "in sluice itself, outside any plugin callback (the last one, ");
        put_callback(&l, s, g);
        put(&l, ", had returned)");
    } else {
        put(&l, "on a thread that runs no plugin callback (sluice's own or a library's)");
    }
    put(&l, ", thread ");
    put_uint(&l, s ? (unsigned long long)atomic_load(&s->tid) : 0, 1);
    put(&l, "; the process ends now so that its supervisor restarts it; backtrace:");
    emit(s, g, &l);
    void *frames[64];
    int n = backtrace(frames, 64);
    backtrace_symbols_fd(frames, n, STDERR_FILENO);
}

static void on_fatal(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (atomic_exchange(&g_reporting, 1)) {
        /* Another thread is reporting and will end the process.  (Plain
         * nanosleep, not sluice_sleep_ms: this is a signal handler, and
         * only nanosleep is on POSIX's async-signal-safe list.) */
        for (;;) {
            struct timespec ts = {1, 0};
            nanosleep(&ts, NULL);
        }
    }
    report_signal(sig, si);
    /* Hand the signal to whoever had it before us: the default action (the
     * exit status then names the signal, and a core is written where
     * enabled) or a sanitizer's handler. */
    for (size_t i = 0; i < N_FATAL; i++) {
        if (fatal_sigs[i] != sig)
            continue;
        struct sigaction old = g_old[i];
        if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_IGN)
            old.sa_handler = SIG_DFL;
        sigaction(sig, &old, NULL);
    }
    /* A fault returns to the faulting instruction, which faults again, now
     * under the old action; a sent signal (kill, raise, abort) must be sent
     * again. */
    if (!si || si->si_code <= 0)
        raise(sig);
}

static void on_exit_report(int status, void *arg)
{
    (void)arg;
    if (atomic_load(&g_ours))
        return;
    static line l;
    const sl_guard_slot *s = sl_guard_tls;
    const sl_guard_pipe *g;
    l.n = 0;
    int in_cb = context(s, &g);
    if (in_cb) {
        put(&l, "plugin \"");
        put(&l, atomic_load(&s->plugin));
        put(&l, "\" called exit(");
        put_uint(&l, (unsigned)status, 1);
        put(&l, ") in ");
        put(&l, atomic_load(&s->stage));
        put(&l, ".");
        put(&l, atomic_load(&s->callback));
        put(&l, " of pipeline \"");
        put(&l, g && g->name ? g->name : "?");
        put(&l, "\"; plugins must never exit");
    } else {
        put(&l, "exit(");
        put_uint(&l, (unsigned)status, 1);
        put(&l, ") was called outside any plugin callback, by a plugin's or library's own "
                "thread or constructor; sluice did not decide to exit");
    }
    put(&l, "; exiting with status 70");
    emit(s, g, &l);
    _exit(STATUS_PLUGIN_EXIT);
}

void sl_crash_install(void)
{
    void *warm[4];
    backtrace(warm, 4);
    /* The main thread's alternate stack; pipeline threads get theirs from
     * the guard.  Keep one a sanitizer already set. */
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_DISABLE)) {
        stack_t st = {.ss_sp = g_main_altstack, .ss_size = sizeof g_main_altstack};
        sigaltstack(&st, NULL);
    }
    for (size_t i = 0; i < N_FATAL; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_fatal;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        sigaction(fatal_sigs[i], &sa, &g_old[i]);
    }
    on_exit(on_exit_report, NULL);
}
