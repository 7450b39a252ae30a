#include "f2_topic.h"

#include <sluice/sluice_text.h>

#include <stdio.h>
#include <string.h>

void f2_mac_format(uint64_t mac, char out[13])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 11; i >= 0; i--) {
        out[i] = digits[mac & 0xF];
        mac >>= 4;
    }
    out[12] = '\0';
}

static int eq(f2_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

/* Error text quotes the topic, shortened so the message fits SLUICE_ERRLEN. */
#define TOPIC_FMT "topic \"%.*s%s\": "
#define TOPIC_ARGS(t, len) (int)((len) > 160 ? 160 : (len)), (t), (len) > 160 ? "..." : ""

int f2_topic_parse(const char *t, size_t len, f2_topic *out, char *err, size_t errlen)
{
    f2_str seg[5];
    size_t nseg = 0, start = 0;
    for (size_t i = 0; i <= len && nseg < 5; i++) {
        if (i == len || t[i] == '/') {
            seg[nseg].p = t + start;
            seg[nseg].n = i - start;
            nseg++;
            start = i + 1;
        }
    }
    if (nseg < 5) {
        snprintf(err, errlen,
                 TOPIC_FMT "unknown topic shape: expected "
                           "<type>/f2-<MAC>/<mode>/<connector>/<component>[-<id>]",
                 TOPIC_ARGS(t, len));
        return -1;
    }
    memset(out, 0, sizeof(*out));
    out->type = seg[0];
    if (!eq(seg[0], "cmnd") && !eq(seg[0], "stat") && !eq(seg[0], "tele")) {
        snprintf(err, errlen, TOPIC_FMT "unknown topic type \"%.*s\" (expected cmnd, stat or tele)",
                 TOPIC_ARGS(t, len), (int)(seg[0].n > 40 ? 40 : seg[0].n), seg[0].p);
        return -1;
    }

    f2_str d = seg[1];
    int ok = d.n == 15 && (d.p[0] == 'f' || d.p[0] == 'F') && d.p[1] == '2' && d.p[2] == '-';
    uint64_t mac = 0;
    for (size_t i = 3; ok && i < 15; i++) {
        int v = sluice_hexval(d.p[i]);
        if (v < 0)
            ok = 0;
        mac = mac << 4 | (uint64_t)(ok ? v : 0);
    }
    if (!ok) {
        snprintf(err, errlen, TOPIC_FMT "device \"%.*s\" is not f2- followed by 12 hex digits",
                 TOPIC_ARGS(t, len), (int)(d.n > 40 ? 40 : d.n), d.p);
        return -1;
    }
    out->mac = mac;
    f2_mac_format(mac, out->mac_hex);
    memcpy(out->device_id, "f2-", 3);
    memcpy(out->device_id + 3, out->mac_hex, 13);

    if (seg[2].n == 0) {
        snprintf(err, errlen, TOPIC_FMT "empty mode", TOPIC_ARGS(t, len));
        return -1;
    }
    out->mode = seg[2];

    f2_str c = seg[3];
    size_t skip = c.n == 2 && (c.p[0] == 'J' || c.p[0] == 'j') ? 1 : 0;
    if (c.n != skip + 1 || c.p[skip] < '1' || c.p[skip] > '4') {
        snprintf(err, errlen, TOPIC_FMT "connector \"%.*s\" is not 1..4 or J1..J4",
                 TOPIC_ARGS(t, len), (int)(c.n > 40 ? 40 : c.n), c.p);
        return -1;
    }
    out->connector = c.p[skip] - '0';

    /* The ID is the run of digits after the last '-', when there is one:
     * "motion-sensor-2" is (motion-sensor, 2), "door-sensors" has no ID. */
    f2_str comp = seg[4];
    out->ctype = comp;
    out->position = -1;
    size_t k = comp.n;
    while (k > 0 && comp.p[k - 1] >= '0' && comp.p[k - 1] <= '9')
        k--;
    if (k < comp.n && k >= 2 && comp.p[k - 1] == '-') {
        size_t digits = comp.n - k;
        if (digits > 9) {
            snprintf(err, errlen, TOPIC_FMT "component ID \"%.*s\" is too long",
                     TOPIC_ARGS(t, len), (int)digits, comp.p + k);
            return -1;
        }
        out->ctype.n = k - 1;
        out->cid.p = comp.p + k;
        out->cid.n = digits;
        int pos = 0;
        for (size_t i = k; i < comp.n; i++)
            pos = pos * 10 + (comp.p[i] - '0');
        out->position = pos;
    } else {
        out->cid.p = comp.p + comp.n;
        out->cid.n = 0;
    }
    if (out->ctype.n == 0) {
        snprintf(err, errlen, TOPIC_FMT "empty component", TOPIC_ARGS(t, len));
        return -1;
    }
    return 0;
}
