/* sl_from_json (the parser of our own, writing into the batch arena) against
 * the jansson parse it replaced (json_loadb, then fields copied out of the
 * tree: the old code, kept here verbatim in spirit), on ~200-byte documents
 * shaped like the kafka raw envelope.  Prints records/s for both. */
#include "batch.h"
#include "batch_api.h"
#include "json_conv.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NDOCS 1024
#define PER_BATCH 1000

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int old_from_json(sluice_batch *b, sluice_record *r, const char *json, size_t len)
{
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return -1;
    }
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(root, key, v)
    {
        sluice_field *f;
        switch (json_typeof(v)) {
        case JSON_NULL: f = sl_field_add(b, r, key, SLUICE_NULL); break;
        case JSON_TRUE:
        case JSON_FALSE:
            if ((f = sl_field_add(b, r, key, SLUICE_BOOL)))
                f->v.b = json_is_true(v);
            break;
        case JSON_INTEGER:
            if ((f = sl_field_add(b, r, key, SLUICE_INT)))
                f->v.i = json_integer_value(v);
            break;
        case JSON_REAL:
            if ((f = sl_field_add(b, r, key, SLUICE_DOUBLE)))
                f->v.d = json_real_value(v);
            break;
        case JSON_STRING:
            if ((f = sl_field_add(b, r, key, SLUICE_STRING)) &&
                sl_field_set_string(b, f, json_string_value(v), json_string_length(v)) != 0)
                f = NULL;
            break;
        default: {
            const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
            size_t n = json_dumpb(v, NULL, 0, flags);
            char *p = sl_alloc(b, n + 1);
            if ((f = p ? sl_field_add(b, r, key, SLUICE_STRING) : NULL)) {
                json_dumpb(v, p, n, flags);
                p[n] = '\0';
                f->v.s.ptr = p;
                f->v.s.len = n;
            }
        }
        }
        if (!f) {
            rc = -1;
            break;
        }
    }
    json_decref(root);
    return rc;
}

static double run(int use_new, char **docs, size_t *lens, long n, size_t *bytes)
{
    sluice_batch *b = sl_batch_new(PER_BATCH, 8 << 20);
    char err[SLUICE_ERRLEN];
    size_t total = 0;
    double t0 = now();
    for (long i = 0; i < n; i++) {
        if (i % PER_BATCH == 0)
            sl_batch_reset(b);
        sluice_record *r = sl_record_new(b);
        size_t k = (size_t)i % NDOCS;
        int rc = use_new ? sl_from_json(b, r, docs[k], lens[k], err, sizeof err)
                         : old_from_json(b, r, docs[k], lens[k]);
        if (rc != 0 || r->n_fields != 4) {
            fprintf(stderr, "parse failed: %s\n", use_new ? err : "jansson");
            exit(1);
        }
        total += lens[k];
    }
    double t = now() - t0;
    sl_batch_free(b);
    *bytes = total;
    return t;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    char *docs[NDOCS];
    size_t lens[NDOCS], avg = 0;
    for (int i = 0; i < NDOCS; i++) {
        char buf[512];
        int len = snprintf(buf, sizeof buf,
                           "{\"topic\":\"cmnd/f2-%012x/sensor-mode/1/sensor-%d\","
                           "\"device_id\":\"f2-%012x\",\"payload\":{\"timestamp\":"
                           "\"2023-05-25T15:13:%02d.%06dZ\",\"data\":\"01 03 0c 00 %02x 00 "
                           "%02x 00 00 00 00 00 00 27 10\"},\"received_at\":"
                           "\"2023-05-25T15:13:%02d.%06dZ\"}",
                           i * 7919u, i % 8 + 1, i * 7919u, i % 60, i * 37 % 1000000, i & 255,
                           (i >> 3) & 255, i % 60, i * 41 % 1000000);
        docs[i] = strdup(buf);
        lens[i] = (size_t)len;
        avg += (size_t)len;
    }
    printf("%ld records of ~%zu bytes (%d distinct documents)\n", n, avg / NDOCS, NDOCS);
    size_t bytes;
    /* Warm both up once so neither pays for first-touch page faults. */
    run(0, docs, lens, n / 10 + 1, &bytes);
    run(1, docs, lens, n / 10 + 1, &bytes);
    double told = run(0, docs, lens, n, &bytes);
    double tnew = run(1, docs, lens, n, &bytes);
    printf("jansson (old):   %.3f s  %9.0f records/s  %6.1f MB/s\n", told, n / told,
           bytes / told / 1e6);
    printf("sl_from_json:    %.3f s  %9.0f records/s  %6.1f MB/s  (%.2fx)\n", tnew, n / tnew,
           bytes / tnew / 1e6, told / tnew);
    for (int i = 0; i < NDOCS; i++)
        free(docs[i]);
    return 0;
}
