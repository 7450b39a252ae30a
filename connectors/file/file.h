/* The file plugin: a line source and a sink, in one shared object. */
#ifndef FILE_PLUGIN_H
#define FILE_PLUGIN_H

#include <sluice/sluice.h>

extern const sluice_source_ops file_source_ops;
extern const sluice_sink_ops file_sink_ops;

#endif
