/* The descriptor of the file plugin; the kinds live in file_source.c and
 * file_sink.c. */
#include "file.h"

static const sluice_plugin file_plugin = {
    SLUICE_PLUGIN_HEAD,
    .name = "file",
    .version = "1.0.0",
    .description = "reads a file line by line (optionally following it) or the envelopes it "
                   "wrote (dead letters); writes records as "
                   "JSON, envelopes or raw lines",
    .source = &file_source_ops,
    .sink = &file_sink_ops,
};

SLUICE_PLUGIN(file_plugin)
