/* The metrics registry: dedup, kind/help consistency, label escaping,
 * name validation, counter/gauge/histogram semantics, release, and the
 * rendered text read back by a strict parser of the exposition format. */
#include "check.h"
#include "ctx.h"
#include "metrics.h"
#include "promtext.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int owner_a, owner_b;

/* Renders m and parses it; the test fails if the text is not valid. */
static char *render_parse(sl_metrics *m, pt_doc *doc)
{
    size_t len = 0;
    char *text = sl_metrics_render(m, &len);
    CHECK(text != NULL);
    if (!text) {
        memset(doc, 0, sizeof *doc);
        return NULL;
    }
    CHECK_INT_EQ(len, strlen(text));
    int rc = pt_parse(text, doc);
    if (rc != 0)
        fprintf(stderr, "render is not valid exposition text: %s\n%s", doc->err, text);
    CHECK_INT_EQ(rc, 0);
    return text;
}

static void test_dedup_and_kinds(void)
{
    sl_metrics *m = sl_metrics_new();
    sluice_metric *a = sl_metric_register(m, SLUICE_METRIC_COUNTER, "x_total", "X", "p", "sink",
                                          NULL, &owner_a);
    sluice_metric *a2 = sl_metric_register(m, SLUICE_METRIC_COUNTER, "x_total", "X", "p", "sink",
                                           NULL, &owner_b);
    CHECK(a != NULL);
    CHECK(a == a2);
    /* Every label takes part in the identity. */
    sluice_metric *b = sl_metric_register(m, SLUICE_METRIC_COUNTER, "x_total", "X", "p", "source",
                                          NULL, &owner_a);
    sluice_metric *c = sl_metric_register(m, SLUICE_METRIC_COUNTER, "x_total", "X", "q", "sink",
                                          NULL, &owner_a);
    sluice_metric *d = sl_metric_register(m, SLUICE_METRIC_COUNTER, "x_total", "X", "p", "sink",
                                          "topic=t1", &owner_a);
    sluice_metric *e = sl_metric_register(m, SLUICE_METRIC_COUNTER, "x_total", "X", "p", "sink",
                                          "topic=t2", &owner_a);
    CHECK(b && c && d && e);
    CHECK(b != a && c != a && d != a && e != d);
    /* An empty extra value is no label at all: the same series as none. */
    CHECK(sl_metric_register(m, SLUICE_METRIC_COUNTER, "x_total", "X", "p", "sink", "topic=",
                             &owner_a) == a);
    /* One name, one kind. */
    CHECK(sl_metric_register(m, SLUICE_METRIC_GAUGE, "x_total", "X", "p", "sink", NULL,
                             &owner_a) == NULL);
    CHECK(sl_metric_register(m, SLUICE_METRIC_HISTOGRAM, "x_total", "X", "z", NULL, NULL,
                             &owner_a) == NULL);
    CHECK(sl_metric_register(m, (sluice_metric_kind)99, "y", "Y", NULL, NULL, NULL, &owner_a) ==
          NULL);
    /* A lookup with empty help first (as the plugin tests do) does not leave
     * the family without its documentation. */
    sluice_metric *l = sl_metric_register(m, SLUICE_METRIC_GAUGE, "late_help", "", NULL, NULL,
                                          NULL, &owner_a);
    CHECK(sl_metric_register(m, SLUICE_METRIC_GAUGE, "late_help", "The real help", NULL, NULL,
                             NULL, &owner_a) == l);
    /* A conflicting help keeps the first one. */
    CHECK(sl_metric_register(m, SLUICE_METRIC_GAUGE, "late_help", "Other help", NULL, NULL, NULL,
                             &owner_a) == l);
    pt_doc doc;
    char *text = render_parse(m, &doc);
    const pt_family *f = pt_family_find(&doc, "late_help");
    CHECK(f && !strcmp(f->help, "The real help") && !strcmp(f->type, "gauge"));
    f = pt_family_find(&doc, "x_total");
    CHECK(f && !strcmp(f->type, "counter"));
    CHECK(pt_find(&doc, "x_total", "pipeline=\"p\",stage=\"sink\",topic=\"t1\"") != NULL);
    CHECK(pt_find(&doc, "x_total", "pipeline=\"p\",stage=\"sink\"") != NULL);
    CHECK_INT_EQ(doc.n, 6); /* 5 x_total series + late_help */
    pt_free(&doc);
    free(text);
    sl_metrics_free(m);
}

static void test_names_and_labels(void)
{
    sl_metrics *m = sl_metrics_new();
    const char *bad_names[] = {"", "1abc", "a-b", "a b", "é", "process_cpu_seconds_total",
                               "process_anything", "sluice_build_info"};
    for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++)
        CHECK(sl_metric_register(m, SLUICE_METRIC_COUNTER, bad_names[i], "h", NULL, NULL, NULL,
                                 &owner_a) == NULL);
    CHECK(sl_metric_register(m, SLUICE_METRIC_COUNTER, NULL, "h", NULL, NULL, NULL, &owner_a) ==
          NULL);
    CHECK(sl_metric_register(NULL, SLUICE_METRIC_COUNTER, "ok", "h", NULL, NULL, NULL,
                             &owner_a) == NULL);
    CHECK(sl_metric_register(m, SLUICE_METRIC_COUNTER, "ns:sub_total", "h", NULL, NULL, NULL,
                             &owner_a) != NULL);
    const char *bad_extra[] = {"noequals", "=v", "1k=v", "k-k=v", "__k=v", "pipeline=x",
                               "stage=x"};
    for (size_t i = 0; i < sizeof bad_extra / sizeof *bad_extra; i++)
        CHECK(sl_metric_register(m, SLUICE_METRIC_COUNTER, "e_total", "h", "p", "s",
                                 bad_extra[i], &owner_a) == NULL);
    /* le belongs to histogram buckets only. */
    CHECK(sl_metric_register(m, SLUICE_METRIC_HISTOGRAM, "h_seconds", "h", "p", "s", "le=1",
                             &owner_a) == NULL);
    CHECK(sl_metric_register(m, SLUICE_METRIC_GAUGE, "g_le", "h", "p", "s", "le=1", &owner_a) !=
          NULL);
    /* A value may hold '=' and anything else; only the first '=' splits. */
    sluice_metric *eq = sl_metric_register(m, SLUICE_METRIC_COUNTER, "e_total", "h", NULL, NULL,
                                           "expr=a=b", &owner_a);
    CHECK(eq != NULL);

    /* Backslash, double quote and line feed are escaped; the parser turns
     * them back into the very bytes that were registered. */
    const char *nasty = "pl\"ant\\1\nnext {x=\"y\"}, é";
    sluice_metric *s = sl_metric_register(m, SLUICE_METRIC_GAUGE, "esc", "Help with \\ and\nnewline",
                                          nasty, "sink", "topic=a\\b\"c", &owner_a);
    CHECK(s != NULL);
    sl_metric_set(s, 7);
    /* Empty pipeline and stage are left out, not written as "". */
    sluice_metric *bare = sl_metric_register(m, SLUICE_METRIC_GAUGE, "bare", "h", "", "", NULL,
                                             &owner_a);
    CHECK(bare != NULL);

    pt_doc doc;
    char *text = render_parse(m, &doc);
    CHECK_STR_CONTAINS(text, "esc{pipeline=\"pl\\\"ant\\\\1\\nnext {x=\\\"y\\\"}, é\","
                             "stage=\"sink\",topic=\"a\\\\b\\\"c\"} 7\n");
    CHECK_STR_CONTAINS(text, "# HELP esc Help with \\\\ and\\nnewline\n");
    CHECK_STR_CONTAINS(text, "\nbare 0\n");
    CHECK_STR_CONTAINS(text, "e_total{expr=\"a=b\"} 0\n");
    const pt_family *f = pt_family_find(&doc, "esc");
    CHECK(f && !strcmp(f->help, "Help with \\ and\nnewline"));
    for (size_t i = 0; i < doc.n; i++) {
        if (strcmp(doc.s[i].name, "esc"))
            continue;
        CHECK(!strcmp(pt_label(&doc.s[i], "pipeline"), nasty));
        CHECK(!strcmp(pt_label(&doc.s[i], "topic"), "a\\b\"c"));
        CHECK(doc.s[i].value == 7);
    }
    pt_free(&doc);
    free(text);
    sl_metrics_free(m);
}

static void test_counter_gauge(void)
{
    sl_metrics *m = sl_metrics_new();
    sluice_metric *c = sl_metric_register(m, SLUICE_METRIC_COUNTER, "c_total", "c", NULL, NULL,
                                          NULL, &owner_a);
    sluice_metric *g = sl_metric_register(m, SLUICE_METRIC_GAUGE, "g", "g", NULL, NULL, NULL,
                                          &owner_a);
    CHECK(sl_metric_value(c) == 0);
    sl_metric_add(c, 1);
    sl_metric_add(c, 2.5);
    CHECK(sl_metric_value(c) == 3.5);
    sl_metric_add(c, -1);      /* a counter never goes down */
    sl_metric_add(c, NAN);
    sl_metric_observe(c, 5);   /* not a histogram */
    CHECK(sl_metric_value(c) == 3.5);
    sl_metric_set(c, 100);     /* mirrors of library totals */
    CHECK(sl_metric_value(c) == 100);
    CHECK(sl_metric_count(c) == 0 && sl_metric_sum(c) == 0);

    sl_metric_add(g, -3);
    CHECK(sl_metric_value(g) == -3);
    sl_metric_add(g, 0.5);
    CHECK(sl_metric_value(g) == -2.5);
    sl_metric_add(g, NAN);
    CHECK(sl_metric_value(g) == -2.5);
    sl_metric_set(g, 0.1);
    CHECK(sl_metric_value(g) == 0.1);

    /* NULL series (a failed registration) are harmless everywhere. */
    sl_metric_add(NULL, 1);
    sl_metric_set(NULL, 1);
    sl_metric_observe(NULL, 1);
    CHECK(sl_metric_value(NULL) == 0);
    CHECK(sl_metric_count(NULL) == 0 && sl_metric_sum(NULL) == 0);

    /* Values are written so that they read back exactly. */
    struct { double v; const char *text; } cases[] = {
        {0.1, "g 0.1\n"},         {1e21, "g 1e21\n"},   {-2, "g -2\n"},
        {INFINITY, "g +Inf\n"},   {-INFINITY, "g -Inf\n"}, {NAN, "g NaN\n"},
        {123456789012, "g 123456789012\n"}, {0.0016995889999999998, "g 0.0016995889999999998\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sl_metric_set(g, cases[i].v);
        pt_doc doc;
        char *text = render_parse(m, &doc);
        CHECK_STR_CONTAINS(text, cases[i].text);
        const pt_sample *s = pt_find(&doc, "g", "");
        CHECK(s && (isnan(cases[i].v) ? isnan(s->value) : s->value == cases[i].v));
        pt_free(&doc);
        free(text);
    }
    sl_metrics_free(m);
}

static void test_histogram(void)
{
    sl_metrics *m = sl_metrics_new();
    sluice_metric *h = sl_metric_register(m, SLUICE_METRIC_HISTOGRAM, "h_seconds", "h", "p",
                                          "sink", NULL, &owner_a);
    CHECK(h != NULL);
    /* le is inclusive: an observation equal to a bound counts in it. */
    double obs[] = {0.0005, 0.0006, 0.001, 30, 31, 0, -1, 2.4999, 1e9};
    double sum = 0;
    for (size_t i = 0; i < sizeof obs / sizeof *obs; i++) {
        sl_metric_observe(h, obs[i]);
        sum += obs[i];
    }
    sl_metric_observe(h, NAN); /* would poison _sum forever */
    sl_metric_add(h, 5);       /* not a counter */
    sl_metric_set(h, 5);
    CHECK_INT_EQ(sl_metric_count(h), 9);
    CHECK(sl_metric_value(h) == 9);
    CHECK(fabs(sl_metric_sum(h) - sum) < 1e-6);

    pt_doc doc;
    char *text = render_parse(m, &doc);
    struct { const char *le; double n; } want[] = {
        {"0.0005", 3}, {"0.001", 5}, {"0.0025", 5}, {"0.005", 5}, {"0.01", 5}, {"0.025", 5},
        {"0.05", 5},   {"0.1", 5},   {"0.25", 5},   {"0.5", 5},   {"1", 5},    {"2.5", 6},
        {"5", 6},      {"10", 6},    {"30", 7},     {"+Inf", 9},
    };
    size_t nb = 0;
    for (size_t i = 0; i < doc.n; i++)
        if (!strcmp(doc.s[i].name, "h_seconds_bucket"))
            nb++;
    CHECK_INT_EQ(nb, sizeof want / sizeof *want);
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        char labels[128];
        snprintf(labels, sizeof labels, "pipeline=\"p\",stage=\"sink\",le=\"%s\"", want[i].le);
        const pt_sample *s = pt_find(&doc, "h_seconds_bucket", labels);
        CHECK(s != NULL);
        if (s && s->value != want[i].n)
            fprintf(stderr, "bucket le=%s: %g, want %g\n", want[i].le, s->value, want[i].n);
        CHECK(s && s->value == want[i].n);
    }
    const pt_sample *cnt = pt_find(&doc, "h_seconds_count", "pipeline=\"p\",stage=\"sink\"");
    const pt_sample *sm = pt_find(&doc, "h_seconds_sum", "pipeline=\"p\",stage=\"sink\"");
    CHECK(cnt && cnt->value == 9);
    CHECK(sm && fabs(sm->value - sum) < 1e-6);
    pt_free(&doc);
    free(text);

    /* A histogram nobody observed still renders complete, all zeros. */
    sl_metric_register(m, SLUICE_METRIC_HISTOGRAM, "idle_seconds", "i", NULL, NULL, NULL,
                       &owner_a);
    text = render_parse(m, &doc);
    CHECK_STR_CONTAINS(text, "idle_seconds_bucket{le=\"+Inf\"} 0\nidle_seconds_sum 0\n"
                             "idle_seconds_count 0\n");
    pt_free(&doc);
    free(text);
    sl_metrics_free(m);
}

static void test_release(void)
{
    sl_metrics *m = sl_metrics_new();
    sluice_metric *a1 = sl_metric_register(m, SLUICE_METRIC_COUNTER, "shared_total", "s", "p",
                                           "source", NULL, &owner_a);
    sluice_metric *a2 = sl_metric_register(m, SLUICE_METRIC_HISTOGRAM, "only_a_seconds", "o", "p",
                                           "source", NULL, &owner_a);
    sluice_metric *b1 = sl_metric_register(m, SLUICE_METRIC_COUNTER, "shared_total", "s", "p",
                                           "sink", NULL, &owner_b);
    CHECK(a1 && a2 && b1);
    sl_metric_add(b1, 4);
    sl_metrics_release(m, NULL);          /* no owner: nothing to do */
    sl_metrics_release(m, &test_release); /* unknown owner */
    pt_doc doc;
    char *text = render_parse(m, &doc);
    CHECK_INT_EQ(doc.nf, 2);
    pt_free(&doc);
    free(text);

    sl_metrics_release(m, &owner_a);
    text = render_parse(m, &doc);
    CHECK(pt_find(&doc, "shared_total", "pipeline=\"p\",stage=\"source\"") == NULL);
    CHECK(pt_find(&doc, "shared_total", "pipeline=\"p\",stage=\"sink\"") != NULL);
    /* A family whose last series went is gone, HELP and TYPE included. */
    CHECK(pt_family_find(&doc, "only_a_seconds") == NULL);
    CHECK(strstr(text, "only_a_seconds") == NULL);
    pt_free(&doc);
    free(text);
    /* The other owner's series lives on. */
    sl_metric_add(b1, 1);
    CHECK(sl_metric_value(b1) == 5);
    /* Registering again after release starts from zero. */
    sluice_metric *a3 = sl_metric_register(m, SLUICE_METRIC_COUNTER, "shared_total", "s", "p",
                                           "source", NULL, &owner_a);
    CHECK(a3 && sl_metric_value(a3) == 0);
    sl_metrics_release(m, &owner_b);
    sl_metrics_release(m, &owner_a);

    /* A series two owners registered lives until both are released: the
     * second one's pointer never dangles (a pipeline of the same name
     * registered while the old one is torn down). */
    sluice_metric *s1 = sl_metric_register(m, SLUICE_METRIC_COUNTER, "both_total", "b", "p",
                                           "sink", NULL, &owner_a);
    sluice_metric *s2 = sl_metric_register(m, SLUICE_METRIC_COUNTER, "both_total", "b", "p",
                                           "sink", NULL, &owner_b);
    CHECK(s1 && s1 == s2);
    /* The same owner twice is still one hold. */
    CHECK(sl_metric_register(m, SLUICE_METRIC_COUNTER, "both_total", "b", "p", "sink", NULL,
                             &owner_a) == s1);
    sl_metric_add(s1, 2);
    sl_metrics_release(m, &owner_a);
    sl_metric_add(s2, 1);
    CHECK(sl_metric_value(s2) == 3);
    text = render_parse(m, &doc);
    CHECK(pt_find(&doc, "both_total", "pipeline=\"p\",stage=\"sink\"") != NULL);
    pt_free(&doc);
    free(text);
    sl_metrics_release(m, &owner_b);
    size_t len = 99;
    text = sl_metrics_render(m, &len);
    CHECK(text && len == 0 && text[0] == '\0');
    free(text);
    sl_metrics_free(m);
    sl_metrics_free(NULL);
    CHECK(sl_metrics_render(NULL, NULL) == NULL);
}

static void test_order(void)
{
    sl_metrics *m = sl_metrics_new();
    const char *names[] = {"zz_total", "aa_total", "mm_total"};
    const char *stages[] = {"sink", "source", "dead_letter"};
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++)
            sl_metric_register(m, SLUICE_METRIC_COUNTER, names[i], "h", "p", stages[j], NULL,
                               &owner_a);
    char *text = sl_metrics_render(m, NULL);
    const char *order[] = {
        "aa_total{pipeline=\"p\",stage=\"dead_letter\"}", "aa_total{pipeline=\"p\",stage=\"sink\"}",
        "aa_total{pipeline=\"p\",stage=\"source\"}", "# HELP mm_total",
        "mm_total{pipeline=\"p\",stage=\"dead_letter\"}", "# HELP zz_total",
        "zz_total{pipeline=\"p\",stage=\"source\"}"};
    const char *at = text;
    for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
        const char *n = at ? strstr(at, order[i]) : NULL;
        if (!n)
            fprintf(stderr, "out of order or missing: %s\n", order[i]);
        CHECK(n != NULL);
        at = n;
    }
    /* Two renders of an unchanged registry are byte-identical. */
    char *again = sl_metrics_render(m, NULL);
    CHECK(again && !strcmp(text, again));
    free(again);
    free(text);
    sl_metrics_free(m);
}

static void test_process_metrics(void)
{
    sl_metrics *m = sl_metrics_new();
    sl_metric_register(m, SLUICE_METRIC_GAUGE, "g", "g", NULL, NULL, NULL, &owner_a);
    char *text = sl_metrics_render(m, NULL);
    CHECK(text && !strstr(text, "process_") && !strstr(text, "sluice_build_info"));
    free(text);
    sl_metrics_enable_process(m, 1);
    pt_doc doc;
    text = render_parse(m, &doc);
    const pt_sample *bi = NULL;
    for (size_t i = 0; i < doc.n; i++)
        if (!strcmp(doc.s[i].name, "sluice_build_info"))
            bi = &doc.s[i];
    CHECK(bi && bi->value == 1);
    CHECK(bi && pt_label(bi, "version") && !strcmp(pt_label(bi, "version"), SLUICE_VERSION_T));
    const pt_sample *st = pt_find(&doc, "process_start_time_seconds", "");
    double now = (double)time(NULL);
    CHECK(st && st->value > now - 86400 * 30 && st->value <= now + 1);
    const pt_sample *fds = pt_find(&doc, "process_open_fds", "");
    CHECK(fds && fds->value >= 3);
    const pt_sample *rss = pt_find(&doc, "process_resident_memory_bytes", "");
    CHECK(rss && rss->value > 1e5);
    CHECK(pt_find(&doc, "process_cpu_seconds_total", "") != NULL);
    const pt_family *f = pt_family_find(&doc, "process_cpu_seconds_total");
    CHECK(f && !strcmp(f->type, "counter"));
    pt_free(&doc);
    free(text);
    sl_metrics_free(m);

    /* The process-wide registry exports them by default. */
    CHECK(sl_metrics_global() == sl_metrics_global());
    text = sl_metrics_render(sl_metrics_global(), NULL);
    CHECK_STR_CONTAINS(text, "\nprocess_start_time_seconds ");
    CHECK_STR_CONTAINS(text, "sluice_build_info{version=\"");
    free(text);
}

/* The plugin-facing path: api->metric tags series with the instance's
 * pipeline and stage, and sl_ctx_free (instance destroyed or init failed)
 * takes them away. */
static void test_api_release(void)
{
    sluice_ctx *ctx = sl_ctx_new("plant-1", "transform[0]", "f2_decode");
    const sluice_api *api = sl_api();
    sluice_metric *mm = api->metric(ctx, SLUICE_METRIC_COUNTER, "sluice_test_api_total",
                                    "Test series", "kind=x");
    CHECK(mm != NULL);
    api->metric_add(mm, 3);
    CHECK(api->metric(ctx, SLUICE_METRIC_COUNTER, "sluice_test_api_total", "", "kind=x") == mm);
    char *text = sl_metrics_render(sl_metrics_global(), NULL);
    CHECK_STR_CONTAINS(text, "sluice_test_api_total{pipeline=\"plant-1\",stage=\"transform[0]\","
                             "kind=\"x\"} 3\n");
    free(text);
    sl_ctx_free(ctx);
    text = sl_metrics_render(sl_metrics_global(), NULL);
    CHECK(text && !strstr(text, "sluice_test_api_total"));
    free(text);
}

/* The parser must reject what it is there to catch, or the tests above
 * prove nothing. */
static void test_parser_rejects(void)
{
    const char *bad[] = {
        "x 1\n",                                                /* no HELP/TYPE */
        "# TYPE x gauge\nx 1\n",                                /* no HELP */
        "# HELP x h\n# TYPE x gauge\nx 1",                      /* no final newline */
        "# HELP x h\n# HELP x h\n# TYPE x gauge\nx 1\n",        /* HELP twice */
        "# HELP x h\n# TYPE x gauge\n# TYPE x gauge\nx 1\n",    /* TYPE twice */
        "# HELP x h\n# TYPE x gauge\n# HELP y h\n# TYPE y gauge\nx 1\ny 1\nx{a=\"b\"} 2\n",
        "# HELP x h\n# TYPE x gauge\nx{a=\"b\\t\"} 1\n",        /* bad escape */
        "# HELP x h\n# TYPE x gauge\nx{a=\"b\",} 1\n",          /* trailing comma */
        "# HELP x h\n# TYPE x gauge\nx{a=\"b\",a=\"c\"} 1\n",   /* duplicate label */
        "# HELP x h\n# TYPE x gauge\nx one\n",
        "# HELP x h\n# TYPE x gauge\nx inf\n",
        "# HELP x h\n# TYPE x gauge\nx 1 1700000000\n",
        "# HELP x h\n# TYPE x gauge\n\nx 1\n",
        "# HELP x h\n# TYPE x gaug\nx 1\n",
        "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
        "h_sum 1\nh_count 1\n",                                 /* not cumulative */
        "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
        "h_sum 1\nh_count 3\n",                                 /* +Inf != count */
        "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
        "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
        "# HELP h h\n# TYPE h histogram\nh 1\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        pt_doc doc;
        int rc = pt_parse(bad[i], &doc);
        if (rc == 0)
            fprintf(stderr, "parser accepted bad input #%zu\n", i);
        CHECK(rc != 0);
        pt_free(&doc);
    }
    pt_doc doc;
    CHECK(pt_parse("# HELP h h\n# TYPE h histogram\nh_bucket{a=\"1\",le=\"1\"} 1\n"
                   "h_bucket{a=\"1\",le=\"+Inf\"} 2\nh_sum{a=\"1\"} 1.5\nh_count{a=\"1\"} 2\n"
                   "# a comment\n",
                   &doc) == 0);
    pt_free(&doc);
}

int main(void)
{
    test_dedup_and_kinds();
    test_names_and_labels();
    test_counter_gauge();
    test_histogram();
    test_release();
    test_order();
    test_process_metrics();
    test_api_release();
    test_parser_rejects();
    return CHECK_DONE();
}
