/* f2_decode's input: the reading's topic and payload, exactly as
 * f2_process receives them from the MQTT or Kafka source.
 *
 * Input: "<topic>\n<payload>"; without a newline the whole input is the
 * payload and the record has no origin topic (the Kafka bridge's envelope
 * {"topic": ..., "payload": ...} carries it then).
 *
 * No database: the real cache policy (f2_lookup.c) runs over a cache filled
 * with fixture devices that never go stale, and the database functions are
 * stubs that answer "down" at once, so a reading of an uncached MAC comes
 * back as SLUICE_RETRY without waiting.  The fixtures cover both models
 * (pins with every DataEncoding, broken data points, and device_parameters
 * rows of every encoding_type) so that valid readings get deep. */
#include "fuzz.h"

#include "batch.h"
#include "ctx.h"
#include "f2_decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the database, down for good ---- */

int f2_db_open(f2_db *db, char *err, size_t errlen)
{
    (void)db;
    snprintf(err, errlen, "fuzzing: no database");
    return 1;
}
void f2_db_close(f2_db *db) { (void)db; }
void f2_db_tick(f2_db *db, const f2_db_events *ev) { (void)db, (void)ev; }
int f2_db_ready(f2_db *db, int wait_ms, const f2_db_events *ev, char *err, size_t errlen)
{
    (void)db, (void)wait_ms, (void)ev;
    snprintf(err, errlen, "fuzzing: no database");
    return -1;
}
int f2_db_load(f2_db *db, uint64_t mac, const char *mac_hex, f2_device **out, char *err,
               size_t errlen)
{
    (void)db, (void)mac, (void)mac_hex, (void)out;
    snprintf(err, errlen, "fuzzing: no database");
    return -1;
}

int f2_db_command(f2_db *db, const char *sql, int n, const char *const *vals, const int *lens,
                  const int *fmts, char *err, size_t errlen)
{
    (void)db, (void)sql, (void)n, (void)vals, (void)lens, (void)fmts;
    snprintf(err, errlen, "fuzzing: no database");
    return -1;
}

/* ---- fixture devices ---- */

static char *dup(const char *s) { return s ? strdup(s) : NULL; }

typedef struct dp_def {
    const char *label, *encoding;
    int offset, length, decimals;
    const char *unit;
} dp_def;

static void add_pin(f2_device *d, int connector, int position, const char *tmpl,
                    const dp_def *defs, size_t n)
{
    f2_pin *p = &d->pins[d->n_pins++];
    p->connector = connector;
    p->position = position;
    p->template_name = dup(tmpl);
    p->dps = calloc(n ? n : 1, sizeof *p->dps);
    for (size_t i = 0; i < n; i++) {
        f2_datapoint *dp = &p->dps[p->n_dps++];
        dp->label = dup(defs[i].label);
        dp->encoding = dup(defs[i].encoding);
        dp->enc_ok = f2_binenc_parse(dp->encoding, &dp->enc) == 0;
        dp->offset = defs[i].offset;
        dp->length = defs[i].length;
        dp->decimals = defs[i].decimals;
        dp->unit = dup(defs[i].unit);
    }
}

static void add_param(f2_device *d, const char *mode, const char *ctype, const char *cid,
                      const char *enc, double scale, const char *unit, const char *units)
{
    f2_param *p = &d->params[d->n_params++];
    p->mode = dup(mode);
    p->ctype = dup(ctype);
    p->cid = dup(cid);
    p->encoding = dup(enc);
    p->enc = f2_tenc_parse(enc);
    p->scale = scale;
    p->unit = dup(unit);
    if (units) { /* "field=unit,field=unit" */
        p->units = calloc(4, sizeof *p->units);
        char *copy = strdup(units), *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok && p->n_units < 4;
             tok = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(tok, '=');
            *eq = '\0';
            p->units[p->n_units].field = strdup(tok);
            p->units[p->n_units].unit = strdup(eq + 1);
            p->n_units++;
        }
        free(copy);
    }
}

static f2_inst *fi;
static sluice_batch *in, *out;

/* fresh: served from the cache as a hit; else stale, served as it is
 * because the database cannot refresh it (f2_lookup's two cache paths). */
static f2_device *device(uint64_t mac, int known, int fresh)
{
    f2_device *d = calloc(1, sizeof *d);
    d->mac = mac;
    d->known = known;
    d->gen = fresh ? fi->cache.gen : 0;
    d->loaded_ns = fi->api->mono_ns();
    d->pins = calloc(8, sizeof *d->pins);
    d->params = calloc(16, sizeof *d->params);
    return d;
}

static void fixtures(void)
{
    /* tele/f2-a1b2c3d4e5f6/...: both models. */
    f2_device *d = device(0xa1b2c3d4e5f6ull, 1, 1);
    static const dp_def good[] = {
        {"temperature", "Int16", 0, 2, 1, "°C"},    {"humidity", "UInt16LE", 2, 2, 0, "%"},
        {"raw32", "Float32", 0, 4, 0, NULL},        {"raw64", "Float64LE", 0, 8, -2, "x"},
        {"counter", "UInt32LE", 1, 4, 3, NULL},     {"big", "Int64", 0, 8, 18, NULL},
        {"tiny", "int8", 5, 1, -18, NULL},          {"u64", "uint64be", 0, 8, 0, NULL},
    };
    static const dp_def broken_enc[] = {{"weird", "Int24", 0, 3, 0, NULL}};
    static const dp_def broken_len[] = {{"short", "Int32", 0, 2, 0, NULL}};
    static const dp_def broken_off[] = {{"neg", "Int8", -1, 1, 0, NULL}};
    static const dp_def broken_dec[] = {{"dec", "Int8", 0, 1, 19, NULL}};
    static const dp_def far[] = {{"far", "UInt16", 1000, 2, 0, NULL}};
    add_pin(d, 3, 12, "th-sensor", good, sizeof good / sizeof *good);
    add_pin(d, 3, 13, NULL, broken_enc, 1);
    add_pin(d, 3, 14, "empty", NULL, 0);
    add_pin(d, 3, 15, "short", broken_len, 1);
    add_pin(d, 3, 16, "neg", broken_off, 1);
    add_pin(d, 3, 17, "dec", broken_dec, 1);
    add_pin(d, 4, 1, "far", far, 1);
    add_param(d, "sensor-mode", "motion-sensor", NULL, "boolean", 1, NULL, NULL);
    add_param(d, "access-control-mode", "door-sensors", NULL, "boolean_map", 1, NULL,
              "door_1=,door_2=open");
    add_param(d, "sensor-mode", "sensor", NULL, "hex_to_float", 0.1, "V", NULL);
    add_param(d, "alarm-mode", "siren", NULL, "number_map", 2, "dB", NULL);
    add_param(d, "alarm-mode", "siren", NULL, "raw_string", 1, NULL, "state=s");
    add_param(d, "alarm-mode", "siren", NULL, "boolean_map", 1, NULL, NULL);
    add_param(d, "sensor-mode", "keypad", "2", "raw_string", 1, NULL, NULL);
    add_param(d, "sensor-mode", "keypad", NULL, "number_map", 1, NULL, NULL);
    add_param(d, "weird-mode", "x", NULL, "bogus", 1, NULL, NULL);
    add_param(d, "access-control-mode", "reader", NULL, "raw_string", 1, NULL, NULL);
    add_param(d, "access-control-mode", "reader", NULL, "number_map", 1, NULL, NULL);
    add_param(d, "access-control-mode", "reader", NULL, "hex_to_float", 1, NULL, NULL);
    f2_cache_put(&fi->cache, d);
    /* tele/f2-000000000001/...: a device the database does not know, whose
     * negative entry is stale. */
    f2_cache_put(&fi->cache, device(1, 0, 0));
}

static void teardown(void)
{
    f2_cache_free(&fi->cache);
    free(fi);
    sl_batch_free(in);
    sl_batch_free(out);
}

static const char *const true_words[] = {"true", "on", "open", "active", "locked", "pressed",
                                         "detected"};
static const char *const false_words[] = {"false", "off", "closed", "inactive", "unlocked",
                                          "released"};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fi = calloc(1, sizeof *fi);
    if (!fi || f2_cache_init(&fi->cache) != 0)
        abort();
    fi->api = sl_api();
    fi->ttl_ns = INT64_MAX / 4; /* the fixtures never go stale */
    /* No tick (a no-op here anyway) ever falls due: the same input takes
     * the same path whatever the clock says. */
    fi->last_tick_ns = INT64_MAX / 2;
    fi->max_payload = 64 * 1024;
    fi->tz_offset_s = 3600;
    fi->true_words.w = (const char **)true_words;
    fi->true_words.n = sizeof true_words / sizeof *true_words;
    fi->false_words.w = (const char **)false_words;
    fi->false_words.n = sizeof false_words / sizeof *false_words;
    f2_events_init(fi);
    fixtures();
    in = sl_batch_new(1, 1 << 20);
    out = sl_batch_new(64, 1 << 20);
    if (!in || !out)
        abort();
    atexit(teardown);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const sluice_api *api = fi->api;
    const uint8_t *nl = memchr(data, '\n', size);
    sl_batch_reset(in);
    sl_batch_reset(out);
    sluice_record *r = api->record_new(in);
    if (nl) {
        /* A topic is a C string: it ends at a NUL, if it has one. */
        size_t tl = (size_t)(nl - data);
        const uint8_t *nul = memchr(data, '\0', tl);
        if (nul)
            tl = (size_t)(nul - data);
        r->origin.topic = api->strndup(in, (const char *)data, tl);
        size -= (size_t)(nl + 1 - data);
        data = nl + 1;
    }
    if (size && api->set_value(in, r, data, size) != 0)
        return 0;

    char err[SLUICE_ERRLEN];
    memset(err, 0x55, sizeof err);
    err[0] = '\0';
    sluice_status st = f2_process(fi, r, out, err);
    switch (st) {
    case SLUICE_OK:
        FUZZ_CHECK(out->n > 0);
        for (size_t i = 0; i < out->n; i++) {
            const sluice_record *o = &out->recs[i];
            const sluice_field *ts = sluice_field_get(o, "timestamp");
            const sluice_field *v = sluice_field_get(o, "value");
            FUZZ_CHECK(o->n_fields == 10);
            FUZZ_CHECK(ts && ts->type == SLUICE_TIMESTAMP);
            FUZZ_CHECK(v && (v->type == SLUICE_DOUBLE || v->type == SLUICE_NULL));
        }
        break;
    case SLUICE_ERR:
    case SLUICE_RETRY:
        /* A reason, NUL-terminated within the buffer. */
        FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof err) != NULL);
        break;
    default:
        FUZZ_CHECK(!"f2_process returned neither OK, ERR nor RETRY");
    }
    return 0;
}
