# Shared helpers for shell tests.  Source it; it sets `set -euo pipefail`,
# a per-test scratch directory $T (removed on success, kept on failure), and
# assertion helpers that print what was expected and what came instead.
set -euo pipefail

: "${SLUICE_BIN:?SLUICE_BIN must point at the sluice binary (run through ctest)}"
: "${SLUICE_SOURCE_DIR:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/sluice-test.XXXXXX")
TEST_NAME=$(basename "$0" .sh)
# The shipped pipelines with a disk buffer spool under ${SLUICE_SPOOL_DIR}:
# keep a test's spool in its scratch directory, never in the build tree or
# in a spool left by another run.
export SLUICE_SPOOL_DIR=$T/spool
_failures=0
_checks=0

# _cleanup [STATUS]: removes the scratch directory if the test passed.  An
# EXIT trap that runs other commands first passes the script's status (taken
# as the trap's first word: `_trc=$?; ...; _cleanup $_trc`), or $? would be
# that of its last command — a failed kill kept a passing test's scratch.
_cleanup() {
  local rc=${1-$?}
  if [ "$rc" -eq 0 ] && [ "$_failures" -eq 0 ]; then rm -rf "$T"; else echo "scratch kept: $T" >&2; fi
}
trap _cleanup EXIT

fail() { echo "FAIL [$TEST_NAME]: $*" >&2; _failures=$((_failures + 1)); }
pass() { _checks=$((_checks + 1)); }

# expect_exit CODE -- command...: runs the command, stdout+stderr to $T/out.
expect_exit() {
  local want=$1; shift; [ "$1" = "--" ] && shift
  local got=0
  "$@" >"$T/out" 2>&1 || got=$?
  if [ "$got" -ne "$want" ]; then
    fail "expected exit $want, got $got from: $*"; sed 's/^/    | /' "$T/out" >&2
  else pass; fi
}

# expect_out TEXT: the last expect_exit's output contains TEXT (fixed string).
expect_out() {
  if grep -qF -- "$1" "$T/out"; then pass; else
    fail "output lacks: $1"; sed 's/^/    | /' "$T/out" >&2; fi
}

expect_no_out() {
  if grep -qF -- "$1" "$T/out"; then fail "output unexpectedly contains: $1"; sed 's/^/    | /' "$T/out" >&2; else pass; fi
}

expect_eq() { # expect_eq GOT WANT WHAT
  if [ "$1" = "$2" ]; then pass; else fail "$3: got '$1', want '$2'"; fi
}

# wait_for SECONDS command...: polls until the command succeeds.
wait_for() {
  local secs=$1; shift
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $end ] && return 1
    sleep 0.2
  done
}

finish() {
  echo "$TEST_NAME: $_checks checks, $_failures failed"
  [ "$_failures" -eq 0 ]
}
