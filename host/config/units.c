/* Scalar parsing: booleans, integers, numbers, durations and sizes.  Each
 * parser accepts the whole string or nothing, so "10x" is never read as 10. */
#include "config.h"
#include "typed.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int sl_parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

int sl_parse_int(const char *s, int64_t *out)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (*p < '0' || *p > '9')
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end || errno == ERANGE)
        return -1;
    *out = (int64_t)v;
    return 0;
}

int sl_parse_double(const char *s, double *out)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    /* strtod would also take hex floats, "inf" and "nan": not numbers a
     * pipeline file means. */
    if (!((*p >= '0' && *p <= '9') || (*p == '.' && p[1] >= '0' && p[1] <= '9')))
        return -1;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (*end || errno == ERANGE || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* Reads "12" or "12.5" at *p; advances past it.  -1 if there is no number. */
static int read_decimal(const char **p, long double *out)
{
    const char *s = *p;
    long double v = 0;
    int digits = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (*s++ - '0');
        digits++;
    }
    if (!digits)
        return -1;
    if (*s == '.') {
        s++;
        long double scale = 0.1L;
        int frac = 0;
        while (*s >= '0' && *s <= '9') {
            v += (*s++ - '0') * scale;
            scale /= 10;
            frac++;
        }
        if (!frac)
            return -1;
    }
    *p = s;
    *out = v;
    return 0;
}

typedef struct unit {
    const char *name;
    long double factor;
} unit;

static const unit *match_unit(const unit *units, const char **p, int nocase)
{
    const unit *best = NULL;
    size_t best_len = 0;
    for (const unit *u = units; u->name; u++) {
        size_t l = strlen(u->name);
        int m = nocase ? strncasecmp(*p, u->name, l) == 0 : strncmp(*p, u->name, l) == 0;
        /* Longest match, so "ms" is not read as "m" followed by "s". */
        if (m && l > best_len) {
            best = u;
            best_len = l;
        }
    }
    if (best)
        *p += best_len;
    return best;
}

static int64_t to_int64(long double v)
{
    v = roundl(v);
    if (v < 0 || v > 9.2e18L)
        return -1;
    return (int64_t)v;
}

int64_t sl_parse_duration_ms(const char *s)
{
    static const unit units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000},
                                 {"h", 3600000}, {"d", 86400000}, {NULL, 0}};
    if (!s)
        return -1;
    const char *p = s;
    long double total = 0, v;
    if (read_decimal(&p, &v) != 0)
        return -1;
    if (!*p) /* a bare number is milliseconds */
        return to_int64(v);
    /* Go-style compounds: "1h30m", "2m30s". */
    for (;;) {
        const unit *u = match_unit(units, &p, 0);
        if (!u)
            return -1;
        total += v * u->factor;
        if (total > 9.2e18L)
            return -1;
        if (!*p)
            break;
        if (read_decimal(&p, &v) != 0)
            return -1;
    }
    return to_int64(total);
}

int64_t sl_parse_size(const char *s)
{
    /* IEC units are powers of 1024, SI units powers of 1000, as their
     * names say; case does not matter since nothing here counts bits. */
    static const unit units[] = {
        {"b", 1},
        {"k", 1e3L}, {"kb", 1e3L}, {"kib", 1024.0L},
        {"m", 1e6L}, {"mb", 1e6L}, {"mib", 1048576.0L},
        {"g", 1e9L}, {"gb", 1e9L}, {"gib", 1073741824.0L},
        {"t", 1e12L}, {"tb", 1e12L}, {"tib", 1099511627776.0L},
        {NULL, 0}};
    if (!s)
        return -1;
    const char *p = s;
    long double v;
    if (read_decimal(&p, &v) != 0)
        return -1;
    if (*p) {
        const unit *u = match_unit(units, &p, 1);
        if (!u || *p)
            return -1;
        v *= u->factor;
    }
    return to_int64(v);
}
