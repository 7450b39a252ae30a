/* Optimal-string-alignment distance: like Levenshtein, but a swap of two
 * neighbouring letters ("retyr") costs one edit, as it does for a typist. */
#include "suggest.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXLEN 64

int sl_edit_distance(const char *a, const char *b, int cap)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > MAXLEN || lb > MAXLEN)
        return cap + 1;
    if ((la > lb ? la - lb : lb - la) > (size_t)cap)
        return cap + 1;
    int d[MAXLEN + 1][MAXLEN + 1];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            int cost = ca != cb;
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[la][lb] > cap ? cap + 1 : d[la][lb];
}

const char *sl_nearest(const char *word, const char *const *cands, size_t n)
{
    /* Two edits turn a three-letter word into almost any other, and one
     * edit a one-letter word into any other: only case may differ there. */
    size_t len = strlen(word);
    int cap = len <= 2 ? 0 : len <= 4 ? 1 : 2;
    const char *best = NULL;
    int best_d = cap + 1;
    for (size_t i = 0; i < n; i++) {
        int dd = sl_edit_distance(word, cands[i], cap);
        if (dd < best_d) {
            best = cands[i];
            best_d = dd;
        }
    }
    return best;
}

void sl_did_you_mean(char *buf, size_t len, const char *word, const char *const *cands, size_t n)
{
    const char *s = sl_nearest(word, cands, n);
    if (s)
        snprintf(buf, len, "; did you mean \"%s\"?", s);
    else if (len)
        buf[0] = '\0';
}

void sl_join_names(char *buf, size_t len, const char *const *names, size_t n)
{
    if (!len)
        return;
    buf[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        const char *sep = i ? ", " : "";
        size_t need = strlen(sep) + strlen(names[i]);
        /* Leave room for ", ..." so the reader knows the list goes on. */
        if (used + need + 6 > len) {
            snprintf(buf + used, len - used, "%s...", i ? ", " : "");
            return;
        }
        used += (size_t)snprintf(buf + used, len - used, "%s%s", sep, names[i]);
    }
}
