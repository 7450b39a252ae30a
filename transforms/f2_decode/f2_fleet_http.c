/* /devices: the fleet as JSON, sorted by device id, paged.
 *   ?state=active|silent|all  ?offset=N  ?limit=N (default 100, at most 1000)
 * The table is copied under its lock (32 bytes a device) and sorted
 * outside it, so the sink thread waits only for the copy. */
#include "f2_fleet_run.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LIMIT_DEFAULT 100
#define LIMIT_MAX 1000

typedef struct out {
    char *buf;
    size_t cap, len;     /* len: the full length, even past cap */
} out;

static void put(out *o, const char *s, size_t n)
{
    if (o->len < o->cap) {
        size_t room = o->cap - 1 - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
        o->buf[o->len + (n < room ? n : room)] = '\0';
    }
    o->len += n;
}

static void putf(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(out *o, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        put(o, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void put_json_string(out *o, const char *s)
{
    put(o, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            put(o, e, 2);
        } else if (*p < 0x20) {
            putf(o, "\\u%04x", *p);
        } else {
            put(o, (const char *)p, 1);
        }
    }
    put(o, "\"", 1);
}

static void put_time(out *o, int64_t us)
{
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    putf(o, "\"%04d-%02d-%02dT%02d:%02d:%02d.%06dZ\"", tm.tm_year + 1900, tm.tm_mon + 1,
         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(us % 1000000));
}

static int by_mac(const void *a, const void *b)
{
    uint64_t x = ((const f2_fleet_row *)a)->mac, y = ((const f2_fleet_row *)b)->mac;
    return x < y ? -1 : x > y;
}

static int bad(out *o, const char *msg, size_t *len)
{
    o->len = 0;
    putf(o, "{\"error\":\"%s\"}\n", msg);
    *len = o->len;
    return 400;
}

/* Reads a non-negative decimal; -1 when it is not one. */
static long long number(const char *v, size_t n)
{
    if (n == 0 || n > 12)
        return -1;
    long long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    return x;
}

int f2_fleet_http(void *arg, const char *query, char *buf, size_t cap, size_t *len)
{
    f2_fleet_run *fr = arg;
    out o = {buf, cap, 0};
    if (cap)
        buf[0] = '\0';
    long long offset = 0, limit = LIMIT_DEFAULT;
    int want = -1;   /* -1 all, 0 active, 1 silent */
    for (const char *p = query; *p;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        size_t kn = eq ? (size_t)(eq - p) : n;
        const char *v = eq ? eq + 1 : "";
        size_t vn = eq ? n - kn - 1 : 0;
        if (kn == 6 && memcmp(p, "offset", 6) == 0) {
            if ((offset = number(v, vn)) < 0)
                return bad(&o, "offset must be a non-negative integer", len);
        } else if (kn == 5 && memcmp(p, "limit", 5) == 0) {
            limit = number(v, vn);
            if (limit < 1 || limit > LIMIT_MAX)
                return bad(&o, "limit must be an integer from 1 to 1000", len);
        } else if (kn == 5 && memcmp(p, "state", 5) == 0) {
            if (vn == 6 && memcmp(v, "active", 6) == 0)
                want = 0;
            else if (vn == 6 && memcmp(v, "silent", 6) == 0)
                want = 1;
            else if (vn == 3 && memcmp(v, "all", 3) == 0)
                want = -1;
            else
                return bad(&o, "state must be active, silent or all", len);
        } else {
            return bad(&o, "unknown query argument; use state, offset and limit", len);
        }
        p += n + (amp ? 1 : 0);
    }

    /* Its own copy: this thread must not share the flush's snapshot. */
    f2_fleet_row *rows = NULL;
    size_t rcap = 0;
    size_t n = f2_fleet_all(&fr->table, &rows, &rcap);
    if (n == (size_t)-1) {
        free(rows);
        *len = 0;
        putf(&o, "{\"error\":\"out of memory\"}\n");
        *len = o.len;
        return 500;
    }
    int64_t now = fr->api->now_us();
    size_t active = 0, silent = 0, kept = 0;
    for (size_t i = 0; i < n; i++) {
        int s = now - rows[i].last_seen_us >= fr->silent_after_us;
        if (s)
            silent++;
        else
            active++;
        if (want < 0 || want == s)
            rows[kept++] = rows[i];
    }
    qsort(rows, kept, sizeof *rows, by_mac);
    putf(&o,
         "{\"silent_after_s\":%.3f,\"active\":%zu,\"silent\":%zu,\"state\":\"%s\",\"total\":%zu,"
         "\"offset\":%lld,\"limit\":%lld,\"devices\":[",
         (double)fr->silent_after_us / 1e6, active, silent,
         want < 0 ? "all" : want ? "silent" : "active", kept, offset, limit);
    char topic[F2_FLEET_TOPIC_MAX + 16];
    for (size_t i = (size_t)offset, k = 0; i < kept && k < (size_t)limit; i++, k++) {
        const f2_fleet_row *r = &rows[i];
        int s = now - r->last_seen_us >= fr->silent_after_us;
        putf(&o, "%s{\"device_id\":\"f2-%012" PRIx64 "\",\"state\":\"%s\",\"last_seen\":",
             k ? "," : "", r->mac, s ? "silent" : "active");
        put_time(&o, r->last_seen_us);
        putf(&o, ",\"seconds_since\":%.3f,\"readings\":%" PRIu32 ",\"last_topic\":",
             (double)(now - r->last_seen_us) / 1e6, r->readings);
        if (f2_fleet_topic(&fr->table, r, topic, sizeof topic) > 0)
            put_json_string(&o, topic);
        else
            put(&o, "null", 4);
        put(&o, "}", 1);
    }
    put(&o, "]}\n", 3);
    free(rows);
    *len = o.len;
    return 200;
}
