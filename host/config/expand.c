/* ${VAR} expansion.  The syntax is the shell's (and docker compose's) subset
 * that people already write in such files: ${VAR}, ${VAR:-default} (default
 * also when VAR is empty, as in POSIX sh), and $${ for a literal "${". */
#include "expand.h"

#include "digest.h"

#include <sluice/sluice_util.h>

#include <stdlib.h>
#include <string.h>

/* Defaults may hold references themselves (${A:-${B}}); this bounds it. */
#define MAX_NESTING 8

/* The text being built, NUL-terminated after every append. */
typedef sluice_buf sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    sluice_buf_put(b, s, n);
    sluice_buf_cstr(b);
}

typedef struct ectx {
    const char *file;
    int line, col;
    sl_diag *d;
    uint64_t *digest;
} ectx;

static int name_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
static int name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

static void note(ectx *x, const char *name, size_t nlen, const char *val)
{
    if (!x->digest)
        return;
    uint64_t h = sl_fnv1a(*x->digest, name, nlen);
    h = val ? sl_fnv1a(sl_fnv1a(h, "=", 1), val, strlen(val)) : sl_fnv1a(h, "\1unset", 6);
    *x->digest = sl_fnv1a(h, "", 1);
}

/* The end of a ${NAME:-default} reference: the index of its closing brace,
 * counting nested references, or `len` if there is none. */
static size_t closing_brace(const char *s, size_t i, size_t len)
{
    int depth = 1;
    while (i < len) {
        if (s[i] == '$' && i + 2 < len && s[i + 1] == '$' && s[i + 2] == '{') {
            i += 3;
        } else if (s[i] == '$' && i + 1 < len && s[i + 1] == '{') {
            depth++;
            i += 2;
        } else if (s[i] == '}') {
            if (--depth == 0)
                return i;
            i++;
        } else {
            i++;
        }
    }
    return len;
}

static int expand_into(ectx *x, sbuf *out, const char *s, size_t len, int nesting)
{
    size_t i = 0;
    while (i < len) {
        if (s[i] != '$') {
            size_t j = i;
            while (j < len && s[j] != '$')
                j++;
            sb_add(out, s + i, j - i);
            i = j;
            continue;
        }
        if (i + 2 < len && s[i + 1] == '$' && s[i + 2] == '{') {
            sb_add(out, "${", 2);
            i += 3;
            continue;
        }
        if (i + 1 >= len || s[i + 1] != '{') {
            sb_add(out, "$", 1);
            i++;
            continue;
        }
        size_t ns = i + 2, ne = ns;
        if (ne < len && name_start(s[ne]))
            while (ne < len && name_char(s[ne]))
                ne++;
        if (ne == ns) {
            sl_diag_add(x->d, x->file, x->line, x->col,
                        "malformed variable reference: \"${\" must be followed by a name "
                        "(letters, digits, _) and \"}\" or \":-default}\"; write \"$${\" for a "
                        "literal \"${\"");
            return -1;
        }
        int nlen = (int)(ne - ns);
        char name[256];
        if (ne - ns >= sizeof name) {
            sl_diag_add(x->d, x->file, x->line, x->col, "variable name \"%.32s...\" is too long",
                        s + ns);
            return -1;
        }
        memcpy(name, s + ns, ne - ns);
        name[ne - ns] = '\0';
        const char *val = getenv(name);
        note(x, name, ne - ns, val);
        if (ne < len && s[ne] == '}') {
            if (!val) {
                sl_diag_add(x->d, x->file, x->line, x->col,
                            "environment variable \"%s\" is not set (write ${%s:-default} to "
                            "give a default)",
                            name, name);
                return -1;
            }
            sb_add(out, val, strlen(val));
            i = ne + 1;
            continue;
        }
        if (ne + 1 < len && s[ne] == ':' && s[ne + 1] == '-') {
            size_t ds = ne + 2, de = closing_brace(s, ds, len);
            if (de == len) {
                sl_diag_add(x->d, x->file, x->line, x->col,
                            "unterminated variable reference \"${%.*s:-\": missing \"}\"", nlen,
                            name);
                return -1;
            }
            if (val && *val) {
                sb_add(out, val, strlen(val));
            } else {
                if (nesting >= MAX_NESTING) {
                    sl_diag_add(x->d, x->file, x->line, x->col,
                                "variable references nested deeper than %d levels", MAX_NESTING);
                    return -1;
                }
                if (expand_into(x, out, s + ds, de - ds, nesting + 1) != 0)
                    return -1;
            }
            i = de + 1;
            continue;
        }
        if (ne >= len)
            sl_diag_add(x->d, x->file, x->line, x->col,
                        "unterminated variable reference \"${%s\": missing \"}\"", name);
        else
            sl_diag_add(x->d, x->file, x->line, x->col,
                        "malformed variable reference \"${%s...\": expected \"}\" or "
                        "\":-default}\" after the name",
                        name);
        return -1;
    }
    return 0;
}

int sl_expand(const char *in, char **out, const char *file, int line, int col, sl_diag *d,
              uint64_t *digest)
{
    ectx x = {file, line, col, d, digest};
    sbuf b = {0};
    *out = NULL;
    sb_add(&b, "", 0);
    int rc = expand_into(&x, &b, in, strlen(in), 0);
    if (rc == 0 && b.oom) {
        sl_diag_add(d, file, line, col, "out of memory");
        rc = -1;
    }
    if (rc != 0) {
        free(b.p);
        return -1;
    }
    *out = b.p;
    return 0;
}

int sl_expand_tree(sl_ynode *n, const char *file, sl_diag *d, uint64_t *digest)
{
    if (!n)
        return 0;
    if (n->kind == SL_Y_SCALAR) {
        if (n->is_null || !strchr(n->text, '$'))
            return 0;
        char *v;
        if (sl_expand(n->text, &v, file, n->line, n->col, d, digest) != 0) {
            n->bad = 1;
            return 1;
        }
        free(n->text);
        n->text = v;
        return 0;
    }
    int errs = 0;
    for (size_t i = 0; i < n->n; i++)
        errs += sl_expand_tree(n->items[i], file, d, digest);
    /* A list or map option with one bad item is as bad as the item. */
    if (errs)
        n->bad = 1;
    return errs;
}
