/* Output records.  The first measurement of a reading is built field by
 * field; the others are shallow copies of it with the four per-measurement
 * fields replaced, so the shared strings are copied into the arena once per
 * reading, not once per measurement. */
#include "f2_decode.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Field order of every output record; the copies rely on it. */
enum {
    F_TIMESTAMP, F_DEVICE_ID, F_MODE, F_CTYPE, F_PIN, F_DATAPOINT, F_VALUE, F_VALUE_TEXT, F_UNIT,
    F_TOPIC, F_COUNT
};

static int set_str(const sluice_api *api, sluice_batch *b, sluice_field *f, const char *s,
                   size_t n)
{
    if (!s) {
        f->type = SLUICE_NULL;
        memset(&f->v, 0, sizeof f->v);
        return 0;
    }
    f->type = SLUICE_STRING;
    return api->field_set_string(b, f, s, n);
}

static int build_first(const sluice_api *api, f2_reading *rd, sluice_batch *out)
{
    static const char *const names[F_COUNT] = {
        "timestamp", "device_id", "connector_mode", "component_type", "pin_position",
        "datapoint", "value", "value_text", "unit", "topic"};
    sluice_record *r = api->record_new(out);
    if (!r)
        return -1;
    const f2_topic *t = &rd->t;
    r->timestamp = rd->ts_us;
    r->origin = rd->in->origin;
    if (api->set_key(out, r, t->device_id, strlen(t->device_id)) != 0)
        return -1;
    for (int i = 0; i < F_COUNT; i++)
        if (!api->field_add(out, r, names[i], SLUICE_NULL))
            return -1;
    sluice_field *f = r->fields;
    f[F_TIMESTAMP].type = SLUICE_TIMESTAMP;
    f[F_TIMESTAMP].v.ts = rd->ts_us;
    /* device_id is the record key's bytes: share them. */
    f[F_DEVICE_ID].type = SLUICE_STRING;
    f[F_DEVICE_ID].v.s = r->key;
    if (set_str(api, out, &f[F_MODE], t->mode.p, t->mode.n) != 0 ||
        set_str(api, out, &f[F_CTYPE], t->ctype.p, t->ctype.n) != 0 ||
        set_str(api, out, &f[F_PIN], t->cid.p, t->cid.n) != 0)
        return -1;
    f[F_TOPIC].type = SLUICE_STRING;
    f[F_TOPIC].v.s.ptr = rd->topic;
    f[F_TOPIC].v.s.len = rd->topic_len;
    rd->first = r;
    return 0;
}

int f2_emit(f2_inst *fi, f2_reading *rd, sluice_batch *out, const char *datapoint,
            int has_value, double value, const char *text, size_t text_len, const char *unit,
            char *err, size_t errlen)
{
    const sluice_api *api = fi->api;
    sluice_record *r;
    if (!rd->first) {
        if (build_first(api, rd, out) != 0)
            goto full;
        r = rd->first;
    } else {
        r = api->record_copy(out, rd->first);
        if (!r)
            goto full;
    }
    sluice_field *f = r->fields;
    /* JSON and the value column cannot carry NaN or infinities: they become
     * text, so the reading is kept and says what the sensor sent. */
    if (has_value && !isfinite(value)) {
        text = isnan(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
        text_len = strlen(text);
        has_value = 0;
    }
    if (set_str(api, out, &f[F_DATAPOINT], datapoint, strlen(datapoint)) != 0 ||
        set_str(api, out, &f[F_VALUE_TEXT], text, text_len) != 0 ||
        set_str(api, out, &f[F_UNIT], unit, unit ? strlen(unit) : 0) != 0)
        goto full;
    if (has_value) {
        f[F_VALUE].type = SLUICE_DOUBLE;
        f[F_VALUE].v.d = value;
    } else {
        f[F_VALUE].type = SLUICE_NULL;
        memset(&f[F_VALUE].v, 0, sizeof f[F_VALUE].v);
    }
    rd->emitted++;
    return 0;
full:
    /* Not a failure of the reading: process returns SLUICE_FULL and the
     * host starts it over in an emptied batch. */
    rd->full = 1;
    snprintf(err, errlen, "output batch full after %zu measurements of this reading",
             rd->emitted);
    return -1;
}
