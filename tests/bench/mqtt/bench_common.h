/* Small helpers shared by the MQTT benchmark programs. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdint.h>

double bench_now(void);                  /* monotonic seconds */
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
long bench_arg(const char *s, const char *what);

#endif
