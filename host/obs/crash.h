/* Last words: a fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) on
 * any thread is reported with the pipeline, stage, plugin and callback that
 * thread was running (runtime/guard.h) and a backtrace, then re-raised with
 * its previous action, so the exit status names the signal and a core can
 * be written (under AddressSanitizer, ASan's own handler reports after us
 * where ASan lets us install one).  An exit() that sluice did not decide
 * on, which only a plugin or a library can make, is reported and turned
 * into status 70, so that a plugin's exit(0) never looks like success. */
#ifndef SL_CRASH_H
#define SL_CRASH_H

/* Once, early in `sluice run`, before plugins are loaded. */
void sl_crash_install(void);
/* Marks the coming exit as sluice's own decision; returns rc. */
int sl_crash_exit_ours(int rc);

#endif
