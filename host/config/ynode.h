/* A small YAML node tree that remembers where every node and key starts,
 * so that every later check can point at FILE:LINE:COL. */
#ifndef SL_YNODE_H
#define SL_YNODE_H

#include "config.h"

#include <stddef.h>

typedef enum sl_ykind { SL_Y_SCALAR, SL_Y_MAP, SL_Y_SEQ } sl_ykind;

typedef struct sl_ynode sl_ynode;
struct sl_ynode {
    sl_ykind kind;
    int line, col;           /* 1-based */
    char *text;              /* SCALAR: its value (${VAR} expanded once
                                sl_expand_tree has run) */
    int is_null;             /* a plain scalar spelled as YAML's null:
                                nothing, "~" or "null" */
    int bad;                 /* this value (or one inside it) could not be
                                expanded; that is reported already, so later
                                checks skip it rather than pile on */
    sl_ynode **keys;         /* MAP: the keys, all scalars */
    sl_ynode **items;        /* MAP: the values; SEQ: the elements */
    size_t n, cap;
};

/* Deeper nesting than any pipeline needs; the bound keeps the recursive
 * walks over the tree safe from hostile input. */
#define SL_YAML_MAX_DEPTH 64
/* Limits that turn a hostile or generated file into one clear error rather
 * than minutes of work; documented in docs/pipeline-reference.md. */
#define SL_YAML_MAX_KEYS 10000    /* keys in one mapping */
#define SL_YAML_MAX_NODES 100000  /* keys, values and items in one file */

/* Parses one YAML document held in buf.  Returns 0 and the root in *root
 * (NULL for an empty document), or -1 after a syntax error.  Problems that
 * do not stop the parse (duplicate keys, aliases) are added to `d` and the
 * tree is still returned, so that later checks can report more. */
int sl_yaml_parse(const char *file, const char *buf, size_t len, sl_ynode **root, sl_diag *d);
void sl_ynode_free(sl_ynode *n);

/* The value of `key` in a mapping, or NULL. */
const sl_ynode *sl_ymap_get(const sl_ynode *map, const char *key);
/* A null scalar, or no node at all: both mean "not given". */
int sl_ynode_absent(const sl_ynode *n);
/* "a scalar", "a mapping", "a sequence", for messages. */
const char *sl_ykind_name(const sl_ynode *n);

#endif
