#!/usr/bin/env bash
# Stopping and reloading: SIGTERM drains and exits 0 with every polled
# record written; a slow sink bounds what the source may run ahead; SIGHUP
# restarts only the pipelines whose file changed.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
S=$SLUICE_BIN
P=(-P "$FAULT_DIR")

# 1. SIGTERM mid-stream with a slow sink: exit 0, polled == acked == written,
#    and the source never ran more than the queue's worth ahead (backpressure).
cat >"$T/drain.yaml" <<Y
source: { plugin: fault, count: 0, stats_file: "$T/stats" }
sink: { plugin: fault, out_file: "$T/drain.out", slow: 20ms }
batch: { max_records: 50, linger: 5ms }
buffer: { max_batches: 2 }
Y
: >"$T/out"   # here, not only in the job: it truncates when it runs, maybe after a wait_for read
"$S" run "${P[@]}" "$T/drain.yaml" >"$T/out" 2>&1 &
pid=$!
wait_for 20 test -s "$T/drain.out" || fail "nothing written"
sleep 1
kill -TERM $pid
rc=0; wait $pid || rc=$?
expect_eq "$rc" 0 "exit status after SIGTERM"
read -r polled acked max_unacked <"$T/stats"
written=$(wc -l <"$T/drain.out" | tr -d ' ')
expect_eq "$acked" "$polled" "acked == polled after drain"
expect_eq "$written" "$polled" "written == polled after drain"
# (max_batches + 2 slots) × 50 records is all the memory the pipeline may hold.
[ "$max_unacked" -le 200 ] && pass || fail "source ran $max_unacked records ahead (limit 200)"
expect_out "SIGTERM: stopping"
expect_out "exiting with status 0"

# 1b. A sink that never recovers: SIGTERM waits for it (a batch must be
#     written before the pipeline stops) until --shutdown-timeout, then gives
#     up with exit 1 and says so.
cat >"$T/stuck.yaml" <<Y
source: { plugin: fault, count: 100 }
sink: { plugin: fault, always_retry: true }
retry: { initial: 10ms, max: 50ms }
Y
: >"$T/out"
"$S" run "${P[@]}" --shutdown-timeout 1s "$T/stuck.yaml" >"$T/out" 2>&1 &
pid=$!
wait_for 10 grep -q "database away" "$T/out" || fail "sink never tried"
start=$SECONDS
kill -TERM $pid
rc=0; wait $pid || rc=$?
expect_eq "$rc" 1 "exit status when the shutdown deadline passes"
[ $((SECONDS - start)) -le 5 ] && pass || fail "stop took $((SECONDS - start)) s with a 1 s deadline"
expect_out "shutdown deadline passed: abandoning retries"

# 2. SIGHUP reloads only the changed file.
mkdir -p "$T/hup"
for n in one two; do
cat >"$T/hup/$n.yaml" <<Y
source: { plugin: fault, count: 0 }
sink: { plugin: fault, slow: 5ms }
Y
done
: >"$T/out"
"$S" run "${P[@]}" "$T/hup" >"$T/out" 2>&1 &
pid=$!
wait_for 10 grep -q "\[two\] running" "$T/out" || fail "pipelines did not start"
printf 'source: { plugin: fault, count: 0 }\nsink: { plugin: fault, slow: 6ms }\n' >"$T/hup/two.yaml"
kill -HUP $pid
wait_for 10 grep -q "\[two\] changed: restarting" "$T/out" || fail "changed pipeline not restarted"
sleep 0.5
# A broken file on reload keeps the running pipeline.
printf 'source: { plugin: fault, count: nope }\nsink: { plugin: fault }\n' >"$T/hup/one.yaml"
kill -HUP $pid
wait_for 10 grep -q "one.yaml: not reloaded; the running pipeline keeps its old configuration" "$T/out" \
  || fail "bad reload not reported"
kill -TERM $pid
rc=0; wait $pid || rc=$?
expect_eq "$rc" 0 "exit status"
expect_no_out "[one] changed"
expect_eq "$(grep -c '\[two\] running' "$T/out")" 2 "two started twice"
expect_eq "$(grep -c '\[one\] running' "$T/out")" 1 "one started once"
finish
