/* Loading plugins.  Ownership, modes and the ABI note are checked before any
 * plugin code runs (plugin_trust.c), and every refusal is one line naming the
 * file, in the style of PostgreSQL's module loader. */
#include "plugin_registry.h"
#include "plugin_trust.h"

#include "options.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct sl_registry {
    sl_plugin_entry *v;
    size_t n, cap;
};

sl_registry *sl_registry_new(void) { return calloc(1, sizeof(sl_registry)); }

void sl_registry_free(sl_registry *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].path);
        free(r->v[i].source_options);
        free(r->v[i].transform_options);
        free(r->v[i].sink_options);
        /* Under ASan/valgrind, keeping the handle open keeps symbol names in
         * leak reports readable; the process is exiting anyway. */
        if (!getenv("SLUICE_KEEP_PLUGINS_LOADED"))
            dlclose(r->v[i].handle);
    }
    free(r->v);
    free(r);
}

static int valid_name(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

static int check_version(int major, int minor, const char *path, char *err, size_t errlen)
{
    if (major != SLUICE_ABI_MAJOR) {
        snprintf(err, errlen,
                 "plugin \"%s\": ABI version mismatch: host %d.%d, plugin %d.%d; "
                 "rebuild the plugin against this host's headers",
                 path, SLUICE_ABI_MAJOR, SLUICE_ABI_MINOR, major, minor);
        return -1;
    }
    if (minor > SLUICE_ABI_MINOR) {
        snprintf(err, errlen,
                 "plugin \"%s\": ABI version mismatch: host %d.%d, plugin %d.%d; "
                 "the plugin needs a newer sluice",
                 path, SLUICE_ABI_MAJOR, SLUICE_ABI_MINOR, major, minor);
        return -1;
    }
    return 0;
}

/* The three callback tables as ABI 1.0 laid them out. */
#define SOURCE_OPS_1_0 (offsetof(sluice_source_ops, destroy) + sizeof(void (*)(void *)))
#define TRANSFORM_OPS_1_0 (offsetof(sluice_transform_ops, destroy) + sizeof(void (*)(void *)))
#define SINK_OPS_1_0 (offsetof(sluice_sink_ops, destroy) + sizeof(void (*)(void *)))

/* `has_1_0`: SLUICE_HAS(table, destroy), destroy being the last 1.0 member. */
static int ops_too_small(const char *name, const char *path, const char *kind,
                         const char *type, int has_1_0, size_t have, size_t need, char *err,
                         size_t errlen)
{
    if (has_1_0)
        return 0;
    snprintf(err, errlen,
             "plugin \"%s\" (%s): its %s table is too small: struct_size %zu, but a %s "
             "holds at least %zu bytes; set .struct_size = sizeof(%s) and rebuild",
             path, name, kind, have, type, need, type);
    return 1;
}

/* The checks that need only the descriptor's head and its size. */
static int check_descriptor(const sluice_plugin *d, const char *path, char *err, size_t errlen)
{
    if (!d) {
        snprintf(err, errlen, "plugin \"%s\": entry function %s returned NULL", path,
                 SLUICE_PLUGIN_ENTRY_NAME);
        return -1;
    }
    /* The note was checked before dlopen; the descriptor must agree. */
    if (check_version(d->abi_major, d->abi_minor, path, err, errlen) != 0)
        return -1;
    if (!SLUICE_HAS(d, sink)) {
        snprintf(err, errlen, "plugin \"%s\": descriptor too small (%zu bytes)", path,
                 d->struct_size);
        return -1;
    }
    if (!valid_name(d->name)) {
        snprintf(err, errlen,
                 "plugin \"%s\": invalid plugin name \"%s\" (use lower-case letters, "
                 "digits and _)",
                 path, d->name ? d->name : "(null)");
        return -1;
    }
    if (!d->source && !d->transform && !d->sink) {
        snprintf(err, errlen, "plugin \"%s\": provides no source, transform or sink", path);
        return -1;
    }
    /* Every member of the three tables today is a 1.0 member, so a table
     * must hold at least those; a larger one (a future minor's) is fine,
     * and a member added later will be read only if SLUICE_HAS says so. */
    if ((d->source &&
         ops_too_small(d->name, path, "source", "sluice_source_ops",
                       SLUICE_HAS(d->source, destroy), d->source->struct_size, SOURCE_OPS_1_0,
                       err, errlen)) ||
        (d->transform &&
         ops_too_small(d->name, path, "transform", "sluice_transform_ops",
                       SLUICE_HAS(d->transform, destroy), d->transform->struct_size,
                       TRANSFORM_OPS_1_0, err, errlen)) ||
        (d->sink && ops_too_small(d->name, path, "sink", "sluice_sink_ops",
                                  SLUICE_HAS(d->sink, destroy), d->sink->struct_size,
                                  SINK_OPS_1_0, err, errlen)))
        return -1;
    if ((d->source && (!d->source->init || !d->source->poll || !d->source->destroy)) ||
        (d->transform && (!d->transform->init || !d->transform->process ||
                          !d->transform->destroy)) ||
        (d->sink && (!d->sink->init || !d->sink->write || !d->sink->destroy))) {
        snprintf(err, errlen, "plugin \"%s\" (%s): a required callback is NULL", path,
                 d->name);
        return -1;
    }
    return 0;
}

/* The size of one sluice_option element in a table built for `minor`: the
 * host reads a plugin's array with that stride, since the array itself
 * cannot say (sluice.h, Compatibility rules).  1.0 and 1.1 end at choices;
 * 1.2 appended min and max. */
#define OPTION_SIZE_1_0 offsetof(sluice_option, min)
_Static_assert(offsetof(sluice_option, min) % _Alignof(sluice_option) == 0,
               "a 1.1 sluice_option array's stride is offsetof(sluice_option, min)");

static size_t option_stride(int minor)
{
    return minor >= 2 ? sizeof(sluice_option) : OPTION_SIZE_1_0;
}

/* Copies a kind's option table into this host's layout (members a plugin's
 * minor lacks are zero: no bounds) and checks its declarations.  0 with
 * *out set (NULL for no table), or -1 with err. */
static int copy_options(const sluice_plugin *d, const char *path, const char *kind,
                        const sluice_option *src, sluice_option **out, char *err,
                        size_t errlen)
{
    *out = NULL;
    if (!src)
        return 0;
    size_t stride = option_stride(d->abi_minor);
    size_t take = stride < sizeof(sluice_option) ? stride : sizeof(sluice_option);
    const unsigned char *p = (const unsigned char *)src;
    size_t n = 0;
    /* The terminator is an element whose name is NULL; the name is the
     * first member in every minor. */
    for (;; n++) {
        const char *name;
        memcpy(&name, p + n * stride, sizeof name);
        if (!name)
            break;
    }
    sluice_option *v = calloc(n + 1, sizeof(*v));
    if (!v) {
        snprintf(err, errlen, "plugin \"%s\": out of memory", path);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        memcpy(&v[i], p + i * stride, take);
    char why[512];
    if (sl_options_check(v, why, sizeof why) != 0) {
        snprintf(err, errlen,
                 "plugin \"%s\" (%s): %s %s; a bug in the plugin's option table, which "
                 "its author must fix",
                 path, d->name, kind, why);
        free(v);
        return -1;
    }
    *out = v;
    return 0;
}

static void free_opts(sluice_option *opts[3])
{
    for (int i = 0; i < 3; i++)
        free(opts[i]);
}

int sl_registry_load_file(sl_registry *r, const char *path, char *err, size_t errlen)
{
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        snprintf(err, errlen, "plugin \"%s\": %s", path, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i].path, real) == 0)
            return 0; /* the same file twice is harmless */

    /* Nothing of the file runs before it has passed both checks: dlopen
     * would run its constructors before any descriptor could be read. */
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, errlen, "plugin \"%s\": %s", path, strerror(errno));
        return -1;
    }
    char why[768];
    if (sl_trust_file(fd, real, why, sizeof why) != 0) {
        snprintf(err, errlen, "plugin \"%s\": refused: %s", path, why);
        close(fd);
        return -1;
    }
    int major = 0, minor = 0;
    int note = sl_elf_abi_note(fd, &major, &minor, why, sizeof why);
    close(fd);
    if (note < 0) {
        snprintf(err, errlen, "plugin \"%s\": could not load: %s", path, why);
        return -1;
    }
    if (note == 0) {
        snprintf(err, errlen,
                 "plugin \"%s\": not a sluice plugin (no .note.sluice; rebuild against "
                 "sluice.h >= %d.%d, which SLUICE_PLUGIN(descriptor) marks); not opened",
                 path, SLUICE_ABI_MAJOR, 0);
        return -1;
    }
    if (check_version(major, minor, path, err, errlen) != 0)
        return -1;

    dlerror();
    void *h = dlopen(real, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(err, errlen, "plugin \"%s\": could not load: %s", path, e ? e : "unknown");
        return -1;
    }
    /* Converting void* to a function pointer is what POSIX dlsym requires. */
    sluice_plugin_entry_fn entry;
    *(void **)(&entry) = dlsym(h, SLUICE_PLUGIN_ENTRY_NAME);
    if (!entry) {
        snprintf(err, errlen,
                 "plugin \"%s\": no entry function %s(); is it a sluice plugin? "
                 "(define it with SLUICE_PLUGIN(descriptor))",
                 path, SLUICE_PLUGIN_ENTRY_NAME);
        dlclose(h);
        return -1;
    }
    const sluice_plugin *d = entry();
    sluice_option *opts[3] = {NULL, NULL, NULL};
    if (check_descriptor(d, path, err, errlen) != 0 ||
        copy_options(d, path, "source", d->source ? d->source->options : NULL, &opts[0], err,
                     errlen) != 0 ||
        copy_options(d, path, "transform", d->transform ? d->transform->options : NULL,
                     &opts[1], err, errlen) != 0 ||
        copy_options(d, path, "sink", d->sink ? d->sink->options : NULL, &opts[2], err,
                     errlen) != 0) {
        free_opts(opts);
        dlclose(h);
        return -1;
    }
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->v[i].desc->name, d->name) == 0) {
            snprintf(err, errlen, "plugin \"%s\": duplicate plugin name \"%s\", already "
                     "loaded from \"%s\"", path, d->name, r->v[i].path);
            free_opts(opts);
            dlclose(h);
            return -1;
        }
    }
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 16;
        sl_plugin_entry *nv = realloc(r->v, nc * sizeof(*nv));
        if (!nv) {
            snprintf(err, errlen, "plugin \"%s\": out of memory", path);
            free_opts(opts);
            dlclose(h);
            return -1;
        }
        r->v = nv;
        r->cap = nc;
    }
    char *p = strdup(real);
    if (!p) {
        snprintf(err, errlen, "plugin \"%s\": out of memory", path);
        free_opts(opts);
        dlclose(h);
        return -1;
    }
    /* Keep the array sorted by name so listings and lookups are stable. */
    size_t at = r->n;
    while (at > 0 && strcmp(r->v[at - 1].desc->name, d->name) > 0)
        at--;
    memmove(&r->v[at + 1], &r->v[at], (r->n - at) * sizeof(*r->v));
    r->v[at] = (sl_plugin_entry){.desc = d, .path = p, .handle = h, .source_options = opts[0],
                                 .transform_options = opts[1], .sink_options = opts[2]};
    r->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int sl_registry_load_dir(sl_registry *r, const char *dir,
                         void (*report)(void *arg, const char *msg), void *arg, char *err,
                         size_t errlen)
{
    /* A directory others can write could be handed any .so at any time;
     * none of it is looked at. */
    char real[PATH_MAX], why[768];
    if (!realpath(dir, real)) {
        snprintf(err, errlen, "plugin directory \"%s\": %s", dir, strerror(errno));
        return -1;
    }
    if (sl_trust_dir(real, why, sizeof why) != 0) {
        snprintf(err, errlen, "plugin directory \"%s\": refused: %s", dir, why);
        return -1;
    }
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "plugin directory \"%s\": %s", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 4 || strcmp(e->d_name + l - 3, ".so") != 0 || e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof(*nn));
            if (!nn)
                break;
            names = nn;
        }
        names[n] = strdup(e->d_name);
        if (names[n])
            n++;
    }
    closedir(d);
    /* Sorted, so that which of two same-named plugins wins is predictable. */
    qsort(names, n, sizeof(*names), cmp_str);
    int refused = 0;
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        char e2[1024];
        if (sl_registry_load_file(r, path, e2, sizeof e2) != 0) {
            refused++;
            if (report)
                report(arg, e2);
        }
        free(names[i]);
    }
    free(names);
    return refused;
}

const sl_plugin_entry *sl_registry_find(const sl_registry *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i].desc->name, name) == 0)
            return &r->v[i];
    return NULL;
}

size_t sl_registry_count(const sl_registry *r) { return r->n; }

const sl_plugin_entry *sl_registry_at(const sl_registry *r, size_t i)
{
    return i < r->n ? &r->v[i] : NULL;
}
