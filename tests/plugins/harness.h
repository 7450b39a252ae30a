/* Runs the first-party generic plugins outside a pipeline: their options
 * come from a real pipeline file through sl_conf_load (so defaults and
 * typing are the host's), then the test calls init/poll/process/write
 * directly.  Built on tests/lib (tl.h). */
#ifndef SLUICE_TEST_HARNESS_H
#define SLUICE_TEST_HARNESS_H

#include "batch.h"
#include "config/config.h"
#include "ctx.h"
#include "plugin_registry.h"

#include <sluice/sluice.h>

/* A scratch directory for the test (removed by ph_done when all passed). */
extern char ph_dir[];

/* Loads generator, file, filter and fields from $SLUICE_PLUGIN_DIR and
 * makes ph_dir.  Exits the test on failure. */
void ph_setup(void);
/* Writes `yaml` to ph_dir/NAME.yaml and loads it; NULL (problems printed)
 * if it does not validate. */
sl_pipeline_conf *ph_conf(const char *name, const char *yaml);
/* Like ph_conf for a file that must not validate (an option outside its
 * declared bounds, say): 0 with the first message in msg, or -1 if it
 * loaded. */
int ph_conf_refused(const char *name, const char *yaml, char *msg, size_t len);
/* Path of a file in ph_dir (static buffer, one of four rotating). */
const char *ph_path(const char *name);
void ph_write_file(const char *name, const char *content);
/* The whole content of a file, malloc'd (NULL if it cannot be read). */
char *ph_read_file(const char *path);

typedef struct ph_inst {
    const sl_stage_conf *st;
    sluice_ctx *ctx;
    void *inst;
} ph_inst;

/* Calls the stage's init for its kind; err gets the plugin's message. */
sluice_status ph_init(ph_inst *i, const sl_stage_conf *st, char *err);
void ph_destroy(ph_inst *i);
/* The value of a counter the instance registered under `name`. */
double ph_counter(ph_inst *i, const char *name);

/* Frees what the harness holds; removes ph_dir unless `failed`. */
void ph_cleanup(int failed);
/* check.h's counters are per translation unit, so this must be a macro. */
#define PH_DONE() (ph_cleanup(check_failures), CHECK_DONE())

#endif
