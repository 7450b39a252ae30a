/* The kafka plugin: a consumer-group source and an idempotent producer sink
 * on librdkafka.  See README.md for options and delivery guarantees. */
#ifndef KAFKA_KAFKA_H
#define KAFKA_KAFKA_H

#include <sluice/sluice.h>

extern const sluice_source_ops kafka_source_ops;
extern const sluice_sink_ops kafka_sink_ops;
extern const sluice_option kafka_source_options[];
extern const sluice_option kafka_sink_options[];

/* The header that carries a record's own time (decimal microseconds since
 * the epoch, UTC) when the sink stamps messages with the time they are
 * produced (message_time: produce); the source takes the record's
 * timestamp from it instead of from the message timestamp. */
#define KAFKA_TS_HEADER "sluice.timestamp"

#endif
