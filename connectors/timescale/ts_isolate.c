/* Finding the rows PostgreSQL refuses.  The batch is written again in one
 * transaction, piece by piece, each piece under a savepoint: a piece that
 * fails is rolled back and split, and a row is failed only when it fails on
 * its own, so a wrong guess never costs a good row.  COPY names the line it
 * choked on, which usually lands on the bad row at once; without a line
 * (constraints checked by the INSERT from staging) the pieces are halved.
 * With k bad rows among n this is about k·log n statements, and the common
 * batch with no bad row never comes here. */
#include "ts_sink.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef ts_errclass (*try_fn)(ts_sink *s, size_t a, size_t b, size_t *done, ts_pgerr *e);

static ts_errclass try_copy(ts_sink *s, size_t a, size_t b, size_t *done, ts_pgerr *e)
{
    ts_errclass cls = ts_copy_rows(s, a, b, e);
    if (cls == TS_E_NONE)
        *done = b - a;
    return cls;
}

static ts_errclass try_insert(ts_sink *s, size_t a, size_t b, size_t *done, ts_pgerr *e)
{
    char lo[24], hi[24];
    snprintf(lo, sizeof lo, "%zu", a);
    snprintf(hi, sizeof hi, "%zu", b);
    const char *params[] = {lo, hi};
    PGresult *r = ts_query(s, s->sql_insert_range, 2, params, e);
    if (!r)
        return e->cls;
    *done = strtoull(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return TS_E_NONE;
}

static int push(ts_sink *s, size_t *sp, size_t a, size_t b)
{
    if (a >= b)
        return 0;
    if (*sp == s->cap_stack)
        return -1;   /* cannot happen: pieces are disjoint and non-empty */
    s->stack[(*sp)++] = (ts_range){a, b};
    return 0;
}

static ts_errclass isolate(ts_sink *s, size_t n, try_fn fn, int use_lines, size_t *total,
                           ts_pgerr *e)
{
    size_t sp = 0;
    push(s, &sp, 0, n);
    while (sp) {
        ts_range r = s->stack[--sp];
        ts_errclass cls = ts_exec(s, "SAVEPOINT sluice_piece", e);
        if (cls != TS_E_NONE)
            return cls;
        size_t done = 0;
        ts_pgerr pe;
        cls = fn(s, r.a, r.b, &done, &pe);
        if (cls == TS_E_NONE) {
            *total += done;
            if ((cls = ts_exec(s, "RELEASE SAVEPOINT sluice_piece", e)) != TS_E_NONE)
                return cls;
            continue;
        }
        if (cls != TS_E_DATA) {
            *e = pe;
            return cls;
        }
        if ((cls = ts_exec(s, "ROLLBACK TO SAVEPOINT sluice_piece", e)) != TS_E_NONE)
            return cls;
        if (r.b - r.a == 1) {
            if (ts_fail_add(s, r.a, &pe)) {
                memset(e, 0, sizeof *e);
                snprintf(e->msg, sizeof e->msg, "out of memory recording a refused row");
                return e->cls = TS_E_RETRY;
            }
            continue;
        }
        /* Pushed last-first, so the batch is written in its own order
         * (which conflict: update relies on for "last row wins"). */
        size_t bad = SIZE_MAX;
        if (use_lines && pe.line > 0 && (size_t)pe.line <= r.b - r.a)
            bad = r.a + (size_t)pe.line - 1;
        int full = 0;
        if (bad != SIZE_MAX) {
            size_t rest = bad + 1, mid = rest + (r.b - rest) / 2;
            full |= push(s, &sp, mid, r.b);
            full |= push(s, &sp, rest, mid);
            full |= push(s, &sp, bad, bad + 1);
            full |= push(s, &sp, r.a, bad);
        } else {
            size_t mid = r.a + (r.b - r.a) / 2;
            full |= push(s, &sp, mid, r.b);
            full |= push(s, &sp, r.a, mid);
        }
        if (full) {
            memset(e, 0, sizeof *e);
            snprintf(e->msg, sizeof e->msg, "internal error: isolation stack overflow");
            return e->cls = TS_E_FATAL;
        }
    }
    return TS_E_NONE;
}

ts_errclass ts_isolate_batch(ts_sink *s, size_t n, size_t *written, ts_pgerr *e)
{
    if (s->cap_stack < n + 4) {
        ts_range *st = realloc(s->stack, (n + 4) * sizeof *st);
        if (!st) {
            memset(e, 0, sizeof *e);
            snprintf(e->msg, sizeof e->msg, "out of memory");
            return e->cls = TS_E_RETRY;
        }
        s->stack = st;
        s->cap_stack = n + 4;
    }
    s->n_fail = 0;
    sluice_buf_reset(&s->fail_text);
    /* Deferred constraints would otherwise fire at COMMIT, where no
     * savepoint can single out the row. */
    ts_errclass cls = ts_exec(s, "BEGIN; SET CONSTRAINTS ALL IMMEDIATE", e);
    if (cls != TS_E_NONE)
        return cls;
    size_t copied = 0;
    cls = isolate(s, n, try_copy, 1, &copied, e);
    if (cls == TS_E_NONE && s->conflict != TS_CONFLICT_ERROR)
        cls = isolate(s, n, try_insert, 0, written, e);
    else
        *written = copied;
    if (cls != TS_E_NONE)
        return cls;
    cls = ts_exec(s, "COMMIT", e);
    if (cls == TS_E_DATA) {
        /* Nothing is left to check at COMMIT; if something still is, retry
         * rather than fail rows we could not single out. */
        e->cls = cls = TS_E_RETRY;
    }
    return cls;
}
