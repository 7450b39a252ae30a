/* The write cursor shared by the JSON writer (json_write.c) and the parser,
 * which re-emits nested values as compact text (json_parse.c).  It runs in
 * two passes over the same input: first with p NULL, only measuring, then
 * into an arena block of exactly the measured size, so the arena never
 * holds a worst-case-sized block.  The text itself comes from the one text
 * layer, <sluice/sluice_text.h>. */
#ifndef SL_JSON_JW_H
#define SL_JSON_JW_H

#include <sluice/sluice_text.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct jw {
    char *p;                 /* NULL while measuring */
    size_t n;
} jw;

static inline void jw_put(jw *w, const char *s, size_t n)
{
    if (w->p)
        memcpy(w->p + w->n, s, n);
    w->n += n;
}

static inline void jw_ch(jw *w, char c)
{
    if (w->p)
        w->p[w->n] = c;
    w->n++;
}

#define JW_LIT(w, s) jw_put((w), (s), sizeof(s) - 1)

static inline void jw_int(jw *w, int64_t v)
{
    char t[SLUICE_INT_MAX_TEXT];
    jw_put(w, t, sluice_fmt_int(t, v));
}

static inline void set_err(char *err, size_t errlen, const char *fmt, ...) SLUICE_PRINTF(3, 4);
static inline void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

#endif
