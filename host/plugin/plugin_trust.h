/* Whether a plugin file may be opened at all: who owns it and the
 * directories above it, and whether it carries the sluice ABI note.  Both
 * checks read the file and never run any of it. */
#ifndef SL_PLUGIN_TRUST_H
#define SL_PLUGIN_TRUST_H

#include <stddef.h>
#include <sys/types.h>

/* The ownership and mode rule, in the manner of OpenSSH's StrictModes.  For
 * the directory `dir` (an absolute path without symlinks, as realpath gives)
 * and every directory above it up to /: each must belong to root or to the
 * effective user, and must not be writable by group or others.  One
 * exception: an ANCESTOR (never `dir` itself) that is root-owned and sticky
 * (as /tmp, mode 1777) is accepted, because the sticky bit lets nobody else
 * rename or replace the entry below it, which belongs to root or us.
 * Returns 0, or -1 with one line in err naming the path and what to do. */
int sl_trust_dir(const char *dir, char *err, size_t errlen);

/* The same rule for an opened plugin file (fstat'ed through its fd, so the
 * inode checked is the one read), then for its directory.  `real` is its
 * absolute path. */
int sl_trust_file(int fd, const char *real, char *err, size_t errlen);

/* Reads the ".note.sluice" ABI note from the ELF file open on fd, bounds-
 * checking everything (the file is untrusted input).  Returns 1 and the
 * versions when the note is there, 0 when the file is a shared object for
 * this machine but has no note, -1 when it is not one at all (reason in
 * err, without the path). */
int sl_elf_abi_note(int fd, int *major, int *minor, char *err, size_t errlen);

#endif
