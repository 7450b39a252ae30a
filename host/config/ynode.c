/* YAML to node tree with libyaml's event API.  The event API (rather than
 * yaml_document_t) is used because it gives the marks of keys as well as
 * values and lets duplicate keys be caught where they occur. */
#include "ynode.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct builder {
    const char *file;
    sl_diag *d;
    const char *buf;
    size_t len;
    sl_ynode *root;
    sl_ynode *stack[SL_YAML_MAX_DEPTH];
    /* Per open mapping: a key still waiting for its value, and whether that
     * key repeats an earlier one (its pair is then dropped). */
    sl_ynode *pending[SL_YAML_MAX_DEPTH];
    int pending_dup[SL_YAML_MAX_DEPTH];
    /* Per open mapping: a hash index of its keys (positions + 1 in
     * keys[], 0 = empty slot), so the duplicate check is linear in the
     * number of keys rather than quadratic. */
    size_t *index[SL_YAML_MAX_DEPTH];
    size_t index_cap[SL_YAML_MAX_DEPTH];
    size_t nodes;            /* every node so far, against SL_YAML_MAX_NODES */
    int depth;
    int docs;
    sl_ynode *graveyard;     /* values of duplicate keys, freed at the end */
} builder;

void sl_ynode_free(sl_ynode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys)
            sl_ynode_free(n->keys[i]);
        sl_ynode_free(n->items[i]);
    }
    free(n->keys);
    free(n->items);
    free(n->text);
    free(n);
}

const sl_ynode *sl_ymap_get(const sl_ynode *map, const char *key)
{
    if (!map || map->kind != SL_Y_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i]->text, key) == 0)
            return map->items[i];
    return NULL;
}

int sl_ynode_absent(const sl_ynode *n) { return !n || (n->kind == SL_Y_SCALAR && n->is_null); }

const char *sl_ykind_name(const sl_ynode *n)
{
    if (sl_ynode_absent(n))
        return "nothing";
    switch (n->kind) {
    case SL_Y_MAP: return "a mapping";
    case SL_Y_SEQ: return "a sequence";
    default: return "a scalar";
    }
}

static sl_ynode *node_new(sl_ykind kind, yaml_mark_t m)
{
    sl_ynode *n = calloc(1, sizeof(*n));
    if (n) {
        n->kind = kind;
        n->line = (int)m.line + 1;
        n->col = (int)m.column + 1;
    }
    return n;
}

static int push_item(sl_ynode *parent, sl_ynode *key, sl_ynode *val)
{
    if (parent->n == parent->cap) {
        size_t nc = parent->cap ? parent->cap * 2 : 4;
        sl_ynode **ni = realloc(parent->items, nc * sizeof(*ni));
        if (!ni)
            return -1;
        parent->items = ni;
        if (parent->kind == SL_Y_MAP) {
            sl_ynode **nk = realloc(parent->keys, nc * sizeof(*nk));
            if (!nk)
                return -1;
            parent->keys = nk;
        }
        parent->cap = nc;
    }
    if (parent->kind == SL_Y_MAP)
        parent->keys[parent->n] = key;
    parent->items[parent->n++] = val;
    return 0;
}

static uint64_t hash_key(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Finds `key` among the keys of the mapping open at `top`; returns its node,
 * or NULL after recording where it will go (the caller pushes it next). */
static const sl_ynode *index_find_or_add(builder *b, int top, const sl_ynode *map,
                                         const char *key, int *oom)
{
    size_t cap = b->index_cap[top];
    /* Keep the table at most half full; n + 1 counts the key to be added. */
    if ((map->n + 1) * 2 > cap) {
        size_t nc = cap ? cap * 2 : 16;
        size_t *ni = calloc(nc, sizeof(*ni));
        if (!ni) {
            *oom = 1;
            return NULL;
        }
        for (size_t i = 0; i < map->n; i++) {
            size_t at = (size_t)hash_key(map->keys[i]->text) & (nc - 1);
            while (ni[at])
                at = (at + 1) & (nc - 1);
            ni[at] = i + 1;
        }
        free(b->index[top]);
        b->index[top] = ni;
        b->index_cap[top] = cap = nc;
    }
    size_t at = (size_t)hash_key(key) & (cap - 1);
    while (b->index[top][at]) {
        const sl_ynode *k = map->keys[b->index[top][at] - 1];
        if (strcmp(k->text, key) == 0)
            return k;
        at = (at + 1) & (cap - 1);
    }
    b->index[top][at] = map->n + 1; /* the position push_item will give it */
    return NULL;
}

static void index_drop(builder *b, int top)
{
    free(b->index[top]);
    b->index[top] = NULL;
    b->index_cap[top] = 0;
}

/* Hangs a new node under the open container.  Takes ownership of n in every
 * case; -1 means the parse cannot go on (reported already). */
static int attach(builder *b, sl_ynode *n)
{
    if (b->depth == 0) {
        b->root = n;
        return 0;
    }
    int top = b->depth - 1;
    sl_ynode *parent = b->stack[top];
    sl_ynode *key = NULL;
    if (parent->kind == SL_Y_MAP) {
        if (!b->pending[top]) {
            if (n->kind != SL_Y_SCALAR) {
                sl_diag_add(b->d, b->file, n->line, n->col,
                            "YAML syntax error: a mapping key must be a plain name, not %s",
                            sl_ykind_name(n));
                sl_ynode_free(n);
                return -1;
            }
            b->pending_dup[top] = 0;
            if (parent->n >= SL_YAML_MAX_KEYS) {
                sl_diag_add(b->d, b->file, n->line, n->col,
                            "a mapping with more than %d keys (the one that started at "
                            "%d:%d); pipeline files are limited to %d keys per mapping",
                            SL_YAML_MAX_KEYS, parent->line, parent->col, SL_YAML_MAX_KEYS);
                sl_ynode_free(n);
                return -1;
            }
            int oom = 0;
            const sl_ynode *first = index_find_or_add(b, top, parent, n->text, &oom);
            if (oom) {
                sl_ynode_free(n);
                sl_diag_add(b->d, b->file, 0, 0, "out of memory");
                return -1;
            }
            if (first) {
                sl_diag_add(b->d, b->file, n->line, n->col,
                            "duplicate key \"%s\" (first given at %d:%d)", n->text,
                            first->line, first->col);
                b->pending_dup[top] = 1;
            }
            b->pending[top] = n;
            return 0;
        }
        key = b->pending[top];
        b->pending[top] = NULL;
        if (b->pending_dup[top]) {
            /* The first occurrence wins.  The repeat's value may be a
             * container still being filled, so it is parked rather than
             * freed now. */
            sl_ynode_free(key);
            key = NULL;
            parent = b->graveyard;
        }
    }
    if (push_item(parent, key, n) != 0) {
        sl_ynode_free(key);
        sl_ynode_free(n);
        sl_diag_add(b->d, b->file, 0, 0, "out of memory");
        return -1;
    }
    return 0;
}

/* Reader errors (bad UTF-8) carry a byte offset, not a mark. */
static void offset_to_mark(const char *buf, size_t len, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (buf[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static void syntax_error(builder *b, const yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "unknown problem";
    int line, col;
    if (p->error == YAML_MEMORY_ERROR) {
        sl_diag_add(b->d, b->file, 0, 0, "out of memory while parsing YAML");
        return;
    }
    if (p->error == YAML_READER_ERROR) {
        offset_to_mark(b->buf, b->len, p->problem_offset, &line, &col);
        if (p->problem_value != -1)
            sl_diag_add(b->d, b->file, line, col, "YAML syntax error: %s (byte 0x%02X)", problem,
                        (unsigned)p->problem_value & 0xffu);
        else
            sl_diag_add(b->d, b->file, line, col, "YAML syntax error: %s", problem);
        return;
    }
    line = (int)p->problem_mark.line + 1;
    col = (int)p->problem_mark.column + 1;
    if (p->context)
        sl_diag_add(b->d, b->file, line, col, "YAML syntax error: %s %s that started at %d:%d",
                    problem, p->context, (int)p->context_mark.line + 1,
                    (int)p->context_mark.column + 1);
    else
        sl_diag_add(b->d, b->file, line, col, "YAML syntax error: %s", problem);
}

static int is_null_spelling(const char *s, size_t len)
{
    return len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

/* Handles one event; -1 stops the parse. */
static int on_event(builder *b, const yaml_event_t *ev)
{
    sl_ynode *n;
    if ((ev->type == YAML_SCALAR_EVENT || ev->type == YAML_ALIAS_EVENT ||
         ev->type == YAML_SEQUENCE_START_EVENT || ev->type == YAML_MAPPING_START_EVENT) &&
        ++b->nodes > SL_YAML_MAX_NODES) {
        sl_diag_add(b->d, b->file, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                    "more than %d keys and values in all; pipeline files are limited to %d",
                    SL_YAML_MAX_NODES, SL_YAML_MAX_NODES);
        return -1;
    }
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++b->docs > 1) {
            sl_diag_add(b->d, b->file, (int)ev->start_mark.line + 1,
                        (int)ev->start_mark.column + 1,
                        "a pipeline file holds one YAML document; a second one starts here");
            return -1;
        }
        return 0;
    case YAML_SCALAR_EVENT: {
        size_t len = ev->data.scalar.length;
        const char *v = (const char *)ev->data.scalar.value;
        n = node_new(SL_Y_SCALAR, ev->start_mark);
        if (n)
            n->text = malloc(len + 1);
        if (!n || !n->text) {
            sl_ynode_free(n);
            sl_diag_add(b->d, b->file, 0, 0, "out of memory");
            return -1;
        }
        memcpy(n->text, v, len);
        n->text[len] = '\0';
        if (memchr(v, '\0', len))
            sl_diag_add(b->d, b->file, n->line, n->col,
                        "a value contains a NUL character, which sluice cannot pass on");
        n->is_null = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && is_null_spelling(v, len);
        return attach(b, n);
    }
    case YAML_ALIAS_EVENT:
        sl_diag_add(b->d, b->file, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                    "YAML aliases (*%s) are not supported; write the value out",
                    (const char *)ev->data.alias.anchor);
        n = node_new(SL_Y_SCALAR, ev->start_mark);
        if (n)
            n->text = calloc(1, 1);
        if (!n || !n->text) {
            sl_ynode_free(n);
            return -1;
        }
        n->is_null = 1;
        return attach(b, n);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if (b->depth >= SL_YAML_MAX_DEPTH) {
            sl_diag_add(b->d, b->file, (int)ev->start_mark.line + 1,
                        (int)ev->start_mark.column + 1, "nesting deeper than %d levels",
                        SL_YAML_MAX_DEPTH);
            return -1;
        }
        n = node_new(ev->type == YAML_MAPPING_START_EVENT ? SL_Y_MAP : SL_Y_SEQ, ev->start_mark);
        if (!n) {
            sl_diag_add(b->d, b->file, 0, 0, "out of memory");
            return -1;
        }
        if (attach(b, n) != 0)
            return -1;
        b->stack[b->depth] = n;
        b->pending[b->depth] = NULL;
        b->index[b->depth] = NULL;
        b->index_cap[b->depth] = 0;
        b->depth++;
        return 0;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (b->depth > 0) {
            b->depth--;
            index_drop(b, b->depth);
            /* libyaml always pairs a key with a value; this is belt and braces. */
            sl_ynode_free(b->pending[b->depth]);
            b->pending[b->depth] = NULL;
        }
        return 0;
    default:
        return 0;
    }
}

int sl_yaml_parse(const char *file, const char *buf, size_t len, sl_ynode **root, sl_diag *d)
{
    *root = NULL;
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        sl_diag_add(d, file, 0, 0, "out of memory");
        return -1;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
    builder b = {.file = file, .d = d, .buf = buf, .len = len};
    b.graveyard = calloc(1, sizeof(*b.graveyard));
    int rc = b.graveyard ? 0 : -1;
    if (rc)
        sl_diag_add(d, file, 0, 0, "out of memory");
    else
        b.graveyard->kind = SL_Y_SEQ;
    while (rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            syntax_error(&b, &p);
            rc = -1;
            break;
        }
        int end = ev.type == YAML_STREAM_END_EVENT;
        rc = on_event(&b, &ev);
        yaml_event_delete(&ev);
        if (end)
            break;
    }
    yaml_parser_delete(&p);
    for (int i = 0; i < b.depth; i++) {
        sl_ynode_free(b.pending[i]);
        index_drop(&b, i);
    }
    sl_ynode_free(b.graveyard);
    if (rc != 0) {
        sl_ynode_free(b.root);
        return -1;
    }
    *root = b.root;
    return 0;
}
