/* The plugin registry: scans plugin directories, dlopens shared objects,
 * checks their ABI and keeps the descriptors by name. */
#ifndef SL_PLUGIN_REGISTRY_H
#define SL_PLUGIN_REGISTRY_H

#include <sluice/sluice.h>
#include <stdio.h>

typedef struct sl_registry sl_registry;

typedef struct sl_plugin_entry {
    const sluice_plugin *desc;
    char *path;              /* the .so it came from */
    void *handle;            /* dlopen handle */
    /* Each kind's option table copied into this host's sluice_option
     * layout (a plugin built for an older minor has shorter elements; see
     * sluice.h, Compatibility rules).  The host reads options only from
     * these; NULL when the kind is absent or declares no options. */
    sluice_option *source_options;
    sluice_option *transform_options;
    sluice_option *sink_options;
} sl_plugin_entry;

sl_registry *sl_registry_new(void);
void sl_registry_free(sl_registry *r);

/* Loads one .so.  Returns 0, or -1 with a one-line reason in err naming the
 * path (untrusted owner or mode, no ABI note, ABI mismatch, missing entry,
 * dlopen failure, duplicate name, a callback table smaller than its ABI 1.0
 * layout, an option table with bad bounds).  The file is dlopen'ed only after the
 * ownership and ABI-note checks of plugin_trust.h pass.  Loading the same
 * file twice is not an error. */
int sl_registry_load_file(sl_registry *r, const char *path, char *err, size_t errlen);

/* Loads every *.so in a directory; each refusal is reported through `report`
 * (may be NULL) and counted.  Returns the number of refusals, or -1 if the
 * directory cannot be read or is not trusted (err set; nothing in it is
 * looked at). */
int sl_registry_load_dir(sl_registry *r, const char *dir,
                         void (*report)(void *arg, const char *msg), void *arg,
                         char *err, size_t errlen);

const sl_plugin_entry *sl_registry_find(const sl_registry *r, const char *name);
size_t sl_registry_count(const sl_registry *r);
const sl_plugin_entry *sl_registry_at(const sl_registry *r, size_t i); /* sorted by name */

#endif
