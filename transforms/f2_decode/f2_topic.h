/* F2 topic grammar: <type>/f2-<MAC>/<MODE>/<CONNECTOR>/<COMPONENT>[-<ID>][/...]
 * (F2-PROTOCOL.md).  Parsing never allocates: the parts point into the
 * topic text, which lives as long as the input record. */
#ifndef F2_TOPIC_H
#define F2_TOPIC_H

#include <stddef.h>
#include <stdint.h>

typedef struct f2_str {
    const char *p;
    size_t n;
} f2_str;

typedef struct f2_topic {
    f2_str type;             /* cmnd, stat, tele */
    uint64_t mac;            /* 48-bit MAC as a number: the cache key */
    char mac_hex[13];        /* lower case, NUL-terminated */
    char device_id[16];      /* "f2-" + mac_hex */
    f2_str mode;             /* passed through as text */
    int connector;           /* 1..4 */
    f2_str ctype;            /* component type: "motion-sensor" */
    f2_str cid;              /* component ID digits, or empty */
    int position;            /* cid as a number, -1 when there is none */
} f2_topic;

/* 0, or -1 with a reason naming the topic and the offending part. */
int f2_topic_parse(const char *topic, size_t len, f2_topic *out, char *err, size_t errlen);

/* Formats 48 bits as 12 lower-case hex digits plus NUL. */
void f2_mac_format(uint64_t mac, char out[13]);

#endif
