/* Process logging: one line per event on stderr, plain text or JSON lines.
 * Lines are assembled in a local buffer and written with one write(2), so
 * concurrent pipelines never interleave within a line. */
#ifndef SL_LOG_H
#define SL_LOG_H

#include <sluice/sluice.h>
#include <stdarg.h>

typedef enum sl_log_format { SL_LOG_TEXT, SL_LOG_JSON } sl_log_format;

void sl_log_configure(sluice_log_level level, sl_log_format format);
/* Parses "error|warn|info|debug"; -1 if unknown. */
int sl_log_parse_level(const char *s);
int sl_log_enabled(sluice_log_level level);
/* 1 with --log-format json; for writers that cannot call sl_log (crash.c). */
int sl_log_is_json(void);

/* `pipeline` and `component` may be NULL. */
void sl_logv(sluice_log_level level, const char *pipeline, const char *component,
             const char *fmt, va_list ap);
void sl_log(sluice_log_level level, const char *pipeline, const char *component,
            const char *fmt, ...) SLUICE_PRINTF(4, 5);

#define sl_error(...) sl_log(SLUICE_LOG_ERROR, NULL, NULL, __VA_ARGS__)
#define sl_warn(...) sl_log(SLUICE_LOG_WARN, NULL, NULL, __VA_ARGS__)
#define sl_info(...) sl_log(SLUICE_LOG_INFO, NULL, NULL, __VA_ARGS__)

#endif
