/* The host side of one plugin instance: its names for logs, its metrics and
 * its readiness.  Handed to the plugin as the opaque sluice_ctx. */
#ifndef SL_CTX_H
#define SL_CTX_H

#include <sluice/sluice.h>
#include <stdatomic.h>
#include <stdint.h>

struct sl_metrics;
struct sl_spool;

struct sluice_ctx {
    char pipeline[128];
    char instance[64];       /* "source", "transform[0]", "sink", "dead_letter" */
    char plugin[64];
    _Atomic int ready;       /* set by the plugin's thread, read by /ready */
    struct sl_metrics *metrics;  /* registry the instance registers into */
    /* A source or transform of a pipeline with a disk buffer
     * (api->spool_append): the spool, open for the instance's whole life,
     * and the pipeline's count of records taken in.  spool_nowait (a
     * transform): a full spool is SLUICE_FULL, not a wait. */
    struct sl_spool *spool;
    _Atomic uint64_t *spool_in;
    sluice_metric *spool_in_metric;
    int spool_nowait;
    /* A transform's commit point (api->commit_hook), called by the sink
     * loop before a part of a batch goes on. */
    sluice_status (*commit_fn)(void *arg, char *err);
    void *commit_arg;
    int is_transform;
};

/* A context for tests and tools that run a plugin outside a pipeline. */
sluice_ctx *sl_ctx_new(const char *pipeline, const char *instance, const char *plugin);
void sl_ctx_free(sluice_ctx *c);

/* The host's function table (static; valid for the process lifetime). */
const sluice_api *sl_api(void);

#endif
