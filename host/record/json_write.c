/* The JSON writer behind sluice_api.to_json.
 *
 * Output is produced by a small writer of our own rather than jansson's
 * encoder: jansson would build a tree of malloc'd nodes for every record and
 * then malloc the text, while this writes straight into the batch arena
 * (two passes, see json_jw.h).  Every piece of text — strings, base64,
 * numbers, times — comes from <sluice/sluice_text.h>, the layer the plugins
 * write with too, so a value reads the same from every writer.  Policy:
 * field names, STRING values and the origin topic must be UTF-8 or the
 * record is refused (the writer does not alter data); bytes are a string
 * when UTF-8, else base64 with a "<name>_encoding" sibling.  A record with
 * fields is an object of its fields; one without, the envelope below. */
#include "json_conv.h"
#include "json_jw.h"

#include <sluice/sluice_text.h>

#include "batch_api.h"

#include <stdio.h>
#include <string.h>

static void jw_str(jw *w, const char *s, size_t n)
{
    w->n += sluice_json_escape(w->p ? w->p + w->n : NULL, s, n);
}

static void jw_base64(jw *w, const unsigned char *s, size_t n)
{
    jw_ch(w, '"');
    if (w->p)
        sluice_base64(w->p + w->n, s, n);
    w->n += sluice_base64_len(n);
    jw_ch(w, '"');
}

static void jw_double(jw *w, double d)
{
    char t[SLUICE_DOUBLE_MAX_TEXT];
    jw_put(w, t, sluice_json_double(t, d));
}

static void jw_timestamp(jw *w, int64_t us)
{
    char t[SLUICE_TIME_MAX_TEXT];
    jw_ch(w, '"');
    jw_put(w, t, sluice_fmt_time(t, us));
    jw_ch(w, '"');
}

/* Writes a string that must be UTF-8.  Only the measuring pass validates:
 * the writing pass sees the same bytes. */
static int jw_utf8(jw *w, const char *s, size_t n, const char *what, const char *name,
                   char *err, size_t errlen)
{
    if (!w->p) {
        size_t ok = sluice_utf8_valid_prefix((const unsigned char *)s, n);
        if (ok != n) {
            set_err(err, errlen, "%s \"%s\" is not valid UTF-8 (byte 0x%02x at offset %zu)",
                    what, name, (unsigned char)s[ok], ok);
            return -1;
        }
    }
    jw_str(w, s, n);
    return 0;
}

static int write_fields(jw *w, const sluice_record *r, char *err, size_t errlen)
{
    jw_ch(w, '{');
    for (uint32_t i = 0; i < r->n_fields; i++) {
        const sluice_field *f = &r->fields[i];
        const char *name = f->name ? f->name : "";
        if (i)
            jw_ch(w, ',');
        if (jw_utf8(w, name, strlen(name), "field name", name, err, errlen) != 0)
            return -1;
        jw_ch(w, ':');
        switch (f->type) {
        case SLUICE_NULL: JW_LIT(w, "null"); break;
        case SLUICE_BOOL:
            if (f->v.b)
                JW_LIT(w, "true");
            else
                JW_LIT(w, "false");
            break;
        case SLUICE_INT: jw_int(w, f->v.i); break;
        case SLUICE_DOUBLE: jw_double(w, f->v.d); break;
        case SLUICE_STRING:
            if (jw_utf8(w, f->v.s.ptr ? f->v.s.ptr : "", f->v.s.len, "string field", name,
                        err, errlen) != 0)
                return -1;
            break;
        case SLUICE_BYTES:
            jw_base64(w, (const unsigned char *)f->v.s.ptr, f->v.s.len);
            break;
        case SLUICE_TIMESTAMP: jw_timestamp(w, f->v.ts); break;
        default:
            set_err(err, errlen, "field \"%s\" has unknown type %d", name, (int)f->type);
            return -1;
        }
    }
    jw_ch(w, '}');
    return 0;
}

/* What the envelope's two passes share, decided once: whether each member
 * is UTF-8 (a string) or not (base64), and whether the value is embedded. */
typedef struct env_plan {
    sluice_bytes topic;
    int topic_utf8, key_utf8, value_utf8;
    int embed;               /* the value is a JSON object or array */
    size_t at_len;           /* received_at's text, 0 for none */
    char at[SLUICE_TIME_MAX_TEXT];
} env_plan;

static int is_utf8(sluice_bytes v)
{
    return !v.ptr || sluice_utf8_valid_prefix((const unsigned char *)v.ptr, v.len) == v.len;
}

static void env_plan_make(env_plan *e, const sluice_record *r)
{
    e->topic.ptr = r->origin.topic;
    e->topic.len = r->origin.topic ? strlen(r->origin.topic) : 0;
    e->topic_utf8 = is_utf8(e->topic);
    e->key_utf8 = is_utf8(r->key);
    e->embed = r->value.ptr && sl_json_container(r->value.ptr, r->value.len);
    /* An embedded value was validated, UTF-8 included. */
    e->value_utf8 = e->embed || is_utf8(r->value);
    e->at_len = r->timestamp ? sluice_fmt_time(e->at, r->timestamp) : 0;
}

/* Bytes as a string when they are UTF-8, else base64 with a sibling
 * "<name>_encoding":"base64" so a reader knows which it got. */
static void write_bytes_member(jw *w, const char *name, size_t nlen, sluice_bytes v, int utf8)
{
    jw_ch(w, '"');
    jw_put(w, name, nlen);
    JW_LIT(w, "\":");
    if (!v.ptr) {
        JW_LIT(w, "null");
        return;
    }
    if (utf8) {
        jw_str(w, v.ptr, v.len);
        return;
    }
    jw_base64(w, (const unsigned char *)v.ptr, v.len);
    jw_ch(w, ',');
    jw_ch(w, '"');
    jw_put(w, name, nlen);
    JW_LIT(w, "_encoding\":\"base64\"");
}

/* The envelope of a record without fields (an MQTT message, a Kafka message
 * read with the bytes converter): the wire format of the seed's
 * raw_iot_data topic, which its consumers read, so this is its one writer
 * (docs/pipeline-reference.md, "Records as JSON").  A value that is a JSON
 * object or array (sl_json_container) goes in as sent, its whitespace
 * included (line breaks as spaces).  The topic is bytes here like key and
 * value, so one that is not UTF-8 is kept (as base64), not refused.  No
 * timestamp writes null rather than the clock, so that the same record
 * always gives the same text. */
static void write_envelope(jw *w, const sluice_record *r, const env_plan *e)
{
    jw_ch(w, '{');
    write_bytes_member(w, "topic", 5, e->topic, e->topic_utf8);
    jw_ch(w, ',');
    write_bytes_member(w, "device_id", 9, r->key, e->key_utf8);
    jw_ch(w, ',');
    if (e->embed) {
        JW_LIT(w, "\"payload\":");
        size_t at = w->n;
        jw_put(w, r->value.ptr, r->value.len);
        /* In valid JSON a line break can only be whitespace: as a space it
         * keeps the envelope one line (the file sink writes a record a
         * line) at the same length. */
        if (w->p)
            for (char *c = w->p + at, *end = w->p + w->n; c < end; c++)
                if (*c == '\n' || *c == '\r')
                    *c = ' ';
    } else {
        write_bytes_member(w, "payload", 7, r->value, e->value_utf8);
    }
    JW_LIT(w, ",\"received_at\":");
    if (e->at_len) {
        jw_ch(w, '"');
        jw_put(w, e->at, e->at_len);
        jw_ch(w, '"');
    } else {
        JW_LIT(w, "null");
    }
    jw_ch(w, '}');
}

static int write_record(jw *w, const sluice_record *r, const env_plan *e, char *err,
                        size_t errlen)
{
    if (r->n_fields)
        return write_fields(w, r, err, errlen);
    write_envelope(w, r, e);
    return 0;
}

const char *sl_to_json(sluice_batch *b, const sluice_record *r, size_t *len, char *err,
                       size_t errlen)
{
    jw w = {NULL, 0};
    env_plan e;
    if (!r->n_fields)
        env_plan_make(&e, r);
    if (write_record(&w, r, &e, err, errlen) != 0)
        return NULL;
    size_t need = w.n;
    char *out = sl_alloc_text(b, need + 1);
    if (!out) {
        set_err(err, errlen, "out of batch memory for %zu bytes of JSON (raise batch.max_bytes)",
                need + 1);
        return NULL;
    }
    w.p = out;
    w.n = 0;
    write_record(&w, r, &e, err, errlen);
    out[need] = '\0';
    if (len)
        *len = need;
    return out;
}

