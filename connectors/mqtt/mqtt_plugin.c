/* The descriptor of the mqtt plugin; the kinds live in mqtt_source.c and
 * mqtt_sink.c. */
#include "mqtt.h"

static const sluice_plugin mqtt_plugin = {
    SLUICE_PLUGIN_HEAD,
    .name = "mqtt",
    .version = "1.0.0",
    .description = "subscribes to MQTT topics (source) and publishes records to MQTT (sink), "
                   "with libmosquitto",
    .source = &mqtt_source_ops,
    .sink = &mqtt_sink_ops,
};

SLUICE_PLUGIN(mqtt_plugin)
