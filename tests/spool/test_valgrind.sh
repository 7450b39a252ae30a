#!/usr/bin/env bash
# The spool's unit tests under Valgrind's memcheck: no invalid access, no
# uninitialised byte written to a segment, no definite or indirect leak
# (including the threads, the fork children and the disk-full path).
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
command -v valgrind >/dev/null || { fail "valgrind is not installed (scripts/install-deps.sh installs it)"; finish; }
VG=(valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 -q)
for t in spool_unit spool_threads; do
  expect_exit 0 -- "${VG[@]}" "$SLUICE_BUILD_DIR/bin/$t"
  expect_out "0 failed"
  expect_no_out "=="        # valgrind's report lines start with ==PID==
done
finish
