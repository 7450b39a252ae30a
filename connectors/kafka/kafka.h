/* The kafka plugin: a consumer-group source and an idempotent producer sink
 * on librdkafka.  See README.md for options and delivery guarantees. */
#ifndef KAFKA_KAFKA_H
#define KAFKA_KAFKA_H

#include <sluice/sluice.h>

extern const sluice_source_ops kafka_source_ops;
extern const sluice_sink_ops kafka_sink_ops;
extern const sluice_option kafka_source_options[];
extern const sluice_option kafka_sink_options[];

#endif
