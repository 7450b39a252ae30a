/* Option validation.  Each problem becomes one message at the line:column of
 * the offending value, naming the stage (or section) and the option:
 *   FILE:L:C: source (plugin "mqtt"): option "qos": expected an integer, got "high"
 * A secret's value never appears in a message. */
#include "options.h"
#include "redact.h"

#include "digest.h"
#include "secret.h"
#include "suggest.h"
#include "typed.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl_quote(char *buf, size_t len, const char *s)
{
    enum { SHOW = 60 };
    size_t o = 0;
    if (len < 8) {
        if (len)
            buf[0] = '\0';
        return;
    }
    buf[o++] = '"';
    int shown = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (shown == SHOW || o + 8 >= len) {
            o += (size_t)snprintf(buf + o, len - o, "...");
            break;
        }
        if (*p == '"' || *p == '\\')
            o += (size_t)snprintf(buf + o, len - o, "\\%c", *p);
        else if (*p == '\n')
            o += (size_t)snprintf(buf + o, len - o, "\\n");
        else if (*p == '\t')
            o += (size_t)snprintf(buf + o, len - o, "\\t");
        else if (*p < 0x20 || *p == 0x7f)
            o += (size_t)snprintf(buf + o, len - o, "\\x%02x", *p);
        else
            buf[o++] = (char)*p;
        shown++;
    }
    if (o + 2 > len)
        o = len - 2;
    buf[o++] = '"';
    buf[o] = '\0';
}

void sl_optval_clear(sl_optval *v)
{
    const sluice_option *o = v->opt;
    if (v->str) {
        if (o && o->type == SLUICE_OPT_SECRET)
            explicit_bzero(v->str, strlen(v->str));
        free(v->str);
    }
    for (size_t i = 0; i < v->n_items; i++) {
        if (v->items)
            free(v->items[i]);
        if (v->values)
            free(v->values[i]);
    }
    free(v->items);
    free(v->values);
    memset(v, 0, sizeof(*v));
    v->opt = o;
}

static const char *expected(sluice_opt_type t)
{
    switch (t) {
    case SLUICE_OPT_STRING: return "a string";
    case SLUICE_OPT_INT: return "an integer";
    case SLUICE_OPT_DOUBLE: return "a number";
    case SLUICE_OPT_BOOL: return "true or false (or yes/no, on/off, 1/0)";
    case SLUICE_OPT_DURATION: return "a duration such as 250ms, 5s, 2m, 1h30m";
    case SLUICE_OPT_SIZE: return "a size such as 512, 64KiB, 16MiB";
    case SLUICE_OPT_LIST: return "a list (a sequence of scalars, or one scalar)";
    case SLUICE_OPT_MAP: return "a mapping of names to scalar values";
    case SLUICE_OPT_SECRET: return "a string or { file: PATH }";
    }
    return "a value";
}

/* The problem with one value, filled by convert(). */
typedef struct problem {
    char msg[1024];
    const sl_ynode *at;      /* where it is; NULL: the option's own node */
} problem;

static int fail(problem *pr, const sl_ynode *at, const char *fmt, ...) SLUICE_PRINTF(3, 4);
static int fail(problem *pr, const sl_ynode *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pr->msg, sizeof pr->msg, fmt, ap);
    va_end(ap);
    pr->at = at;
    return -1;
}

static int oom(problem *pr) { return fail(pr, NULL, "out of memory"); }

static int in_choices(const char *choices, const char *s)
{
    size_t l = strlen(s);
    for (const char *p = choices;;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == l && strncmp(p, s, l) == 0)
            return 1;
        if (!bar)
            return 0;
        p = bar + 1;
    }
}

static int check_choice(const sluice_option *o, const char *s, const sl_ynode *at, problem *pr)
{
    if (!o->choices || in_choices(o->choices, s))
        return 0;
    char list[512], q[96], hint[128] = "";
    /* Split "a|b|c" into names for the suggestion and the list. */
    const char *names[64];
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", o->choices);
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(tmp, "|", &save); t && n < 64;
         t = strtok_r(NULL, "|", &save))
        names[n++] = t;
    sl_join_names(list, sizeof list, names, n);
    if (o->type == SLUICE_OPT_SECRET)
        return fail(pr, at, "the value is not one of: %s", list);
    sl_did_you_mean(hint, sizeof hint, s, names, n);
    sl_quote(q, sizeof q, s);
    return fail(pr, at, "%s is not one of: %s%s", q, list, hint);
}

static int bounded_type(sluice_opt_type t)
{
    return t == SLUICE_OPT_INT || t == SLUICE_OPT_DOUBLE || t == SLUICE_OPT_DURATION ||
           t == SLUICE_OPT_SIZE;
}

/* Reads a bound (or a default) as option type t: integers, ms and bytes in
 * *i, numbers in *d.  0, or -1 if it is not a value of that type. */
static int parse_num(sluice_opt_type t, const char *s, int64_t *i, double *d)
{
    switch (t) {
    case SLUICE_OPT_INT: return sl_parse_int(s, i);
    case SLUICE_OPT_DOUBLE: return sl_parse_double(s, d);
    case SLUICE_OPT_DURATION: return (*i = sl_parse_duration_ms(s)) < 0 ? -1 : 0;
    case SLUICE_OPT_SIZE: return (*i = sl_parse_size(s)) < 0 ? -1 : 0;
    default: return -1;
    }
}

/* -1 if (i, d) lies below bound `text`, 1 above, 0 if text is NULL, does
 * not parse (sl_options_check refuses such a table) or is equal. */
static int cmp_bound(sluice_opt_type t, int64_t i, double d, const char *text)
{
    int64_t bi = 0;
    double bd = 0;
    if (!text || parse_num(t, text, &bi, &bd) != 0)
        return 0;
    if (t == SLUICE_OPT_DOUBLE)
        return d < bd ? -1 : d > bd ? 1 : 0;
    return i < bi ? -1 : i > bi ? 1 : 0;
}

/* "1..1000", "at least 5s" or "at most 1GiB": the bounds as declared. */
static void bounds_text(const sluice_option *o, char *buf, size_t len)
{
    if (o->min && o->max)
        snprintf(buf, len, "%s..%s", o->min, o->max);
    else if (o->min)
        snprintf(buf, len, "at least %s", o->min);
    else
        snprintf(buf, len, "at most %s", o->max);
}

static int check_range(const sluice_option *o, const sl_optval *v, const sl_ynode *at,
                       problem *pr)
{
    if ((!o->min && !o->max) || !bounded_type(o->type))
        return 0;
    if (cmp_bound(o->type, v->i, v->d, o->min) >= 0 &&
        cmp_bound(o->type, v->i, v->d, o->max) <= 0)
        return 0;
    char b[160];
    bounds_text(o, b, sizeof b);
    /* The text parsed as a number, so it is short and safe to show bare. */
    return fail(pr, at, "%s is out of range; expected %s", v->str ? v->str : "", b);
}

int sl_options_check(const sluice_option *opts, char *err, size_t errlen)
{
    for (size_t k = 0; opts && opts[k].name; k++) {
        const sluice_option *o = &opts[k];
        if (!o->min && !o->max)
            continue;
        if (!bounded_type(o->type)) {
            snprintf(err, errlen, "option \"%s\" declares min/max, but only int, double, "
                     "duration and size options take bounds", o->name);
            return -1;
        }
        int64_t i = 0;
        double d = 0;
        const char *ends[2] = {o->min, o->max}, *names[2] = {"min", "max"};
        for (int e = 0; e < 2; e++) {
            if (ends[e] && parse_num(o->type, ends[e], &i, &d) != 0) {
                char q[96];
                sl_quote(q, sizeof q, ends[e]);
                snprintf(err, errlen, "option \"%s\": %s %s is not %s", o->name, names[e], q,
                         expected(o->type));
                return -1;
            }
        }
        if (o->min && o->max && parse_num(o->type, o->min, &i, &d) == 0 &&
            cmp_bound(o->type, i, d, o->max) > 0) {
            snprintf(err, errlen, "option \"%s\": min %s is above max %s", o->name, o->min,
                     o->max);
            return -1;
        }
        if (o->def && parse_num(o->type, o->def, &i, &d) == 0 &&
            (cmp_bound(o->type, i, d, o->min) < 0 || cmp_bound(o->type, i, d, o->max) > 0)) {
            char b[160];
            bounds_text(o, b, sizeof b);
            snprintf(err, errlen, "option \"%s\": the default %s is out of range %s", o->name,
                     o->def, b);
            return -1;
        }
    }
    return 0;
}

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

/* A scalar's text read as the option's type. */
static int convert_scalar(const sluice_option *o, const sl_ynode *n, sl_optval *v, problem *pr)
{
    const char *s = n->is_null ? "" : n->text;
    char q[96];
    if (o->type == SLUICE_OPT_MAP)
        return fail(pr, n, "expected %s, got a scalar", expected(o->type));
    if (o->type == SLUICE_OPT_LIST) {
        v->items = calloc(1, sizeof(char *));
        if (!v->items || !(v->items[0] = strdup(s)))
            return oom(pr);
        v->n_items = 1;
        return check_choice(o, s, n, pr);
    }
    if (!(v->str = strdup(s)))
        return oom(pr);
    int bad = 0, b;
    switch (o->type) {
    case SLUICE_OPT_INT: bad = sl_parse_int(s, &v->i); break;
    case SLUICE_OPT_DOUBLE: bad = sl_parse_double(s, &v->d); break;
    case SLUICE_OPT_BOOL:
        bad = sl_parse_bool(s, &b);
        v->i = b;
        break;
    case SLUICE_OPT_DURATION: bad = (v->i = sl_parse_duration_ms(s)) < 0; break;
    case SLUICE_OPT_SIZE: bad = (v->i = sl_parse_size(s)) < 0; break;
    default: break;
    }
    if (bad) {
        sl_quote(q, sizeof q, s);
        return fail(pr, n, "expected %s, got %s", expected(o->type), q);
    }
    if (o->type == SLUICE_OPT_INT || o->type == SLUICE_OPT_DURATION ||
             o->type == SLUICE_OPT_SIZE)
        v->d = (double)v->i;
    return check_choice(o, s, n, pr);
}

static int convert_list(const sluice_option *o, const sl_ynode *n, sl_optval *v, problem *pr)
{
    v->items = calloc(n->n ? n->n : 1, sizeof(char *));
    if (!v->items)
        return oom(pr);
    for (size_t i = 0; i < n->n; i++) {
        const sl_ynode *it = n->items[i];
        if (it->kind != SL_Y_SCALAR)
            return fail(pr, it, "expected %s; item %zu is %s", expected(o->type), i + 1,
                        sl_ykind_name(it));
        if (!(v->items[i] = dup_or_empty(it->is_null ? "" : it->text)))
            return oom(pr);
        v->n_items = i + 1;
        if (check_choice(o, v->items[i], it, pr) != 0)
            return -1;
    }
    return 0;
}

static int convert_map(const sluice_option *o, const sl_ynode *n, sl_optval *v, problem *pr)
{
    size_t cap = n->n ? n->n : 1;
    v->items = calloc(cap, sizeof(char *));
    v->values = calloc(cap, sizeof(char *));
    if (!v->items || !v->values)
        return oom(pr);
    for (size_t i = 0; i < n->n; i++) {
        const sl_ynode *val = n->items[i];
        if (val->kind != SL_Y_SCALAR)
            return fail(pr, val, "expected %s; \"%s\" holds %s", expected(o->type),
                        n->keys[i]->text, sl_ykind_name(val));
        v->items[i] = strdup(n->keys[i]->text);
        v->values[i] = dup_or_empty(val->is_null ? "" : val->text);
        v->n_items = i + 1;
        if (!v->items[i] || !v->values[i])
            return oom(pr);
    }
    return 0;
}

static int convert_secret_file(const sl_optctx *x, const sl_ynode *n, sl_optval *v, problem *pr)
{
    const sl_ynode *path = NULL, *key = n;
    for (size_t i = 0; i < n->n; i++) {
        if (strcmp(n->keys[i]->text, "file") == 0) {
            path = n->items[i];
            key = n->keys[i];
            continue;
        }
        const char *cands[] = {"file"};
        char hint[64];
        sl_did_you_mean(hint, sizeof hint, n->keys[i]->text, cands, 1);
        return fail(pr, n->keys[i], "unknown key \"%s\" in a secret%s (expected { file: PATH })",
                    n->keys[i]->text, hint);
    }
    if (sl_ynode_absent(path) || path->kind != SL_Y_SCALAR || !*path->text)
        return fail(pr, sl_ynode_absent(path) ? key : path, "expected { file: PATH } with the path of the file "
                                        "that holds the secret");
    char err[SLUICE_ERRLEN];
    if (sl_secret_read(x->basedir, path->text, &v->str, err, sizeof err) != 0)
        return fail(pr, path, "%s", err);
    if (x->digest)
        *x->digest = sl_fnv1a(sl_fnv1a(*x->digest, v->str, strlen(v->str)), "", 1);
    return 0;
}

/* Reads node n as option o into v (v is clear on entry).  0, or -1 with the
 * problem in pr. */
static int convert(const sl_optctx *x, const sluice_option *o, const sl_ynode *n,
                   sl_optval *v, problem *pr)
{
    int rc;
    pr->at = NULL;
    if (n->kind == SL_Y_SCALAR)
        rc = convert_scalar(o, n, v, pr);
    else if (n->kind == SL_Y_SEQ && o->type == SLUICE_OPT_LIST)
        rc = convert_list(o, n, v, pr);
    else if (n->kind == SL_Y_MAP && o->type == SLUICE_OPT_MAP)
        rc = convert_map(o, n, v, pr);
    else if (n->kind == SL_Y_MAP && o->type == SLUICE_OPT_SECRET)
        rc = convert_secret_file(x, n, v, pr);
    else
        rc = fail(pr, n, "expected %s, got %s", expected(o->type), sl_ykind_name(n));
    if (rc == 0)
        rc = check_range(o, v, n, pr);
    /* Known from here on, so that any line quoting it back is scrubbed. */
    if (rc == 0 && o->type == SLUICE_OPT_SECRET)
        sl_secret_register(v->str);
    if (rc == 0 && o->type == SLUICE_OPT_MAP)
        for (size_t i = 0; i < v->n_items; i++)
            if (sl_secret_name(v->items[i], strlen(v->items[i])))
                sl_secret_register(v->values[i]);
    return rc;
}

/* Applies the declared default.  A default that does not parse is the
 * plugin's bug, and is reported as such rather than blamed on the file. */
static void apply_default(const sl_optctx *x, const sluice_option *o, sl_optval *v,
                          int line, int col)
{
    problem pr;
    sl_ynode tmp = {.kind = SL_Y_SCALAR, .text = (char *)o->def, .line = line, .col = col};
    sl_ynode *root = NULL;
    const sl_ynode *n = &tmp;
    int rc = 0;
    if (o->type == SLUICE_OPT_LIST || o->type == SLUICE_OPT_MAP) {
        /* Written as YAML: "[a, b]", "{k: v}". */
        sl_diag quiet = {0};
        if (sl_yaml_parse("default", o->def, strlen(o->def), &root, &quiet) != 0 || quiet.n) {
            snprintf(pr.msg, sizeof pr.msg, "%s", quiet.n ? quiet.msgs[0] : "invalid YAML");
            rc = -1;
        }
        sl_diag_free(&quiet);
        if (rc == 0 && root)
            n = root;
        else if (rc == 0) {
            tmp.is_null = 1;
            tmp.text = (char *)"";
        }
    }
    if (rc == 0 && n->kind == SL_Y_SCALAR && n->is_null && o->type == SLUICE_OPT_LIST) {
        /* An empty default list: set, with no items. */
        v->set = 1;
    } else if (rc == 0 && n->kind == SL_Y_SCALAR && n->is_null && o->type == SLUICE_OPT_MAP) {
        v->set = 1;
    } else {
        if (rc == 0)
            rc = convert(x, o, n, v, &pr);
        if (rc == 0) {
            v->set = 1;
        } else {
            char q[96];
            sl_quote(q, sizeof q, o->def);
            sl_optval_clear(v);
            sl_diag_add(x->d, x->file, line, col,
                        "%s: the plugin declares an invalid default %s for option \"%s\" (a "
                        "bug in the plugin): %s",
                        x->where, o->type == SLUICE_OPT_SECRET ? "***" : q, o->name, pr.msg);
        }
    }
    sl_ynode_free(root);
}

static void report(const sl_optctx *x, const sluice_option *o, const sl_ynode *n,
                   const problem *pr)
{
    const sl_ynode *at = pr->at ? pr->at : n;
    if (x->section)
        sl_diag_add(x->d, x->file, at->line, at->col, "%s.%s: %s", x->where, o->name, pr->msg);
    else
        sl_diag_add(x->d, x->file, at->line, at->col, "%s: option \"%s\": %s", x->where,
                    o->name, pr->msg);
}

static void unknown_key(const sl_optctx *x, const sluice_option *opts, size_t n,
                        const char *const *skip, const sl_ynode *key)
{
    const char *names[128];
    size_t k = 0;
    for (size_t i = 0; i < n && k < 128; i++)
        names[k++] = opts[i].name;
    size_t n_opts = k;
    for (size_t i = 0; skip && skip[i] && k < 128; i++)
        names[k++] = skip[i];
    char hint[128], list[768];
    sl_did_you_mean(hint, sizeof hint, key->text, names, k);
    if (!hint[0]) {
        /* No near miss: say what is accepted instead. */
        char joined[700];
        sl_join_names(joined, sizeof joined, names, x->section ? k : n_opts);
        if (x->section)
            snprintf(list, sizeof list, "; expected one of: %s", joined);
        else if (n_opts)
            snprintf(list, sizeof list, "; its options are: %s", joined);
        else
            snprintf(list, sizeof list, "; the plugin takes no options");
    } else {
        list[0] = '\0';
    }
    if (x->section)
        sl_diag_add(x->d, x->file, key->line, key->col, "unknown key \"%s\" in %s%s%s", key->text,
                    x->where, hint, list);
    else
        sl_diag_add(x->d, x->file, key->line, key->col, "%s: unknown option \"%s\"%s%s", x->where,
                    key->text, hint, list);
}

static int in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list && list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

sluice_config *sl_options_build(const sl_optctx *x, const sluice_option *opts,
                                const sl_ynode *map, const char *const *skip, int line, int col)
{
    size_t n = 0;
    while (opts && opts[n].name)
        n++;
    sluice_config *c = calloc(1, sizeof(*c));
    const sl_ynode **given = calloc(n ? n : 1, sizeof(*given));
    if (c)
        c->vals = calloc(n ? n : 1, sizeof(*c->vals));
    if (!c || !given || !c->vals) {
        free(given);
        sl_config_free(c);
        sl_diag_add(x->d, x->file, line, col, "out of memory");
        return NULL;
    }
    c->n = n;
    for (size_t i = 0; i < n; i++)
        c->vals[i].opt = &opts[i];

    for (size_t k = 0; map && map->kind == SL_Y_MAP && k < map->n; k++) {
        const sl_ynode *key = map->keys[k];
        if (in_list(skip, key->text))
            continue;
        size_t i = 0;
        while (i < n && strcmp(opts[i].name, key->text) != 0)
            i++;
        if (i == n)
            unknown_key(x, opts, n, skip, key);
        else
            given[i] = map->items[k];
    }

    for (size_t i = 0; i < n; i++) {
        const sluice_option *o = &opts[i];
        sl_optval *v = &c->vals[i];
        if (given[i] && given[i]->bad) {
            continue; /* its expansion failed and was reported */
        } else if (!sl_ynode_absent(given[i])) {
            problem pr;
            if (convert(x, o, given[i], v, &pr) == 0) {
                v->set = 1;
            } else {
                report(x, o, given[i], &pr);
                sl_optval_clear(v);
            }
        } else if (o->def) {
            apply_default(x, o, v, line, col);
        } else if (o->flags & SLUICE_OPT_REQUIRED) {
            const char *doc = o->doc && *o->doc ? o->doc : NULL;
            if (x->section)
                sl_diag_add(x->d, x->file, line, col, "%s: missing \"%s\"", x->where, o->name);
            else
                sl_diag_add(x->d, x->file, line, col,
                            "%s: missing required option \"%s\"%s%s%s", x->where, o->name,
                            doc ? " (" : "", doc ? doc : "", doc ? ")" : "");
        }
    }
    free(given);
    return c;
}
