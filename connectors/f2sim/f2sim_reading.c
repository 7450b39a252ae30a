#include "f2sim_reading.h"

#include <stdio.h>
#include <string.h>

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t draw(rng *r)
{
    r->s += 0x9E3779B97F4A7C15ull;
    return f2sim_mix(r->s);
}

/* Uniform integer in [lo, hi]. */
static int64_t range(rng *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(draw(r) % (uint64_t)(hi - lo + 1));
}

static void put(uint8_t *b, size_t off, uint64_t v, unsigned size, int le)
{
    for (unsigned i = 0; i < size; i++) {
        unsigned shift = 8 * (le ? i : size - 1 - i);
        b[off + i] = (uint8_t)(v >> shift);
    }
}

static void put_f32(uint8_t *b, size_t off, float f, int le)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    put(b, off, u, 4, le);
}

static void put_f64(uint8_t *b, size_t off, double d, int le)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    put(b, off, u, 8, le);
}

/* Sensor bytes laid out as the sample templates read them. */
static size_t sensor_bytes(f2sim_sensor s, rng *r, uint8_t *b)
{
    switch (s) {
    case F2SIM_ENV:
        put(b, 0, (uint64_t)range(r, 1800, 2999), 2, 0);          /* 18.00..29.99 °C */
        put(b, 2, (uint64_t)range(r, 3000, 6999), 2, 0);          /* 30.00..69.99 % */
        put(b, 4, (uint64_t)range(r, 400, 1500), 2, 0);           /* ppm */
        return 6;
    case F2SIM_ENERGY:
        put(b, 0, (uint64_t)range(r, 2200, 2399), 2, 1);          /* 220.0..239.9 V */
        put(b, 2, (uint64_t)(int64_t)range(r, -1000, 1000), 2, 1); /* ±10.00 A */
        put(b, 4, (uint64_t)range(r, 0, 99999999), 4, 1);         /* Wh */
        put(b, 8, (uint64_t)range(r, 80, 100), 1, 1);             /* 0.80..1.00 */
        return 9;
    case F2SIM_OUTDOOR:
        put(b, 0, (uint64_t)(int64_t)range(r, -200, 349), 2, 0);  /* -20.0..34.9 °C */
        put_f32(b, 2, 950.0f + (float)range(r, 0, 999) / 10.0f, 0); /* hPa */
        put(b, 6, (uint64_t)range(r, 0, 255), 1, 0);              /* 0..25.5 m/s */
        return 7;
    case F2SIM_LAB:
        put(b, 0, (uint64_t)(int64_t)range(r, -90, 90), 1, 0);
        put(b, 1, (uint64_t)range(r, 0, 100), 1, 0);
        put(b, 2, (uint64_t)(int64_t)range(r, -100000, 0), 4, 0);
        put(b, 6, (uint64_t)range(r, 0, 4000000000LL), 4, 0);
        put(b, 10, (uint64_t)(int64_t)range(r, -1000000000000LL, 1000000000000LL), 8, 0);
        put(b, 18, (uint64_t)range(r, 0, (1LL << 53) - 1), 8, 0);  /* exact as a double */
        put_f64(b, 26, 100.0 + (double)range(r, 0, 190000) / 100.0, 0);
        put_f32(b, 34, 4.0f + (float)range(r, 0, 600) / 100.0f, 1);
        put(b, 38, (uint64_t)(int64_t)range(r, -50000, 50000), 4, 1);
        return 42;
    case F2SIM_WATER:
        put(b, 0, (uint64_t)range(r, 0, 4000000000LL), 4, 0);     /* pulses x 0.1 L */
        return 4;
    default:
        return 0;
    }
}

/* Every spelling F2-PROTOCOL allows, mostly the common one. */
static void hex(const uint8_t *b, size_t n, rng *r, char *out, size_t cap)
{
    unsigned style = (unsigned)(draw(r) % 10);
    const char *digits = style == 1 || style == 3 ? "0123456789abcdef" : "0123456789ABCDEF";
    int spaced = style != 1 && style != 2;
    size_t o = 0;
    if (style == 2) {
        out[o++] = '0';
        out[o++] = 'x';
    }
    for (size_t i = 0; i < n && o + 4 < cap; i++) {
        if (spaced && i)
            out[o++] = ' ';
        out[o++] = digits[b[i] >> 4];
        out[o++] = digits[b[i] & 15];
    }
    out[o] = '\0';
}

static int64_t days_to_civil(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
    return 0;
}

void f2sim_format_ts(int64_t us, char *buf, size_t len)
{
    int64_t secs = us >= 0 ? us / 1000000 : (us - 999999) / 1000000;
    int64_t frac = us - secs * 1000000;
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int64_t sod = secs - days * 86400;
    int y, m, d;
    days_to_civil(days, &y, &m, &d);
    snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d.%06lld", y, m, d, (int)(sod / 3600),
             (int)(sod / 60 % 60), (int)(sod % 60), (long long)frac);
}

int f2sim_parse_ts(const char *s, int64_t *us)
{
    int y, mo, d, h, mi, se, n = 0;
    if (sscanf(s, "%4d-%2d-%2d%*1[ T]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &n) != 6)
        return -1;
    int64_t frac = 0;
    const char *p = s + n;
    if (*p == '.') {
        int nd = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, nd++)
            if (nd < 6)
                frac = frac * 10 + (*p - '0');
        for (; nd < 6; nd++)
            frac *= 10;
    }
    if (*p == 'Z')
        p++;
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59)
        return -1;
    /* days_from_civil */
    int64_t yy = y - (mo <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    unsigned yoe = (unsigned)(yy - era * 400);
    unsigned doy = (153 * (unsigned)(mo + (mo > 2 ? -3 : 9)) + 2) / 5 + (unsigned)d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + (int64_t)doe - 719468;
    *us = ((days * 86400) + h * 3600 + mi * 60 + se) * 1000000 + frac;
    return 0;
}

static const char *pick(rng *r, const char *const *words, size_t n)
{
    return words[draw(r) % n];
}

#define PICK(r, ...)                                                                     \
    pick((r), (const char *const[]){__VA_ARGS__},                                        \
         sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static size_t body(const f2sim_component *c, rng *r, const char *ts, char *out, size_t cap)
{
    uint8_t bytes[64];
    char hx[200];
    int n = 0;
    switch (c->kind) {
    case F2SIM_SENSOR:
        hex(bytes, sensor_bytes(c->sensor, r, bytes), r, hx, sizeof hx);
        n = snprintf(out, cap, "{\"timestamp\": \"%s\", \"data\": \"%s\"}", ts, hx);
        break;
    case F2SIM_STRIKE:
        n = snprintf(out, cap,
                     "{\"timestamp\": \"%s\", \"state\": \"%s\", \"voltage\": %.1f, "
                     "\"current\": %.2f}",
                     ts, PICK(r, "locked", "unlocked"), 11.5 + (double)range(r, 0, 10) / 10,
                     (double)range(r, 10, 200) / 100);
        break;
    case F2SIM_DOOR:
        n = snprintf(out, cap,
                     "{\"timestamp\": \"%s\", \"door_1\": \"%s\", \"door_2\": \"%s\", "
                     "\"tamper\": %s}",
                     ts, PICK(r, "open", "closed", "closed"), PICK(r, "open", "closed"),
                     draw(r) % 20 ? "false" : "true");
        break;
    case F2SIM_READER:
        n = snprintf(out, cap,
                     "{\"timestamp\": \"%s\", \"card_id\": \"%08llX\", \"read_type\": \"%s\", "
                     "\"signal_strength\": %d}",
                     ts, (unsigned long long)(draw(r) & 0xFFFFFFFFu), PICK(r, "nfc", "rfid", "ble"),
                     (int)range(r, 40, 100));
        break;
    case F2SIM_EXIT:
        n = snprintf(out, cap,
                     "{\"timestamp\": \"%s\", \"button_pressed\": %s, \"button_id\": %d}", ts,
                     PICK(r, "true", "false"), (int)range(r, 1, 4));
        break;
    case F2SIM_MOTION:
        n = snprintf(out, cap,
                     "{\"timestamp\": \"%s\", \"motion_detected\": %s, \"sensitivity\": %d, "
                     "\"zone\": \"zone_%d\"}",
                     ts, PICK(r, "true", "false", "false"), (int)range(r, 1, 10),
                     (int)range(r, 1, 4));
        break;
    case F2SIM_SIREN:
        n = snprintf(out, cap,
                     "{\"timestamp\": \"%s\", \"state\": \"%s\", \"volume\": %d, "
                     "\"pattern\": \"%s\"}",
                     ts, PICK(r, "active", "inactive", "inactive"), (int)range(r, 60, 100),
                     PICK(r, "pulsing", "steady", "wail"));
        break;
    default:
        break;
    }
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static size_t topic(const f2sim_component *c, const char *mac_upper, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/f2-%s/%s/%s/%s", c->type, mac_upper, c->mode, c->connector,
                     c->name);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* The malformations a decoder must reject, each with its name in the
 * record's f2sim.bad header so tests can check the reason given. */
static void make_bad(const f2sim_plan *p, rng *r, const char *mac_upper, const char *ts,
                     f2sim_reading *o)
{
    static const f2sim_component env = {F2SIM_SENSOR, "cmnd", "sensor-mode", "J1", "sensor-1",
                                        F2SIM_ENV};
    static const char *const names[] = {"not_json",   "bad_hex",      "short_data",
                                        "unknown_mac", "no_timestamp", "bad_topic",
                                        "bad_utf8"};
    unsigned v = (unsigned)(draw(r) % (sizeof names / sizeof names[0]));
    o->bad = names[v];
    o->topic_len = topic(&env, mac_upper, o->topic, sizeof o->topic);
    int n = 0;
    switch (v) {
    case 0:
        n = snprintf(o->payload, sizeof o->payload, "{\"timestamp\": \"%s\", \"data\": ", ts);
        break;
    case 1:
        n = snprintf(o->payload, sizeof o->payload,
                     "{\"timestamp\": \"%s\", \"data\": \"0A 1B 15 7G 01 90\"}", ts);
        break;
    case 2:
        n = snprintf(o->payload, sizeof o->payload,
                     "{\"timestamp\": \"%s\", \"data\": \"0A 1B 15 7C 01\"}", ts);
        break;
    case 3: {
        /* A MAC outside every seed's range (02:F2 prefix is the fleet's). */
        char other[16];
        snprintf(other, sizeof other, "0BAD%08llX", (unsigned long long)(draw(r) & 0xFF));
        o->topic_len = topic(&env, other, o->topic, sizeof o->topic);
        n = snprintf(o->payload, sizeof o->payload,
                     "{\"timestamp\": \"%s\", \"data\": \"0A 1B 15 7C 01 90\"}", ts);
        break;
    }
    case 4:
        n = snprintf(o->payload, sizeof o->payload, "{\"data\": \"0A 1B 15 7C 01 90\"}");
        break;
    case 5:
        o->topic_len = (size_t)snprintf(o->topic, sizeof o->topic, "cmnd/f2-%s/sensor-mode",
                                        mac_upper);
        n = snprintf(o->payload, sizeof o->payload,
                     "{\"timestamp\": \"%s\", \"data\": \"0A 1B 15 7C 01 90\"}", ts);
        break;
    default:
        n = snprintf(o->payload, sizeof o->payload,
                     "{\"timestamp\": \"%s\", \"data\": \"0A 1B \xC3\x28\"}", ts);
        break;
    }
    (void)p;
    o->payload_len = n > 0 ? (size_t)n : 0;
}

void f2sim_make(const f2sim_plan *p, uint64_t k, int64_t ts_us, f2sim_reading *o)
{
    uint64_t streams = (uint64_t)p->devices * p->n_comps;
    uint64_t s = k % streams;
    uint32_t dev = (uint32_t)(s % p->devices);
    const f2sim_component *c = p->comps[s / p->devices];
    rng r = {f2sim_mix((uint64_t)p->seed) ^ (k * 0xD1B54A32D192ED03ull)};

    uint64_t mac = f2sim_mac(p->seed, dev);
    char mac_upper[13];
    snprintf(mac_upper, sizeof mac_upper, "%012llX", (unsigned long long)mac);
    snprintf(o->key, sizeof o->key, "f2-%012llx", (unsigned long long)mac);
    char ts[40];
    f2sim_format_ts(ts_us, ts, sizeof ts);
    o->bad = NULL;

    /* The bad/good decision uses its own draw so that bad_ratio does not
     * shift the values of the good readings. */
    rng rb = {r.s ^ 0x5851F42D4C957F2Dull};
    if (p->bad_ratio > 0 && (double)(draw(&rb) >> 11) / 9007199254740992.0 < p->bad_ratio) {
        make_bad(p, &rb, mac_upper, ts, o);
        return;
    }
    o->topic_len = topic(c, mac_upper, o->topic, sizeof o->topic);
    o->payload_len = body(c, &r, ts, o->payload, sizeof o->payload);
}
