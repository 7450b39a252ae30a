#!/usr/bin/env bash
# A plugin that crashes or exits: sluice says which plugin, in which
# callback of which pipeline, and the exit status is never 0.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
S=$SLUICE_BIN
P=(-P "$FAULT_DIR")
ulimit -c 0 # the crashes are on purpose; no core files
# Under AddressSanitizer, ASan's own handler reports after ours and exits 1
# instead of re-raising, so the exact signal status is checked only without.
asan=0
# Not `ldd | grep -q`: under pipefail, grep leaving early can fail the pipe.
case "$(ldd "$S" 2>/dev/null)" in *libasan*) asan=1 ;; esac

# crash NAME WANT_STATUS SOURCE_OPTS SINK_OPTS: runs one pipeline to its end.
crash() {
  local name=$1 want=$2
  printf 'name: %s\nsource: { plugin: fault, count: 100%s }\nsink: { plugin: fault%s }\n' \
    "$name" "$3" "$4" >"$T/$name.yaml"
  local got=0
  "$S" run "${P[@]}" ${LOG_JSON:+--log-format json} "$T/$name.yaml" >"$T/out" 2>&1 || got=$?
  if [ "$asan" = 1 ] && [ "$want" -gt 128 ] && [ "$want" != 134 ]; then
    [ "$got" -ne 0 ] && pass || fail "$name: exit status 0 after a crash"
  else
    expect_eq "$got" "$want" "$name: exit status"
  fi
}

# 1. A segfault in sink.write: the crash line names signal, plugin, callback
#    and pipeline, a backtrace follows, and the status is 128 + SIGSEGV.
crash crashy 139 "" ", crash: segv"
expect_out '[crashy/sink] fatal signal SIGSEGV (invalid memory access at 0x10) in sink.write of plugin "fault" in pipeline "crashy"'
expect_out "backtrace:"
grep -q 'fault.so' "$T/out" && pass || fail "the backtrace lacks the plugin's frames"

# 1b. With --log-format json the crash line is a JSON log line too.
LOG_JSON=1 crash crashy 139 "" ", crash: segv"
expect_out '"level":"error","pipeline":"crashy","component":"sink","msg":"fatal signal SIGSEGV (invalid memory access at 0x10) in sink.write of plugin \"fault\" in pipeline \"crashy\"'

# 2. abort() in source.poll: 128 + SIGABRT in both builds (ASan leaves SIGABRT alone).
crash aborting 134 ", crash: abort" ""
expect_out '[aborting/source] fatal signal SIGABRT (aborted) in source.poll of plugin "fault" in pipeline "aborting"'

# 3. A stack overflow is reported too, from the thread's alternate stack.
crash deep 139 "" ", crash: overflow"
if [ "$asan" = 0 ]; then
  expect_out '[deep/sink] fatal signal SIGSEGV'
  expect_out 'in sink.write of plugin "fault" in pipeline "deep"'
fi

# 4. exit(0) inside a plugin is not success: status 70 and the culprit named.
crash quitter 70 "" ", crash: exit"
expect_out 'plugin "fault" called exit(0) in sink.write of pipeline "quitter"; plugins must never exit; exiting with status 70'
crash quitter2 70 ", crash: exit" ""
expect_out 'plugin "fault" called exit(0) in source.poll of pipeline "quitter2"'

# 5. sluice's own exits are untouched: a bounded pipeline still ends with 0.
crash fine 0 "" ""
expect_no_out "fatal signal"
expect_no_out "must never exit"
finish
