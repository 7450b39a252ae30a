/* Bad input never crashes the decoder: real readings from f2sim, mutated at
 * random (bytes flipped, cut short, characters inserted, topics garbled),
 * go through f2_decode.  Every call must return OK or ERR (never RETRY
 * for the sample fleet, whose parameters are all there), give a reason on
 * ERR, and produce well-formed measurements on OK.  Run under the
 * sanitizers by the suite, this is what catches out-of-bounds reads. */
#include "check.h"
#include "f2t.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static const char alphabet[] = "{}[]\":,.-+0123456789abcdefABCDEFxX \\/\t\ntruefalsn\xC3\xA9\xFF\x00";

static size_t mutate(char *buf, size_t len, size_t cap)
{
    int edits = 1 + (int)(rnd() % 4);
    for (int e = 0; e < edits; e++) {
        switch (rnd() % 5) {
        case 0: /* flip a byte */
            if (len)
                buf[rnd() % len] = alphabet[rnd() % (sizeof alphabet - 1)];
            break;
        case 1: /* cut short */
            if (len)
                len = rnd() % len;
            break;
        case 2: /* insert */
            if (len + 1 < cap) {
                size_t at = len ? rnd() % len : 0;
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = alphabet[rnd() % (sizeof alphabet - 1)];
                len++;
            }
            break;
        case 3: /* delete a run */
            if (len > 2) {
                size_t at = rnd() % len, n = 1 + rnd() % 8;
                if (at + n > len)
                    n = len - at;
                memmove(buf + at, buf + at + n, len - at - n);
                len -= n;
            }
            break;
        default: /* duplicate a run (repeated keys, long hex) */
            if (len > 2 && len * 2 < cap) {
                size_t at = rnd() % len, n = 1 + rnd() % (len - at);
                memmove(buf + at + n, buf + at, len - at);
                len += n;
            }
            break;
        }
    }
    return len;
}

int main(void)
{
    f2t t;
    f2t_open(&t, "fuzz", 0, 1);
    const char *const sim_opts[] = {"devices: 20", "rate: 0", "count: 3000", NULL};
    f2t_inst sim, dec;
    CHECK_INT_EQ(f2t_sim(&t, &sim, sim_opts), 0);
    CHECK_INT_EQ(f2t_decoder(&t, &dec, NULL, NULL), 0);
    if (!sim.inst || !dec.inst)
        return CHECK_DONE();
    const sluice_api *api = sl_api();
    sluice_batch *readings = sl_batch_new(3000, 8 << 20);
    sluice_batch *in = sl_batch_new(1, 1 << 20), *out = sl_batch_new(64, 1 << 20);
    char err[SLUICE_ERRLEN];
    CHECK_INT_EQ(f2t_poll(&sim, readings, 0, err), SLUICE_OK);

    size_t ok = 0, failed = 0, retried = 0, bad_reason = 0, bad_output = 0;
    static char payload[4096], topic[512];
    for (int round = 0; round < 8; round++) {
        for (size_t i = 0; i < readings->n; i++) {
            const sluice_record *src = &readings->recs[i];
            size_t pl = src->value.len, tl = strlen(src->origin.topic);
            memcpy(payload, src->value.ptr, pl);
            memcpy(topic, src->origin.topic, tl);
            unsigned what = (unsigned)(rnd() % 4);
            if (what != 1)
                pl = mutate(payload, pl, sizeof payload);
            if (what >= 1)
                tl = mutate(topic, tl, sizeof topic - 1);
            topic[tl] = '\0'; /* a topic is a C string: no NUL inside */
            sl_batch_reset(in);
            sluice_record *r = api->record_new(in);
            api->set_value(in, r, payload, pl);
            r->origin.topic = api->strndup(in, topic, strlen(topic));
            memset(err, 0x55, sizeof err);
            err[0] = '\0';
            sluice_status st = f2t_decode_rec(&dec, r, out, err);
            if (st == SLUICE_OK) {
                ok++;
                for (size_t m = 0; m < out->n; m++) {
                    const sluice_record *o = &out->recs[m];
                    const sluice_field *ts = sluice_field_get(o, "timestamp");
                    const sluice_field *v = sluice_field_get(o, "value");
                    if (o->n_fields != 10 || !ts || ts->type != SLUICE_TIMESTAMP || !v ||
                        (v->type != SLUICE_DOUBLE && v->type != SLUICE_NULL) ||
                        !f2t_str(o, "device_id") || !f2t_str(o, "datapoint"))
                        bad_output++;
                }
            } else if (st == SLUICE_ERR) {
                failed++;
                if (!err[0] || !memchr(err, '\0', sizeof err))
                    bad_reason++;
            } else {
                if (retried++ < 3)
                    fprintf(stderr, "RETRY for %s: %s\n", topic, err);
            }
        }
    }
    fprintf(stderr, "%zu mutated readings: %zu decoded, %zu refused\n", ok + failed + retried,
            ok, failed);
    CHECK_INT_EQ(retried, 0);
    CHECK_INT_EQ(bad_reason, 0);
    CHECK_INT_EQ(bad_output, 0);
    CHECK(failed > 1000);
    CHECK(ok > 100);

    sl_batch_free(readings);
    sl_batch_free(in);
    sl_batch_free(out);
    f2t_inst_free(&sim);
    f2t_inst_free(&dec);
    int rc = CHECK_DONE();
    f2t_close(&t, rc != 0);
    return rc;
}
