#include "f2_park_rows.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char SQL_INSERT_MANY[] =
    "INSERT INTO f2_parked (owner, mac, topic, payload, reason, tries, parked_at, received_us)"
    " SELECT $1, m, t, p, r, n,"
    "        coalesce('epoch'::timestamptz + pu * interval '1 microsecond', now()), ru"
    " FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::bigint[],"
    "             $8::bigint[]) AS u(m, t, p, r, n, pu, ru)";

/* The next element of an array literal: a comma after the first. */
static void sep(sluice_buf *b, size_t n) { sluice_buf_putc(b, n ? ',' : '{'); }

/* A quoted array element: '"' and '\' escaped, nothing else needs it. */
static void quoted(sluice_buf *b, size_t n, const char *s, size_t len)
{
    sep(b, n);
    sluice_buf_putc(b, '"');
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\')
            sluice_buf_putc(b, '\\');
        sluice_buf_putc(b, s[i]);
    }
    sluice_buf_putc(b, '"');
}

static void number(sluice_buf *b, size_t n, int64_t v, int null_if_zero)
{
    sep(b, n);
    if (null_if_zero && v == 0) {
        SLUICE_BUF_LIT(b, "NULL");
        return;
    }
    char num[24];
    snprintf(num, sizeof num, "%" PRId64, v);
    sluice_buf_puts(b, num);
}

static sluice_buf *col(f2_park_rows *pr, int i)
{
    sluice_buf *c[] = {&pr->mac,   &pr->topic,     &pr->payload,    &pr->reason,
                       &pr->tries, &pr->parked_us, &pr->received_us};
    return c[i];
}

int f2_park_rows_add(f2_park_rows *pr, const char *mac_hex, const char *topic,
                     size_t topic_len, const char *payload, size_t payload_len,
                     const char *reason, int tries, int64_t parked_us, int64_t received_us)
{
    size_t n = pr->n, mark[7];
    for (int i = 0; i < 7; i++)
        mark[i] = col(pr, i)->len;
    quoted(&pr->mac, n, mac_hex, strlen(mac_hex));
    quoted(&pr->topic, n, topic, topic_len);
    quoted(&pr->payload, n, payload, payload_len);
    quoted(&pr->reason, n, reason, strlen(reason));
    number(&pr->tries, n, tries, 0);
    number(&pr->parked_us, n, parked_us, 1);
    number(&pr->received_us, n, received_us, 0);
    for (int i = 0; i < 7; i++) {
        if (col(pr, i)->oom) {
            /* Undo this reading; the columns stay usable for the others. */
            for (int k = 0; k < 7; k++) {
                col(pr, k)->oom = 0;
                col(pr, k)->len = mark[k];
            }
            return -1;
        }
    }
    pr->n++;
    return 0;
}

int f2_park_rows_write(f2_park_rows *pr, f2_db *db, const char *owner, char *err,
                       size_t errlen)
{
    if (!pr->n)
        return 0;
    const char *v[8] = {owner};
    for (int i = 0; i < 7; i++) {
        sluice_buf *b = col(pr, i);
        size_t len = b->len;
        sluice_buf_putc(b, '}');
        v[i + 1] = sluice_buf_cstr(b);
        /* The '}' and NUL stay in memory for this call; the length drops
         * back so that more rows can follow a failed write. */
        b->len = len;
        if (!v[i + 1]) {
            b->oom = 0;
            snprintf(err, errlen, "out of memory building the f2_parked INSERT");
            return -1;
        }
    }
    char why[SLUICE_ERRLEN];
    if (f2_db_command(db, SQL_INSERT_MANY, 8, v, NULL, NULL, why, sizeof why) != 0) {
        snprintf(err, errlen, "cannot park %zu readings in f2_parked: %.400s", pr->n, why);
        return -1;
    }
    for (int i = 0; i < 7; i++)
        sluice_buf_reset(col(pr, i));
    pr->n = 0;
    return 0;
}

void f2_park_rows_free(f2_park_rows *pr)
{
    for (int i = 0; i < 7; i++)
        sluice_buf_free(col(pr, i));
    pr->n = 0;
}
