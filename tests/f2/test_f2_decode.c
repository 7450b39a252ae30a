/* f2_decode against a real PostgreSQL: exact values for every encoding of
 * both parameter models, topic and payload rules, the output record's
 * shape, and every failure reason. */
#include "check.h"
#include "f2t.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS "2023-05-25 15:13:10.543400"
#define TS_US 1685027590543400LL

/* Device A (device model; MacAddress stored with dashes, lower case):
 *   J1 pin 1 Example (F2-PROTOCOL), pin 2 every encoding big-endian,
 *   pin 3 every encoding little-endian, pin 4 decimals/prepend/NaN
 *   J2 pin 1 unknown encoding, pin 2 Length mismatch, pin 3 no data points
 * Device B (only device_parameters rows, device_id in upper case). */
static const char *const FIXTURE =
    "INSERT INTO \"DeviceType\" VALUES (90, 'test');"
    "INSERT INTO \"DeviceTemplate\" (\"DeviceTemplateId\", \"Name\", \"DeviceTypeId\") VALUES"
    " (900, 'controller', 90), (901, 'all BE', 90), (902, 'all LE', 90), (903, 'example', 90),"
    " (904, 'decimals', 90), (905, 'broken', 90), (906, 'mismatch', 90), (907, 'empty', 90);"
    "INSERT INTO \"Device\" (\"DeviceId\", \"DeviceName\", \"DeviceTemplateId\", \"MacAddress\")"
    " VALUES (9001, 'A', 900, 'aa-bb-cc-dd-ee-01'),"
    " (9101, 's1', 903, NULL), (9102, 's2', 901, NULL), (9103, 's3', 902, NULL),"
    " (9104, 's4', 904, NULL), (9105, 's5', 905, NULL), (9106, 's6', 906, NULL),"
    " (9107, 's7', 907, NULL);"
    "INSERT INTO \"Connector\" VALUES (9001, 9001, 1, 1), (9002, 9001, 2, 1);"
    "INSERT INTO \"Pin\" VALUES (9001, 9001, 1, 9101), (9002, 9001, 2, 9102),"
    " (9003, 9001, 3, 9103), (9004, 9001, 4, 9104), (9005, 9002, 1, 9105),"
    " (9006, 9002, 2, 9106), (9007, 9002, 3, 9107);"
    "INSERT INTO \"DataPoint\" (\"DeviceTemplateId\", \"Label\", \"DataEncoding\", \"Offset\","
    " \"Length\", \"Decimals\", \"Prepend\", \"Append\") VALUES"
    " (903, 'Temperature', 'Int16', 0, 2, 2, NULL, ' °C'),"
    " (903, 'Humidity', 'Uint16', 2, 2, 2, NULL, ' %'),"
    " (903, 'CO2', 'Uint16', 4, 2, 0, NULL, ' ppm'),"
    " (901, 'i8', 'Int8', 0, 1, 0, NULL, NULL), (901, 'u8', 'Uint8', 1, 1, 0, NULL, NULL),"
    " (901, 'i16', 'Int16', 2, 2, 0, NULL, NULL), (901, 'u16', 'Uint16', 4, 2, 0, NULL, NULL),"
    " (901, 'i32', 'Int32', 6, 4, 0, NULL, NULL), (901, 'u32', 'Uint32', 10, 4, 0, NULL, NULL),"
    " (901, 'i64', 'Int64', 14, 8, 0, NULL, NULL), (901, 'u64', 'Uint64', 22, 8, 0, NULL, NULL),"
    " (901, 'f32', 'Float32', 30, 4, 0, NULL, NULL),"
    " (901, 'f64', 'Float64', 34, 8, 0, NULL, NULL),"
    " (902, 'i8', 'Int8LE', 0, 1, 0, NULL, NULL), (902, 'u8', 'Uint8LE', 1, 1, 0, NULL, NULL),"
    " (902, 'i16', 'Int16LE', 2, 2, 0, NULL, NULL),"
    " (902, 'u16', 'Uint16LE', 4, 2, 0, NULL, NULL),"
    " (902, 'i32', 'Int32LE', 6, 4, 0, NULL, NULL),"
    " (902, 'u32', 'Uint32LE', 10, 4, 0, NULL, NULL),"
    " (902, 'i64', 'Int64LE', 14, 8, 0, NULL, NULL),"
    " (902, 'u64', 'Uint64LE', 22, 8, 0, NULL, NULL),"
    " (902, 'f32', 'Float32LE', 30, 4, 0, NULL, NULL),"
    " (902, 'f64', 'Float64LE', 34, 8, 0, NULL, NULL),"
    " (904, 'tenths', 'Int16', 0, 2, 1, NULL, 'x'),"
    " (904, 'thousandths', 'Int16', 2, 2, 3, '', '  m  '),"
    " (904, 'tens', 'Uint16', 4, 2, -1, NULL, NULL),"
    " (904, 'price', 'Int32', 6, 4, 2, ' $ ', ' USD '),"
    " (904, 'nan', 'Float32', 10, 4, 0, NULL, NULL),"
    " (905, 'Bad', 'Int24', 0, 3, 0, NULL, NULL),"
    " (906, 'Odd', 'Int16', 0, 3, 0, NULL, NULL);"
    "INSERT INTO device_parameters (device_id, connector_mode, component_type, component_id,"
    " encoding_type, units, scaling_factor) VALUES"
    " ('F2-AABBCCDDEE02', 'access-control-mode', 'strike', NULL, 'boolean_map', NULL, 1),"
    " ('F2-AABBCCDDEE02', 'access-control-mode', 'strike', NULL, 'number_map',"
    "  'voltage=V, current = A', 1),"
    " ('F2-AABBCCDDEE02', 'access-control-mode', 'strike', '9', 'boolean', 'state-unit', 1),"
    " ('F2-AABBCCDDEE02', 'access-control-mode', 'door-sensors', NULL, 'boolean_map', NULL, 1),"
    " ('F2-AABBCCDDEE02', 'access-control-mode', 'reader', NULL, 'raw_string', NULL, 1),"
    " ('F2-AABBCCDDEE02', 'access-control-mode', 'reader', NULL, 'number_map', 'dBm', 0.5),"
    " ('F2-AABBCCDDEE02', 'sensor-mode', 'sensor', NULL, 'hex_to_float', 'L', 0.1),"
    " ('F2-AABBCCDDEE02', 'alarm-mode', 'siren', NULL, 'boolean', NULL, 1),"
    " ('F2-AABBCCDDEE02', 'alarm-mode', 'siren', '5', 'weird_enc', NULL, 1),"
    " ('F2-AABBCCDDEE02', 'alarm-mode', 'motion-sensor', NULL, 'boolean_map', NULL, 1),"
    " ('aabbccddee03', 'alarm-mode', 'siren', NULL, 'raw_string', NULL, 1),"
    /* device A: a table row that the device model outranks, and one it does not */
    " ('f2-aabbccddee01', 'sensor-mode', 'sensor', NULL, 'hex_to_float', 'raw', 1),"
    " ('f2-aabbccddee01', 'access-control-mode', 'exit-buttons', NULL, 'boolean_map', NULL, 1),"
    " ('f2-aabbccddee01', 'access-control-mode', 'exit-buttons', NULL, 'number_map', NULL, 1);";

static sluice_batch *out;
static char err[SLUICE_ERRLEN];

static sluice_status dec(f2t_inst *d, const char *topic, const char *payload)
{
    return f2t_decode(d, topic, payload, out, err);
}

/* Expects SLUICE_ERR with `reason` in the message. */
#define CHECK_FAILS(d, topic, payload, reason)                                            \
    do {                                                                                   \
        CHECK_INT_EQ(dec(d, topic, payload), SLUICE_ERR);                                  \
        CHECK_STR_CONTAINS(err, reason);                                                   \
    } while (0)

static void hexcat(char *dst, size_t cap, const unsigned char *b, size_t n, const char *sep)
{
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(dst);
        snprintf(dst + l, cap - l, "%s%02X", i ? sep : "", b[i]);
    }
}

static void test_example(f2t_inst *d)
{
    /* The F2-PROTOCOL example in every spelling of hex it allows. */
    static const char *const spellings[] = {"0A 1B 15 7C 01 90", "0A1B157C0190",
                                            "0a 1b 15 7c 01 90", "0x0A1B157C0190",
                                            "0x0a 0x1b 0x15 0x7c 0x01 0x90", " 0A1B 157C\\t0190 "};
    for (size_t i = 0; i < sizeof spellings / sizeof *spellings; i++) {
        char p[200];
        snprintf(p, sizeof p, "{\"timestamp\": \"" TS "\", \"data\": \"%s\"}", spellings[i]);
        if (dec(d, "cmnd/f2-AABBCCDDEE01/sensor-mode/J1/sensor-1", p) != SLUICE_OK)
            fprintf(stderr, "spelling \"%s\": %s\n", spellings[i], err);
        CHECK_INT_EQ(out->n, 3);
        CHECK_MEAS(out, "Temperature", 25.87, "°C");
        CHECK_MEAS(out, "Humidity", 55.00, "%");
        CHECK_MEAS(out, "CO2", 400, "ppm");
    }

    /* The output record's shape, which the sinks depend on. */
    CHECK_INT_EQ(dec(d, "cmnd/f2-AABBCCDDEE01/sensor-mode/J1/sensor-1",
                     "{\"timestamp\": \"" TS "\", \"data\": \"0A1B157C0190\"}"),
                 SLUICE_OK);
    const sluice_record *r = f2t_find(out, "Humidity");
    CHECK(r != NULL);
    if (!r)
        return;
    CHECK(r->key.len == 15 && memcmp(r->key.ptr, "f2-aabbccddee01", 15) == 0);
    CHECK_INT_EQ(r->timestamp, TS_US);
    const sluice_field *ts = sluice_field_get(r, "timestamp");
    CHECK(ts && ts->type == SLUICE_TIMESTAMP && ts->v.ts == TS_US);
    CHECK_STR_CONTAINS(f2t_str(r, "device_id"), "f2-aabbccddee01");
    CHECK(strcmp(f2t_str(r, "device_id"), "f2-aabbccddee01") == 0);
    CHECK(strcmp(f2t_str(r, "connector_mode"), "sensor-mode") == 0);
    CHECK(strcmp(f2t_str(r, "component_type"), "sensor") == 0);
    CHECK(strcmp(f2t_str(r, "pin_position"), "1") == 0);
    CHECK(strcmp(f2t_str(r, "topic"), "cmnd/f2-AABBCCDDEE01/sensor-mode/J1/sensor-1") == 0);
    const sluice_field *vt = sluice_field_get(r, "value_text");
    CHECK(vt && vt->type == SLUICE_NULL);
    CHECK_INT_EQ(r->n_fields, 10);
    /* Measurements of one reading are distinct records. */
    CHECK(f2t_find(out, "Temperature") != f2t_find(out, "CO2"));
}

static void test_encodings(f2t_inst *d)
{
    /* One value per encoding; the LE fixture reads the same bytes reversed
     * per field, so both must give the same numbers. */
    static const unsigned char be[] = {
        0x85,                                           /* Int8 -123 */
        0xFE,                                           /* Uint8 254 */
        0x80, 0x00,                                     /* Int16 -32768 */
        0xFF, 0xFF,                                     /* Uint16 65535 */
        0xFF, 0xFF, 0xFF, 0xFE,                         /* Int32 -2 */
        0xDE, 0xAD, 0xBE, 0xEF,                         /* Uint32 3735928559 */
        0x80, 0, 0, 0, 0, 0, 0, 0,                      /* Int64 -2^63 */
        0x00, 0x1F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, /* Uint64 2^53-1 */
        0x41, 0xCA, 0x00, 0x00,                         /* Float32 25.25 */
        0xC0, 0x09, 0x1E, 0xB8, 0x51, 0xEB, 0x85, 0x1F  /* Float64 -3.14 */
    };
    static const size_t widths[] = {1, 1, 2, 2, 4, 4, 8, 8, 4, 8};
    unsigned char le[sizeof be];
    for (size_t i = 0, off = 0; i < 10; off += widths[i], i++)
        for (size_t k = 0; k < widths[i]; k++)
            le[off + k] = be[off + widths[i] - 1 - k];
    for (int pass = 0; pass < 2; pass++) {
        char p[400] = "{\"timestamp\": \"" TS "\", \"data\": \"";
        hexcat(p, sizeof p, pass ? le : be, sizeof be, " ");
        strcat(p, "\"}");
        const char *topic = pass ? "cmnd/f2-aabbccddee01/sensor-mode/1/sensor-3"
                                 : "cmnd/f2-aabbccddee01/sensor-mode/1/sensor-2";
        CHECK_INT_EQ(dec(d, topic, p), SLUICE_OK);
        CHECK_INT_EQ(out->n, 10);
        CHECK_MEAS(out, "i8", -123, NULL);
        CHECK_MEAS(out, "u8", 254, NULL);
        CHECK_MEAS(out, "i16", -32768, NULL);
        CHECK_MEAS(out, "u16", 65535, NULL);
        CHECK_MEAS(out, "i32", -2, NULL);
        CHECK_MEAS(out, "u32", 3735928559.0, NULL);
        CHECK_MEAS(out, "i64", -9223372036854775808.0, NULL);
        CHECK_MEAS(out, "u64", 9007199254740991.0, NULL);
        CHECK_MEAS(out, "f32", 25.25, NULL);
        CHECK_MEAS(out, "f64", -3.14, NULL);
    }
    /* Uint64 above 2^63 stays positive; Int64 of all ones is -1. */
    char p[400] = "{\"timestamp\": \"" TS "\", \"data\": \"";
    unsigned char big[42];
    memcpy(big, be, sizeof big);
    memset(big + 14, 0xFF, 16);
    hexcat(p, sizeof p, big, sizeof big, "");
    strcat(p, "\"}");
    CHECK_INT_EQ(dec(d, "cmnd/f2-aabbccddee01/sensor-mode/1/sensor-2", p), SLUICE_OK);
    CHECK_MEAS(out, "i64", -1, NULL);
    CHECK_MEAS(out, "u64", 18446744073709551615.0, NULL);
}

static void test_decimals(f2t_inst *d)
{
    /* -1234 / 10, -1 / 1000, 4321 * 10, 123456 / 100 with a prefix, NaN. */
    CHECK_INT_EQ(dec(d, "cmnd/f2-aabbccddee01/sensor-mode/1/sensor-4",
                     "{\"timestamp\": \"" TS "\", \"data\": \"FB2E FFFF 10E1 0001E240 7FC00000\"}"),
                 SLUICE_OK);
    CHECK_INT_EQ(out->n, 5);
    CHECK_MEAS(out, "tenths", -123.4, "x");
    CHECK_MEAS(out, "thousandths", -0.001, "m");
    CHECK_MEAS(out, "tens", 43210, NULL);
    CHECK_MEAS(out, "price", 1234.56, "$ USD");
    /* A NaN cannot be a value: it is kept as text. */
    CHECK_MEAS(out, "nan", NAN, NULL);
    const sluice_record *r = f2t_find(out, "nan");
    CHECK(r && f2t_str(r, "value_text") && strcmp(f2t_str(r, "value_text"), "NaN") == 0);
}

static void test_table_model(f2t_inst *d)
{
    /* boolean_map + number_map with per-field units. */
    CHECK_INT_EQ(dec(d, "stat/f2-AABBCCDDEE02/access-control-mode/2/strike-1",
                     "{\"timestamp\": \"" TS "\", \"state\": \"locked\", \"voltage\": 12.1, "
                     "\"current\": 1.5}"),
                 SLUICE_OK);
    CHECK_INT_EQ(out->n, 3);
    CHECK_MEAS(out, "state", 1, NULL);
    CHECK(strcmp(f2t_str(f2t_find(out, "state"), "value_text"), "locked") == 0);
    CHECK_MEAS(out, "voltage", 12.1, "V");
    CHECK_MEAS(out, "current", 1.5, "A");
    CHECK(strcmp(f2t_str(f2t_find(out, "voltage"), "pin_position"), "1") == 0);

    /* The most specific row wins: strike-9 has its own `boolean` row, so
     * the any-ID rows (voltage, current) do not apply. */
    CHECK_INT_EQ(dec(d, "stat/f2-AABBCCDDEE02/access-control-mode/2/strike-9",
                     "{\"timestamp\": \"" TS "\", \"voltage\": 12.1, \"state\": \"unlocked\"}"),
                 SLUICE_OK);
    CHECK_INT_EQ(out->n, 1);
    CHECK_MEAS(out, "state", 0, "state-unit");
    CHECK(strcmp(f2t_str(f2t_find(out, "state"), "value_text"), "unlocked") == 0);

    /* boolean_map: words (any case) and JSON booleans; no ID. */
    CHECK_INT_EQ(dec(d, "stat/f2-aabbccddee02/access-control-mode/J2/door-sensors",
                     "{\"timestamp\": \"" TS "\", \"door_1\": \"OPEN\", \"door_2\": \"closed\", "
                     "\"tamper\": false, \"note\": \"x\"}"),
                 SLUICE_OK);
    CHECK_INT_EQ(out->n, 3);
    CHECK_MEAS(out, "door_1", 1, NULL);
    CHECK_MEAS(out, "door_2", 0, NULL);
    CHECK_MEAS(out, "tamper", 0, NULL);
    CHECK(strcmp(f2t_str(f2t_find(out, "door_1"), "value_text"), "OPEN") == 0);
    CHECK(f2t_str(f2t_find(out, "tamper"), "value_text") == NULL);
    CHECK(strcmp(f2t_str(f2t_find(out, "door_1"), "pin_position"), "") == 0);
    CHECK(strcmp(f2t_str(f2t_find(out, "door_1"), "component_type"), "door-sensors") == 0);

    /* raw_string keeps text; number_map scales and takes the plain unit. */
    CHECK_INT_EQ(dec(d, "tele/f2-aabbccddee02/access-control-mode/2/reader-2",
                     "{\"timestamp\": \"" TS "\", \"card_id\": \"A1B2C3D4\", \"read_type\": "
                     "\"nfc\", \"signal_strength\": 85}"),
                 SLUICE_OK);
    CHECK_INT_EQ(out->n, 3);
    CHECK_MEAS(out, "card_id", NAN, NULL);
    CHECK(strcmp(f2t_str(f2t_find(out, "card_id"), "value_text"), "A1B2C3D4") == 0);
    CHECK(strcmp(f2t_str(f2t_find(out, "read_type"), "value_text"), "nfc") == 0);
    CHECK_MEAS(out, "signal_strength", 42.5, "dBm");

    /* hex_to_float: unsigned big-endian x scaling_factor. */
    CHECK_INT_EQ(dec(d, "cmnd/f2-aabbccddee02/sensor-mode/4/sensor-7",
                     "{\"timestamp\": \"" TS "\", \"data\": \"00 01 E2 40\"}"),
                 SLUICE_OK);
    CHECK_INT_EQ(out->n, 1);
    CHECK_MEAS(out, "data", 12345.6, "L");
    CHECK_INT_EQ(dec(d, "cmnd/f2-aabbccddee02/sensor-mode/4/sensor-7",
                     "{\"timestamp\": \"" TS "\", \"data\": \"0xFFFFFFFFFFFFFFFF\"}"),
                 SLUICE_OK);
    CHECK_MEAS(out, "data", 18446744073709551615.0 * 0.1, "L");

    /* boolean: the "state" field. */
    CHECK_INT_EQ(dec(d, "stat/f2-aabbccddee02/alarm-mode/3/siren-1",
                     "{\"timestamp\": \"" TS "\", \"state\": \"active\", \"volume\": 95}"),
                 SLUICE_OK);
    CHECK_INT_EQ(out->n, 1);
    CHECK_MEAS(out, "state", 1, NULL);

    /* device_id given as a bare MAC matches too. */
    CHECK_INT_EQ(dec(d, "stat/f2-aabbccddee03/alarm-mode/3/siren-1",
                     "{\"timestamp\": \"" TS "\", \"pattern\": \"wail\"}"),
                 SLUICE_OK);
    CHECK(out->n == 1 && strcmp(f2t_str(out->recs, "value_text"), "wail") == 0);
}

static void test_precedence(f2t_inst *d)
{
    /* Device A has a sensor-mode hex_to_float row for any sensor: the Pin
     * at J1 position 1 outranks it for an RS-485 reading ... */
    CHECK_INT_EQ(dec(d, "cmnd/f2-aabbccddee01/sensor-mode/J1/sensor-1",
                     "{\"timestamp\": \"" TS "\", \"data\": \"0A1B157C0190\"}"),
                 SLUICE_OK);
    CHECK_INT_EQ(out->n, 3);
    CHECK(f2t_find(out, "data") == NULL);
    /* ... and where no Pin exists (J1 position 9) the table decides. */
    CHECK_INT_EQ(dec(d, "cmnd/f2-aabbccddee01/sensor-mode/J1/sensor-9",
                     "{\"timestamp\": \"" TS "\", \"data\": \"0A1B\"}"),
                 SLUICE_OK);
    CHECK_INT_EQ(out->n, 1);
    CHECK_MEAS(out, "data", 2587, "raw");
    /* A device of the device model uses the table for non-RS-485 readings. */
    CHECK_INT_EQ(dec(d, "stat/f2-aabbccddee01/access-control-mode/2/exit-buttons",
                     "{\"timestamp\": \"" TS "\", \"button_pressed\": true, \"button_id\": 2}"),
                 SLUICE_OK);
    CHECK_INT_EQ(out->n, 2);
    CHECK_MEAS(out, "button_pressed", 1, NULL);
    CHECK_MEAS(out, "button_id", 2, NULL);
}

static void test_topics(f2t_inst *d)
{
    static const char *const ok[] = {
        "cmnd/f2-AABBCCDDEE01/sensor-mode/J1/sensor-1",
        "cmnd/f2-aabbccddee01/sensor-mode/j1/sensor-1",
        "cmnd/F2-AaBbCcDdEe01/sensor-mode/1/sensor-1",
        "cmnd/f2-aabbccddee01/sensor-mode/1/sensor-1/extra/suffix",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        CHECK_INT_EQ(dec(d, ok[i], "{\"timestamp\": \"" TS "\", \"data\": \"0A1B157C0190\"}"),
                     SLUICE_OK);
        CHECK_INT_EQ(out->n, 3);
        CHECK(out->n && strcmp(f2t_str(out->recs, "device_id"), "f2-aabbccddee01") == 0);
        CHECK(out->n && strcmp(f2t_str(out->recs, "pin_position"), "1") == 0);
    }
    /* A multi-word component with an ID; a mode nobody knows passes through. */
    CHECK_INT_EQ(dec(d, "stat/f2-aabbccddee02/alarm-mode/3/motion-sensor-12",
                     "{\"timestamp\": \"" TS "\", \"motion_detected\": true}"),
                 SLUICE_OK);
    CHECK(out->n == 1 && strcmp(f2t_str(out->recs, "component_type"), "motion-sensor") == 0 &&
          strcmp(f2t_str(out->recs, "pin_position"), "12") == 0);
}

static void test_shapes(f2t_inst *d)
{
    const sluice_api *api = sl_api();
    sluice_batch *in = sl_batch_new(4, 1 << 16);
    /* (b) the Kafka raw topic's fields win over value and origin. */
    sluice_record *r = api->record_new(in);
    r->origin.topic = "raw_iot_data";
    api->set_value(in, r, "ignored", 7);
    sluice_field *f = api->field_add(in, r, "topic", SLUICE_STRING);
    const char *t = "cmnd/f2-AABBCCDDEE01/sensor-mode/J1/sensor-1";
    api->field_set_string(in, f, t, strlen(t));
    f = api->field_add(in, r, "payload", SLUICE_STRING);
    const char *p = "{\"timestamp\": \"" TS "\", \"data\": \"0A1B157C0190\"}";
    api->field_set_string(in, f, p, strlen(p));
    CHECK_INT_EQ(f2t_decode_rec(d, r, out, err), SLUICE_OK);
    CHECK_INT_EQ(out->n, 3);
    CHECK_MEAS(out, "CO2", 400, "ppm");
    CHECK(out->n && strcmp(f2t_str(out->recs, "topic"), t) == 0);

    /* A payload field that is not text is refused by name. */
    f = api->field_add(in, r, "payload", SLUICE_INT);
    f->v.i = 5;
    CHECK_INT_EQ(f2t_decode_rec(d, r, out, err), SLUICE_ERR);
    CHECK_STR_CONTAINS(err, "field \"payload\" is not a string");

    /* (c) a bridge envelope in the value, payload as text or as object. */
    static const char *const env[] = {
        "{\"topic\": \"cmnd/f2-AABBCCDDEE01/sensor-mode/J1/sensor-1\", \"payload\": "
        "\"{\\\"timestamp\\\": \\\"" TS "\\\", \\\"data\\\": \\\"0A1B157C0190\\\"}\"}",
        "{\"topic\": \"cmnd/f2-AABBCCDDEE01/sensor-mode/J1/sensor-1\", \"payload\": "
        "{\"timestamp\": \"" TS "\", \"data\": \"0A1B157C0190\"}}"};
    for (int i = 0; i < 2; i++) {
        CHECK_INT_EQ(dec(d, "raw_iot_data", env[i]), SLUICE_OK);
        CHECK_INT_EQ(out->n, 3);
        CHECK_MEAS(out, "Temperature", 25.87, "°C");
        CHECK(out->n && strcmp(f2t_str(out->recs, "topic"), t) == 0);
    }
    sl_batch_free(in);
}

static void test_failures(f2t_inst *d)
{
    const char *s1 = "cmnd/f2-AABBCCDDEE01/sensor-mode/J1/sensor-1";
    CHECK_FAILS(d, s1, "not json", "payload is not JSON");
    CHECK_FAILS(d, s1, "[1, 2]", "payload is not a JSON object");
    CHECK_FAILS(d, s1, "{\"timestamp\": \"" TS "\", \"data\": \"0A 1B 15 7G 01 90\"}",
                "\"data\" is not hex: 'G' at character 11");
    CHECK_FAILS(d, s1, "{\"timestamp\": \"" TS "\", \"data\": \"0A1B157C019\"}",
                "odd number of digits");
    CHECK_FAILS(d, s1, "{\"timestamp\": \"" TS "\", \"data\": \"0A 1B 15 7C 01\"}",
                "data point \"CO2\": needs bytes 4..6, data has 5 bytes");
    CHECK_FAILS(d, s1, "{\"timestamp\": \"" TS "\", \"data\": \"\"}",
                "data point \"Temperature\": needs bytes 0..2, data has 0 bytes");
    CHECK_FAILS(d, "cmnd/f2-0BADBAD00001/sensor-mode/J1/sensor-1",
                "{\"timestamp\": \"" TS "\", \"data\": \"0A1B157C0190\"}",
                "unknown device f2-0badbad00001");
    CHECK_FAILS(d, "stat/f2-aabbccddee02/alarm-mode/3/bell-1",
                "{\"timestamp\": \"" TS "\", \"state\": \"on\"}",
                "no parameters for f2-aabbccddee02 alarm-mode/J3/bell-1");
    CHECK_FAILS(d, "cmnd/f2-aabbccddee01/sensor-mode/J2/sensor-1",
                "{\"timestamp\": \"" TS "\", \"data\": \"0A1B157C0190\"}",
                "data point \"Bad\": unknown DataEncoding \"Int24\"");
    CHECK_FAILS(d, "cmnd/f2-aabbccddee01/sensor-mode/J2/sensor-2",
                "{\"timestamp\": \"" TS "\", \"data\": \"0A1B157C0190\"}",
                "data point \"Odd\": Length 3 does not match DataEncoding Int16 (2 bytes)");
    CHECK_FAILS(d, "cmnd/f2-aabbccddee01/sensor-mode/J2/sensor-3",
                "{\"timestamp\": \"" TS "\", \"data\": \"0A1B157C0190\"}",
                "sensor at connector 2 position 3 (template \"empty\") has no data points");
    CHECK_FAILS(d, "stat/f2-aabbccddee02/alarm-mode/3/siren-5",
                "{\"timestamp\": \"" TS "\", \"state\": \"active\"}",
                "unknown encoding_type \"weird_enc\"");
    CHECK_FAILS(d, "stat/f2-aabbccddee02/alarm-mode/3/siren-1",
                "{\"timestamp\": \"" TS "\", \"state\": \"jammed\"}",
                "field \"state\" is not true/false or a two-state word");
    CHECK_FAILS(d, "stat/f2-aabbccddee02/alarm-mode/3/siren-1",
                "{\"timestamp\": \"" TS "\", \"volume\": 3}",
                "encoding boolean: the payload has no \"state\" or two-state field");
    CHECK_FAILS(d, "stat/f2-aabbccddee02/alarm-mode/3/motion-sensor-1",
                "{\"timestamp\": \"" TS "\", \"sensitivity\": 3}",
                "no payload field matches the device_parameters encodings (boolean_map)");
    CHECK_FAILS(d, "cmnd/f2-aabbccddee02/sensor-mode/4/sensor-7",
                "{\"timestamp\": \"" TS "\", \"data\": \"00 01 02 03 04 05 06 07 08\"}",
                "hex_to_float: \"data\" has 9 bytes, needs 1 to 8");

    /* Topics. */
    const char *pl = "{\"timestamp\": \"" TS "\", \"data\": \"0A1B157C0190\"}";
    CHECK_FAILS(d, "cmnd/f2-AABBCCDDEE01/sensor-mode", pl, "unknown topic shape");
    CHECK_FAILS(d, "foo/f2-AABBCCDDEE01/sensor-mode/J1/sensor-1", pl,
                "unknown topic type \"foo\"");
    CHECK_FAILS(d, "cmnd/f2-AABBCCDDEE0/sensor-mode/J1/sensor-1", pl,
                "device \"f2-AABBCCDDEE0\" is not f2- followed by 12 hex digits");
    CHECK_FAILS(d, "cmnd/f2-AABBCCDDEEXX/sensor-mode/J1/sensor-1", pl,
                "is not f2- followed by 12 hex digits");
    CHECK_FAILS(d, "cmnd/f2-AABBCCDDEE01/sensor-mode/J5/sensor-1", pl,
                "connector \"J5\" is not 1..4 or J1..J4");
    CHECK_FAILS(d, "cmnd/f2-AABBCCDDEE01/sensor-mode/0/sensor-1", pl,
                "connector \"0\" is not 1..4");
    CHECK_FAILS(d, "cmnd/f2-AABBCCDDEE01//J1/sensor-1", pl, "empty mode");
    CHECK_FAILS(d, "cmnd/f2-AABBCCDDEE01/sensor-mode/J1/", pl, "empty component");
    CHECK_FAILS(d, NULL, pl, "record has no topic");
    CHECK_FAILS(d, "cmnd/f2-AABBCCDDEE01/sensor-\xff/J1/sensor-1", pl,
                "topic is not valid UTF-8: byte 0xFF at offset 28");

    /* Timestamps. */
    CHECK_FAILS(d, s1, "{\"data\": \"0A1B157C0190\"}", "payload has no \"timestamp\"");
    CHECK_FAILS(d, s1, "{\"timestamp\": 1685027590, \"data\": \"0A1B157C0190\"}",
                "\"timestamp\" is not a string");
    CHECK_FAILS(d, s1, "{\"timestamp\": \"25/05/2023 15:13\", \"data\": \"0A1B157C0190\"}",
                "\"timestamp\" \"25/05/2023 15:13\" is not YYYY-MM-DD HH:MM:SS");
    CHECK_FAILS(d, s1, "{\"timestamp\": \"2023-02-29 10:00:00\", \"data\": \"0A1B157C0190\"}",
                "is not a valid date and time");

    /* Payload bytes. */
    CHECK_FAILS(d, s1, "{\"timestamp\": \"" TS "\", \"data\": \"0A \xC3\x28\"}",
                "payload is not valid UTF-8: byte 0xC3 at offset 56");
    CHECK_FAILS(d, s1, "{\"timestamp\": \"" TS "\", \"timestamp\": \"" TS "\"}",
                "duplicate object key");
    /* The policy f2_decode had with jansson (JSON_REJECT_DUPLICATES, no
     * JSON_ALLOW_NUL), kept on the host's parser: at any depth, in the
     * bridge's envelope too, and the same key spelt with an escape. */
    CHECK_FAILS(d, s1,
                "{\"timestamp\": \"" TS "\", \"data\": \"0A1B157C0190\", "
                "\"x\": [{\"a\": 1, \"\\u0061\": 2}]}",
                "duplicate object key");
    CHECK_FAILS(d, s1, "{\"timestamp\": \"" TS "\", \"data\": \"0A1B\\u0000\"}",
                "u0000 is not allowed");
    CHECK_FAILS(d, NULL,
                "{\"topic\": \"cmnd/f2-AABBCCDDEE01/sensor-mode/J1/sensor-1\", \"payload\": "
                "{\"timestamp\": \"" TS "\", \"data\": \"0A\", \"data\": \"0B\"}}",
                "duplicate object key");
    CHECK_FAILS(d, NULL,
                "{\"topic\": \"cmnd/f2-AABBCCDDEE01/sensor-mode/J1/sensor-1\", \"payload\": [1]}",
                "envelope \"payload\" is neither text nor an object");
    CHECK_FAILS(d, NULL,
                "{\"topic\": \"cmnd/f2-AABBCCDDEE01/sensor-mode/J1/sensor-1\", \"payload\": 7}",
                "envelope \"payload\" is neither text nor an object");
    char *huge = malloc(70000);
    memset(huge, ' ', 69999);
    huge[0] = '{';
    memcpy(huge + 69990, "}", 2);
    CHECK_FAILS(d, s1, huge, "payload of 69991 bytes exceeds max_payload (65536 bytes)");
    free(huge);
}

static void test_options(f2t *t)
{
    /* Overridden two-state words; timestamps at a fixed offset. */
    f2t_inst d;
    const char *const opts[] = {"true_words: [ajar, yes]", "false_words: [shut]",
                                "timezone: \"+02:00\"", "max_payload: 100", NULL};
    CHECK_INT_EQ(f2t_decoder(t, &d, NULL, opts), 0);
    CHECK_INT_EQ(dec(&d, "stat/f2-aabbccddee02/access-control-mode/2/door-sensors",
                     "{\"timestamp\": \"" TS "\", \"door_1\": \"Ajar\", \"door_2\": \"shut\", "
                     "\"door_3\": \"open\"}"),
                 SLUICE_OK);
    CHECK_INT_EQ(out->n, 2);
    CHECK_MEAS(out, "door_1", 1, NULL);
    CHECK_MEAS(out, "door_2", 0, NULL);
    CHECK(f2t_find(out, "door_3") == NULL);
    CHECK(strcmp(f2t_str(f2t_find(out, "door_1"), "value_text"), "Ajar") == 0);
    CHECK_INT_EQ(out->recs[0].timestamp, TS_US - 7200LL * 1000000);
    /* A zone in the timestamp itself wins over the option. */
    CHECK_INT_EQ(dec(&d, "stat/f2-aabbccddee02/access-control-mode/2/door-sensors",
                     "{\"timestamp\": \"2023-05-25T15:13:10.5434Z\", \"door_1\": \"ajar\"}"),
                 SLUICE_OK);
    CHECK_INT_EQ(out->recs[0].timestamp, TS_US);
    CHECK_FAILS(&d, "stat/f2-aabbccddee02/access-control-mode/2/door-sensors",
                "{\"timestamp\": \"" TS "\", \"door_1\": \"ajar\", \"pad\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
                "exceeds max_payload (100 bytes)");
    f2t_inst_free(&d);

    /* An explicit empty list means no words of that kind. */
    const char *const nofalse[] = {"false_words: []", NULL};
    CHECK_INT_EQ(f2t_decoder(t, &d, NULL, nofalse), 0);
    CHECK_INT_EQ(dec(&d, "stat/f2-aabbccddee02/access-control-mode/2/door-sensors",
                     "{\"timestamp\": \"" TS "\", \"door_1\": \"open\", \"door_2\": \"closed\"}"),
                 SLUICE_OK);
    CHECK_INT_EQ(out->n, 1);
    CHECK_MEAS(out, "door_1", 1, NULL);
    f2t_inst_free(&d);

    /* Bad options fail init with a clear reason. */
    const char *const badtz[] = {"timezone: Europe/Paris", NULL};
    CHECK_INT_EQ(f2t_decoder(t, &d, NULL, badtz), -1);
    CHECK_STR_CONTAINS(d.init_err, "timezone \"Europe/Paris\" is neither UTC nor a fixed offset");
    f2t_inst_free(&d);
    CHECK_INT_EQ(f2t_decoder(t, &d, "host=127.0.0.1 bogus_option=1", NULL), -1);
    CHECK_STR_CONTAINS(d.init_err, "params_dsn is not a valid libpq connection string");
    f2t_inst_free(&d);
    /* An unquoted space in the password: the part after it stays out. */
    CHECK_INT_EQ(f2t_decoder(t, &d, "host=127.0.0.1 password=ab cd-secret-77", NULL), -1);
    CHECK_STR_CONTAINS(d.init_err, "missing \"=\" after \"...\"");
    CHECK(strstr(d.init_err, "cd-secret") == NULL);
    f2t_inst_free(&d);
    /* A database without the schema: init fails and says what to do. */
    char dsn[300];
    snprintf(dsn, sizeof dsn, "host=127.0.0.1 port=%d user=postgres dbname=postgres", t->port);
    CHECK_INT_EQ(f2t_decoder(t, &d, dsn, NULL), -1);
    CHECK_STR_CONTAINS(d.init_err, "is sql/device_params.sql applied?");
    f2t_inst_free(&d);
}

int main(void)
{
    f2t t;
    f2t_open(&t, "decode", 0, 0);
    f2t_sql(&t, "%s", FIXTURE);
    out = sl_batch_new(64, 1 << 20);

    f2t_inst d;
    CHECK_INT_EQ(f2t_decoder(&t, &d, NULL, NULL), 0);
    if (d.inst) {
        test_example(&d);
        test_encodings(&d);
        test_decimals(&d);
        test_table_model(&d);
        test_precedence(&d);
        test_topics(&d);
        test_shapes(&d);
        test_failures(&d);
        CHECK(f2t_metric(&d, "sluice_f2_readings_decoded_total") > 20);
        CHECK(f2t_metric(&d, "sluice_f2_measurements_total") > 50);
        /* One lookup per device: A, B, the bare-MAC one and the unknown. */
        CHECK_INT_EQ(f2t_metric(&d, "sluice_f2_cache_misses_total"), 4);
    } else {
        fprintf(stderr, "init failed: %s\n", d.init_err);
    }
    f2t_inst_free(&d);
    test_options(&t);

    sl_batch_free(out);
    int rc = CHECK_DONE();
    f2t_close(&t, rc != 0);
    return rc;
}
