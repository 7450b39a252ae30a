/* The two ways raw readings become measurements (F2-PROTOCOL.md, "Device
 * parameters"): the device model's data points over RS-485 bytes, and the
 * device_parameters rows over the payload's fields. */
#include "f2_decode.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const double pow10_tab[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,
                                   1e7,  1e8,  1e9,  1e10, 1e11, 1e12, 1e13,
                                   1e14, 1e15, 1e16, 1e17, 1e18};

int f2_apply_device_model(f2_inst *fi, f2_reading *rd, const f2_pin *pin, const uint8_t *data,
                          size_t n, sluice_batch *out, char *err, size_t errlen)
{
    if (pin->n_dps == 0) {
        snprintf(err, errlen,
                 "sensor at connector %d position %d (template \"%s\") has no data points",
                 pin->connector, pin->position, pin->template_name ? pin->template_name : "none");
        return -1;
    }
    for (size_t i = 0; i < pin->n_dps; i++) {
        const f2_datapoint *dp = &pin->dps[i];
        if (!dp->enc_ok) {
            snprintf(err, errlen, "data point \"%s\": unknown DataEncoding \"%s\"", dp->label,
                     dp->encoding);
            return -1;
        }
        if (dp->length != dp->enc.size) {
            snprintf(err, errlen,
                     "data point \"%s\": Length %d does not match DataEncoding %s (%u bytes)",
                     dp->label, dp->length, dp->encoding, dp->enc.size);
            return -1;
        }
        if (dp->offset < 0) {
            snprintf(err, errlen, "data point \"%s\": Offset %d is not a byte position",
                     dp->label, dp->offset);
            return -1;
        }
        if ((size_t)dp->offset + (size_t)dp->length > n) {
            snprintf(err, errlen, "data point \"%s\": needs bytes %d..%d, data has %zu bytes",
                     dp->label, dp->offset, dp->offset + dp->length, n);
            return -1;
        }
        if (dp->decimals < -18 || dp->decimals > 18) {
            snprintf(err, errlen, "data point \"%s\": Decimals %d is outside -18..18", dp->label,
                     dp->decimals);
            return -1;
        }
        double v = f2_binenc_decode(&dp->enc, data + dp->offset);
        /* Division, not multiplication by 10^-d: 2587 / 100 is exactly the
         * double nearest 25.87, 2587 * 0.01 is not. */
        v = dp->decimals >= 0 ? v / pow10_tab[dp->decimals] : v * pow10_tab[-dp->decimals];
        if (f2_emit(fi, rd, out, dp->label, 1, v, NULL, 0, dp->unit, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int f2_two_state(const f2_inst *fi, const char *s, size_t n)
{
    for (size_t i = 0; i < fi->true_words.n; i++)
        if (strlen(fi->true_words.w[i]) == n && strncasecmp(fi->true_words.w[i], s, n) == 0)
            return 1;
    for (size_t i = 0; i < fi->false_words.n; i++)
        if (strlen(fi->false_words.w[i]) == n && strncasecmp(fi->false_words.w[i], s, n) == 0)
            return 0;
    return -1;
}

static const char *row_unit(const f2_param *p, const char *field)
{
    for (size_t i = 0; i < p->n_units; i++)
        if (strcmp(p->units[i].field, field) == 0)
            return *p->units[i].unit ? p->units[i].unit : NULL;
    return p->unit;
}

static int str_eq(const char *a, f2_str b)
{
    return strlen(a) == b.n && memcmp(a, b.p, b.n) == 0;
}

/* Whether a payload member is a two-state value: 1/0, or -1. */
static int bool_of(const f2_inst *fi, const sluice_field *v)
{
    if (v->type == SLUICE_BOOL)
        return v->v.b != 0;
    if (v->type == SLUICE_STRING)
        return f2_two_state(fi, v->v.s.ptr, v->v.s.len);
    return -1;
}

#define MAX_ROWS 32

static int emit_bool(f2_inst *fi, f2_reading *rd, sluice_batch *out, const f2_param *p,
                     const char *key, const sluice_field *v, int b, char *err, size_t errlen)
{
    const char *text = v->type == SLUICE_STRING ? v->v.s.ptr : NULL;
    size_t tn = text ? v->v.s.len : 0;
    return f2_emit(fi, rd, out, key, 1, b, text, tn, row_unit(p, key), err, errlen);
}

static int emit_hex(f2_inst *fi, f2_reading *rd, sluice_batch *out, const f2_param *p,
                    const char *key, const sluice_field *v, char *err, size_t errlen)
{
    size_t n;
    if (f2_hex_decode(v->v.s.ptr, v->v.s.len, fi->data, sizeof fi->data,
                      &n, err, errlen) != 0)
        return -1;
    if (n == 0 || n > 8) {
        snprintf(err, errlen, "hex_to_float: \"%s\" has %zu bytes, needs 1 to 8", key, n);
        return -1;
    }
    uint64_t u = 0;
    for (size_t i = 0; i < n; i++)
        u = u << 8 | fi->data[i];
    return f2_emit(fi, rd, out, key, 1, (double)u * p->scale, NULL, 0, row_unit(p, key), err,
                   errlen);
}

int f2_apply_table_model(f2_inst *fi, f2_reading *rd, const f2_device *dev, sluice_batch *out,
                         char *err, size_t errlen)
{
    /* The most specific level wins: rows naming this component ID, else
     * the rows for any ID.  Every row of the winning level applies. */
    const f2_param *spec[MAX_ROWS], *any[MAX_ROWS];
    size_t ns = 0, na = 0;
    const f2_topic *t = &rd->t;
    for (size_t i = 0; i < dev->n_params; i++) {
        const f2_param *p = &dev->params[i];
        if (!str_eq(p->mode, t->mode) || !str_eq(p->ctype, t->ctype))
            continue;
        if (p->cid ? !str_eq(p->cid, t->cid) : 0)
            continue;
        if (p->cid ? ns >= MAX_ROWS : na >= MAX_ROWS) {
            snprintf(err, errlen, "more than %d device_parameters rows match this reading",
                     MAX_ROWS);
            return -1;
        }
        if (p->cid)
            spec[ns++] = p;
        else
            any[na++] = p;
    }
    const f2_param **rows = ns ? spec : any;
    size_t nr = ns ? ns : na;
    if (nr == 0)
        return 1;
    /* Encodings claim fields in a fixed order (see f2_tenc); sort by it. */
    for (size_t i = 1; i < nr; i++)
        for (size_t k = i; k > 0 && rows[k]->enc < rows[k - 1]->enc; k--) {
            const f2_param *tmp = rows[k];
            rows[k] = rows[k - 1];
            rows[k - 1] = tmp;
        }
    for (size_t i = 0; i < nr; i++) {
        if (rows[i]->enc == F2_TENC_UNKNOWN) {
            snprintf(err, errlen,
                     "device_parameters row (%s, %s, %s): unknown encoding_type \"%s\"",
                     rows[i]->mode, rows[i]->ctype, rows[i]->cid ? rows[i]->cid : "any",
                     rows[i]->encoding);
            return -1;
        }
    }

    /* `boolean` reads one state field: "state", else the first two-state one. */
    const char *state_key = NULL;
    if (rows[0]->enc == F2_TENC_BOOLEAN) {
        if (sluice_field_get(rd->payload, "state"))
            state_key = "state";
        else
            for (uint32_t k = 0; k < rd->payload->n_fields; k++) {
                const sluice_field *v = &rd->payload->fields[k];
                if (strcmp(v->name, "timestamp") != 0 && bool_of(fi, v) >= 0) {
                    state_key = v->name;
                    break;
                }
            }
        if (!state_key) {
            snprintf(err, errlen, "encoding boolean: the payload has no \"state\" or two-state "
                                  "field");
            return -1;
        }
    }

    for (uint32_t k = 0; k < rd->payload->n_fields; k++) {
        const sluice_field *v = &rd->payload->fields[k];
        const char *key = v->name;
        if (strcmp(key, "timestamp") == 0)
            continue;
        for (size_t i = 0; i < nr; i++) {
            const f2_param *p = rows[i];
            int rc = -2; /* -2: this row does not claim the field */
            switch (p->enc) {
            case F2_TENC_BOOLEAN:
                if (strcmp(key, state_key) == 0) {
                    int b = bool_of(fi, v);
                    if (b < 0) {
                        snprintf(err, errlen,
                                 "encoding boolean: field \"%s\" is not true/false or a "
                                 "two-state word",
                                 key);
                        return -1;
                    }
                    rc = emit_bool(fi, rd, out, p, key, v, b, err, errlen);
                }
                break;
            case F2_TENC_BOOLEAN_MAP: {
                int b = bool_of(fi, v);
                if (b >= 0)
                    rc = emit_bool(fi, rd, out, p, key, v, b, err, errlen);
                break;
            }
            case F2_TENC_HEX_TO_FLOAT:
                if (strcmp(key, "data") == 0 && v->type == SLUICE_STRING)
                    rc = emit_hex(fi, rd, out, p, key, v, err, errlen);
                break;
            case F2_TENC_NUMBER_MAP:
                if (v->type == SLUICE_INT || v->type == SLUICE_DOUBLE)
                    rc = f2_emit(fi, rd, out, key, 1,
                                 (v->type == SLUICE_INT ? (double)v->v.i : v->v.d) * p->scale,
                                 NULL, 0, row_unit(p, key), err, errlen);
                break;
            case F2_TENC_RAW_STRING:
                if (v->type == SLUICE_STRING)
                    rc = f2_emit(fi, rd, out, key, 0, 0, v->v.s.ptr, v->v.s.len,
                                 row_unit(p, key), err, errlen);
                break;
            default:
                break;
            }
            if (rc == -1)
                return -1;
            if (rc == 0)
                break;
        }
    }
    if (rd->emitted == 0) {
        char encs[128] = "";
        size_t off = 0;
        for (size_t i = 0; i < nr && off < sizeof encs; i++)
            off += (size_t)snprintf(encs + off, sizeof encs - off, "%s%s", i ? ", " : "",
                                    f2_tenc_name(rows[i]->enc));
        snprintf(err, errlen, "no payload field matches the device_parameters encodings (%s)",
                 encs);
        return -1;
    }
    return 0;
}
