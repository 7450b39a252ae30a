/* The descriptor and the declared options (README.md documents each). */
#include "kafka.h"

const sluice_option kafka_source_options[] = {
    {"bootstrap", SLUICE_OPT_STRING, 0, "localhost:9092",
     "comma-separated host:port of the brokers to bootstrap from", NULL, NULL, NULL},
    {"topics", SLUICE_OPT_LIST, SLUICE_OPT_REQUIRED, NULL,
     "topics to consume; an entry starting with ^ is a regular expression", NULL, NULL, NULL},
    {"group", SLUICE_OPT_STRING, SLUICE_OPT_REQUIRED, NULL,
     "consumer group id; processes with the same group share the partitions", NULL, NULL, NULL},
    {"start", SLUICE_OPT_STRING, 0, "earliest",
     "where a group without committed offsets starts", "earliest|latest", NULL, NULL},
    {"consumers", SLUICE_OPT_INT, 0, "1",
     "only 1: for N consumers in one process set the pipeline's top-level lanes: N",
     NULL, NULL, NULL},
    {"value_converter", SLUICE_OPT_STRING, 0, "json",
     "how values are read into fields", "json|avro|bytes", NULL, NULL},
    {"avro_schema", SLUICE_OPT_STRING, 0, NULL,
     "the .avsc file of the record schema (value_converter avro)", NULL, NULL, NULL},
    {"properties", SLUICE_OPT_MAP, 0, NULL,
     "librdkafka consumer properties passed through (security.protocol, sasl.*, ssl.*, ...)",
     NULL, NULL, NULL},
    {"poll_timeout", SLUICE_OPT_DURATION, 0, "100ms",
     "longest wait of one poll for the first message", NULL, NULL, NULL},
    SLUICE_OPTIONS_END,
};

const sluice_option kafka_sink_options[] = {
    {"bootstrap", SLUICE_OPT_STRING, 0, "localhost:9092",
     "comma-separated host:port of the brokers to bootstrap from", NULL, NULL, NULL},
    {"topic", SLUICE_OPT_STRING, SLUICE_OPT_REQUIRED, NULL,
     "target topic; may hold {topic} (origin topic) and {field:NAME}", NULL, NULL, NULL},
    {"key", SLUICE_OPT_STRING, 0, "record",
     "message key: record (the record's key), none, or field:NAME", NULL, NULL, NULL},
    {"value_converter", SLUICE_OPT_STRING, 0, "json",
     "how records are written as values", "json|avro|bytes", NULL, NULL},
    {"avro_schema", SLUICE_OPT_STRING, 0, NULL,
     "the .avsc file of the record schema (value_converter avro)", NULL, NULL, NULL},
    {"compression", SLUICE_OPT_STRING, 0, "lz4", "compression of message batches",
     "none|gzip|snappy|lz4|zstd", NULL, NULL},
    {"acks", SLUICE_OPT_STRING, 0, "all",
     "broker acknowledgements a write waits for (not all: set enable.idempotence false)",
     "all|1|0", NULL, NULL},
    {"linger", SLUICE_OPT_DURATION, 0, "5ms",
     "librdkafka linger.ms: how long messages wait to fill a request", NULL, "0ms", "900s"},
    {"delivery_timeout", SLUICE_OPT_DURATION, 0, "30s",
     "librdkafka message.timeout.ms: a write that cannot deliver within it is retried", NULL,
     "1ms", "24d"},
    {"message_time", SLUICE_OPT_STRING, 0, "produce",
     "message timestamp: produce (now; the record's time goes in the sluice.timestamp header) "
     "or record (the record's time; old records fall out of the topic's retention)",
     "produce|record", NULL, NULL},
    {"properties", SLUICE_OPT_MAP, 0, NULL,
     "librdkafka producer properties passed through (security.protocol, sasl.*, ssl.*, ...)",
     NULL, NULL, NULL},
    SLUICE_OPTIONS_END,
};

static const sluice_plugin kafka_plugin = {
    SLUICE_PLUGIN_HEAD,
    .name = "kafka",
    .version = "0.1.0",
    .description = "Apache Kafka consumer-group source and idempotent producer sink (librdkafka)",
    .source = &kafka_source_ops,
    .sink = &kafka_sink_ops,
};

SLUICE_PLUGIN(kafka_plugin)
