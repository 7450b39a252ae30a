#!/usr/bin/env bash
# Plugins that never return: SIGTERM still ends sluice within
# --shutdown-timeout plus the 1 s grace (checked against + 2 s), start-up
# waits are bounded, and the watchdog makes /health answer 503 while a
# callback is stuck.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
S=$SLUICE_BIN
P=(-P "$FAULT_DIR")
now_ms() { date +%s%3N; }

# term_within PID MAX_MS WANT_STATUS WHAT: SIGTERM, then the exit must come
# within MAX_MS with the status wanted.
term_within() {
  local pid=$1 max=$2 want=$3 what=$4 t0 rc=0
  t0=$(now_ms)
  kill -TERM "$pid"
  wait "$pid" || rc=$?
  local took=$(($(now_ms) - t0))
  expect_eq "$rc" "$want" "$what: exit status"
  [ "$took" -le "$max" ] && pass || fail "$what: exit took $took ms after SIGTERM (limit $max ms)"
}

# 1. An init that never returns, during start-up: SIGTERM is honoured and the
#    deadline (1 s) plus grace ends the process, naming the culprit.
cat >"$T/hang-init.yaml" <<Y
source: { plugin: fault, count: 100 }
sink: { plugin: fault, hang: init }
Y
: >"$T/out"   # here, not only in the job: it truncates when it runs, maybe after a wait_for read
"$S" run "${P[@]}" --shutdown-timeout 1s "$T/hang-init.yaml" >"$T/out" 2>&1 &
pid=$!
wait_for 20 grep -q "hanging in sink.init" "$T/out" || fail "init never started"
term_within $pid 3000 1 "hanging init"
expect_out "SIGTERM during start-up"
expect_out '[hang-init/sink] shutdown deadline passed: sink.init of plugin "fault" has not returned'

# 2. A poll that never returns, while running.
cat >"$T/hang-poll.yaml" <<Y
source: { plugin: fault, count: 100, hang: poll }
sink: { plugin: fault }
Y
: >"$T/out"
"$S" run "${P[@]}" --shutdown-timeout 1s "$T/hang-poll.yaml" >"$T/out" 2>&1 &
pid=$!
wait_for 20 grep -q "hanging in source.poll" "$T/out" || fail "poll never started"
term_within $pid 3000 1 "hanging poll"
expect_out 'shutdown deadline passed: source.poll of plugin "fault" has not returned'

# 3. A pipeline fails to start while another one's sink is retrying: sluice
#    stops, and SIGTERM abandons the retries at once instead of never.
mkdir -p "$T/startfail"
cat >"$T/startfail/a.yaml" <<Y
source: { plugin: fault, count: 100 }
sink: { plugin: fault, always_retry: true }
retry: { initial: 10ms, max: 50ms }
Y
# Its init waits a second so that a's sink is retrying by then, then fails.
cat >"$T/startfail/b.yaml" <<Y
source: { plugin: generator, count: 10 }
sink: { plugin: fault, hang: init, hang_for: 1s, out_file: "$T/no/such/dir/out" }
Y
: >"$T/out"
"$S" run "${P[@]}" --shutdown-timeout 60s "$T/startfail" >"$T/out" 2>&1 &
pid=$!
wait_for 20 grep -q "start failed: stopping the pipelines that started" "$T/out" || fail "start failure not reported"
expect_out "[a/sink] fixture sink: database away"
term_within $pid 3000 1 "start failure with a retrying sink"
expect_out "cannot open out_file"

# 4. A write stuck beyond watchdog.timeout: /health is 503 naming pipeline,
#    stage, plugin and callback, the metrics count it, and when the write
#    returns the pipeline is healthy again (the counter stays).
cat >"$T/stuck.yaml" <<Y
source: { plugin: fault, count: 0 }
sink: { plugin: fault, hang: write, hang_for: 4s }
watchdog: { timeout: 1s }
Y
"$S" run "${P[@]}" --http 127.0.0.1:0 "$T/stuck.yaml" >"$T/log" 2>&1 &
pid=$!
url=""
for _ in $(seq 1 100); do
  url=$(sed -n 's|.*serving /metrics.* on \(http://[0-9.]*:[0-9]*\).*|\1|p' "$T/log" | head -1)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || fail "no HTTP endpoint"
health() { curl -s -o "$T/health" -w '%{http_code}' "$url/health"; }
health_is() { test "$(health)" = "$1"; }
metric() { curl -s "$url/metrics" | sed -n "s/^$1{pipeline=\"stuck\",stage=\"pipeline\"} //p"; }
expect_eq "$(health)" 200 "/health before the write hangs"
wait_for 10 health_is 503 || fail "/health never answered 503 while the write hung"
cp "$T/health" "$T/out"
expect_out '"health":"stuck"'
expect_out '"pipeline":"stuck","stage":"sink","plugin":"fault","callback":"write"'
expect_out 'sink.write of plugin \"fault\" has not returned for'
expect_eq "$(metric sluice_pipeline_stuck)" 1 "stuck gauge while stuck"
expect_eq "$(metric sluice_pipeline_stuck_total)" 1 "stuck counter while stuck"
wait_for 15 health_is 200 || fail "/health stayed 503 after the write returned"
expect_eq "$(metric sluice_pipeline_stuck)" 0 "stuck gauge after"
expect_eq "$(metric sluice_pipeline_stuck_total)" 1 "stuck counter after"
term_within $pid 10000 0 "stop after recovery"
cp "$T/log" "$T/out"
expect_out '[stuck/sink] watchdog: sink.write of plugin "fault" has not returned for 1 s (watchdog.timeout 1s); the pipeline is stuck'
expect_out 'returned after 4 s; the pipeline is no longer stuck'

# 5. One pipeline's init never returns: the others start anyway after the
#    start-up wait (10 s), the stuck init shows on /health, and SIGTERM ends it.
mkdir -p "$T/two"
cat >"$T/two/a.yaml" <<Y
source: { plugin: fault, count: 0 }
sink: { plugin: fault, hang: init }
watchdog: { timeout: 1s }
Y
cat >"$T/two/b.yaml" <<Y
source: { plugin: generator, count: 0 }
sink: { plugin: fault, slow: 5ms }
Y
"$S" run "${P[@]}" --http 127.0.0.1:0 --shutdown-timeout 1s "$T/two" >"$T/log" 2>&1 &
pid=$!
wait_for 30 grep -q "\[b\] running" "$T/log" || fail "b never started beside a hanging init"
url=$(sed -n 's|.*serving /metrics.* on \(http://[0-9.]*:[0-9]*\).*|\1|p' "$T/log" | head -1)
expect_eq "$(health)" 503 "/health with a hanging init"
cp "$T/health" "$T/out"
expect_out '"pipeline":"a","stage":"sink","plugin":"fault","callback":"init"'
term_within $pid 3000 1 "hanging init beside a running pipeline"
cp "$T/log" "$T/out"
expect_out "a plugin's init has not returned after 10 s; starting the other pipelines meanwhile"

# 6. SIGHUP replaces a pipeline whose sink retries without end: the reload
#    waits for it to stop, but SIGTERM meanwhile is honoured: at the
#    deadline (2 s) the retries are abandoned and sluice exits 1.
cat >"$T/reload.yaml" <<Y
source: { plugin: fault, count: 100 }
sink: { plugin: fault, always_retry: true }
retry: { initial: 10ms, max: 50ms }
Y
: >"$T/out"
"$S" run "${P[@]}" --shutdown-timeout 2s "$T/reload.yaml" >"$T/out" 2>&1 &
pid=$!
( sleep 30; kill -KILL $pid ) >/dev/null 2>&1 &  # never hang the suite
killer=$!
wait_for 20 grep -q "database away" "$T/out" || fail "sink never tried"
sed -i 's/max: 50ms/max: 60ms/' "$T/reload.yaml"
kill -HUP $pid
wait_for 10 grep -q "changed: restarting" "$T/out" || fail "reload did not begin"
term_within $pid 5000 1 "SIGTERM during a reload that waits for a retrying sink"
kill $killer 2>/dev/null || true
expect_out "SIGTERM while reloading: waiting for the pipeline being replaced until the shutdown deadline"
expect_out "shutdown deadline passed: abandoning retries"
finish
