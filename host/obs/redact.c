/* See redact.h.  Two layers: the places that show configuration redact by
 * what a value is (a secret option, a secret-named key, URL userinfo), and
 * every line that leaves the process is also scrubbed of the secret values
 * themselves, which catches a plugin or a server quoting one back. */
#include "redact.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_REMEMBERED 512
#define MIN_REMEMBERED 4

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char *remembered[MAX_REMEMBERED];
static size_t n_remembered;

/* "key" last: the NAME=VALUE rule in running text leaves it out, since
 * key=... in a log line is far more often a record key than a secret. */
static int secret_words(const char *name, size_t len, size_t nwords)
{
    static const char *const words[] = {"password", "secret", "token", "credential", "key"};
    for (size_t w = 0; w < nwords; w++) {
        size_t wl = strlen(words[w]);
        for (size_t i = 0; i + wl <= len; i++)
            if (strncasecmp(name + i, words[w], wl) == 0)
                return 1;
    }
    return 0;
}

int sl_secret_name(const char *name, size_t len) { return secret_words(name, len, 5); }

typedef struct out {
    char *p;
    size_t cap, n;
} out;

static void put(out *o, const char *s, size_t len)
{
    for (size_t i = 0; i < len && o->n + 1 < o->cap; i++)
        o->p[o->n++] = s[i];
}

static int ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-';
}

/* The end of a NAME=VALUE value starting at s: quoted (libpq's 'a b', with
 * \' escapes) or up to a separator. */
static const char *value_end(const char *s)
{
    if (*s == '\'' || *s == '"') {
        char q = *s++;
        while (*s && *s != q) {
            if (*s == '\\' && s[1])
                s++;
            s++;
        }
        return *s ? s + 1 : s;
    }
    while (*s && !isspace((unsigned char)*s) && *s != '&' && *s != ';' && *s != ',' &&
           *s != '"')
        s++;
    return s;
}

void sl_redact_text(const char *in, char *outbuf, size_t outlen)
{
    if (!outbuf || !outlen)
        return;
    out o = {outbuf, outlen, 0};
    const char *s = in ? in : "";
    const char *copied = s; /* everything before this is in out already */
    for (const char *p = s; *p;) {
        if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
            /* The authority ends at the path, query, fragment or text. */
            const char *a = p + 3, *end = a;
            while (*end && !strchr("/?#\"' \t\r\n", *end))
                end++;
            const char *at = NULL;
            for (const char *q = a; q < end; q++)
                if (*q == '@')
                    at = q;
            if (at) {
                put(&o, copied, (size_t)(a - copied));
                put(&o, "***", 3);
                copied = p = at;
                continue;
            }
            p = end;
            continue;
        }
        if (*p == '=') {
            const char *e = p; /* the name ends before optional blanks */
            while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            const char *b = e;
            while (b > s && ident_char(b[-1]))
                b--;
            if (b < e && secret_words(b, (size_t)(e - b), 4)) {
                const char *v = p + 1;
                while (*v == ' ' || *v == '\t')
                    v++;
                const char *ve = value_end(v);
                put(&o, copied, (size_t)(v - copied));
                put(&o, "***", 3);
                copied = p = ve;
                continue;
            }
        }
        p++;
    }
    put(&o, copied, strlen(copied));
    o.p[o.n] = '\0';
}

static void remember(const char *value, size_t len);

/* The parts of a secret that a message may quote on their own: the password
 * of a URL's userinfo, the value of password=... in a connection string, and
 * in a connection string any word without "=" (libpq quotes what follows an
 * unquoted space in a password as if it were a keyword). */
static void remember_parts(const char *v)
{
    const char *u = strstr(v, "://");
    if (u) {
        const char *a = u + 3, *end = a + strcspn(a, "/?# ");
        const char *at = NULL, *colon = NULL;
        for (const char *q = a; q < end; q++)
            if (*q == '@')
                at = q;
        for (const char *q = a; at && q < at; q++)
            if (*q == ':') {
                colon = q;
                break;
            }
        if (colon)
            remember(colon + 1, (size_t)(at - colon - 1));
    }
    if (!strchr(v, '='))
        return;
    for (const char *p = v; *p;) {
        while (*p && isspace((unsigned char)*p))
            p++;
        const char *w = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        const char *eq = memchr(w, '=', (size_t)(p - w));
        if (!eq) {
            remember(w, (size_t)(p - w));
        } else if (secret_words(w, (size_t)(eq - w), 4)) {
            const char *val = eq + 1, *ve = value_end(val);
            if (*val == '\'' || *val == '"')
                remember(val + 1, ve > val + 1 ? (size_t)(ve - val - 2) : 0);
            else
                remember(val, (size_t)(ve - val));
            if (ve > p)
                p = ve;
        }
    }
}

void sl_secret_register(const char *value)
{
    if (!value)
        return;
    remember(value, strlen(value));
    remember_parts(value);
}

static void remember(const char *value, size_t len)
{
    if (len < MIN_REMEMBERED)
        return;
    pthread_mutex_lock(&mu);
    int known = 0;
    for (size_t i = 0; i < n_remembered && !known; i++)
        known = strlen(remembered[i]) == len && memcmp(remembered[i], value, len) == 0;
    if (!known && n_remembered < MAX_REMEMBERED) {
        char *c = strndup(value, len);
        if (c)
            remembered[n_remembered++] = c;
    }
    pthread_mutex_unlock(&mu);
}

void sl_secret_scrub(char *buf, size_t cap)
{
    if (!buf || !cap)
        return;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < n_remembered; i++) {
        size_t sl = strlen(remembered[i]);
        char *hit = buf;
        while ((hit = strstr(hit, remembered[i])) != NULL) {
            /* sl >= 4 > 3: the text only shrinks. */
            memcpy(hit, "***", 3);
            memmove(hit + 3, hit + sl, strlen(hit + sl) + 1);
            hit += 3;
        }
    }
    pthread_mutex_unlock(&mu);
    /* Error reasons (SLUICE_ERRLEN) fit the stack: a flood of failing
     * records costs no malloc each. */
    char small[2048];
    char *tmp = cap <= sizeof small ? small : malloc(cap);
    if (!tmp)
        return;
    sl_redact_text(buf, tmp, cap);
    memcpy(buf, tmp, strlen(tmp) + 1);
    if (tmp != small)
        free(tmp);
}
