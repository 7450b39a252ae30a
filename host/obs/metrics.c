/* The metrics registry: registration, release and the lock-free updates.
 * Rendering lives in metrics_render.c. */
#include "metrics_impl.h"
#include "log.h"

#include <sluice/sluice_util.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

const double sl_hist_bounds[SL_HIST_NB] = {SL_HIST_BOUNDS};

static uint64_t dbits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

double sl_metric_bits_to_double(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

sl_metrics *sl_metrics_new(void)
{
    sl_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

/* Makes room for one more element in an array of n; the array itself on
 * success (possibly moved), NULL on exhaustion with the array untouched. */
static void *grow(void *arr, size_t *cap, size_t n, size_t esz)
{
    if (n < *cap)
        return arr;
    size_t nc = *cap ? *cap * 2 : 8;
    void *p = realloc(arr, nc * esz);
    if (p)
        *cap = nc;
    return p;
}

static void series_free(sluice_metric *s)
{
    free(s->owners);
    free(s->labels);
    free(s);
}

static int owner_add(sluice_metric *s, const void *owner)
{
    for (size_t i = 0; i < s->n_owners; i++)
        if (s->owners[i] == owner)
            return 0;
    const void **a = grow(s->owners, &s->cap_owners, s->n_owners, sizeof *a);
    if (!a)
        return -1;
    s->owners = a;
    a[s->n_owners++] = owner;
    return 0;
}

/* Drops owner from s; 1 when nobody holds s any more. */
static int owner_remove(sluice_metric *s, const void *owner)
{
    for (size_t i = 0; i < s->n_owners; i++)
        if (s->owners[i] == owner) {
            s->owners[i] = s->owners[--s->n_owners];
            break;
        }
    return s->n_owners == 0;
}

static void family_free(sl_family *f)
{
    for (size_t i = 0; i < f->n; i++)
        series_free(f->series[i]);
    free(f->series);
    free(f->name);
    free(f->help);
    free(f);
}

void sl_metrics_free(sl_metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        family_free(m->fams[i]);
    free(m->fams);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static sl_metrics *g_global;
static pthread_once_t g_global_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
    g_global = sl_metrics_new();
    if (g_global)
        g_global->process = 1;
}

sl_metrics *sl_metrics_global(void)
{
    /* Lives for the whole process: pipelines and the HTTP thread may touch
     * it until exit, so there is no safe moment to free it. */
    pthread_once(&g_global_once, global_init);
    return g_global;
}

void sl_metrics_enable_process(sl_metrics *m, int on)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->process = on ? 1 : 0;
    pthread_mutex_unlock(&m->lock);
}

/* ------------------------------------------------------------------ */
/* Names and labels                                                    */
/* ------------------------------------------------------------------ */

static int valid_metric_name(const char *s)
{
    if (!s || !*s || (*s >= '0' && *s <= '9'))
        return 0;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == ':'))
            return 0;
    }
    return 1;
}

static int valid_label_name(const char *s, size_t len)
{
    if (len == 0 || (*s >= '0' && *s <= '9'))
        return 0;
    /* "__" is reserved to Prometheus itself. */
    if (len >= 2 && s[0] == '_' && s[1] == '_')
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return 0;
    }
    return 1;
}

/* A growable string for building label sets, NUL-terminated after every
 * append. */
typedef sluice_buf sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n)
{
    sluice_buf_put(b, s, n);
    sluice_buf_cstr(b);
}

/* Appends k="v" with v escaped as the text format demands: backslash,
 * double quote and line feed. */
static void sb_label(sbuf *b, const char *k, size_t klen, const char *v)
{
    if (b->len)
        sb_putn(b, ",", 1);
    sb_putn(b, k, klen);
    sb_putn(b, "=\"", 2);
    for (const char *run = v;; v++) {
        const char *esc = NULL;
        if (*v == '\\')
            esc = "\\\\";
        else if (*v == '"')
            esc = "\\\"";
        else if (*v == '\n')
            esc = "\\n";
        if (esc || !*v) {
            sb_putn(b, run, (size_t)(v - run));
            if (!*v)
                break;
            sb_putn(b, esc, 2);
            run = v + 1;
        }
    }
    sb_putn(b, "\"", 1);
}

/* Builds the canonical label text, or NULL (with *why set) when the extra
 * label is malformed.  Empty values are left out: Prometheus treats an empty
 * label as an absent one, and two spellings of one series must not exist. */
static char *make_labels(sluice_metric_kind kind, const char *pipeline, const char *stage,
                         const char *extra, const char **why)
{
    sbuf b = {0};
    if (pipeline && *pipeline)
        sb_label(&b, "pipeline", 8, pipeline);
    if (stage && *stage)
        sb_label(&b, "stage", 5, stage);
    if (extra && *extra) {
        const char *eq = strchr(extra, '=');
        size_t klen = eq ? (size_t)(eq - extra) : 0;
        if (!eq || !valid_label_name(extra, klen)) {
            *why = "extra label must be \"key=value\" with key [a-zA-Z_][a-zA-Z0-9_]*";
            free(b.p);
            return NULL;
        }
        if ((klen == 8 && !memcmp(extra, "pipeline", 8)) ||
            (klen == 5 && !memcmp(extra, "stage", 5)) ||
            (kind == SLUICE_METRIC_HISTOGRAM && klen == 2 && !memcmp(extra, "le", 2))) {
            *why = "extra label key is reserved by the host";
            free(b.p);
            return NULL;
        }
        if (eq[1])
            sb_label(&b, extra, klen, eq + 1);
    }
    if (!b.p)
        sb_putn(&b, "", 0);
    if (b.oom) {
        *why = "out of memory";
        free(b.p);
        return NULL;
    }
    /* Kept for the series' life: give back the buffer's spare room. */
    char *t = realloc(b.p, b.len + 1);
    return t ? t : b.p;
}

/* ------------------------------------------------------------------ */
/* Registration and release                                            */
/* ------------------------------------------------------------------ */

/* Binary search; returns the index of a match or of the insertion point. */
static size_t fam_find(const sl_metrics *m, const char *name, int *found)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->fams[mid]->name, name);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

static size_t series_find(const sl_family *f, const char *labels, int *found)
{
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->series[mid]->labels, labels);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

static int fam_insert(sl_metrics *m, size_t at, sl_family *f)
{
    sl_family **a = grow(m->fams, &m->cap, m->n, sizeof *a);
    if (!a)
        return -1;
    m->fams = a;
    memmove(a + at + 1, a + at, (m->n - at) * sizeof *a);
    a[at] = f;
    m->n++;
    return 0;
}

static int series_insert(sl_family *f, size_t at, sluice_metric *s)
{
    sluice_metric **a = grow(f->series, &f->cap, f->n, sizeof *a);
    if (!a)
        return -1;
    f->series = a;
    memmove(a + at + 1, a + at, (f->n - at) * sizeof *a);
    a[at] = s;
    f->n++;
    return 0;
}

static const char *kind_name(sluice_metric_kind k)
{
    switch (k) {
    case SLUICE_METRIC_COUNTER: return "counter";
    case SLUICE_METRIC_GAUGE: return "gauge";
    case SLUICE_METRIC_HISTOGRAM: return "histogram";
    }
    return "unknown";
}

static sl_family *family_get(sl_metrics *m, sluice_metric_kind kind, const char *name,
                             const char *help, const char **why)
{
    int found;
    size_t at = fam_find(m, name, &found);
    if (found) {
        sl_family *f = m->fams[at];
        if (f->kind != kind) {
            *why = "already registered as another kind";
            return NULL;
        }
        if (help && *help && !*f->help) {
            /* A lookup with empty help (tests, tools) may have come first. */
            char *h = strdup(help);
            if (h) {
                free(f->help);
                f->help = h;
            }
        } else if (help && *help && strcmp(help, f->help) != 0) {
            sl_log(SLUICE_LOG_WARN, NULL, "metrics",
                   "metric %s registered again with different help; keeping the first", name);
        }
        return f;
    }
    sl_family *f = calloc(1, sizeof *f);
    if (f) {
        f->kind = kind;
        f->name = strdup(name);
        f->help = strdup(help ? help : "");
    }
    if (!f || !f->name || !f->help || fam_insert(m, at, f) != 0) {
        if (f)
            family_free(f);
        *why = "out of memory";
        return NULL;
    }
    return f;
}

static void family_drop_if_empty(sl_metrics *m, sl_family *f)
{
    if (f->n)
        return;
    int found;
    size_t at = fam_find(m, f->name, &found);
    if (!found)
        return;
    memmove(m->fams + at, m->fams + at + 1, (m->n - at - 1) * sizeof *m->fams);
    m->n--;
    family_free(f);
}

sluice_metric *sl_metric_register(sl_metrics *m, sluice_metric_kind kind, const char *name,
                                  const char *help, const char *pipeline, const char *stage,
                                  const char *extra, const void *owner)
{
    const char *why = NULL;
    if (!m) {
        why = "no registry";
    } else if (kind != SLUICE_METRIC_COUNTER && kind != SLUICE_METRIC_GAUGE &&
               kind != SLUICE_METRIC_HISTOGRAM) {
        why = "unknown metric kind";
    } else if (!valid_metric_name(name)) {
        why = "name must match [a-zA-Z_:][a-zA-Z0-9_:]*";
    } else if (strcmp(name, "sluice_build_info") == 0 || strncmp(name, "process_", 8) == 0) {
        /* Rendered by the host itself; a second family would break scrapes. */
        why = "name is reserved by the host";
    }
    char *labels = why ? NULL : make_labels(kind, pipeline, stage, extra, &why);
    if (!labels) {
        sl_log(SLUICE_LOG_WARN, pipeline && *pipeline ? pipeline : NULL, "metrics",
               "metric %s not registered: %s", name ? name : "(null)", why);
        return NULL;
    }

    sluice_metric *s = NULL;
    pthread_mutex_lock(&m->lock);
    sl_family *f = family_get(m, kind, name, help, &why);
    if (f) {
        int found;
        size_t at = series_find(f, labels, &found);
        if (found) {
            s = f->series[at];
            if (owner_add(s, owner) != 0) {
                s = NULL;
                why = "out of memory";
            }
        } else if ((s = calloc(1, sizeof *s)) != NULL && owner_add(s, owner) == 0 &&
                   series_insert(f, at, s) == 0) {
            s->fam = f;
            s->kind = kind;
            s->labels = labels;
            labels = NULL;
        } else {
            if (s)
                free(s->owners);
            free(s);
            s = NULL;
            why = "out of memory";
            family_drop_if_empty(m, f);
        }
    }
    pthread_mutex_unlock(&m->lock);
    if (!s)
        sl_log(SLUICE_LOG_WARN, pipeline && *pipeline ? pipeline : NULL, "metrics",
               "metric %s (%s) not registered: %s", name, kind_name(kind), why);
    free(labels);
    return s;
}

void sl_metrics_release(sl_metrics *m, const void *owner)
{
    if (!m || !owner)
        return;
    pthread_mutex_lock(&m->lock);
    for (size_t i = m->n; i-- > 0;) {
        sl_family *f = m->fams[i];
        size_t keep = 0;
        for (size_t j = 0; j < f->n; j++) {
            if (owner_remove(f->series[j], owner))
                series_free(f->series[j]);
            else
                f->series[keep++] = f->series[j];
        }
        f->n = keep;
        family_drop_if_empty(m, f);
    }
    pthread_mutex_unlock(&m->lock);
}

/* ------------------------------------------------------------------ */
/* Updates: the per-record hot path.  No lock, no allocation, no syscall. */
/* ------------------------------------------------------------------ */

static void atomic_add_double(_Atomic uint64_t *bits, double v)
{
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(bits, &old,
                                                  dbits(sl_metric_bits_to_double(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

void sl_metric_add(sluice_metric *s, double v)
{
    if (!s || isnan(v))
        return;
    if (s->kind == SLUICE_METRIC_COUNTER) {
        /* A counter only grows; a negative step would read as a reset. */
        if (v > 0)
            atomic_add_double(&s->bits, v);
    } else if (s->kind == SLUICE_METRIC_GAUGE) {
        atomic_add_double(&s->bits, v);
    }
}

void sl_metric_set(sluice_metric *s, double v)
{
    /* Counters may be set too, for plugins that mirror a total kept by a
     * library (librdkafka, libpq); histograms only take observations. */
    if (!s || s->kind == SLUICE_METRIC_HISTOGRAM)
        return;
    atomic_store_explicit(&s->bits, dbits(v), memory_order_relaxed);
}

void sl_metric_observe(sluice_metric *s, double v)
{
    if (!s || s->kind != SLUICE_METRIC_HISTOGRAM || isnan(v))
        return;
    size_t i = 0;
    while (i < SL_HIST_NB && v > sl_hist_bounds[i])
        i++;
    atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
    atomic_add_double(&s->bits, v);
}

double sl_metric_value(const sluice_metric *s)
{
    if (!s)
        return 0;
    if (s->kind == SLUICE_METRIC_HISTOGRAM)
        return (double)sl_metric_count(s);
    return sl_metric_bits_to_double(atomic_load_explicit(&s->bits, memory_order_relaxed));
}

uint64_t sl_metric_count(const sluice_metric *s)
{
    if (!s || s->kind != SLUICE_METRIC_HISTOGRAM)
        return 0;
    uint64_t n = 0;
    for (size_t i = 0; i <= SL_HIST_NB; i++)
        n += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
    return n;
}

double sl_metric_sum(const sluice_metric *s)
{
    if (!s || s->kind != SLUICE_METRIC_HISTOGRAM)
        return 0;
    return sl_metric_bits_to_double(atomic_load_explicit(&s->bits, memory_order_relaxed));
}
