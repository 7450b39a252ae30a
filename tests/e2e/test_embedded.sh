#!/usr/bin/env bash
# The main job end to end: f2sim -> MQTT -> sluice (mqtt -> f2_decode ->
# timescale) -> iot_measurements, against a reference decoded without MQTT.
# Every expected row must arrive exactly once, across a SIGTERM of sluice
# mid-stream (persistent MQTT session), a PostgreSQL restart mid-stream, and
# a kill -9 mid-stream (the pipeline's disk buffer: tests/e2e/test_spool_*.sh
# test it further).
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
. "$SLUICE_SOURCE_DIR/tests/e2e/e2e_lib.sh"
S=$SLUICE_BIN
EMB="$SLUICE_SOURCE_DIR/pipelines/embedded"
N=${E2E_READINGS:-12000}
RATE=${E2E_RATE:-3000}
START="2026-01-01 00:00:00"
export SLUICE_DEAD_LETTER_FILE=$T/dead.jsonl

# The reference: the same readings (same seed, rate and start, so the same
# timestamps) decoded straight into `expected`, without MQTT.
q "CREATE TABLE expected (LIKE iot_measurements INCLUDING ALL)"
cat >"$T/ref.yaml" <<Y
source: { plugin: f2sim, count: $N, rate: $RATE, start_time: "$START" }
transforms: [ { plugin: f2_decode, params_dsn: "\${DEVICE_PARAMS_DSN}" } ]
sink: { plugin: timescale, dsn: "\${TIMESERIES_DSN}", table: expected }
Y
expect_exit 0 -- "$S" run "$T/ref.yaml"
want=$(q "SELECT count(*) FROM expected")
[ "$want" -gt "$N" ] && pass || fail "reference has only $want rows"

# The simulator publishes the same readings over MQTT (a copy of the shipped
# file with a bounded count and a fixed start).
sim() {
  sed -e "s/^  rate: .*/  rate: $RATE\n  count: $N\n  start_time: \"$START\"/" \
    "$EMB/10-simulator.yaml" >"$T/sim.yaml"
  "$S" run "$T/sim.yaml" >"$T/sim.log" 2>&1
}
ingest_start() { "$S" run --http 127.0.0.1:0 "$EMB/20-ingest.yaml" >>"$T/ingest.log" 2>&1 & ingest=$!; }
# Waits until the table stops growing, then compares with the reference.
settle() {
  local prev=-1 cur
  for _ in $(seq 1 60); do
    cur=$(q "SELECT count(*) FROM iot_measurements")
    [ "$cur" = "$prev" ] && [ "$cur" -gt 0 ] && break
    prev=$cur; sleep 1
  done
}
missing() { q "SELECT count(*) FROM (SELECT * FROM expected EXCEPT SELECT * FROM iot_measurements) m"; }
extra() { q "SELECT count(*) FROM (SELECT * FROM iot_measurements EXCEPT SELECT * FROM expected) m"; }

# 1. SIGTERM mid-stream, then start again: nothing lost, nothing doubled.
ingest_start
wait_for 10 grep -q "f2-ingest\] running" "$T/ingest.log" || fail "ingest did not start"
sim & simpid=$!
sleep 1.5
kill -TERM $ingest; rc=0; wait $ingest || rc=$?
expect_eq "$rc" 0 "ingest exit status after SIGTERM"
during=$(q "SELECT count(*) FROM iot_measurements")
[ "$during" -gt 0 ] && [ "$during" -lt "$want" ] && pass || fail "SIGTERM was not mid-stream ($during of $want rows)"
sleep 1                     # readings published meanwhile wait in the broker
ingest_start
wait $simpid || fail "simulator failed: $(tail -3 "$T/sim.log")"
settle
expect_eq "$(missing)" 0 "rows missing after SIGTERM + restart"
expect_eq "$(extra)" 0 "unexpected rows after SIGTERM + restart"
expect_eq "$(q 'SELECT count(*) FROM iot_measurements')" "$want" "row count"
expect_eq "$(cat "$T/dead.jsonl" 2>/dev/null | wc -l | tr -d ' ')" 0 "dead letters"

# 2. PostgreSQL restarts mid-stream: the sink retries, nothing is lost.
q "TRUNCATE iot_measurements"
sim & simpid=$!
sleep 1.5
"$INFRA/postgres.sh" restart "$T/postgres" "$E2E_PG_PORT" >/dev/null
wait $simpid || fail "simulator failed"
settle
expect_eq "$(missing)" 0 "rows missing after a PostgreSQL restart"
expect_eq "$(extra)" 0 "unexpected rows after a PostgreSQL restart"
grep -q "retry" "$T/ingest.log" && pass || fail "no retry logged across the restart"
kill -TERM $ingest; wait $ingest || fail "ingest exit status"

# 3. kill -9 mid-stream.  libmosquitto acknowledges QoS 1 messages before
#    the pipeline has them; the mqtt source appends each one to the
#    pipeline's spool (the disk buffer) from libmosquitto's thread, so the
#    next start replays what was inside the process: nothing is lost.
q "TRUNCATE iot_measurements"
ingest_start
wait_for 10 grep -q "f2-ingest\] running" <(tail -n 5 "$T/ingest.log") || true
sleep 1
sim & simpid=$!
sleep 1.5
kill -KILL $ingest; wait $ingest 2>/dev/null || true
during=$(q "SELECT count(*) FROM iot_measurements")
[ "$during" -lt "$want" ] && pass || fail "kill -9 came after everything arrived"
sleep 1
ingest_start
wait $simpid || fail "simulator failed"
settle
lost=$(missing)
readings_lost=$(q "SELECT count(DISTINCT (timestamp, device_id, connector_mode, component_type, pin_position)) FROM (SELECT * FROM expected EXCEPT SELECT * FROM iot_measurements) m")
echo "kill -9 mid-stream at $RATE readings/s: lost $readings_lost of $N readings ($lost of $want measurement rows)"
expect_eq "$readings_lost" 0 "readings lost across kill -9"
expect_eq "$(extra)" 0 "unexpected rows after kill -9"
expect_eq "$(q 'SELECT count(*) FROM iot_measurements')" "$want" "row count after kill -9"
kill -TERM $ingest; wait $ingest || fail "ingest exit status after the last SIGTERM"
finish
