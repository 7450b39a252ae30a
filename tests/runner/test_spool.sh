#!/usr/bin/env bash
# The disk buffer (buffer.type: disk) through the real binary with the fault
# plugin: records survive a permanent sink failure (the pipeline parks, says
# why, retries on SIGHUP), a SIGTERM with a dead sink leaves them in the spool
# for the next start, a full spool pauses the source with one line each way,
# a second process is refused the spool, a source may spool from its own
# thread, and the counters add up.  Without a disk buffer a failed run's
# unreplayable records are counted as lost.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
S=$SLUICE_BIN
P=(-P "$FAULT_DIR")

lines() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }
uniq_lines() { if [ -f "$1" ]; then cut -d' ' -f1 "$1" | sort -n -u | wc -l | tr -d ' '; else echo 0; fi; }
port_of() { sed -n 's/.*serving .* on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$1" | head -1; }
# metric PORT NAME PIPELINE [STAGE]: the value of one series, 0 if absent.
metric() {
  local sel="pipeline=\"$3\""
  [ -n "${4:-}" ] && sel="$sel,stage=\"$4\""
  curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2{$sel}" 'index($0, n) == 1 { v = $2 } END { print v + 0 }'
}
status() { curl -s "http://127.0.0.1:$1/status"; }
jfield() { python3 -c 'import json,sys; d=json.load(sys.stdin)["pipelines"]; p=[x for x in d if x["name"]==sys.argv[1]][0]; v=p
for k in sys.argv[2].split("."): v=v[k] if v is not None else None
print(v)' "$1" "$2"; }

held_is() { [ "$(status "$1" | jfield "$2" spool.records)" = "$3" ]; }

# 1. A permanent sink error (a revoked grant) parks the pipeline with its
#    records in the spool; /status and /ready say so; SIGHUP retries at once;
#    once the sink accepts, every record arrives exactly once.
cat >"$T/park.yaml" <<Y
name: park
source: { plugin: fault, count: 2000 }
sink: { plugin: fault, out_file: "$T/park.out", fail_writes: 3 }
batch: { max_records: 64, linger: 10ms }
buffer: { type: disk, path: "$T/spool-park" }
retry: { initial: 10ms, max: 50ms }
restart: { initial: 60s, max: 60s }
Y
"$S" run "${P[@]}" --http 127.0.0.1:0 "$T/park.yaml" >"$T/park.log" 2>&1 &
pid=$!
wait_for 20 grep -q "parked: sink (plugin \"fault\"): fixture sink: permission denied" "$T/park.log" \
  || fail "no park line"
port=$(port_of "$T/park.log")
wait_for 10 sh -c "curl -s http://127.0.0.1:$port/status | grep -q '\"state\":\"parked\"'" || fail "not parked in /status"
st=$(status "$port")
reason=$(echo "$st" | jfield park reason)
case "$reason" in
  "parked: sink (plugin \"fault\"): fixture sink: permission denied for table t (SQLSTATE 42501); "*" records kept in the spool; next try in "*" s or on SIGHUP") pass ;;
  *) fail "status reason: $reason" ;;
esac
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ready")" 503 "/ready while parked"
# The whole run stops while parked (source included: a broker queues), so
# the spool holds what came before the failure.
held=$(echo "$st" | jfield park spool.records)
[ "$held" -gt 0 ] && pass || fail "no records held in the spool while parked: $held"
expect_eq "$(lines "$T/park.out")" 0 "nothing written yet"
kill -HUP $pid
wait_for 10 grep -q "SIGHUP: retrying now" "$T/park.log" || fail "SIGHUP did not retry"
wait_for 10 sh -c "[ \$(grep -c 'parked: sink' '$T/park.log') -ge 2 ]" || fail "second failure not parked"
kill -HUP $pid
wait_for 10 sh -c "[ \$(grep -c 'parked: sink' '$T/park.log') -ge 3 ]" || fail "third failure not parked"
kill -HUP $pid
wait_for 20 grep -q "finished: 2000 in, 2000 out" "$T/park.log" || fail "did not finish after the sink recovered"
wait $pid && pass || fail "exit status after recovery"
expect_eq "$(lines "$T/park.out")" 2000 "records written once each"
expect_eq "$(uniq_lines "$T/park.out")" 2000 "every record written"
expect_eq "$(seq 0 1999 | cmp - "$T/park.out" >/dev/null && echo same)" same "written in order"
cp "$T/park.log" "$T/out"
expect_out "records kept in the spool; next try in 60000 ms or on SIGHUP"
expect_no_out "lost"

# 1b. SIGTERM while parked keeps the records too, and says so.
cat >"$T/park2.yaml" <<Y
name: park2
source: { plugin: fault, count: 300 }
sink: { plugin: fault, fail_writes: 1000000 }
batch: { max_records: 64, linger: 10ms }
buffer: { type: disk, path: "$T/spool-park2" }
restart: { initial: 60s, max: 60s }
Y
# Each background run's log is emptied by this shell first: the child opens it
# itself, under load after the wait_for below has read it, and that must not
# find the previous case's lines ("parked: sink" came from case 1 once).
: >"$T/out"
"$S" run "${P[@]}" "$T/park2.yaml" >"$T/out" 2>&1 &
pid=$!
wait_for 20 grep -q "parked: sink" "$T/out" || fail "park2 not parked"
kill -TERM $pid
wait $pid && pass || fail "exit status of a stop while parked"
expect_out "stopped while parked: "
expect_out " records left in the spool for the next start"

# 2. SIGTERM while the sink keeps retrying: the deadline cuts the retry, the
#    records stay in the spool (exit 1, said in the log), and the next start
#    delivers them all.
cat >"$T/term.yaml" <<Y
name: term
source: { plugin: fault, count: 500 }
sink: { plugin: fault, always_retry: true }
batch: { max_records: 64, linger: 10ms }
buffer: { type: disk, path: "$T/spool-term" }
retry: { initial: 10ms, max: 50ms }
Y
: >"$T/out"
"$S" run "${P[@]}" --http 127.0.0.1:0 --shutdown-timeout 1s "$T/term.yaml" >"$T/out" 2>&1 &
pid=$!
wait_for 10 grep -q "database away; retry 3" "$T/out" || fail "sink not retrying"
port=$(port_of "$T/out")
wait_for 20 held_is "$port" term 500 || fail "the source did not spool all 500"
kill -TERM $pid
rc=0; wait $pid || rc=$?
expect_eq "$rc" 1 "exit status when the deadline cut a retry"
expect_out "stopped: 500 records left in the spool for the next start (the shutdown deadline cut the sink's retries; the batch it was writing is kept too)"
expect_no_out "lost"
# The next start: a source with nothing new (it never gets past its retries).
cat >"$T/term2.yaml" <<Y
name: term
source: { plugin: fault, count: 500, retry_polls: 1000000 }
sink: { plugin: fault, out_file: "$T/term.out" }
batch: { max_records: 64, linger: 10ms }
buffer: { type: disk, path: "$T/spool-term" }
retry: { initial: 10ms, max: 50ms }
Y
: >"$T/out"
"$S" run "${P[@]}" "$T/term2.yaml" >"$T/out" 2>&1 &
pid=$!
wait_for 20 sh -c "[ \$(wc -l <'$T/term.out' 2>/dev/null || echo 0) -ge 500 ]" || fail "replay incomplete"
kill -TERM $pid
rc=0; wait $pid || rc=$?
expect_eq "$rc" 0 "clean stop after the replay"
expect_out "500 records"
expect_out "left unreleased by the previous run are replayed"
expect_out "stopped: 0 records left in the spool for the next start"
expect_eq "$(seq 0 499 | cmp - "$T/term.out" >/dev/null && echo same)" same "replayed in order, once"

# 3. Without a disk buffer, a failed run drops the batches of a source that
#    cannot replay (the generator has no ack): counted and logged.
cat >"$T/drop.yaml" <<Y
name: drop
source: { plugin: generator, count: 0 }
sink: { plugin: fault, fail_writes: 1 }
batch: { max_records: 64, linger: 10ms }
restart: { initial: 50ms, max: 50ms }
Y
: >"$T/out"
"$S" run "${P[@]}" --http 127.0.0.1:0 "$T/drop.yaml" >"$T/out" 2>&1 &
pid=$!
wait_for 10 grep -q "records of this run's unfinished batches are lost" "$T/out" || fail "no loss line"
port=$(port_of "$T/out")
n=$(sed -n 's/.*\] \([0-9]*\) records of this run.s unfinished batches are lost.*/\1/p' "$T/out" | head -1)
[ "${n:-0}" -gt 0 ] && pass || fail "loss line without a number"
expect_eq "$(metric "$port" sluice_records_lost_total drop pipeline)" "$n" "sluice_records_lost_total"
expect_eq "$(status "$port" | jfield drop records_lost)" "$n" "records_lost in /status"
kill -TERM $pid; wait $pid || true
expect_out "the source (plugin \"generator\") cannot replay them and the pipeline has no disk buffer"

# 4. The counter identity, with records failed by the source (before the
#    spool) and by the sink (partial), no dead-letter sink:
#      in == appended + failed{source}
#      replayed + appended == released + held
#      released == out + failed{transform} + failed{sink} + failed{spool}
#      failed (all stages) == dead_letter + rejected
#    The idle second pipeline keeps the process up to read /metrics.
mkdir -p "$T/ident"
cat >"$T/ident/ident.yaml" <<Y
name: ident
source: { plugin: fault, count: 1000, fail_every: 10 }
sink: { plugin: fault, out_file: "$T/ident.out", fail_every: 7 }
batch: { max_records: 64, linger: 10ms }
buffer: { type: disk, path: "$T/spool-ident" }
errors: { tolerance: all }
Y
cat >"$T/ident/idle.yaml" <<Y
name: idle
source: { plugin: generator, count: 0, rate: 1 }
sink: { plugin: fault }
Y
: >"$T/out"
"$S" run "${P[@]}" --http 127.0.0.1:0 "$T/ident" >"$T/out" 2>&1 &
pid=$!
wait_for 20 grep -q "ident\] finished" "$T/out" || fail "ident did not finish"
port=$(port_of "$T/out")
in=$(metric "$port" sluice_records_in_total ident source)
app=$(metric "$port" sluice_spool_appended_total ident spool)
rel=$(metric "$port" sluice_spool_released_total ident spool)
rep=$(metric "$port" sluice_spool_replayed_total ident spool)
held=$(metric "$port" sluice_spool_records ident spool)
out=$(metric "$port" sluice_records_out_total ident sink)
fsrc=$(metric "$port" sluice_records_failed_total ident source)
ftr=$(metric "$port" sluice_records_failed_total ident transform)
fsk=$(metric "$port" sluice_records_failed_total ident sink)
fsp=$(metric "$port" sluice_records_failed_total ident spool)
dl=$(metric "$port" sluice_dead_letter_total ident dead_letter)
rej=$(metric "$port" sluice_records_rejected_total ident pipeline)
kill -TERM $pid; wait $pid || true
expect_eq "$in" 1000 "records in"
expect_eq "$fsrc" 100 "failed by the source"
expect_eq "$((app + fsrc))" "$in" "in == appended + failed{source}"
expect_eq "$((rep + app))" "$((rel + held))" "replayed + appended == released + held"
expect_eq "$held" 0 "nothing held after the finish"
expect_eq "$((out + ftr + fsk + fsp))" "$rel" "released == out + failed{transform,sink,spool}"
expect_eq "$((fsrc + ftr + fsk + fsp))" "$((dl + rej))" "failed == dead-lettered + rejected"
expect_eq "$(lines "$T/ident.out")" "$out" "rows written == out"

# 5. A full spool pauses the source with one line and resumes with one.
#    The sink is away until the test has seen the spool fill (a gate file,
#    not a count of retries: a source slowed by load, a sanitizer or a slow
#    fdatasync could spool less than max_size in any fixed time, and the
#    sink would drain it before it ever filled).
cat >"$T/full.yaml" <<Y
name: full
source: { plugin: generator, count: 3000, rate: 2000 }
sink: { plugin: fault, out_file: "$T/full.out", retry_until_file: "$T/full.gate" }
batch: { max_records: 64, linger: 10ms }
buffer: { type: disk, path: "$T/spool-full", max_size: 8KiB, segment_size: 4KiB }
retry: { initial: 100ms, max: 100ms }
Y
: >"$T/out"
"$S" run "${P[@]}" "$T/full.yaml" >"$T/out" 2>&1 &
pid=$!
# (expect_out below says it when the spool never filled; the run ends then too)
wait_for 60 sh -c "grep -qF 'spool $T/spool-full is full (' '$T/out' || ! kill -0 $pid" || true
: >"$T/full.gate"
rc=0; wait $pid || rc=$?
expect_eq "$rc" 0 "exit status once the sink is back"
expect_out "spool $T/spool-full is full ("
expect_out "the source waits until the sink releases records"
expect_out "spool $T/spool-full has room again"
# One line per pause and one per resume, not one per batch; the spool may
# fill again once the sink is back (at most one logged pair per 30 s).
pauses=$(grep -c 'is full (' "$T/out" || true)
[ "$pauses" -ge 1 ] && [ "$pauses" -le 3 ] && pass || fail "pause lines: $pauses"
# "room again" comes once half is free, at an append or a release; the
# final release empties the spool, so every logged pause has its resume.
resumes=$(grep -c 'has room again' "$T/out" || true)
[ "$resumes" -eq "$pauses" ] && pass || fail "resume lines: $resumes for $pauses pauses"
expect_out "finished: 3000 in, 3000 out"
expect_eq "$(lines "$T/full.out")" 3000 "all written"

# 6. A source that spools from its own thread (api->spool_append).
cat >"$T/thr.yaml" <<Y
name: thr
source: { plugin: fault, count: 5000, spool_thread: true }
sink: { plugin: fault, out_file: "$T/thr.out" }
batch: { max_records: 256, linger: 10ms }
buffer: { type: disk, path: "$T/spool-thr" }
Y
expect_exit 0 -- "$S" run "${P[@]}" "$T/thr.yaml"
expect_out "finished: 5000 in, 5000 out"
expect_eq "$(seq 0 4999 | cmp - "$T/thr.out" >/dev/null && echo same)" same "thread-spooled records in order"
# ... and refuses a pipeline without a disk buffer, clearly.
sed -e '/^buffer:/d' "$T/thr.yaml" >"$T/thr2.yaml"
expect_exit 1 -- "$S" run "${P[@]}" "$T/thr2.yaml"
expect_out "spool_thread needs a pipeline with buffer.type: disk"

# 7. A second process is refused a spool another one holds.
cat >"$T/lock.yaml" <<Y
name: lock
source: { plugin: fault, count: 0, retry_polls: 1000000 }
sink: { plugin: fault }
buffer: { type: disk, path: "$T/spool-lock" }
Y
"$S" run "${P[@]}" "$T/lock.yaml" >"$T/lock.log" 2>&1 &
pid=$!
wait_for 10 grep -q "running:" "$T/lock.log" || fail "first process did not start"
expect_exit 1 -- "$S" run "${P[@]}" "$T/lock.yaml"
expect_out "disk buffer (buffer.path of $T/lock.yaml): "
expect_out "$T/spool-lock"
kill -TERM $pid; wait $pid && pass || fail "first process exit status"

finish
