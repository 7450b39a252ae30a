/* Offsets are committed only for acknowledged batches: a batch that was
 * polled but not acknowledged comes again to the next consumer of the
 * group, an acknowledged one never does; a partial acknowledgement commits
 * exactly up to the last acknowledged record; a late ack never moves an
 * offset back. */
#include "check.h"
#include "kt.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void produce_n(const char *topic, int from, int n)
{
    for (int i = from; i < from + n; i++) {
        char v[32];
        snprintf(v, sizeof v, "{\"i\":%d}", i);
        kt_produce(topic, 0, NULL, v, strlen(v));
    }
}

static int first_i(const sluice_batch *b)
{
    const sluice_field *f = b->n ? sluice_field_get(&b->recs[0], "i") : NULL;
    return f ? (int)f->v.i : -1;
}

int main(void)
{
    kt_setup("offsets");
    const char *topic = kt_topic("t", 1);
    char group[64];
    snprintf(group, sizeof group, "g-offsets-%d", (int)getpid());
    produce_n(topic, 0, 50);

    kt_inst s;
    sluice_batch *b = sl_batch_new(1000, 4 << 20);

    /* 1. Polled, not acknowledged, consumer gone: nothing committed. */
    CHECK_INT_EQ(kt_source(&s, "topics: [%s], group: %s", topic, group), SLUICE_OK);
    CHECK_INT_EQ(kt_poll_until(&s, b, 50, 20000), 50);
    kt_close(&s);
    CHECK_INT_EQ(kt_committed(group, topic, 0), -1);

    /* 2. The next consumer gets the same 50 again; this one acknowledges. */
    sl_batch_reset(b);
    CHECK_INT_EQ(kt_source(&s, "topics: [%s], group: %s", topic, group), SLUICE_OK);
    CHECK_INT_EQ(kt_poll_until(&s, b, 50, 20000), 50);
    CHECK_INT_EQ(first_i(b), 0);
    CHECK_INT_EQ(b->recs[0].origin.offset, 0);
    CHECK_INT_EQ(kt_ack(&s, b), SLUICE_OK);
    kt_close(&s);
    CHECK_INT_EQ(kt_committed(group, topic, 0), 50);

    /* 3. Acknowledged: never again. */
    sl_batch_reset(b);
    CHECK_INT_EQ(kt_source(&s, "topics: [%s], group: %s", topic, group), SLUICE_OK);
    CHECK_INT_EQ(kt_poll_until(&s, b, 1, 4000), 0);

    /* 4. Batches of 10: the first acknowledged, the second not. */
    produce_n(topic, 50, 30);
    sluice_batch *b10 = sl_batch_new(10, 1 << 20), *b10b = sl_batch_new(10, 1 << 20);
    CHECK_INT_EQ(kt_poll_until(&s, b10, 10, 20000), 10);
    CHECK_INT_EQ(first_i(b10), 50);
    CHECK_INT_EQ(kt_poll_until(&s, b10b, 10, 20000), 10);
    CHECK_INT_EQ(first_i(b10b), 60);
    CHECK_INT_EQ(kt_ack(&s, b10), SLUICE_OK);
    kt_close(&s); /* commits synchronously at shutdown */
    CHECK_INT_EQ(kt_committed(group, topic, 0), 60);

    sl_batch_reset(b10);
    sl_batch_reset(b10b);
    CHECK_INT_EQ(kt_source(&s, "topics: [%s], group: %s", topic, group), SLUICE_OK);
    CHECK_INT_EQ(kt_poll_until(&s, b10, 10, 20000), 10);
    CHECK_INT_EQ(first_i(b10), 60); /* exactly from the first unacknowledged */

    /* 5. A late ack for an older batch does not move the offset back. */
    CHECK_INT_EQ(kt_poll_until(&s, b10b, 10, 20000), 10);
    CHECK_INT_EQ(first_i(b10b), 70);
    CHECK_INT_EQ(kt_ack(&s, b10b), SLUICE_OK);
    CHECK_INT_EQ(kt_ack(&s, b10), SLUICE_OK);
    kt_close(&s);
    CHECK_INT_EQ(kt_committed(group, topic, 0), 80);

    /* 6. start: latest, for a new group, skips what is there. */
    char g2[80];
    snprintf(g2, sizeof g2, "%s-latest", group);
    sl_batch_reset(b);
    CHECK_INT_EQ(kt_source(&s, "topics: [%s], group: %s, start: latest", topic, g2), SLUICE_OK);
    CHECK_INT_EQ(kt_poll_until(&s, b, 1, 4000), 0);
    produce_n(topic, 80, 1);
    CHECK_INT_EQ(kt_poll_until(&s, b, 1, 20000), 1);
    CHECK_INT_EQ(first_i(b), 80);
    kt_close(&s);

    /* 7. A pattern subscription. */
    char pattern[256];
    snprintf(pattern, sizeof pattern, "^%.*s.*", (int)(strlen(topic) - 2), topic);
    for (char *p = pattern; *p; p++)
        if (*p == '.')
            *p = '.';
    snprintf(g2, sizeof g2, "%s-re", group);
    sl_batch_reset(b);
    CHECK_INT_EQ(kt_source(&s, "topics: [\"%s\"], group: %s", pattern, g2), SLUICE_OK);
    CHECK_INT_EQ(kt_poll_until(&s, b, 81, 20000), 81);
    kt_close(&s);

    sl_batch_free(b);
    sl_batch_free(b10);
    sl_batch_free(b10b);
    kt_teardown();
    return CHECK_DONE();
}
