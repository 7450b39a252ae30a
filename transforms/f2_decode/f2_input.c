#include "f2_input.h"

#include <sluice/sluice_text.h>

#include <stdio.h>
#include <string.h>

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil): no timegm(), no TZ environment. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

/* Reads exactly n digits at s[*i]. */
static int digits(const char *s, size_t len, size_t *i, int n, int *v)
{
    int x = 0;
    for (int k = 0; k < n; k++) {
        if (*i >= len || s[*i] < '0' || s[*i] > '9')
            return -1;
        x = x * 10 + (s[(*i)++] - '0');
    }
    *v = x;
    return 0;
}

static int expect(const char *s, size_t len, size_t *i, char c)
{
    if (*i >= len || s[*i] != c)
        return -1;
    (*i)++;
    return 0;
}

/* "+HH:MM", "+HHMM", "+HH" at s[*i]; seconds east of UTC. */
static int parse_offset(const char *s, size_t len, size_t *i, int *off)
{
    if (*i >= len || (s[*i] != '+' && s[*i] != '-'))
        return -1;
    int sign = s[(*i)++] == '-' ? -1 : 1;
    int h, m = 0;
    if (digits(s, len, i, 2, &h) != 0)
        return -1;
    if (*i < len && s[*i] == ':')
        (*i)++;
    if (*i < len && digits(s, len, i, 2, &m) != 0)
        return -1;
    if (h > 14 || m > 59)
        return -1;
    *off = sign * (h * 3600 + m * 60);
    return 0;
}

int f2_parse_tz(const char *s, int *offset_s, char *err, size_t errlen)
{
    if (!s || !*s || strcmp(s, "UTC") == 0 || strcmp(s, "utc") == 0 || strcmp(s, "Z") == 0) {
        *offset_s = 0;
        return 0;
    }
    const char *p = s;
    if (strncmp(p, "UTC", 3) == 0)
        p += 3;
    size_t len = strlen(p), i = 0;
    int off;
    /* "+2" and "-5" are accepted as whole hours. */
    if (len == 2 && (p[0] == '+' || p[0] == '-') && p[1] >= '0' && p[1] <= '9') {
        *offset_s = (p[0] == '-' ? -1 : 1) * (p[1] - '0') * 3600;
        return 0;
    }
    if (parse_offset(p, len, &i, &off) != 0 || i != len) {
        snprintf(err, errlen, "timezone \"%s\" is neither UTC nor a fixed offset like +02:00", s);
        return -1;
    }
    *offset_s = off;
    return 0;
}

int f2_parse_timestamp(const char *s, size_t len, int tz_offset_s, int64_t *us, char *err,
                       size_t errlen)
{
    size_t i = 0;
    int y, mo, d, h, mi, se;
    if (digits(s, len, &i, 4, &y) || expect(s, len, &i, '-') || digits(s, len, &i, 2, &mo) ||
        expect(s, len, &i, '-') || digits(s, len, &i, 2, &d) || i >= len ||
        (s[i] != ' ' && s[i] != 'T') || (i++, digits(s, len, &i, 2, &h)) ||
        expect(s, len, &i, ':') || digits(s, len, &i, 2, &mi) || expect(s, len, &i, ':') ||
        digits(s, len, &i, 2, &se))
        goto bad;
    int64_t frac = 0;
    if (i < len && s[i] == '.') {
        i++;
        int nd = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (nd < 6)
                frac = frac * 10 + (s[i] - '0');
            nd++;
            i++;
        }
        if (nd == 0 || nd > 9)
            goto bad;
        for (; nd < 6; nd++)
            frac *= 10;
    }
    int off = tz_offset_s;
    if (i < len && s[i] == 'Z') {
        off = 0;
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        if (parse_offset(s, len, &i, &off) != 0)
            goto bad;
    }
    if (i != len)
        goto bad;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        se > 59) {
        snprintf(err, errlen, "\"timestamp\" \"%.*s\" is not a valid date and time",
                 (int)(len > 64 ? 64 : len), s);
        return -1;
    }
    int64_t secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 +
                   se - off;
    *us = secs * 1000000 + frac;
    return 0;
bad:
    snprintf(err, errlen,
             "\"timestamp\" \"%.*s\" is not YYYY-MM-DD HH:MM:SS[.ffffff][zone]",
             (int)(len > 64 ? 64 : len), s);
    return -1;
}

int f2_hex_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *n, char *err,
                  size_t errlen)
{
    size_t i = 0, o = 0;
    while (i < len) {
        char c = s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            i++;
            continue;
        }
        /* One group: [0x]hexdigits, an even number of them. */
        size_t g = i;
        if (c == '0' && i + 1 < len && (s[i + 1] == 'x' || s[i + 1] == 'X'))
            i += 2;
        size_t first = i;
        while (i < len && sluice_hexval(s[i]) >= 0)
            i++;
        if (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') {
            unsigned char bad = (unsigned char)s[i];
            if (bad >= 0x20 && bad < 0x7F)
                snprintf(err, errlen, "\"data\" is not hex: '%c' at character %zu", bad, i + 1);
            else
                snprintf(err, errlen, "\"data\" is not hex: byte 0x%02X at character %zu", bad,
                         i + 1);
            return -1;
        }
        size_t nd = i - first;
        if (nd == 0 || nd % 2) {
            snprintf(err, errlen, "\"data\" is not hex: group \"%.*s\" at character %zu has %s",
                     (int)(i - g > 32 ? 32 : i - g), s + g, g + 1,
                     nd ? "an odd number of digits" : "no digits");
            return -1;
        }
        if (o + nd / 2 > cap) {
            snprintf(err, errlen, "\"data\" is longer than %zu bytes", cap);
            return -1;
        }
        for (size_t k = first; k < i; k += 2)
            out[o++] = (uint8_t)(sluice_hexval(s[k]) << 4 | sluice_hexval(s[k + 1]));
    }
    *n = o;
    return 0;
}
