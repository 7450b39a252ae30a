/* One reading in, one record per measurement out. */
#include "f2_decode.h"

#include <stdio.h>
#include <string.h>

static int field_text(const sluice_field *f, const char **p, size_t *n)
{
    if (!f || (f->type != SLUICE_STRING && f->type != SLUICE_BYTES))
        return -1;
    *p = f->v.s.ptr;
    *n = f->v.s.len;
    return 0;
}

/* Parses a payload object into the fields of *r, a record of our own on
 * the stack whose memory comes from `out` (so every measurement may point
 * at its strings).  The host's parser, strict like jansson with
 * JSON_REJECT_DUPLICATES, which f2_decode used before: a repeated key is an
 * error, not "the last one wins".  Nested objects and arrays are kept as
 * their text (BYTES), so the envelope's payload is parsed once more, in
 * place, and nothing else nested is ever copied. */
static sluice_status parse_object(const sluice_api *api, sluice_batch *out, sluice_record *r,
                                  const char *p, size_t n, char *err, size_t errlen)
{
    char e[SLUICE_ERRLEN];
    memset(r, 0, sizeof *r);
    int rc = api->from_json_ex(out, r, p, n, SLUICE_JSON_STRICT | SLUICE_JSON_NESTED_RAW, e,
                               sizeof e);
    if (rc == 0)
        return SLUICE_OK;
    if (rc == -2) {
        snprintf(err, errlen, "output batch full (%.480s)", e);
        return SLUICE_FULL;
    }
    if (strncmp(e, "JSON value is", 13) == 0)
        snprintf(err, errlen, "payload is not a JSON object");
    else
        snprintf(err, errlen, "payload is not JSON: %.480s", e);
    return SLUICE_ERR;
}

static const sluice_field *text_field(const sluice_record *r, const char *name)
{
    const sluice_field *f = sluice_field_get(r, name);
    return f && f->type == SLUICE_STRING ? f : NULL;
}

static const sluice_header *header(const sluice_record *r, const char *key)
{
    for (uint32_t i = 0; i < r->n_headers; i++)
        if (r->headers[i].key && strcmp(r->headers[i].key, key) == 0)
            return &r->headers[i];
    return NULL;
}

/* Parks the reading (unknown_device: park): added to the batch's parked
 * rows, which the transform's commit writes with one INSERT before the
 * host lets the batch go.  `back`: the header of a parked reading coming
 * back ("<tries> <first parked µs>"), which keeps its first parking time. */
static sluice_status park(f2_inst *fi, const f2_reading *rd, const char *topic,
                          size_t topic_len, const char *pl, size_t pl_len,
                          const sluice_header *back, char *err)
{
    long tries = 0;
    long long parked_us = 0;
    if (back) {
        char tmp[64];
        size_t n = back->value.len < sizeof tmp - 1 ? back->value.len : sizeof tmp - 1;
        memcpy(tmp, back->value.ptr, n);
        tmp[n] = '\0';
        long t = 0;
        long long us = 0;
        if (sscanf(tmp, "%ld %lld", &t, &us) == 2 && t >= 0 && t < 1000000 && us > 0) {
            tries = t + 1;
            parked_us = us;
        }
    }
    if (f2_park_rows_add(&fi->parked, rd->t.mac_hex, topic, topic_len, pl, pl_len, err,
                         (int)tries, parked_us, rd->in->timestamp) != 0) {
        snprintf(err, SLUICE_ERRLEN, "out of memory parking a reading of %s", rd->t.device_id);
        return SLUICE_RETRY;
    }
    return SLUICE_OK;
}

sluice_status f2_process(void *inst, const sluice_record *in, sluice_batch *out, char *err)
{
    f2_inst *fi = inst;
    const sluice_api *api = fi->api;
    int64_t now = api->mono_ns();
    f2_maybe_tick(fi, now);

    /* A parked reading coming back (f2_park.c): expired, it fails with the
     * reason its header carries; otherwise it is decoded like any other. */
    const sluice_header *back = NULL;
    if (in->n_headers && fi->park) {
        const sluice_header *x = header(in, F2_PARK_EXPIRED_HDR);
        if (x) {
            snprintf(err, SLUICE_ERRLEN, "%.*s", (int)x->value.len, x->value.ptr);
            return SLUICE_ERR;
        }
        back = header(in, F2_PARK_HDR);
    }

    /* Either shape: fields topic + payload (the Kafka raw topic), or the
     * MQTT shape, value = payload and origin.topic = topic. */
    const char *topic = NULL, *pl;
    size_t topic_len = 0, pl_len;
    int topic_from_field = field_text(sluice_field_get(in, "topic"), &topic, &topic_len) == 0;
    if (!topic_from_field && in->origin.topic) {
        topic = in->origin.topic;
        topic_len = strlen(topic);
    }
    const sluice_field *pf = sluice_field_get(in, "payload");
    if (pf) {
        if (field_text(pf, &pl, &pl_len) != 0) {
            snprintf(err, SLUICE_ERRLEN, "field \"payload\" is not a string");
            return SLUICE_ERR;
        }
    } else {
        pl = in->value.ptr ? in->value.ptr : "";
        pl_len = in->value.len;
    }
    if (pl_len > fi->max_payload) {
        snprintf(err, SLUICE_ERRLEN, "payload of %zu bytes exceeds max_payload (%zu bytes)",
                 pl_len, fi->max_payload);
        return SLUICE_ERR;
    }
    size_t bad = sluice_utf8_valid_prefix((const unsigned char *)pl, pl_len);
    if (bad < pl_len) {
        snprintf(err, SLUICE_ERRLEN, "payload is not valid UTF-8: byte 0x%02X at offset %zu",
                 (unsigned char)pl[bad], bad);
        return SLUICE_ERR;
    }
    sluice_record doc, inner;
    sluice_status st = parse_object(api, out, &doc, pl, pl_len, err, SLUICE_ERRLEN);
    if (st != SLUICE_OK)
        return st;
    const sluice_record *j = &doc;

    /* A bridge's envelope {"topic": ..., "payload": ...} in the value
     * (the Kafka source without a converter): unwrap it.  A payload object
     * is a BYTES field (its text, in place); one sent as text a STRING. */
    const sluice_field *wt = text_field(j, "topic"), *wp = sluice_field_get(j, "payload");
    if (!sluice_field_get(j, "timestamp") && wt && wp) {
        if (wp->type == SLUICE_STRING) {
            if (wp->v.s.len > fi->max_payload) {
                snprintf(err, SLUICE_ERRLEN,
                         "payload of %zu bytes exceeds max_payload (%zu bytes)", wp->v.s.len,
                         fi->max_payload);
                return SLUICE_ERR;
            }
        } else if (wp->type != SLUICE_BYTES || wp->v.s.ptr[0] != '{') {
            snprintf(err, SLUICE_ERRLEN, "envelope \"payload\" is neither text nor an object");
            return SLUICE_ERR;
        }
        st = parse_object(api, out, &inner, wp->v.s.ptr, wp->v.s.len, err, SLUICE_ERRLEN);
        if (st != SLUICE_OK)
            return st;
        if (!topic_from_field) {
            /* The envelope's topic is a field of doc, in out's arena. */
            topic = wt->v.s.ptr;
            topic_len = wt->v.s.len;
        }
        j = &inner;
    }

    if (!topic) {
        snprintf(err, SLUICE_ERRLEN, "record has no topic (no \"topic\" field, no origin topic)");
        return SLUICE_ERR;
    }
    bad = sluice_utf8_valid_prefix((const unsigned char *)topic, topic_len);
    if (bad < topic_len) {
        snprintf(err, SLUICE_ERRLEN, "topic is not valid UTF-8: byte 0x%02X at offset %zu",
                 (unsigned char)topic[bad], bad);
        return SLUICE_ERR;
    }

    f2_reading rd;
    memset(&rd, 0, sizeof rd);
    rd.in = in;
    rd.payload = j;
    if (f2_topic_parse(topic, topic_len, &rd.t, err, SLUICE_ERRLEN) != 0)
        return SLUICE_ERR;

    const sluice_field *ts = sluice_field_get(j, "timestamp");
    if (!ts) {
        snprintf(err, SLUICE_ERRLEN, "payload has no \"timestamp\"");
        return SLUICE_ERR;
    }
    if (ts->type != SLUICE_STRING) {
        snprintf(err, SLUICE_ERRLEN, "\"timestamp\" is not a string");
        return SLUICE_ERR;
    }
    if (f2_parse_timestamp(ts->v.s.ptr, ts->v.s.len, fi->tz_offset_s,
                           &rd.ts_us, err, SLUICE_ERRLEN) != 0)
        return SLUICE_ERR;

    const f2_device *dev;
    st = back ? f2_lookup_fresh(fi, &rd.t, now, &dev, err, SLUICE_ERRLEN)
              : f2_lookup(fi, &rd.t, now, &dev, err, SLUICE_ERRLEN);
    if (st != SLUICE_OK)
        return st;
    /* Seen, whether or not it decodes: counted once, after the lookup, so
     * that a reading handed back for a retry is not counted twice.  The
     * topic starts with its type, so the MAC's digits follow "<type>/f2-". */
    if (fi->fleet && !back) /* a parked reading was seen when it came */
        f2_fleet_see(&fi->fleet->table, rd.t.mac, api->now_us(), topic, topic_len,
                     rd.t.type.n + 4);
    if (!dev->known) {
        snprintf(err, SLUICE_ERRLEN,
                 "unknown device %s (no \"Device\" with that MacAddress, no device_parameters "
                 "rows)",
                 rd.t.device_id);
        if (fi->park)
            return park(fi, &rd, topic, topic_len, pl, pl_len, back, err);
        return SLUICE_ERR;
    }

    /* The topic lives in the input record (origin or field) or was copied
     * into the arena from an envelope: every measurement may point at it. */
    rd.topic = topic;
    rd.topic_len = topic_len;

    /* The device model wins for an RS-485 reading (hex "data") from a
     * sensor wired to a Pin; device_parameters decides everything else. */
    const sluice_field *data = text_field(j, "data");
    const f2_pin *pin =
        data && rd.t.position >= 0
            ? f2_device_pin(dev, rd.t.connector, rd.t.position)
            : NULL;
    int rc;
    if (pin) {
        size_t n;
        rc = f2_hex_decode(data->v.s.ptr, data->v.s.len, fi->data,
                           sizeof fi->data, &n, err, SLUICE_ERRLEN);
        if (rc == 0)
            rc = f2_apply_device_model(fi, &rd, pin, fi->data, n, out, err, SLUICE_ERRLEN);
    } else {
        rc = f2_apply_table_model(fi, &rd, dev, out, err, SLUICE_ERRLEN);
        if (rc == 1) {
            if (rd.t.position >= 0)
                snprintf(err, SLUICE_ERRLEN,
                         "no parameters for %s %.*s/J%d/%.*s-%.*s: no Pin at connector %d "
                         "position %d with \"data\", no device_parameters row",
                         rd.t.device_id, (int)rd.t.mode.n, rd.t.mode.p, rd.t.connector,
                         (int)rd.t.ctype.n, rd.t.ctype.p, (int)rd.t.cid.n, rd.t.cid.p,
                         rd.t.connector, rd.t.position);
            else
                snprintf(err, SLUICE_ERRLEN,
                         "no parameters for %s %.*s/J%d/%.*s: no device_parameters row",
                         rd.t.device_id, (int)rd.t.mode.n, rd.t.mode.p, rd.t.connector,
                         (int)rd.t.ctype.n, rd.t.ctype.p);
            rc = -1;
            /* Known, but not for this reading yet: a registration made
             * statement by statement, or a Pin still missing. */
            if (fi->park && rd.emitted == 0)
                return park(fi, &rd, topic, topic_len, pl, pl_len, back, err);
        }
    }
    if (rc != 0)
        return rd.full ? SLUICE_FULL : SLUICE_ERR;
    api->metric_add(fi->m.readings, 1);
    api->metric_add(fi->m.measurements, (double)rd.emitted);
    return SLUICE_OK;
}
