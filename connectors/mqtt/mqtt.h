/* The mqtt plugin: a source (subscribe) and a sink (publish) over
 * libmosquitto, in one shared object. */
#ifndef MQTT_PLUGIN_H
#define MQTT_PLUGIN_H

#include <sluice/sluice.h>

extern const sluice_source_ops mqtt_source_ops;
extern const sluice_sink_ops mqtt_sink_ops;

#endif
