/* The sink's topic: rendered by the shared topic-template engine
 * (sluice_tmpl in <sluice/sluice_text.h>, the MQTT sink's too) and checked
 * here against Kafka's naming rule. */
#ifndef KAFKA_KTOPIC_H
#define KAFKA_KTOPIC_H

#include <sluice/sluice_text.h>

/* 0 if name (len bytes) is a valid Kafka topic name, else -1 with err. */
int ktopic_check(const char *name, size_t len, char *err, size_t errlen);

/* Parses the sink's `topic` option; a template without placeholders is
 * checked at once, so a bad constant name fails the pipeline at start.
 * 0, or -1 with err. */
int ktopic_parse(sluice_tmpl *t, const char *tmpl, char *err, size_t errlen);

/* Renders t for r into out and checks the result.  0, or -1 with err. */
int ktopic_render(const sluice_tmpl *t, const sluice_record *r, sluice_buf *out, char *err,
                  size_t errlen);

#endif
