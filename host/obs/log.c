#include "log.h"
#include "redact.h"

#include <sluice/sluice_text.h>

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static _Atomic int g_level = SLUICE_LOG_INFO;
static _Atomic int g_format = SL_LOG_TEXT;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void sl_log_configure(sluice_log_level level, sl_log_format format)
{
    atomic_store(&g_level, (int)level);
    atomic_store(&g_format, (int)format);
}

int sl_log_parse_level(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    if (strcmp(s, "warning") == 0)
        return SLUICE_LOG_WARN;
    return -1;
}

int sl_log_enabled(sluice_log_level level) { return (int)level <= atomic_load(&g_level); }

int sl_log_is_json(void) { return atomic_load(&g_format) == SL_LOG_JSON; }

/* s as a quoted JSON string, by the one escaper (sluice_text.h), cut short
 * when it would not fit in room. */
static void json_quote(char *out, size_t room, const char *s)
{
    size_t n = strlen(s);
    /* No byte takes more than six (\u00xx), so this always fits. */
    if (sluice_json_escape(NULL, s, n) >= room)
        n = (room - 3) / 6;
    out[sluice_json_escape(out, s, n)] = '\0';
}

void sl_logv(sluice_log_level level, const char *pipeline, const char *component,
             const char *fmt, va_list ap)
{
    if (!sl_log_enabled(level))
        return;
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    /* Whoever wrote it, a secret does not leave the process in a log line. */
    sl_secret_scrub(msg, sizeof msg);
    /* A message must stay one line, whatever a plugin or a server said. */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    size_t tl = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + tl, sizeof ts - tl, ".%03ldZ", (long)(tv.tv_usec / 1000));

    char line[4096];
    int n;
    const char *lv = level_names[level <= SLUICE_LOG_DEBUG ? level : SLUICE_LOG_DEBUG];
    if (atomic_load(&g_format) == SL_LOG_JSON) {
        char em[2048 * 2], ep[256], ec[256];
        json_quote(em, sizeof em, msg);
        json_quote(ep, sizeof ep, pipeline ? pipeline : "");
        json_quote(ec, sizeof ec, component ? component : "");
        n = snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\"%s%s%s%s,\"msg\":%s}\n",
                     ts, lv, pipeline ? ",\"pipeline\":" : "", pipeline ? ep : "",
                     component ? ",\"component\":" : "", component ? ec : "", em);
    } else {
        n = snprintf(line, sizeof line, "%s %-5s %s%s%s%s%s%s\n", ts, lv,
                     pipeline ? "[" : "", pipeline ? pipeline : "",
                     component ? (pipeline ? "/" : "[") : "", component ? component : "",
                     (pipeline || component) ? "] " : "", msg);
    }
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    if (len && line[len - 1] != '\n')
        line[len - 1] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void sl_log(sluice_log_level level, const char *pipeline, const char *component,
            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sl_logv(level, pipeline, component, fmt, ap);
    va_end(ap);
}
