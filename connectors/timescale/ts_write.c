/* One batch: encode it, COPY it (straight into the table, or into the
 * staging table from which one INSERT ... ON CONFLICT moves it) in a single
 * transaction.  Only when PostgreSQL refuses some rows does ts_isolate go
 * looking for them. */
#include "ts_sink.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COPY_CHUNK (1u << 20)

static void rollback(ts_sink *s)
{
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK)
        PQclear(PQexec(s->conn, "ROLLBACK"));
}

ts_errclass ts_copy_rows(ts_sink *s, size_t a, size_t b, ts_pgerr *e)
{
    ts_range r = {a, b};
    return ts_copy_ranges(s, &r, 1, e);
}

ts_errclass ts_copy_ranges(ts_sink *s, const ts_range *rg, size_t nr, ts_pgerr *e)
{
    PGconn *c = s->conn;
    const ts_rows *rows = &s->rows;
    PGresult *r = PQexec(c, s->sql_copy[rows->staging][rows->binary]);
    if (!r || PQresultStatus(r) != PGRES_COPY_IN) {
        ts_errclass cls = ts_classify(c, r, e);
        PQclear(r);
        return cls;
    }
    PQclear(r);
    int ok = 1;
    if (rows->binary)
        ok = PQputCopyData(c, ts_copy_binary_header, sizeof ts_copy_binary_header) == 1;
    for (size_t i = 0; ok && i < nr; i++) {
        const char *p = rows->data.p + rows->off[rg[i].a];
        size_t len = rows->off[rg[i].b] - rows->off[rg[i].a];
        /* In slices, so libpq's own buffer stays small whatever the batch. */
        while (ok && len) {
            size_t k = len < COPY_CHUNK ? len : COPY_CHUNK;
            ok = PQputCopyData(c, p, (int)k) == 1;
            p += k;
            len -= k;
        }
    }
    if (ok && rows->binary)
        ok = PQputCopyData(c, ts_copy_binary_trailer, sizeof ts_copy_binary_trailer) == 1;
    if (PQputCopyEnd(c, ok ? NULL : "sluice could not send the rows") != 1)
        ok = 0;
    ts_errclass cls = TS_E_NONE;
    while ((r = PQgetResult(c))) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COPY_IN) {
            /* The copy could not be ended: the connection is gone. */
            PQclear(r);
            ok = 0;
            break;
        }
        if (st != PGRES_COMMAND_OK && cls == TS_E_NONE)
            cls = ts_classify(c, r, e);
        PQclear(r);
    }
    if (!ok && cls == TS_E_NONE) {
        ts_classify(c, NULL, e);
        e->cls = cls = TS_E_RETRY;
        e->conn_lost = 1;
    }
    return cls;
}

/* Straight into the table: one COPY, atomic on its own. */
static ts_errclass direct_path(ts_sink *s, size_t n, size_t *written, ts_pgerr *e)
{
    ts_errclass cls = ts_copy_rows(s, 0, n, e);
    if (cls == TS_E_NONE)
        *written = n;
    return cls;
}

/* Through the staging table, in one transaction. */
static ts_errclass staging_path(ts_sink *s, size_t n, size_t *written, ts_pgerr *e)
{
    ts_errclass cls = ts_exec(s, "BEGIN", e);
    if (cls != TS_E_NONE)
        return cls;
    cls = ts_copy_rows(s, 0, n, e);
    if (cls == TS_E_NONE) {
        PGresult *r = PQexec(s->conn, s->sql_insert);
        if (r && PQresultStatus(r) == PGRES_COMMAND_OK)
            *written = strtoull(PQcmdTuples(r), NULL, 10);
        else
            cls = ts_classify(s->conn, r, e);
        PQclear(r);
    }
    if (cls != TS_E_NONE) {
        rollback(s);
        return cls;
    }
    /* A COMMIT that fails (or whose answer is lost) leaves the batch
     * unwritten as far as we know: the caller retries, and ON CONFLICT
     * makes the replay harmless if it had in fact gone through. */
    return ts_exec(s, "COMMIT", e);
}

/* conflict: ignore straight into the table.  A COPY that meets a taken key
 * (in the table or earlier in the batch) fails with 23505, writes nothing,
 * and names the row it stopped at; that row is left out and the COPY sent
 * again without it.  Each COPY is atomic on its own, so the batch goes in
 * whole by exactly one of them.  A batch with a few such rows thus keeps
 * COPY's bulk insert (INSERT ... ON CONFLICT from staging inserts row by
 * row); after PROBE_SKIPS of them (a replay, most likely) the caller sends
 * the batch through staging instead. */
#define PROBE_SKIPS 8

static ts_errclass probe_path(ts_sink *s, size_t n, size_t *written, ts_pgerr *e)
{
    size_t skip[PROBE_SKIPS], nskip = 0;
    ts_range send[PROBE_SKIPS + 1];
    for (;;) {
        size_t ng = 0, from = 0;
        for (size_t i = 0; i < nskip; i++) {
            if (skip[i] > from)
                send[ng++] = (ts_range){from, skip[i]};
            from = skip[i] + 1;
        }
        if (from < n)
            send[ng++] = (ts_range){from, n};
        ts_errclass cls = ng ? ts_copy_ranges(s, send, ng, e) : TS_E_NONE;
        if (cls == TS_E_NONE) {
            *written = n - nskip;
            return cls;
        }
        if (cls != TS_E_DATA || strcmp(e->sqlstate, "23505") || e->line <= 0 ||
            nskip == PROBE_SKIPS)
            return cls;
        /* The line-th row sent: the rows before it did not conflict, so it
         * lies after every row skipped so far and the list stays sorted. */
        size_t left = (size_t)e->line - 1, row = SIZE_MAX;
        for (size_t i = 0; i < ng && row == SIZE_MAX; i++) {
            if (left < send[i].b - send[i].a)
                row = send[i].a + left;
            else
                left -= send[i].b - send[i].a;
        }
        if (row == SIZE_MAX || (nskip && row <= skip[nskip - 1]))
            return cls;
        skip[nskip++] = row;
    }
}

int ts_fail_add(ts_sink *s, size_t idx, const ts_pgerr *pe)
{
    ts_pgerr ue = *pe, *e = &ue;
    ts_pgerr_unchunk(s, e);
    if (s->n_fail == s->cap_fail) {
        size_t cap = s->cap_fail ? 2 * s->cap_fail : 16;
        size_t *a = realloc(s->fail_idx, cap * sizeof *a);
        if (!a)
            return -1;
        s->fail_idx = a;
        size_t *o = realloc(s->fail_off, cap * sizeof *o);
        if (!o)
            return -1;
        s->fail_off = o;
        s->cap_fail = cap;
    }
    const char *field = NULL;
    for (size_t i = 0; e->column[0] && i < s->map.n; i++)
        if (strcmp(s->map.t[i].col->name, e->column) == 0)
            field = s->map.t[i].field;
    char reason[SLUICE_ERRLEN];
    char col[160] = "";
    if (e->column[0])
        snprintf(col, sizeof col, ", column \"%s\"%s%s%s", e->column, field ? " (field \"" : "",
                 field ? field : "", field ? "\")" : "");
    ts_fmt(reason, sizeof reason, "timescale: table %s%s: %s%s%s%s SQLSTATE %s",
             s->table.display, col, e->msg, e->detail[0] ? " (" : "", e->detail,
             e->detail[0] ? ")" : "", e->sqlstate);
    s->fail_off[s->n_fail] = s->fail_text.len;
    s->fail_idx[s->n_fail] = idx;
    sluice_buf_put(&s->fail_text, reason, strlen(reason) + 1);
    if (s->fail_text.oom)
        return -1;
    s->n_fail++;
    return 0;
}

static sluice_status failed(ts_sink *s, const ts_pgerr *pe, char *err)
{
    ts_pgerr ue = *pe, *e = &ue;
    ts_pgerr_unchunk(s, e);
    char what[160];
    snprintf(what, sizeof what, "writing to table %s", s->table.display);
    ts_pgerr_format(e, what, err, SLUICE_ERRLEN);
    if (!strcmp(e->sqlstate, "53400")) {
        /* Say what to do: the limit is a setting, and retrying cannot help. */
        size_t l = strlen(err);
        ts_fmt(err + l, SLUICE_ERRLEN - l, "; the batch's upserts would decompress more rows "
               "of a compressed chunk than TimescaleDB allows in one transaction: raise "
               "timescaledb.max_tuples_decompressed_per_dml_transaction for the sink's role "
               "(0: no limit), or decompress the chunk, then restart the pipeline");
    }
    if (e->cls != TS_E_RETRY) {
        if (e->conn_lost)
            ts_disconnect(s);
        return SLUICE_ERR;
    }
    if (e->conn_lost) {
        s->api->log(s->ctx, SLUICE_LOG_WARN, "timescale: lost the connection to PostgreSQL "
                    "(%s); reconnecting on the next write", e->msg);
        ts_disconnect(s);
    }
    return SLUICE_RETRY;
}

static sluice_status encode(ts_sink *s, sluice_batch *b, int staging, char *err)
{
    char why[256];
    ts_encode_rc rc = ts_encode_batch(&s->rows, s->api, b, &s->map, !s->text_only, staging,
                                      why, sizeof why);
    switch (rc) {
    case TS_ENC_OK:
        return SLUICE_OK;
    case TS_ENC_NEEDS_TEXT:
        /* Sticky: a stream that needs it once will need it again, and
         * encoding every batch twice would cost more than text does. */
        s->text_only = 1;
        s->api->log(s->ctx, SLUICE_LOG_INFO, "timescale: %s, which only PostgreSQL can "
                    "convert: sending text COPY from now on", why);
        rc = ts_encode_batch(&s->rows, s->api, b, &s->map, 0, staging, why, sizeof why);
        break;
    case TS_ENC_OUT_OF_RANGE:
        /* A bad value, not a bad stream: this batch goes as text so the
         * server refuses that row with its own words, the next ones binary. */
        s->api->log(s->ctx, SLUICE_LOG_DEBUG, "timescale: %s: this batch goes as text COPY",
                    why);
        rc = ts_encode_batch(&s->rows, s->api, b, &s->map, 0, staging, why, sizeof why);
        break;
    case TS_ENC_NOMEM:
        break;
    }
    /* Text takes any value, so only memory can fail it. */
    if (rc != TS_ENC_OK) {
        snprintf(err, SLUICE_ERRLEN, "timescale: out of memory encoding a batch of %zu records",
                 s->api->batch_count(b));
        return SLUICE_RETRY;
    }
    return SLUICE_OK;
}

/* Writes the batch: its rows that PostgreSQL accepts reach the table, the
 * others are collected in s->fail_*.  conflict: ignore first tries a plain
 * COPY into the table, which is as fast as loading gets; a key that is
 * already there makes that COPY fail as a whole, and the batch goes again
 * through staging and ON CONFLICT DO NOTHING, which skips such rows at the
 * price of a second pass.  Staging stays in use while batches keep
 * conflicting (a replay after a crash, a source that repeats itself) and
 * is left as soon as one batch has none. */
static sluice_status write_rows(ts_sink *s, sluice_batch *b, size_t n, size_t *written,
                                ts_pgerr *e, char *err)
{
    sluice_status st;
    int staging = s->conflict != TS_CONFLICT_ERROR;
    int direct = !staging || s->direct;
    if ((st = encode(s, b, !direct, err)) != SLUICE_OK)
        return st;
    ts_errclass cls;
    if (!direct)
        cls = staging_path(s, n, written, e);
    else if (s->conflict == TS_CONFLICT_IGNORE)
        cls = probe_path(s, n, written, e);
    else
        cls = direct_path(s, n, written, e);
    if (cls == TS_E_DATA && direct && staging && !strcmp(e->sqlstate, "23505")) {
        s->direct = 0;
        s->api->log(s->ctx, SLUICE_LOG_DEBUG, "timescale: batch of %zu rows has more than %d "
                    "keys already in table %s: writing through staging", n, PROBE_SKIPS,
                    s->table.display);
        if ((st = encode(s, b, 1, err)) != SLUICE_OK)
            return st;
        cls = staging_path(s, n, written, e);
    } else if (cls == TS_E_NONE && !direct && n - *written <= PROBE_SKIPS &&
               s->conflict == TS_CONFLICT_IGNORE) {
        s->direct = 1;
        s->api->log(s->ctx, SLUICE_LOG_DEBUG, "timescale: a batch with %zu conflicts: "
                    "back to COPY straight into table %s", n - *written, s->table.display);
    }
    if (cls == TS_E_DATA) {
        if (staging && !s->rows.staging && (st = encode(s, b, 1, err)) != SLUICE_OK)
            return st;
        *written = 0;
        cls = ts_isolate_batch(s, n, written, e);
        if (cls != TS_E_NONE)
            rollback(s);
    }
    if (cls != TS_E_NONE) {
        s->n_fail = 0;
        return failed(s, e, err);
    }
    return SLUICE_OK;
}

sluice_status ts_write_batch(ts_sink *s, sluice_batch *b, char *err)
{
    const sluice_api *api = s->api;
    size_t n = api->batch_count(b);
    if (n == 0)
        return SLUICE_OK;
    int64_t t0 = api->mono_ns();
    sluice_status st;
    if (!s->conn) {
        if ((st = ts_connect(s, err)) != SLUICE_OK)
            return st;
        api->metric_add(s->m_reconnects, 1);
        api->log(s->ctx, SLUICE_LOG_INFO, "timescale: reconnected to PostgreSQL");
    }
    if (!s->map_resolved && ts_mapping_from_record(s, api->batch_at(b, 0), err))
        return SLUICE_ERR;
    ts_pgerr e;
    if (!s->session_ready && ts_session_prepare(s, &e) != TS_E_NONE)
        return failed(s, &e, err);
    size_t written = 0;
    s->n_fail = 0;
    sluice_buf_reset(&s->fail_text);
    if ((st = write_rows(s, b, n, &written, &e, err)) != SLUICE_OK)
        return st;

    /* Durable now: only from here on may records be reported as failed,
     * since a retried batch would be judged afresh. */
    for (size_t i = 0; i < s->n_fail; i++)
        api->record_fail(b, s->fail_idx[i], s->fail_text.p + s->fail_off[i]);
    size_t kept = n - s->n_fail;
    api->metric_add(s->m_written, (double)written);
    if (kept > written)
        api->metric_add(s->m_conflicts, (double)(kept - written));
    api->metric_observe(s->m_seconds, (double)(api->mono_ns() - t0) / 1e9);
    if (s->n_fail) {
        api->metric_add(s->m_failed, (double)s->n_fail);
        snprintf(err, SLUICE_ERRLEN, "timescale: table %s refused %zu of %zu rows; the first: %s",
                 s->table.display, s->n_fail, n, s->fail_text.p + s->fail_off[0]);
        return SLUICE_PARTIAL;
    }
    return SLUICE_OK;
}
