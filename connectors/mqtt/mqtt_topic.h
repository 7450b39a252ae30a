/* Topic helpers: the sink's topic templates and the source's key segment. */
#ifndef MQTT_TOPIC_H
#define MQTT_TOPIC_H

#include <sluice/sluice.h>
#include <stddef.h>

typedef enum mq_tpart_kind { MQ_T_LIT, MQ_T_KEY, MQ_T_TOPIC, MQ_T_FIELD } mq_tpart_kind;

typedef struct mq_tpart {
    mq_tpart_kind kind;
    const char *s;           /* literal text or field name (in tmpl->text) */
    size_t len;
} mq_tpart;

/* A parsed template: literal text with {key}, {topic} (the record's origin
 * topic) and {field:NAME} placeholders; {{ and }} stand for braces. */
typedef struct mq_tmpl {
    mq_tpart *parts;
    size_t n;
    char *text;              /* backing store for the parts */
    int constant;            /* no placeholders */
} mq_tmpl;

/* 0, or -1 with a message naming the template and the bad placeholder. */
int mq_tmpl_parse(mq_tmpl *t, const char *src, char *err, size_t errlen);
void mq_tmpl_free(mq_tmpl *t);

/* A growable output buffer, reused from record to record. */
typedef struct mq_buf {
    char *p;
    size_t len, cap;
} mq_buf;

/* Renders t for record r into b (NUL-terminated).  0, or -1 with a reason
 * (a missing key, origin topic or field; out of memory). */
int mq_tmpl_render(const mq_tmpl *t, const sluice_record *r, mq_buf *b, char *err,
                   size_t errlen);
void mq_buf_free(mq_buf *b);

/* Checks a topic to publish to: not empty, no wildcard, valid UTF-8, no NUL.
 * 0, or -1 with the reason. */
int mq_topic_check_publish(const char *topic, size_t len, char *err, size_t errlen);

/* Segment `idx` (0-based, split at '/') of a topic: 1 with *off and *seg_len set,
 * 0 if the topic has fewer segments. */
int mq_topic_segment(const char *topic, size_t len, int idx, size_t *off, size_t *seg_len);

#endif
