/* Options' declared min/max (ABI 1.2): values outside them are refused at
 * FILE:LINE:COL naming the option, the value and the bounds; both ends are
 * inclusive; an option table whose bounds make no sense is the plugin's bug
 * and is refused; the 1.2 getters read the table's defaults. */
#include "cfgtest.h"
#include "ctx.h"
#include "options.h"

/* Exact string equality; NULL never equals. */
#define CHECK_STR_EQ(got, want)                                                        \
    do {                                                                               \
        const char *g_ = (got);                                                        \
        CHECK(g_ != NULL && strcmp(g_, (want)) == 0);                                  \
        if (g_ && strcmp(g_, (want)) != 0)                                             \
            fprintf(stderr, "    got:  %s\n    want: %s\n", g_, (want));              \
    } while (0)

static void in_range(sl_registry *r)
{
    sl_diag d = {0};
    const char *p = fixture("bounds_ok.yaml");
    sl_pipeline_conf *c = sl_conf_load(p, r, &d);
    dump_diag(&d);
    CHECK(c != NULL);
    CHECK_INT_EQ(d.n, 0);
    sl_diag_free(&d);
    if (!c)
        return;
    const sluice_api *api = sl_api();
    const sluice_config *s = c->transforms[0].cfg;
    /* The bounds themselves are accepted. */
    CHECK_INT_EQ(api->opt_int(s, "n"), 10);
    CHECK(api->opt_double(s, "ratio") == 0);
    CHECK_INT_EQ(api->opt_int(s, "wait"), 60000);
    CHECK_INT_EQ(api->opt_int(s, "buf"), 4096);
    CHECK_INT_EQ(api->opt_int(s, "neg"), -1);
    /* The second stage gives nothing: every value is the table's default,
     * read without the caller restating it. */
    s = c->transforms[1].cfg;
    CHECK_INT_EQ(api->opt_int(s, "n"), 5);
    CHECK(api->opt_double(s, "ratio") == 0.5);
    CHECK_INT_EQ(api->opt_int(s, "wait"), 1000);
    CHECK_INT_EQ(api->opt_int(s, "buf"), 65536);
    CHECK_INT_EQ(api->opt_bool(s, "flag"), 1);
    /* The old getters agree, and ignore a `def` that contradicts the table. */
    CHECK_INT_EQ(api->cfg_int(s, "n", 7), 5);
    CHECK_INT_EQ(api->cfg_bool(s, "flag", 0), 1);
    /* No default and absent: 0, and cfg_has tells; undeclared: 0. */
    CHECK_INT_EQ(api->cfg_has(s, "cap"), 0);
    CHECK_INT_EQ(api->opt_int(s, "cap"), 0);
    CHECK_INT_EQ(api->opt_int(s, "no_such_option"), 0);
    CHECK(api->opt_double(s, "no_such_option") == 0);
    CHECK_INT_EQ(api->opt_bool(s, "no_such_option"), 0);
    sl_conf_free(c);
}

static void out_of_range(sl_registry *r)
{
    sl_diag d = {0};
    const char *p = fixture("bounds_errors.yaml");
    CHECK(sl_conf_load(p, r, &d) == NULL);
    const char *w = "transform[0] (plugin \"cfg_bounds\"): option ";
    char m[256];
#define WANT(line, col, text)                                                                  \
    do {                                                                                       \
        snprintf(m, sizeof m, "%s%s", w, text);                                                \
        CHECK_DIAG(&d, p, line, col, m);                                                       \
    } while (0)
    WANT(4, 8, "\"n\": 11 is out of range; expected 1..10");
    WANT(5, 12, "\"ratio\": 1.5 is out of range; expected 0..1");
    WANT(6, 11, "\"wait\": 9ms is out of range; expected 10ms..1m");
    WANT(7, 10, "\"buf\": 4095 is out of range; expected at least 4KiB");
    WANT(8, 10, "\"cap\": 101 is out of range; expected at most 100");
    WANT(9, 10, "\"neg\": -2 is out of range; expected -1..1000");
#undef WANT
    CHECK_INT_EQ(d.n, 6);
    sl_diag_free(&d);
}

/* The table checks the loader applies to every plugin. */
static void bad_tables(void)
{
    char err[512];
    static const sluice_option on_string[] = {
        {"s", SLUICE_OPT_STRING, 0, NULL, "", NULL, "a", NULL}, SLUICE_OPTIONS_END};
    CHECK_INT_EQ(sl_options_check(on_string, err, sizeof err), -1);
    CHECK_STR_EQ(err, "option \"s\" declares min/max, but only int, double, duration and size "
                      "options take bounds");
    static const sluice_option bad_min[] = {
        {"t", SLUICE_OPT_DURATION, 0, NULL, "", NULL, "soon", NULL}, SLUICE_OPTIONS_END};
    CHECK_INT_EQ(sl_options_check(bad_min, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "option \"t\": min \"soon\" is not a duration such as 250ms");
    static const sluice_option bad_max[] = {
        {"n", SLUICE_OPT_INT, 0, NULL, "", NULL, NULL, "1.5"}, SLUICE_OPTIONS_END};
    CHECK_INT_EQ(sl_options_check(bad_max, err, sizeof err), -1);
    CHECK_STR_EQ(err, "option \"n\": max \"1.5\" is not an integer");
    static const sluice_option crossed[] = {
        {"t", SLUICE_OPT_DURATION, 0, NULL, "", NULL, "1m", "1s"}, SLUICE_OPTIONS_END};
    CHECK_INT_EQ(sl_options_check(crossed, err, sizeof err), -1);
    CHECK_STR_EQ(err, "option \"t\": min 1m is above max 1s");
    static const sluice_option def_out[] = {
        {"r", SLUICE_OPT_DOUBLE, 0, "2", "", NULL, "0", "1"}, SLUICE_OPTIONS_END};
    CHECK_INT_EQ(sl_options_check(def_out, err, sizeof err), -1);
    CHECK_STR_EQ(err, "option \"r\": the default 2 is out of range 0..1");
    static const sluice_option fine[] = {
        {"r", SLUICE_OPT_DOUBLE, 0, "1", "", NULL, "0", "1"},
        {"z", SLUICE_OPT_SIZE, 0, NULL, "", NULL, NULL, "1GiB"},
        {"s", SLUICE_OPT_STRING, 0, "x", "", NULL, NULL, NULL}, SLUICE_OPTIONS_END};
    CHECK_INT_EQ(sl_options_check(fine, err, sizeof err), 0);
    CHECK_INT_EQ(sl_options_check(NULL, err, sizeof err), 0);
}

int main(void)
{
    static const char *const names[] = {"cfg_io", "cfg_bounds", NULL};
    sl_registry *r = fixture_registry(names);
    in_range(r);
    out_of_range(r);
    bad_tables();
    sl_registry_free(r);
    return CHECK_DONE();
}
