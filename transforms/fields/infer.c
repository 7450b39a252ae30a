#include "infer.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Decimal notation only: [+-]digits[.digits][(e|E)[+-]digits], with a digit
 * on at least one side of the point.  strtod alone would also take "inf",
 * "nan" and hex floats, which YAML reads as strings. */
static int is_decimal(const char *s, int *has_frac_or_exp)
{
    const char *p = s;
    int digits = 0;
    *has_frac_or_exp = 0;
    if (*p == '+' || *p == '-')
        p++;
    while (*p >= '0' && *p <= '9')
        p++, digits++;
    if (*p == '.') {
        *has_frac_or_exp = 1;
        p++;
        while (*p >= '0' && *p <= '9')
            p++, digits++;
    }
    if (!digits)
        return 0;
    if (*p == 'e' || *p == 'E') {
        *has_frac_or_exp = 1;
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

int fields_infer(const char *text, fields_value *v)
{
    memset(v, 0, sizeof(*v));
    v->len = strlen(text);
    v->text = strdup(text);
    if (!v->text)
        return -1;
    v->type = SLUICE_STRING;
    if (!strcmp(text, "true") || !strcmp(text, "false")) {
        v->type = SLUICE_BOOL;
        v->b = text[0] == 't';
        return 0;
    }
    /* The host hands over YAML's null (`x:`, `x: null`, `x: ~`) as "", so
     * "" must mean null; an empty string cannot be set. */
    if (!*text || !strcmp(text, "null") || !strcmp(text, "~")) {
        v->type = SLUICE_NULL;
        return 0;
    }
    int real;
    if (!is_decimal(text, &real))
        return 0;
    if (!real) {
        errno = 0;
        long long i = strtoll(text, NULL, 10);
        if (errno == 0) {
            v->type = SLUICE_INT;
            v->i = i;
            return 0;
        }
        /* Too big for int64: fall through to a double, as YAML would. */
    }
    errno = 0;
    double d = strtod(text, NULL);
    if (isfinite(d) && errno != ERANGE) {
        v->type = SLUICE_DOUBLE;
        v->d = d;
    }
    return 0;
}
