#!/usr/bin/env bash
# The seed's topology, each pipeline of pipelines/seed/ in its own `sluice
# run` process: f2sim -> MQTT -> bridge -> Kafka raw -> two decode processes
# in one consumer group -> Kafka decoded (Avro) -> sink -> iot_measurements.
# The table must end up exactly equal to a reference decoded without MQTT
# and Kafka, although one decoder and the sink are killed with SIGKILL
# mid-stream and started again: offsets are committed only after the next
# hop has the data, so nothing is lost, and replays are absorbed by the
# sink's primary key, so nothing is doubled.  A reading that cannot be
# decoded lands on the Kafka dead-letter topic with its reason.
#
# Private Mosquitto and PostgreSQL (e2e_lib.sh); the suite's Kafka broker
# with topics and groups unique to this run (the shipped files are copied
# with the names replaced, and validated).
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
. "$SLUICE_SOURCE_DIR/tests/infra/env.sh"
(exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null \
  || { echo "FAIL: no Kafka broker on 127.0.0.1:$KAFKA_PORT (SLUICE_TEST_KAFKA_PORT)" >&2; exit 1; }
. "$SLUICE_SOURCE_DIR/tests/e2e/e2e_lib.sh"
S=$SLUICE_BIN
N=${E2E_READINGS:-6000}
RATE=${E2E_RATE:-1000}
START="2026-01-01 00:00:00"
ID=$$$RANDOM
RAW=e2e-raw-$ID DEC=e2e-dec-$ID DLQ=e2e-dlq-$ID
export KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT
for t in $RAW $DEC; do infra_kafka_topic "$t" 3 >/dev/null; done
infra_kafka_topic "$DLQ" 1 >/dev/null

procs=()
stop_all() { local p; for p in "${procs[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; }
trap '_trc=$?; stop_all; e2e_stop_servers; _cleanup $_trc' EXIT

mkdir -p "$T/seed"
for f in "$SLUICE_SOURCE_DIR"/pipelines/seed/*.yaml; do
  sed -e "s/raw_iot_data/$RAW/g; s/decoded_iot_data/$DEC/g; s/sluice_dlq/$DLQ/g" \
      -e "s/f2-decoders/dec-$ID/; s/timescale-writers/ts-$ID/; s/sluice-f2-bridge/bridge-$ID/" \
      "$f" >"$T/seed/$(basename "$f")"
done
expect_exit 0 -- "$S" validate "$SLUICE_SOURCE_DIR/pipelines/seed/"
expect_exit 0 -- "$S" validate "$T/seed/"

# The reference: the same readings decoded straight into `expected`.
q "CREATE TABLE expected (LIKE iot_measurements INCLUDING ALL)"
cat >"$T/ref.yaml" <<Y
source: { plugin: f2sim, count: $N, rate: 0, start_time: "$START" }
transforms: [ { plugin: f2_decode, params_dsn: "\${DEVICE_PARAMS_DSN}" } ]
sink: { plugin: timescale, dsn: "\${TIMESERIES_DSN}", table: expected }
Y
expect_exit 0 -- "$S" run "$T/ref.yaml"
want=$(q "SELECT count(*) FROM expected")
[ "$want" -gt "$N" ] && pass || fail "reference has only $want rows"

run() { # NAME FILE: starts a pipeline process, its pid in $pid_NAME
  "$S" run "$T/seed/$2" >>"$T/$1.log" 2>&1 &
  procs+=($!)
  printf -v "pid_$1" %s $!
}
rows() { q "SELECT count(*) FROM iot_measurements"; }
rows_above() { [ "$(rows)" -gt "$1" ]; }

run bridge 10-bridge.yaml
run decA 20-decode.yaml
run decB 20-decode.yaml
run sink 30-sink.yaml
wait_for 30 grep -q "assigned" "$T/sink.log" || fail "the sink got no partitions: $(tail -3 "$T/sink.log")"
wait_for 30 grep -q "assigned" "$T/decB.log" || fail "decoder B got no partitions"
wait_for 10 grep -q "f2-bridge\] running" "$T/bridge.log" || fail "bridge did not start"
sleep 1

# The simulator: the shipped file, bounded and with fixed timestamps.
sed -e "s/^  rate: .*/  rate: $RATE\n  count: $N\n  start_time: \"$START\"/" \
  "$T/seed/00-simulator.yaml" >"$T/sim.yaml"
"$S" run "$T/sim.yaml" >"$T/sim.log" 2>&1 &
sim=$!
procs+=($sim)

# SIGKILL decoder A once rows flow, start it again; then the sink.
wait_for 30 rows_above 0 || fail "no rows arrive"
kill -KILL "$pid_decA"; wait "$pid_decA" 2>/dev/null || true
at_kill_dec=$(rows)
sleep 1
run decA 20-decode.yaml
wait_for 30 rows_above "$((at_kill_dec + 100))" || fail "rows stop after the decoder kill"
kill -KILL "$pid_sink"; wait "$pid_sink" 2>/dev/null || true
at_kill_sink=$(rows)
sleep 1
run sink 30-sink.yaml
wait "$sim" || fail "simulator failed: $(tail -3 "$T/sim.log")"
[ "$at_kill_sink" -lt "$want" ] && pass || fail "the sink was killed after everything arrived"

prev=-1
for _ in $(seq 1 120); do
  cur=$(rows)
  [ "$cur" = "$want" ] && break
  [ "$cur" = "$prev" ] && [ "$cur" -gt "$want" ] && break
  prev=$cur; sleep 1
done
sleep 2
missing=$(q "SELECT count(*) FROM (SELECT * FROM expected EXCEPT SELECT * FROM iot_measurements) m")
extra=$(q "SELECT count(*) FROM (SELECT * FROM iot_measurements EXCEPT SELECT * FROM expected) m")
expect_eq "$missing" 0 "rows missing after SIGKILL of a decoder and of the sink"
expect_eq "$extra" 0 "rows that should not be there"
expect_eq "$(rows)" "$want" "row count (each exactly once)"
echo "rows: $want; decoder killed at $at_kill_dec rows, sink killed at $at_kill_sink rows"

# Scale-out: each decoder owned a strict part of the 3 partitions at some
# point (they split the group's partitions).
for d in decA decB; do
  if grep -E "\[f2-decode/source:kafka\] assigned" "$T/$d.log" \
     | awk '{ n = NF - 4 } n >= 1 && n < 3 { ok = 1 } END { exit !ok }'; then pass
  else fail "$d never owned part of the partitions: $(grep assigned "$T/$d.log" | tail -2)"; fi
done

# A reading that is not JSON: dead-lettered through Kafka, with the reason.
mosquitto_pub -h 127.0.0.1 -p "$E2E_MQTT_PORT" -q 1 \
  -t "cmnd/f2-02f201000001/sensor-mode/1/sensor-1" -m "not json {"
cat >"$T/dlq.yaml" <<Y
source: { plugin: kafka, bootstrap: "$KAFKA_BOOTSTRAP", topics: [$DLQ], group: dlqr-$ID, value_converter: bytes }
sink: { plugin: file, path: "$T/dlq.jsonl", format: envelope }
Y
"$S" run "$T/dlq.yaml" >"$T/dlq.log" 2>&1 &
dlq=$!
procs+=($dlq)
if wait_for 60 test -s "$T/dlq.jsonl"; then
  pass
  grep -q "sluice.error.reason" "$T/dlq.jsonl" && pass || fail "no reason header: $(head -c 600 "$T/dlq.jsonl")"
  grep -q "payload is not JSON" "$T/dlq.jsonl" && pass || fail "unexpected reason: $(head -c 600 "$T/dlq.jsonl")"
  grep -q "not json {" "$T/dlq.jsonl" && pass || fail "the original message is not in the dead letter"
else
  fail "nothing on the dead-letter topic"
fi
expect_eq "$(rows)" "$want" "row count after the bad reading"

# Everyone stops cleanly on SIGTERM.
for p in "$dlq" "$pid_bridge" "$pid_decA" "$pid_decB" "$pid_sink"; do
  kill -TERM "$p" 2>/dev/null || true
done
for p in "$dlq" "$pid_bridge" "$pid_decA" "$pid_decB" "$pid_sink"; do
  rc=0; wait "$p" || rc=$?
  expect_eq "$rc" 0 "exit status of pid $p after SIGTERM"
done
procs=()
[ -n "${E2E_KEEP_LOGS:-}" ] && cp "$T"/*.log "$E2E_KEEP_LOGS"/
finish
