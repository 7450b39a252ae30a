/*
 * sluice_time.h — monotonic time, deadlines and sleeping, for the host and
 * plugins alike (included by sluice_util.h; header-only, links nothing).
 *
 * One way to do each: timeouts are measured on CLOCK_MONOTONIC (a wall
 * clock step must not stretch or cut a wait), a condition variable waited
 * on with a deadline is made with sluice_cond_init_monotonic, and a plain
 * pause is sluice_sleep_ms.  A wait that a stop must be able to cut short
 * is a condition wait with sluice_deadline_ms, not a sleep.
 *
 * Needs POSIX clocks (_POSIX_C_SOURCE >= 200112L or _GNU_SOURCE before the
 * first include); a strictly ISO C translation unit simply goes without.
 */
#ifndef SLUICE_SLUICE_TIME_H
#define SLUICE_SLUICE_TIME_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#if defined(CLOCK_MONOTONIC) && defined(TIMER_ABSTIME)

#ifdef __cplusplus
extern "C" {
#endif

static inline int64_t sluice_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t sluice_mono_ms(void)
{
    return sluice_mono_ns() / 1000000;
}

/* The CLOCK_MONOTONIC instant ns from now (0 if ns < 0), as
 * pthread_cond_timedwait and clock_nanosleep(TIMER_ABSTIME) take it. */
static inline struct timespec sluice_deadline_ns(int64_t ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (ns > 0) {
        ts.tv_sec += (time_t)(ns / 1000000000);
        ts.tv_nsec += (long)(ns % 1000000000);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
    }
    return ts;
}

static inline struct timespec sluice_deadline_ms(int64_t ms)
{
    return sluice_deadline_ns(ms > 0 ? ms * 1000000 : 0);
}

/* A condition variable whose timed waits count on CLOCK_MONOTONIC, so
 * sluice_deadline_ms gives their deadline.  0, or an errno value. */
static inline int sluice_cond_init_monotonic(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    int rc = pthread_condattr_init(&ca);
    if (rc)
        return rc;
    rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (!rc)
        rc = pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
    return rc;
}

/* Sleeps ns nanoseconds (none if ns <= 0); a signal does not cut it short. */
static inline void sluice_sleep_ns(int64_t ns)
{
    if (ns <= 0)
        return;
    struct timespec until = sluice_deadline_ns(ns);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
        ;
}

static inline void sluice_sleep_ms(int64_t ms)
{
    sluice_sleep_ns(ms > 0 ? ms * 1000000 : 0);
}

#ifdef __cplusplus
}
#endif

#endif /* CLOCK_MONOTONIC */
#endif
