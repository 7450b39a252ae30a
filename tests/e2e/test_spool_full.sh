#!/usr/bin/env bash
# A full spool, two ways, with PostgreSQL down so that nothing drains:
#  1. a tiny max_size: the source pauses with one log line (the broker
#     queues meanwhile), sluice_spool_full is 1, the spool stays within its
#     bound, and everything arrives once PostgreSQL is back;
#  2. a real full disk: the spool on a 2 MiB tmpfs (ENOSPC) with the shipped
#     max_size; appends wait, and resume when released segments give the
#     space back.  Skipped, loudly, where mounting is not allowed.
# After each, a restart finds nothing torn or corrupt.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
. "$SLUICE_SOURCE_DIR/tests/e2e/e2e_lib.sh"
. "$SLUICE_SOURCE_DIR/tests/e2e/spool_lib.sh"
N=${E2E_READINGS:-12000}
RATE=${E2E_RATE:-3000}
reference "$N" "$RATE"
MNT=$T/tmpfs
mounted=0
trap '_trc=$?; if [ $mounted = 1 ]; then umount "$MNT" 2>/dev/null || true; fi; _spool_cleanup $_trc' EXIT

# variant FILE KEY VALUE...: the shipped ingest pipeline with buffer keys set.
variant() {
  local out=$1; shift
  cp "$EMB/20-ingest.yaml" "$out"
  while [ $# -gt 0 ]; do
    if grep -q "^  $1:" "$out"; then sed -i "s|^  $1: .*|  $1: $2|" "$out"
    else sed -i "s|^  type: disk|  type: disk\n  $1: $2|" "$out"; fi
    shift 2
  done
}

# no_corruption WHAT FILE: a fresh start on the spool finds nothing torn.
no_corruption() {
  ingest_stop TERM
  expect_eq "$rc" 0 "$1: exit status after SIGTERM"
  ingest_start "$2"
  expect_eq "$(metric sluice_spool_torn_total)" 0 "$1: torn records found by a fresh start"
}

# ---------------------------------------------------------- 1. max_size
MAX=1MiB
variant "$T/small.yaml" max_size "$MAX" segment_size 256KiB
# PostgreSQL goes down once the pipeline runs (a pipeline whose sink cannot
# connect at start does not start its source either).
ingest_start "$T/small.yaml"
pg_stop
sim_start "$N" "$RATE"
wait_for 60 grep -qi "spool.*full\|full.*spool" "$T/ingest.log" && pass ||
  fail "no log line about the full spool: $(tail -5 "$T/ingest.log")"
sleep 2
full=$(metric sluice_spool_full)
bytes=$(metric sluice_spool_bytes)
held=$(metric sluice_spool_records)
lines=$(grep -ci "spool.*full\|full.*spool" "$T/ingest.log" || true)
echo "max_size $MAX: paused holding $held records, $bytes bytes; sluice_spool_full $full; $lines log line(s):"
grep -i "spool.*full\|full.*spool" "$T/ingest.log" | head -3 | sed 's/^/    /'
expect_eq "$full" 1 "sluice_spool_full while paused"
[ "${bytes:-0}" -gt 0 ] && [ "${bytes:-0}" -le $((1024 * 1024 + 256 * 1024)) ] && pass ||
  fail "spool bytes $bytes beyond max_size $MAX"
[ "$lines" -le 2 ] && pass || fail "$lines log lines about the full spool (one expected)"
du_kb=$(du -sk "$SPOOL" | cut -f1)
[ "$du_kb" -le 2048 ] && pass || fail "the spool directory takes ${du_kb} KiB with max_size $MAX"
pg_start
sim_wait
settle 120
wait_for 20 spool_empty || true
expect_eq "$(metric sluice_spool_full)" 0 "sluice_spool_full after the drain"
check_exact "max_size $MAX with PostgreSQL down"
no_corruption "max_size" "$T/small.yaml"
ingest_stop TERM

# ---------------------------------------------------- 2. a full tmpfs
mkdir -p "$MNT"
if mount -t tmpfs -o size=2m,mode=0700 tmpfs "$MNT" 2>"$T/mount.err"; then
  mounted=1
  q "TRUNCATE iot_measurements"
  export SLUICE_SPOOL_DIR=$MNT
  SPOOL=$MNT/f2-ingest
  variant "$T/tmpfs.yaml" segment_size 256KiB
  ingest_start "$T/tmpfs.yaml"
  pg_stop
  sim_start "$N" "$RATE"
  wait_for 60 grep -qi "no space\|ENOSPC\|disk.*full\|full.*disk" "$T/ingest.log" && pass ||
    fail "no log line about the full disk: $(tail -5 "$T/ingest.log")"
  grep -i "no space\|ENOSPC\|disk.*full\|full.*disk" "$T/ingest.log" | head -3 | sed 's/^/    /'
  sleep 2
  avail=$(df -k --output=avail "$MNT" | tail -1 | tr -d ' ')
  echo "tmpfs 2 MiB: $(metric sluice_spool_records) records, $(metric sluice_spool_bytes) bytes held, ${avail} KiB free, sluice alive: $(kill -0 "$ingest" 2>/dev/null && echo yes || echo no)"
  kill -0 "$ingest" 2>/dev/null && pass || fail "sluice died on the full disk: $(tail -5 "$T/ingest.log")"
  pg_start
  sim_wait
  settle 120
  wait_for 20 spool_empty || true
  check_exact "spool on a full 2 MiB tmpfs, PostgreSQL down, then back"
  no_corruption "tmpfs" "$T/tmpfs.yaml"
  ingest_stop TERM
else
  echo "SKIPPED: the full-disk (ENOSPC) half: cannot mount a tmpfs here ($(head -1 "$T/mount.err"))" >&2
fi
finish
