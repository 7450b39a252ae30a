/* One pipeline file to a validated sl_pipeline_conf.  Loading goes on after
 * a problem wherever the rest can still be checked, so that one run of
 * `sluice validate` lists everything wrong with a file. */
#include "config.h"

#include "digest.h"
#include "expand.h"
#include "options.h"
#include "suggest.h"
#include "ynode.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Pipeline files are hand-written; anything this big is a wrong path. */
#define MAX_FILE (4 * 1024 * 1024)

typedef struct loader {
    const char *file;
    char *basedir;
    const sl_registry *reg;
    sl_diag *d;
    uint64_t digest;
} loader;

/* The pipeline's own sections are validated with the plugin option code,
 * so they get the same typing, defaults, bounds and messages. */
static const sluice_option batch_opts[] = {
    {"max_records", SLUICE_OPT_INT, 0, "1000", "records per batch", NULL, "1", "1000000"},
    {"linger", SLUICE_OPT_DURATION, 0, "100ms", "longest wait to fill a batch", NULL, "0ms",
     "1h"},
    {"max_bytes", SLUICE_OPT_SIZE, 0, "8MiB", "memory (arena) of each batch", NULL, "1KiB",
     "1GiB"},
    SLUICE_OPTIONS_END};

/* Sizes: a spool smaller than one segment would only ever hold one; a
 * segment below 4KiB would mean a file per few records. */
static const sluice_option buffer_opts[] = {
    {"max_batches", SLUICE_OPT_INT, 0, "4", "batches queued between source and sink", NULL,
     "1", "1024"},
    {"type", SLUICE_OPT_STRING, 0, "memory", "memory: batches only; disk: a durable spool",
     "memory|disk", NULL, NULL},
    {"path", SLUICE_OPT_STRING, 0, NULL, "the spool's directory (type disk)", NULL, NULL, NULL},
    {"max_size", SLUICE_OPT_SIZE, 0, "1GiB", "held bytes at most; beyond, the source pauses",
     NULL, "4KiB", NULL},
    {"segment_size", SLUICE_OPT_SIZE, 0, "64MiB", "size of one spool segment file", NULL, "4KiB",
     "1TiB"},
    {"when_full", SLUICE_OPT_STRING, 0, "block", "pause the source, never drop", "block", NULL,
     NULL},
    {"fsync", SLUICE_OPT_STRING, 0, "batch", "when appended records are made durable",
     "batch|interval|never", NULL, NULL},
    {"fsync_interval", SLUICE_OPT_DURATION, 0, "1s", "with fsync: interval", NULL, "1ms", "1h"},
    SLUICE_OPTIONS_END};

static const sluice_option retry_opts[] = {
    {"initial", SLUICE_OPT_DURATION, 0, "100ms", "first backoff", NULL, "1ms", "24h"},
    {"max", SLUICE_OPT_DURATION, 0, "30s", "longest backoff", NULL, "1ms", "24h"},
    {"max_attempts", SLUICE_OPT_INT, 0, "0", "attempts before giving up; 0: forever", NULL, "0",
     "1000000000"},
    SLUICE_OPTIONS_END};

static const sluice_option restart_opts[] = {
    {"initial", SLUICE_OPT_DURATION, 0, "1s", "first restart delay", NULL, "1ms", "24h"},
    {"max", SLUICE_OPT_DURATION, 0, "60s", "longest restart delay", NULL, "1ms", "24h"},
    SLUICE_OPTIONS_END};

static const sluice_option errors_opts[] = {
    {"tolerance", SLUICE_OPT_STRING, 0, "none", "none: a failed record stops the pipeline",
     "none|all", NULL, NULL},
    {"log", SLUICE_OPT_BOOL, 0, "true", "log every failed record", NULL, NULL, NULL},
    SLUICE_OPTIONS_END};

/* A sink write may legitimately retry inside itself for a while, so the
 * default is generous; a poll's own timeout is added on top. */
static const sluice_option watchdog_opts[] = {
    {"timeout", SLUICE_OPT_DURATION, 0, "5m",
     "a plugin callback running longer than this marks the pipeline stuck", NULL, "1s", "7d"},
    SLUICE_OPTIONS_END};

static const char *const top_keys[] = {"name",   "description", "source", "transforms", "sink",
                                       "errors", "batch",       "buffer", "retry",      "restart",
                                       "watchdog", "lanes", NULL};

static const char *kind_name(sl_stage_kind k)
{
    return k == SL_SOURCE ? "source" : k == SL_TRANSFORM ? "transform" : "sink";
}

/* The entry's copy of the options, in this host's layout (see
 * sl_plugin_entry): never the plugin's own table, whose element size may be
 * an older minor's. */
static const sluice_option *kind_options(const sl_plugin_entry *e, sl_stage_kind k, int *has)
{
    const sluice_plugin *p = e->desc;
    *has = 0;
    if (k == SL_SOURCE && p->source) {
        *has = 1;
        return e->source_options;
    }
    if (k == SL_TRANSFORM && p->transform) {
        *has = 1;
        return e->transform_options;
    }
    if (k == SL_SINK && p->sink) {
        *has = 1;
        return e->sink_options;
    }
    return NULL;
}

static int provides(const sl_plugin_entry *e, sl_stage_kind k)
{
    int has;
    kind_options(e, k, &has);
    return has;
}

/* Names of the loaded plugins that provide kind k, for messages. */
static size_t plugins_of_kind(const sl_registry *reg, sl_stage_kind k, const char **names,
                              size_t max)
{
    size_t n = 0, total = reg ? sl_registry_count(reg) : 0;
    for (size_t i = 0; i < total && n < max; i++) {
        const sl_plugin_entry *e = sl_registry_at(reg, i);
        if (e && provides(e, k))
            names[n++] = e->desc->name;
    }
    return n;
}

static void available(const loader *l, sl_stage_kind k, char *buf, size_t len)
{
    const char *names[256];
    size_t n = plugins_of_kind(l->reg, k, names, 256);
    if (!n) {
        snprintf(buf, len, "no %s plugins are loaded (see -P and `sluice plugins`)", kind_name(k));
        return;
    }
    char joined[1024];
    sl_join_names(joined, sizeof joined, names, n);
    snprintf(buf, len, "available: %s", joined);
}

/* Loads one stage mapping: `plugin:` plus that plugin's options. */
static void load_stage(loader *l, const sl_ynode *node, sl_stage_kind kind, const char *label,
                       sl_stage_conf *st)
{
    char avail[1200];
    st->kind = kind;
    st->line = node->line;
    st->col = node->col;
    if (node->kind != SL_Y_MAP) {
        sl_diag_add(l->d, l->file, node->line, node->col,
                    "%s: expected a mapping with \"plugin:\" and the plugin's options, got %s",
                    label, sl_ykind_name(node));
        return;
    }
    const sl_ynode *pn = sl_ymap_get(node, "plugin");
    if (pn && pn->bad)
        return; /* its ${VAR} failed; reported */
    if (sl_ynode_absent(pn) || pn->kind != SL_Y_SCALAR || !*pn->text) {
        available(l, kind, avail, sizeof avail);
        const sl_ynode *at = pn && !sl_ynode_absent(pn) ? pn : node;
        sl_diag_add(l->d, l->file, at->line, at->col, "%s: missing \"plugin:\" (the %s plugin's name); %s",
                    label, kind_name(kind), avail);
        return;
    }
    st->plugin = strdup(pn->text);
    if (!st->plugin) {
        sl_diag_add(l->d, l->file, pn->line, pn->col, "out of memory");
        return;
    }
    const sl_plugin_entry *e = l->reg ? sl_registry_find(l->reg, pn->text) : NULL;
    if (!e) {
        const char *names[256];
        size_t n = plugins_of_kind(l->reg, kind, names, 256);
        char hint[128];
        sl_did_you_mean(hint, sizeof hint, pn->text, names, n);
        available(l, kind, avail, sizeof avail);
        sl_diag_add(l->d, l->file, pn->line, pn->col, "%s: unknown plugin \"%s\"%s %s", label,
                    pn->text, hint[0] ? hint : ";", avail);
        return;
    }
    int has;
    const sluice_option *opts = kind_options(e, kind, &has);
    if (!has) {
        char kinds[64] = "";
        for (int k = SL_SOURCE; k <= SL_SINK; k++)
            if (provides(e, (sl_stage_kind)k))
                snprintf(kinds + strlen(kinds), sizeof kinds - strlen(kinds), "%s%s",
                         kinds[0] ? ", " : "", kind_name((sl_stage_kind)k));
        available(l, kind, avail, sizeof avail);
        sl_diag_add(l->d, l->file, pn->line, pn->col,
                    "%s: plugin \"%s\" is not a %s plugin (it provides: %s); %s", label,
                    pn->text, kind_name(kind), kinds, avail);
        return;
    }
    st->entry = e;
    char where[160];
    snprintf(where, sizeof where, "%s (plugin \"%s\")", label, pn->text);
    sl_optctx x = {.file = l->file, .basedir = l->basedir, .d = l->d, .digest = &l->digest,
                   .where = where};
    static const char *const skip[] = {"plugin", NULL};
    st->cfg = sl_options_build(&x, opts, node, skip, node->line, node->col);
}

/* Validates a section such as `batch:` and returns its typed values (to
 * read with sl_cfg_*), defaults applied even when the section is absent. */
static sluice_config *load_section(loader *l, const sl_ynode *root, const char *name,
                                   const sluice_option *opts,
                                   const char *const *skip)
{
    const sl_ynode *n = sl_ymap_get(root, name);
    int line = root->line, col = root->col;
    if (!sl_ynode_absent(n)) {
        line = n->line;
        col = n->col;
        if (n->kind != SL_Y_MAP) {
            sl_diag_add(l->d, l->file, n->line, n->col, "%s: expected a mapping, got %s", name,
                        sl_ykind_name(n));
            n = NULL;
        }
    } else {
        n = NULL;
    }
    sl_optctx x = {.file = l->file, .basedir = l->basedir, .d = l->d, .digest = &l->digest,
                   .where = name, .section = 1};
    return sl_options_build(&x, opts, n, skip, line, col);
}

/* Where a section's key was given, for cross-field messages. */
static const sl_ynode *section_value(const sl_ynode *root, const char *sec, const char *key,
                                     const sl_ynode *fallback)
{
    const sl_ynode *v = sl_ymap_get(sl_ymap_get(root, sec), key);
    if (v)
        return v;
    v = sl_ymap_get(root, sec);
    return v ? v : fallback;
}

static int valid_name(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '.' || *s == '-'))
            return 0;
    return 1;
}

static char *default_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".yaml") == 0)
        n -= 5;
    else if (n > 4 && strcmp(base + n - 4, ".yml") == 0)
        n -= 4;
    return strndup(base, n);
}

static void load_name(loader *l, const sl_ynode *root, sl_pipeline_conf *c)
{
    const sl_ynode *n = sl_ymap_get(root, "name");
    char q[96];
    if (n && n->bad)
        return;
    if (!sl_ynode_absent(n)) {
        if (n->kind != SL_Y_SCALAR) {
            sl_diag_add(l->d, l->file, n->line, n->col, "name: expected a string, got %s",
                        sl_ykind_name(n));
            return;
        }
        if (!valid_name(n->text)) {
            sl_quote(q, sizeof q, n->text);
            sl_diag_add(l->d, l->file, n->line, n->col,
                        "name: %s is not a valid pipeline name (use letters, digits, \"_\", "
                        "\".\" and \"-\")",
                        q);
            return;
        }
        c->name = strdup(n->text);
    } else {
        c->name = default_name(l->file);
        if (c->name && !valid_name(c->name)) {
            sl_quote(q, sizeof q, c->name);
            sl_diag_add(l->d, l->file, root->line, root->col,
                        "the file name gives the pipeline name %s, which is not valid (use "
                        "letters, digits, \"_\", \".\" and \"-\"); set \"name:\" or rename the file",
                        q);
            return;
        }
    }
    if (!c->name)
        sl_diag_add(l->d, l->file, 0, 0, "out of memory");
}

/* The number of lanes: a top-level scalar, so parsed here rather than as a
 * section. */
static void load_lanes(loader *l, const sl_ynode *root, sl_pipeline_conf *c)
{
    c->lanes = 1;
    const sl_ynode *n = sl_ymap_get(root, "lanes");
    if (sl_ynode_absent(n) || n->bad)
        return;
    char *end = NULL;
    long v = -1;
    if (n->kind == SL_Y_SCALAR) {
        errno = 0;
        v = strtol(n->text, &end, 10);
        if (errno || end == n->text || *end)
            v = -1;
    }
    if (v < 1 || v > SL_MAX_LANES) {
        char q[96];
        sl_quote(q, sizeof q, n->kind == SL_Y_SCALAR ? n->text : sl_ykind_name(n));
        sl_diag_add(l->d, l->file, n->line, n->col,
                    "lanes: %s is not a number of lanes; expected an integer in 1..%d", q,
                    SL_MAX_LANES);
        return;
    }
    c->lanes = (int)v;
}

static void load_transforms(loader *l, const sl_ynode *root, sl_pipeline_conf *c)
{
    const sl_ynode *t = sl_ymap_get(root, "transforms");
    if (sl_ynode_absent(t))
        return;
    if (t->kind != SL_Y_SEQ) {
        sl_diag_add(l->d, l->file, t->line, t->col,
                    "transforms: expected a sequence of mappings (\"- plugin: NAME\"), got %s",
                    sl_ykind_name(t));
        return;
    }
    if (!t->n)
        return;
    c->transforms = calloc(t->n, sizeof(*c->transforms));
    if (!c->transforms) {
        sl_diag_add(l->d, l->file, t->line, t->col, "out of memory");
        return;
    }
    c->n_transforms = t->n;
    for (size_t i = 0; i < t->n; i++) {
        /* Labelled as the runtime labels the instance, so messages match logs. */
        char label[32];
        snprintf(label, sizeof label, "transform[%zu]", i);
        load_stage(l, t->items[i], SL_TRANSFORM, label, &c->transforms[i]);
    }
}

static void load_errors(loader *l, const sl_ynode *root, sl_pipeline_conf *c)
{
    static const char *const skip[] = {"dead_letter", NULL};
    sluice_config *e = load_section(l, root, "errors", errors_opts, skip);
    const char *tol = sl_cfg_string(e, "tolerance");
    c->tolerance = tol && strcmp(tol, "all") == 0 ? SL_TOLERANCE_ALL : SL_TOLERANCE_NONE;
    c->log_errors = sl_cfg_bool(e, "log", 1);
    sl_config_free(e);

    const sl_ynode *dl = sl_ymap_get(sl_ymap_get(root, "errors"), "dead_letter");
    if (sl_ynode_absent(dl))
        return;
    c->has_dead_letter = 1;
    load_stage(l, dl, SL_SINK, "dead_letter", &c->dead_letter);
    if (c->tolerance != SL_TOLERANCE_ALL)
        sl_diag_add(l->d, l->file, dl->line, dl->col,
                    "errors.dead_letter is only used with \"tolerance: all\" (with \"none\" the "
                    "first failed record stops the pipeline); set errors.tolerance: all");
}

static void check_backoff(loader *l, const sl_ynode *root, const char *sec, int64_t initial,
                          int64_t max)
{
    if (max >= initial)
        return;
    const sl_ynode *at = section_value(root, sec, "max", root);
    sl_diag_add(l->d, l->file, at->line, at->col,
                "%s.max (%lldms) is shorter than %s.initial (%lldms)", sec, (long long)max, sec,
                (long long)initial);
}

static void load_buffer(loader *l, const sl_ynode *root, sl_pipeline_conf *c)
{
    sluice_config *s = load_section(l, root, "buffer", buffer_opts, NULL);
    c->queue_batches = (size_t)sl_cfg_int(s, "max_batches", 4);
    const char *type = sl_cfg_string(s, "type");
    c->spool = type && strcmp(type, "disk") == 0;
    const char *fs = sl_cfg_string(s, "fsync");
    c->spool_fsync = !fs || !strcmp(fs, "batch") ? SL_SPOOL_FSYNC_BATCH
                     : !strcmp(fs, "interval")   ? SL_SPOOL_FSYNC_INTERVAL
                                                 : SL_SPOOL_FSYNC_NEVER;
    c->spool_fsync_interval_ms = sl_cfg_int(s, "fsync_interval", 1000);
    c->spool_max_bytes = (uint64_t)sl_cfg_int(s, "max_size", (int64_t)1 << 30);
    c->spool_segment_bytes = (uint64_t)sl_cfg_int(s, "segment_size", 64 << 20);
    const char *path = sl_cfg_string(s, "path");
    const sl_ynode *at = section_value(root, "buffer", "type", root);
    if (c->spool && (!path || !*path)) {
        sl_diag_add(l->d, l->file, at->line, at->col,
                    "buffer.path is required with \"type: disk\" (one directory per pipeline, "
                    "e.g. path: ${SLUICE_SPOOL_DIR:-var/spool}/NAME)");
    } else if (!c->spool && path && sl_ymap_get(sl_ymap_get(root, "buffer"), "path")) {
        const sl_ynode *pn = section_value(root, "buffer", "path", root);
        sl_diag_add(l->d, l->file, pn->line, pn->col,
                    "buffer.path is only used with \"type: disk\"; set buffer.type: disk or "
                    "remove the path");
    } else if (c->spool) {
        /* Relative paths are from the working directory, like the CLI's. */
        c->spool_path = strdup(path);
    }
    if (c->spool && c->spool_segment_bytes > c->spool_max_bytes) {
        const sl_ynode *sn = section_value(root, "buffer", "segment_size", root);
        sl_diag_add(l->d, l->file, sn->line, sn->col,
                    "buffer.segment_size (%llu bytes) is larger than buffer.max_size (%llu "
                    "bytes); a segment must fit in the spool",
                    (unsigned long long)c->spool_segment_bytes,
                    (unsigned long long)c->spool_max_bytes);
    }
    if (c->spool && c->spool_fsync != SL_SPOOL_FSYNC_INTERVAL &&
        sl_ymap_get(sl_ymap_get(root, "buffer"), "fsync_interval")) {
        const sl_ynode *fn = section_value(root, "buffer", "fsync_interval", root);
        sl_diag_add(l->d, l->file, fn->line, fn->col,
                    "buffer.fsync_interval is only used with \"fsync: interval\"");
    }
    sl_config_free(s);
}

static void load_sections(loader *l, const sl_ynode *root, sl_pipeline_conf *c)
{
    sluice_config *s = load_section(l, root, "batch", batch_opts, NULL);
    c->batch_max_records = (size_t)sl_cfg_int(s, "max_records", 1000);
    c->batch_linger_ms = sl_cfg_int(s, "linger", 100);
    c->batch_arena_bytes = (size_t)sl_cfg_int(s, "max_bytes", 8 << 20);
    sl_config_free(s);

    load_buffer(l, root, c);

    s = load_section(l, root, "retry", retry_opts, NULL);
    c->retry_initial_ms = sl_cfg_int(s, "initial", 100);
    c->retry_max_ms = sl_cfg_int(s, "max", 30000);
    c->retry_max_attempts = sl_cfg_int(s, "max_attempts", 0);
    sl_config_free(s);
    check_backoff(l, root, "retry", c->retry_initial_ms, c->retry_max_ms);

    s = load_section(l, root, "restart", restart_opts, NULL);
    c->restart_initial_ms = sl_cfg_int(s, "initial", 1000);
    c->restart_max_ms = sl_cfg_int(s, "max", 60000);
    sl_config_free(s);
    check_backoff(l, root, "restart", c->restart_initial_ms, c->restart_max_ms);

    s = load_section(l, root, "watchdog", watchdog_opts, NULL);
    c->watchdog_ms = sl_cfg_int(s, "timeout", 300000);
    sl_config_free(s);
}

static void check_top_keys(loader *l, const sl_ynode *root)
{
    for (size_t i = 0; i < root->n; i++) {
        const char *k = root->keys[i]->text;
        size_t j = 0;
        while (top_keys[j] && strcmp(top_keys[j], k) != 0)
            j++;
        if (top_keys[j])
            continue;
        char hint[128], list[512] = "";
        size_t nk = sizeof top_keys / sizeof *top_keys - 1;
        sl_did_you_mean(hint, sizeof hint, k, top_keys, nk);
        if (!hint[0]) {
            char joined[400];
            sl_join_names(joined, sizeof joined, top_keys, nk);
            snprintf(list, sizeof list, "; expected one of: %s", joined);
        }
        sl_diag_add(l->d, l->file, root->keys[i]->line, root->keys[i]->col,
                    "unknown key \"%s\" in pipeline%s%s", k, hint, list);
    }
}

/* The whole file, for parsing and for the digest.  NULL with a message.
 * Read in growing chunks rather than by st_size, so that pipes
 * (`sluice validate <(envsubst < p.yaml)`) work too. */
static char *read_file(const char *path, size_t *len, sl_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        sl_diag_add(d, path, 0, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int err = 0;
    for (;;) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16384;
            if (nc > MAX_FILE + 1)
                nc = MAX_FILE + 1;
            if (nc == cap)
                break; /* over the limit */
            char *nb = realloc(buf, nc + 1);
            if (!nb) {
                err = ENOMEM;
                break;
            }
            buf = nb;
            cap = nc;
        }
        errno = 0;
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                err = errno ? errno : EIO;
            break;
        }
    }
    fclose(f);
    if (err || n > MAX_FILE) {
        if (err)
            sl_diag_add(d, path, 0, 0, "cannot read: %s", strerror(err));
        else
            sl_diag_add(d, path, 0, 0, "larger than %d MiB; is this a pipeline file?",
                        MAX_FILE >> 20);
        free(buf);
        return NULL;
    }
    if (!buf && !(buf = malloc(1))) {
        sl_diag_add(d, path, 0, 0, "out of memory");
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Where a message of this file points, from its "FILE:LINE:COL: " head. */
static void msg_pos(const char *msg, size_t plen, long *line, long *col)
{
    *line = *col = 0;
    if (msg[plen] == ':')
        sscanf(msg + plen, ":%ld:%ld", line, col);
}

/* Checks run section by section; the reader wants the file's order. */
static void sort_messages(sl_diag *d, size_t from, const char *path)
{
    size_t plen = strlen(path);
    for (size_t i = from + 1; i < d->n; i++) {
        char *m = d->msgs[i];
        long l, c;
        msg_pos(m, plen, &l, &c);
        size_t j = i;
        while (j > from) {
            long pl, pc;
            msg_pos(d->msgs[j - 1], plen, &pl, &pc);
            if (pl < l || (pl == l && pc <= c))
                break;
            d->msgs[j] = d->msgs[j - 1];
            j--;
        }
        d->msgs[j] = m;
    }
}

void sl_conf_free(sl_pipeline_conf *c)
{
    if (!c)
        return;
    sl_stage_conf *st[3] = {&c->source, &c->sink, &c->dead_letter};
    for (int i = 0; i < 3; i++) {
        free(st[i]->plugin);
        sl_config_free(st[i]->cfg);
    }
    for (size_t i = 0; i < c->n_transforms; i++) {
        free(c->transforms[i].plugin);
        sl_config_free(c->transforms[i].cfg);
    }
    free(c->transforms);
    free(c->name);
    free(c->group);
    free(c->path);
    free(c->spool_path);
    free(c);
}

int sl_conf_set_lane(sl_pipeline_conf *c, int lane)
{
    char *name = malloc(strlen(c->name) + 16);
    if (!name)
        return -1;
    sprintf(name, "%s#%d", c->name, lane);
    if (c->spool_path) {
        /* A spool is one lane's: each lane gets a directory of its own. */
        char *sp = malloc(strlen(c->spool_path) + 16);
        if (!sp) {
            free(name);
            return -1;
        }
        sprintf(sp, "%s/%d", c->spool_path, lane);
        free(c->spool_path);
        c->spool_path = sp;
    }
    free(c->group);
    c->group = c->name;
    c->name = name;
    c->lane = lane;
    return 0;
}

sl_pipeline_conf *sl_conf_load(const char *path, const sl_registry *reg, sl_diag *diag)
{
    sl_diag scratch = {0};
    if (!diag)
        diag = &scratch; /* the caller only wants the verdict */
    size_t n0 = diag->n, len = 0;
    char *buf = read_file(path, &len, diag);
    if (!buf) {
        sl_diag_free(&scratch);
        return NULL;
    }
    loader l = {.file = path, .reg = reg, .d = diag, .digest = sl_fnv1a(SL_FNV_OFFSET, buf, len)};
    const char *slash = strrchr(path, '/');
    l.basedir = slash ? strndup(path, (size_t)(slash == path ? 1 : slash - path)) : strdup(".");
    sl_pipeline_conf *c = calloc(1, sizeof(*c));
    sl_ynode *root = NULL;
    if (!c || !l.basedir || !(c->path = strdup(path))) {
        sl_diag_add(diag, path, 0, 0, "out of memory");
        goto fail;
    }
    if (sl_yaml_parse(path, buf, len, &root, diag) != 0)
        goto fail;
    if (sl_ynode_absent(root)) {
        sl_diag_add(diag, path, 1, 1,
                    "empty pipeline file; expected a mapping with \"source:\" and \"sink:\"");
        goto fail;
    }
    if (root->kind != SL_Y_MAP) {
        sl_diag_add(diag, path, root->line, root->col,
                    "the top level must be a mapping (name:, source:, sink:, ...), got %s",
                    sl_ykind_name(root));
        goto fail;
    }
    sl_expand_tree(root, path, diag, &l.digest);

    check_top_keys(&l, root);
    load_name(&l, root, c);
    load_lanes(&l, root, c);
    const sl_ynode *src = sl_ymap_get(root, "source");
    if (sl_ynode_absent(src))
        sl_diag_add(diag, path, root->line, root->col,
                    "missing \"source:\" (a mapping with \"plugin:\" and its options)");
    else
        load_stage(&l, src, SL_SOURCE, "source", &c->source);
    load_transforms(&l, root, c);
    const sl_ynode *snk = sl_ymap_get(root, "sink");
    if (sl_ynode_absent(snk))
        sl_diag_add(diag, path, root->line, root->col,
                    "missing \"sink:\" (a mapping with \"plugin:\" and its options)");
    else
        load_stage(&l, snk, SL_SINK, "sink", &c->sink);
    const sl_ynode *desc = sl_ymap_get(root, "description");
    if (desc && desc->kind != SL_Y_SCALAR)
        sl_diag_add(diag, path, desc->line, desc->col, "description: expected a string, got %s",
                    sl_ykind_name(desc));
    load_errors(&l, root, c);
    load_sections(&l, root, c);
    c->digest = l.digest;
    if (diag->n > n0) {
        sort_messages(diag, n0, path);
        goto fail;
    }
    sl_ynode_free(root);
    free(l.basedir);
    free(buf);
    sl_diag_free(&scratch);
    return c;
fail:
    sl_ynode_free(root);
    free(l.basedir);
    free(buf);
    sl_conf_free(c);
    sl_diag_free(&scratch);
    return NULL;
}
