/* The decoder's parsers on their own: topics, hex, timestamps, UTF-8 and
 * the binary encodings, plus the simulator's timestamp round trip. */
#include "check.h"
#include "f2_encoding.h"
#include "f2_input.h"
#include "f2_topic.h"
#include "f2sim_reading.h"

#include <math.h>
#include <string.h>

static char err[512];

static int topic(const char *t, f2_topic *o) { return f2_topic_parse(t, strlen(t), o, err, sizeof err); }

static int str_is(f2_str s, const char *lit) { return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0; }

static void test_topics(void)
{
    f2_topic o;
    CHECK_INT_EQ(topic("cmnd/f2-A1B2C3D4E5F6/sensor-mode/J3/sensor-12", &o), 0);
    CHECK(o.mac == 0xA1B2C3D4E5F6ull);
    CHECK(strcmp(o.device_id, "f2-a1b2c3d4e5f6") == 0);
    CHECK(str_is(o.type, "cmnd") && str_is(o.mode, "sensor-mode") && str_is(o.ctype, "sensor"));
    CHECK(str_is(o.cid, "12") && o.position == 12 && o.connector == 3);

    CHECK_INT_EQ(topic("stat/f2-a1b2c3d4e5f6/access-control-mode/4/door-sensors", &o), 0);
    CHECK(str_is(o.ctype, "door-sensors") && o.cid.n == 0 && o.position == -1 && o.connector == 4);
    CHECK_INT_EQ(topic("tele/f2-a1b2c3d4e5f6/some-new-mode/j1/motion-sensor-2/x/y", &o), 0);
    CHECK(str_is(o.ctype, "motion-sensor") && o.position == 2 && str_is(o.mode, "some-new-mode"));
    /* "sensor-" and "-3": no ID, the whole name is the type. */
    CHECK_INT_EQ(topic("cmnd/f2-a1b2c3d4e5f6/m/1/sensor-", &o), 0);
    CHECK(str_is(o.ctype, "sensor-") && o.position == -1);
    CHECK_INT_EQ(topic("cmnd/f2-a1b2c3d4e5f6/m/1/-3", &o), 0);
    CHECK(str_is(o.ctype, "-3") && o.position == -1);

    CHECK_INT_EQ(topic("cmnd/f2-a1b2c3d4e5f6/m/1", &o), -1);
    CHECK_STR_CONTAINS(err, "unknown topic shape");
    CHECK_INT_EQ(topic("cmnd/f2-a1b2c3d4e5f/m/1/s", &o), -1);
    CHECK_INT_EQ(topic("cmnd/f3-a1b2c3d4e5f6/m/1/s", &o), -1);
    CHECK_INT_EQ(topic("cmnd/f2-a1b2c3d4e5f6/m/J12/s", &o), -1);
    CHECK_INT_EQ(topic("cmnd/f2-a1b2c3d4e5f6/m/K1/s", &o), -1);
    CHECK_INT_EQ(topic("cmnd/f2-a1b2c3d4e5f6/m/1/s-1234567890", &o), -1);
    CHECK_STR_CONTAINS(err, "component ID \"1234567890\" is too long");
    CHECK_INT_EQ(topic("", &o), -1);
}

static void test_hex(void)
{
    uint8_t b[8];
    size_t n;
    CHECK_INT_EQ(f2_hex_decode("0x0A 0x1b\tFF", 12, b, sizeof b, &n, err, sizeof err), 0);
    CHECK(n == 3 && b[0] == 0x0A && b[1] == 0x1B && b[2] == 0xFF);
    CHECK_INT_EQ(f2_hex_decode("", 0, b, sizeof b, &n, err, sizeof err), 0);
    CHECK_INT_EQ(n, 0);
    CHECK_INT_EQ(f2_hex_decode("0x", 2, b, sizeof b, &n, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "has no digits");
    CHECK_INT_EQ(f2_hex_decode("A 1B", 4, b, sizeof b, &n, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "group \"A\" at character 1 has an odd number of digits");
    CHECK_INT_EQ(f2_hex_decode("0011223344556677 88", 19, b, sizeof b, &n, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "longer than 8 bytes");
    CHECK_INT_EQ(f2_hex_decode("12\x01", 3, b, sizeof b, &n, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "byte 0x01 at character 3");
}

static void test_timestamps(void)
{
    int64_t us;
    CHECK_INT_EQ(f2_parse_timestamp("2023-05-25 15:13:10.543400", 26, 0, &us, err, sizeof err), 0);
    CHECK_INT_EQ(us, 1685027590543400LL);
    CHECK_INT_EQ(f2_parse_timestamp("2023-05-25 15:13:10", 19, 0, &us, err, sizeof err), 0);
    CHECK_INT_EQ(us, 1685027590000000LL);
    CHECK_INT_EQ(f2_parse_timestamp("2023-05-25T15:13:10.5", 21, 3600, &us, err, sizeof err), 0);
    CHECK_INT_EQ(us, 1685027590500000LL - 3600000000LL);
    CHECK_INT_EQ(f2_parse_timestamp("2023-05-25 17:13:10.123456789+02:00", 35, 0, &us, err,
                                    sizeof err), 0);
    CHECK_INT_EQ(us, 1685027590123456LL);
    CHECK_INT_EQ(f2_parse_timestamp("2024-02-29 00:00:00-0130", 24, 0, &us, err, sizeof err), 0);
    CHECK_INT_EQ(us, 1709164800000000LL + 5400000000LL);
    CHECK_INT_EQ(f2_parse_timestamp("1969-12-31 23:59:59.5", 21, 0, &us, err, sizeof err), 0);
    CHECK_INT_EQ(us, -500000);
    static const char *const bad[] = {"2023-05-25", "2023-5-25 15:13:10", "2023-05-25 15:13:10.",
                                      "2023-05-25 15:13:10.1234567890", "2023-05-25 24:00:00",
                                      "2023-04-31 10:00:00", "2023-05-25 15:13:10 junk",
                                      "2023-05-25 15:13:60"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_INT_EQ(f2_parse_timestamp(bad[i], strlen(bad[i]), 0, &us, err, sizeof err), -1);
    int off;
    CHECK(f2_parse_tz("UTC", &off, err, sizeof err) == 0 && off == 0);
    CHECK(f2_parse_tz("+02:00", &off, err, sizeof err) == 0 && off == 7200);
    CHECK(f2_parse_tz("-0530", &off, err, sizeof err) == 0 && off == -19800);
    CHECK(f2_parse_tz("UTC+1", &off, err, sizeof err) == 0 && off == 3600);
    CHECK_INT_EQ(f2_parse_tz("CET", &off, err, sizeof err), -1);
    CHECK_INT_EQ(f2_parse_tz("+25:00", &off, err, sizeof err), -1);

    /* The simulator writes what the decoder reads. */
    char buf[40];
    f2sim_format_ts(1685027590543400LL, buf, sizeof buf);
    CHECK(strcmp(buf, "2023-05-25 15:13:10.543400") == 0);
    f2sim_format_ts(-500000, buf, sizeof buf);
    CHECK(strcmp(buf, "1969-12-31 23:59:59.500000") == 0);
    CHECK(f2sim_parse_ts("2024-01-01 00:00:00", &us) == 0 && us == 1704067200000000LL);
}

static void test_utf8(void)
{
    const char *ok = "abc \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80";
    CHECK_INT_EQ(sluice_utf8_valid_prefix((const unsigned char *)ok, strlen(ok)), strlen(ok));
    CHECK_INT_EQ(sluice_utf8_valid_prefix((const unsigned char *)"a\xC0\xAF", 3), 1);   /* overlong */
    CHECK_INT_EQ(sluice_utf8_valid_prefix((const unsigned char *)"ab\xED\xA0\x80", 5), 2); /* surrogate */
    CHECK_INT_EQ(sluice_utf8_valid_prefix((const unsigned char *)"\xF4\x90\x80\x80", 4), 0);
    CHECK_INT_EQ(sluice_utf8_valid_prefix((const unsigned char *)"x\xE2\x82", 3), 1);    /* cut */
    /* Past the eight-byte ASCII stride, and at its edges. */
    CHECK_INT_EQ(sluice_utf8_valid_prefix((const unsigned char *)"abcdefghij\xC3\x28xyz", 15), 10);
    CHECK_INT_EQ(sluice_utf8_valid_prefix((const unsigned char *)"abcdefgh\xFF", 9), 8);
    CHECK_INT_EQ(sluice_utf8_valid_prefix((const unsigned char *)"abcdefg\xC3\xA9" "abcdefgh\x80", 18), 17);
}

static void test_encodings(void)
{
    static const char *const names[] = {"Int8", "Uint8", "Int16", "Uint16", "Int32", "Uint32",
                                        "Int64", "Uint64", "Float32", "Float64"};
    static const unsigned sizes[] = {1, 1, 2, 2, 4, 4, 8, 8, 4, 8};
    f2_binenc e;
    for (int i = 0; i < 10; i++) {
        char le[16];
        snprintf(le, sizeof le, "%sLE", names[i]);
        CHECK(f2_binenc_parse(names[i], &e) == 0 && e.size == sizes[i] && !e.le);
        CHECK(f2_binenc_parse(le, &e) == 0 && e.size == sizes[i] && e.le);
    }
    CHECK(f2_binenc_parse("uint16be", &e) == 0 && !e.le);
    CHECK_INT_EQ(f2_binenc_parse("Int24", &e), -1);
    CHECK_INT_EQ(f2_binenc_parse("LE", &e), -1);
    const uint8_t b[] = {0xFF, 0xFE};
    f2_binenc_parse("Int16LE", &e);
    CHECK(f2_binenc_decode(&e, b) == -257);
    f2_binenc_parse("Uint16", &e);
    CHECK(f2_binenc_decode(&e, b) == 65534);
    CHECK(f2_tenc_parse("BOOLEAN_MAP") == F2_TENC_BOOLEAN_MAP);
    CHECK(f2_tenc_parse("number") == F2_TENC_UNKNOWN);
}

int main(void)
{
    test_topics();
    test_hex();
    test_timestamps();
    test_utf8();
    test_encodings();
    return CHECK_DONE();
}
