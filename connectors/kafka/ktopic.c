#include "ktopic.h"

#include <stdio.h>
#include <string.h>

/* Kafka's rule: 1..249 of [A-Za-z0-9._-], and not "." or "..". */
int ktopic_check(const char *s, size_t n, char *err, size_t errlen)
{
    int ok = n > 0 && n <= 249 && !(n == 1 && s[0] == '.') &&
             !(n == 2 && s[0] == '.' && s[1] == '.');
    for (size_t i = 0; ok && i < n; i++) {
        char c = s[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-';
    }
    if (!ok)
        snprintf(err, errlen, "topic \"%.*s\" is not a valid Kafka topic name (1 to 249 of "
                 "A-Z a-z 0-9 . _ -, not \".\" or \"..\")", (int)(n > 200 ? 200 : n), s);
    return ok ? 0 : -1;
}

int ktopic_render(const sluice_tmpl *t, const sluice_record *r, sluice_buf *out, char *err,
                  size_t errlen)
{
    if (sluice_tmpl_render(t, r, out, err, errlen) != 0)
        return -1;
    return ktopic_check(out->p, out->len, err, errlen);
}

int ktopic_parse(sluice_tmpl *t, const char *tmpl, char *err, size_t errlen)
{
    if (sluice_tmpl_parse(t, tmpl, err, errlen) != 0)
        return -1;
    if (t->constant && ktopic_check(t->constant, strlen(t->constant), err, errlen) != 0) {
        sluice_tmpl_free(t);
        return -1;
    }
    return 0;
}
