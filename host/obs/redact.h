/* Keeping secrets out of everything sluice shows: logs, diagnostics, the
 * status and readiness documents. */
#ifndef SL_REDACT_H
#define SL_REDACT_H

#include <stddef.h>

/* Whether a map key or a key=value name says it holds a secret: it
 * contains password, secret, token, credential or key (any case). */
int sl_secret_name(const char *name, size_t len);

/* Copies `in` to `out` (always NUL-terminated) with the password of any
 * URL userinfo (scheme://user:PASSWORD@host) and the value of any
 * NAME=VALUE whose NAME contains password, secret, token or credential
 * (libpq's password='a b', a URL's ?token=...) replaced by ***; not "key",
 * which in running text is mostly a record key. */
void sl_redact_text(const char *in, char *out, size_t outlen);

/* Remembers a secret value (options declared secret, secret-named map
 * entries) so that sl_secret_scrub can take it out of any text, whatever
 * path the text took (a plugin's error message, a server's reply).  Values
 * shorter than 4 bytes are not remembered: scrubbing them would garble
 * ordinary text. Thread-safe. */
void sl_secret_register(const char *value);

/* Replaces, in place, every remembered secret value in buf by ***, then
 * applies sl_redact_text.  buf has room for cap bytes. */
void sl_secret_scrub(char *buf, size_t cap);

#endif
