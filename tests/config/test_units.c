/* The scalar parsers (durations, sizes, booleans, numbers), the "did you
 * mean" distance, value quoting in messages and the diagnostic format. */
#include "cfgtest.h"
#include "config/options.h"
#include "config/suggest.h"
#include "config/typed.h"

static void durations(void)
{
    static const struct {
        const char *in;
        int64_t ms;
    } t[] = {
        {"0", 0},          {"250", 250},       {"250ms", 250},      {"5s", 5000},
        {"2m", 120000},    {"1h", 3600000},    {"1d", 86400000},    {"1h30m", 5400000},
        {"2m30s", 150000}, {"1s500ms", 1500},  {"1.5s", 1500},      {"0.25s", 250},
        {"100ms", 100},    {"0ms", 0},         {"", -1},            {"ms", -1},
        {"5", 5},          {"5x", -1},         {"-5s", -1},         {"5 s", -1},
        {" 5s", -1},       {"5S", -1},         {"1.s", -1},         {".5s", -1},
        {"1h30", -1},      {"s5", -1},         {"5ss", -1},         {"999999999999d", -1},
        {"1e3", -1},       {"0x10", -1},       {"5sec", -1},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        int64_t got = sl_parse_duration_ms(t[i].in);
        if (got != t[i].ms)
            fprintf(stderr, "duration \"%s\": got %lld, want %lld\n", t[i].in, (long long)got,
                    (long long)t[i].ms);
        CHECK_INT_EQ(got, t[i].ms);
    }
    CHECK_INT_EQ(sl_parse_duration_ms(NULL), -1);
}

static void sizes(void)
{
    static const struct {
        const char *in;
        int64_t bytes;
    } t[] = {
        {"0", 0},           {"512", 512},          {"512B", 512},         {"1k", 1000},
        {"1KB", 1000},      {"64KiB", 65536},      {"64kib", 65536},      {"1M", 1000000},
        {"1MB", 1000000},   {"16MiB", 16777216},   {"1GiB", 1073741824},  {"2GB", 2000000000},
        {"1TiB", 1099511627776LL},                 {"1.5KiB", 1536},      {"0.5MiB", 524288},
        {"", -1},           {"KiB", -1},           {"12x", -1},           {"-1", -1},
        {"1 KiB", -1},      {"1KiBs", -1},         {"1e6", -1},           {"99999999TiB", -1},
        {"1.KiB", -1},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        int64_t got = sl_parse_size(t[i].in);
        if (got != t[i].bytes)
            fprintf(stderr, "size \"%s\": got %lld, want %lld\n", t[i].in, (long long)got,
                    (long long)t[i].bytes);
        CHECK_INT_EQ(got, t[i].bytes);
    }
    CHECK_INT_EQ(sl_parse_size(NULL), -1);
}

static void scalars(void)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "on", "1", "Yes", "ON"};
    static const char *const no[] = {"false", "no", "off", "0", "False", "NO"};
    static const char *const bad[] = {"maybe", "", "2", "y", "n", "truee", " true"};
    int b;
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        CHECK(sl_parse_bool(yes[i], &b) == 0 && b == 1);
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        CHECK(sl_parse_bool(no[i], &b) == 0 && b == 0);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(sl_parse_bool(bad[i], &b) == -1);

    int64_t v;
    CHECK(sl_parse_int("42", &v) == 0 && v == 42);
    CHECK(sl_parse_int("-42", &v) == 0 && v == -42);
    CHECK(sl_parse_int("+7", &v) == 0 && v == 7);
    CHECK(sl_parse_int("9223372036854775807", &v) == 0 && v == INT64_MAX);
    CHECK(sl_parse_int("9223372036854775808", &v) == -1);
    CHECK(sl_parse_int("abc", &v) == -1);
    CHECK(sl_parse_int("12abc", &v) == -1);
    CHECK(sl_parse_int("", &v) == -1);
    CHECK(sl_parse_int(" 1", &v) == -1);
    CHECK(sl_parse_int("1.0", &v) == -1);
    CHECK(sl_parse_int("-", &v) == -1);

    double d;
    CHECK(sl_parse_double("0.5", &d) == 0 && d == 0.5);
    CHECK(sl_parse_double("-2", &d) == 0 && d == -2);
    CHECK(sl_parse_double("1e3", &d) == 0 && d == 1000);
    CHECK(sl_parse_double(".5", &d) == 0 && d == 0.5);
    CHECK(sl_parse_double("nan", &d) == -1);
    CHECK(sl_parse_double("inf", &d) == -1);
    CHECK(sl_parse_double("1e999", &d) == -1);
    CHECK(sl_parse_double("0x10", &d) == -1);
    CHECK(sl_parse_double("1.5x", &d) == -1);
    CHECK(sl_parse_double("", &d) == -1);
    CHECK(sl_parse_double(".", &d) == -1);
}

static void suggestions(void)
{
    CHECK_INT_EQ(sl_edit_distance("sink", "sink", 2), 0);
    CHECK_INT_EQ(sl_edit_distance("sinks", "sink", 2), 1);
    CHECK_INT_EQ(sl_edit_distance("retyr", "retry", 2), 1); /* a swap is one edit */
    CHECK_INT_EQ(sl_edit_distance("Sink", "sink", 2), 0);   /* case does not count */
    CHECK_INT_EQ(sl_edit_distance("abcdef", "uvwxyz", 2), 3); /* capped */
    static const char *const keys[] = {"source", "sink", "transforms", "batch", "retry"};
    CHECK(strcmp(sl_nearest("sinks", keys, 5), "sink") == 0);
    CHECK(strcmp(sl_nearest("transfroms", keys, 5), "transforms") == 0);
    CHECK(strcmp(sl_nearest("SOURCE", keys, 5), "source") == 0);
    CHECK(sl_nearest("frobnicate", keys, 5) == NULL);
    CHECK(sl_nearest("x", keys, 5) == NULL);
    static const char *const digits[] = {"0", "1", "2"};
    CHECK(sl_nearest("5", digits, 3) == NULL); /* no far-fetched guesses */
    char buf[64];
    sl_did_you_mean(buf, sizeof buf, "batc", keys, 5);
    CHECK(strcmp(buf, "; did you mean \"batch\"?") == 0);
    sl_did_you_mean(buf, sizeof buf, "zzzz", keys, 5);
    CHECK(buf[0] == '\0');
    sl_join_names(buf, sizeof buf, keys, 5);
    CHECK(strcmp(buf, "source, sink, transforms, batch, retry") == 0);
    char small[20];
    sl_join_names(small, sizeof small, keys, 5);
    CHECK(strcmp(small, "source, sink, ...") == 0);
}

static void quoting(void)
{
    char b[128];
    sl_quote(b, sizeof b, "plain");
    CHECK(strcmp(b, "\"plain\"") == 0);
    sl_quote(b, sizeof b, "a\"b\\c\nd\x01");
    CHECK(strcmp(b, "\"a\\\"b\\\\c\\nd\\x01\"") == 0);
    char longs[200];
    memset(longs, 'z', sizeof longs - 1);
    longs[sizeof longs - 1] = '\0';
    sl_quote(b, sizeof b, longs);
    CHECK_STR_CONTAINS(b, "zzz...\"");
    CHECK(strlen(b) < 70);
    for (size_t len = 0; len < 24; len++) { /* never overruns, always terminated */
        char t[24];
        memset(t, 'X', sizeof t);
        sl_quote(t, len, "a\nlonger value with \x7f in it");
        if (len)
            CHECK(memchr(t, '\0', len) != NULL);
    }
}

static void diag_format(void)
{
    sl_diag d = {0};
    sl_diag_add(&d, "p.yaml", 3, 7, "bad %s", "thing");
    sl_diag_add(&d, "p.yaml", 3, 0, "line only");
    sl_diag_add(&d, "p.yaml", 0, 0, "file only");
    sl_diag_add(&d, NULL, 0, 0, "bare");
    for (int i = 0; i < 20; i++) /* grows */
        sl_diag_add(&d, "p.yaml", i + 1, 1, "n%d", i);
    CHECK_INT_EQ(d.n, 24);
    CHECK(strcmp(d.msgs[0], "p.yaml:3:7: bad thing") == 0);
    CHECK(strcmp(d.msgs[1], "p.yaml:3: line only") == 0);
    CHECK(strcmp(d.msgs[2], "p.yaml: file only") == 0);
    CHECK(strcmp(d.msgs[3], "bare") == 0);
    CHECK(strcmp(d.msgs[23], "p.yaml:20:1: n19") == 0);
    sl_diag_free(&d);
    CHECK_INT_EQ(d.n, 0);
    sl_diag_free(&d); /* twice is harmless */
    sl_diag_add(NULL, "x", 1, 1, "ignored");
}

int main(void)
{
    durations();
    sizes();
    scalars();
    suggestions();
    quoting();
    diag_format();
    return CHECK_DONE();
}
