/* Topic helpers: the publish check for the sink (whose topic templates are
 * the shared engine, sluice_tmpl in <sluice/sluice_text.h>) and the
 * source's key segment. */
#ifndef MQTT_TOPIC_H
#define MQTT_TOPIC_H

#include <sluice/sluice.h>
#include <sluice/sluice_text.h>
#include <stddef.h>

/* Checks a topic to publish to: not empty, no wildcard, valid UTF-8, no NUL.
 * 0, or -1 with the reason. */
int mq_topic_check_publish(const char *topic, size_t len, char *err, size_t errlen);

/* Segment `idx` (0-based, split at '/') of a topic: 1 with *off and *seg_len set,
 * 0 if the topic has fewer segments. */
int mq_topic_segment(const char *topic, size_t len, int idx, size_t *off, size_t *seg_len);

#endif
