/* See mqtt_topic.h. */
#include "mqtt_topic.h"

#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mq_topic_check_publish(const char *topic, size_t len, char *err, size_t errlen)
{
    if (len == 0) {
        snprintf(err, errlen, "the topic is empty");
        return -1;
    }
    if (memchr(topic, '\0', len) || len > 65535) {
        snprintf(err, errlen, "topic \"%.*s\" %s", (int)(len > 200 ? 200 : len), topic,
                 len > 65535 ? "is longer than 65535 bytes" : "contains a NUL byte");
        return -1;
    }
    /* The same checks libmosquitto and the broker apply: a topic they refuse
     * would otherwise cost the connection, not just this record. */
    if (mosquitto_validate_utf8(topic, (int)len) != MOSQ_ERR_SUCCESS) {
        snprintf(err, errlen, "topic \"%.*s\" is not valid UTF-8 (or holds control "
                 "characters)", (int)(len > 200 ? 200 : len), topic);
        return -1;
    }
    if (mosquitto_pub_topic_check2(topic, len) != MOSQ_ERR_SUCCESS) {
        snprintf(err, errlen, "topic \"%.*s\" contains a wildcard (+ or #), which is not "
                 "allowed when publishing", (int)(len > 200 ? 200 : len), topic);
        return -1;
    }
    return 0;
}

int mq_topic_segment(const char *topic, size_t len, int idx, size_t *off, size_t *seg_len)
{
    if (idx < 0)
        return 0;
    size_t start = 0;
    for (int i = 0;; i++) {
        const char *slash = memchr(topic + start, '/', len - start);
        size_t end = slash ? (size_t)(slash - topic) : len;
        if (i == idx) {
            *off = start;
            *seg_len = end - start;
            return 1;
        }
        if (!slash)
            return 0;
        start = end + 1;
    }
}
