/* Renders a registry in the Prometheus text exposition format 0.0.4, plus
 * the process metrics every Prometheus client library exports, so the
 * usual dashboards and alerts work unchanged. */
#include "metrics_impl.h"

#include <sluice/sluice_text.h>

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "unknown"
#endif

/* Every append keeps the text NUL-terminated, as the caller hands it out. */
typedef sluice_buf out;

static void put(out *o, const char *s, size_t n)
{
    sluice_buf_put(o, s, n);
    sluice_buf_cstr(o);
}

static void puts_(out *o, const char *s) { put(o, s, strlen(s)); }

/* Shortest text that reads back as the same double, in the spelling
 * Prometheus uses for the special values. */
static const char *fmt_double(char buf[40], double v)
{
    if (isnan(v))
        return "NaN";
    if (isinf(v))
        return v > 0 ? "+Inf" : "-Inf";
    sluice_fmt_double(buf, v);
    return buf;
}

/* HELP text escapes backslash and line feed only (quotes stay). */
static void put_help(out *o, const char *name, const char *help, const char *type)
{
    puts_(o, "# HELP ");
    puts_(o, name);
    put(o, " ", 1);
    /* An empty docstring is legal but useless in Grafana's metric browser. */
    const char *h = *help ? help : name;
    for (const char *run = h;; h++) {
        if (*h == '\\' || *h == '\n' || !*h) {
            put(o, run, (size_t)(h - run));
            if (!*h)
                break;
            puts_(o, *h == '\\' ? "\\\\" : "\\n");
            run = h + 1;
        }
    }
    puts_(o, "\n# TYPE ");
    puts_(o, name);
    put(o, " ", 1);
    puts_(o, type);
    put(o, "\n", 1);
}

/* name[suffix]{labels[,extra]} value\n */
static void put_sample(out *o, const char *name, const char *suffix, const char *labels,
                       const char *extra, const char *value)
{
    puts_(o, name);
    puts_(o, suffix);
    if (*labels || *extra) {
        put(o, "{", 1);
        puts_(o, labels);
        if (*labels && *extra)
            put(o, ",", 1);
        puts_(o, extra);
        put(o, "}", 1);
    }
    put(o, " ", 1);
    puts_(o, value);
    put(o, "\n", 1);
}

static void put_histogram(out *o, const sl_family *f, const sluice_metric *s)
{
    char num[40], le[64];
    uint64_t cum = 0;
    for (size_t i = 0; i <= SL_HIST_NB; i++) {
        cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        char b[40];
        snprintf(le, sizeof le, "le=\"%s\"",
                 i < SL_HIST_NB ? fmt_double(b, sl_hist_bounds[i]) : "+Inf");
        snprintf(num, sizeof num, "%llu", (unsigned long long)cum);
        put_sample(o, f->name, "_bucket", s->labels, le, num);
    }
    double sum = sl_metric_bits_to_double(atomic_load_explicit(&s->bits, memory_order_relaxed));
    put_sample(o, f->name, "_sum", s->labels, "", fmt_double(num, sum));
    /* The count is the cumulative +Inf bucket, so the two always agree even
     * while observations land during the render. */
    snprintf(num, sizeof num, "%llu", (unsigned long long)cum);
    put_sample(o, f->name, "_count", s->labels, "", num);
}

static const char *type_name(sluice_metric_kind k)
{
    return k == SLUICE_METRIC_COUNTER ? "counter" : k == SLUICE_METRIC_GAUGE ? "gauge"
                                                                              : "histogram";
}

/* ------------------------------------------------------------------ */
/* Process metrics, read from /proc at scrape time                     */
/* ------------------------------------------------------------------ */

/* Start time in seconds since the epoch: boot time plus the process's start
 * in clock ticks since boot (field 22 of /proc/self/stat).  0 if unknown. */
static double process_start_time(void)
{
    double btime = 0, ticks = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "btime %lf", &btime) == 1)
                break;
        fclose(f);
    }
    f = fopen("/proc/self/stat", "r");
    if (f) {
        char buf[1024];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
        /* The command name may hold spaces and parentheses: skip past the
         * last ')' and count fields from there (field 3 is the state). */
        char *p = strrchr(buf, ')');
        for (int field = 2; p && field < 22; field++)
            p = strchr(p + 1, ' ');
        if (p)
            ticks = strtod(p + 1, NULL);
    }
    long hz = sysconf(_SC_CLK_TCK);
    if (btime <= 0 || ticks <= 0 || hz <= 0)
        return 0;
    return btime + ticks / (double)hz;
}

static double open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    double n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory stream's own descriptor */
}

static double resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    unsigned long size = 0, rss = 0;
    int ok = fscanf(f, "%lu %lu", &size, &rss) == 2;
    fclose(f);
    return ok ? (double)rss * (double)sysconf(_SC_PAGESIZE) : -1;
}

static void put_simple(out *o, const char *name, const char *help, const char *type,
                       const char *labels, double v)
{
    char num[40];
    put_help(o, name, help, type);
    put_sample(o, name, "", labels, "", fmt_double(num, v));
}

static double g_start;
static pthread_once_t g_start_once = PTHREAD_ONCE_INIT;

static void start_init(void) { g_start = process_start_time(); }

static void put_process(out *o)
{
    pthread_once(&g_start_once, start_init);
    double start = g_start;
    char labels[128];
    snprintf(labels, sizeof labels, "version=\"%s\",abi=\"%d.%d\"", SLUICE_VERSION,
             SLUICE_ABI_MAJOR, SLUICE_ABI_MINOR);
    put_simple(o, "sluice_build_info", "Always 1; the labels name the sluice version and ABI",
               "gauge", labels, 1);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        put_simple(o, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds",
                   "counter", "",
                   (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        put_simple(o, "process_max_fds", "Maximum number of open file descriptors", "gauge", "",
                   (double)rl.rlim_cur);
    double fds = open_fds();
    if (fds >= 0)
        put_simple(o, "process_open_fds", "Number of open file descriptors", "gauge", "", fds);
    double rss = resident_bytes();
    if (rss >= 0)
        put_simple(o, "process_resident_memory_bytes", "Resident memory size in bytes", "gauge",
                   "", rss);
    if (start > 0)
        put_simple(o, "process_start_time_seconds",
                   "Start time of the process since unix epoch in seconds", "gauge", "", start);
}

char *sl_metrics_render(sl_metrics *m, size_t *len)
{
    out o = {0};
    if (!m)
        return NULL;
    put(&o, "", 0);

    pthread_mutex_lock(&m->lock);
    int process = m->process;
    for (size_t i = 0; i < m->n; i++) {
        const sl_family *f = m->fams[i];
        put_help(&o, f->name, f->help, type_name(f->kind));
        for (size_t j = 0; j < f->n; j++) {
            const sluice_metric *s = f->series[j];
            if (f->kind == SLUICE_METRIC_HISTOGRAM) {
                put_histogram(&o, f, s);
            } else {
                char num[40];
                double v =
                    sl_metric_bits_to_double(atomic_load_explicit(&s->bits, memory_order_relaxed));
                put_sample(&o, f->name, "", s->labels, "", fmt_double(num, v));
            }
        }
    }
    pthread_mutex_unlock(&m->lock);

    /* Outside the lock: these read /proc, and registration need not wait. */
    if (process)
        put_process(&o);
    if (o.oom) {
        free(o.p);
        return NULL;
    }
    if (len)
        *len = o.len;
    return o.p;
}
