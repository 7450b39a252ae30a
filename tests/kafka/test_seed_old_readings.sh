#!/usr/bin/env bash
# Readings dated 2020 through the seed's topology (pipelines/seed/, each in
# its own `sluice run`): they all arrive in iot_measurements, exactly the
# rows a direct decode gives, with their 2020 times; and on both Kafka hops
# the messages are stamped with the time they were produced (a bare Kafka
# consumer sees CreateTime near now) and carry the reading's time in the
# sluice.timestamp header, so the topics' default 7-day retention keeps
# them.  With messages stamped 2020 the broker would roll and delete their
# segments within minutes (issue 11); this test fails if the shipped
# pipelines stamp messages with the record time again.
#
# Private Mosquitto and PostgreSQL (e2e_lib.sh); the suite's Kafka broker
# with topics and groups unique to this run.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
. "$SLUICE_SOURCE_DIR/tests/infra/env.sh"
(exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null \
  || { echo "FAIL: no Kafka broker on 127.0.0.1:$KAFKA_PORT (SLUICE_TEST_KAFKA_PORT)" >&2; exit 1; }
. "$SLUICE_SOURCE_DIR/tests/e2e/e2e_lib.sh"
S=$SLUICE_BIN
N=2000
START="2020-01-01 00:00:00"
ID=$$$RANDOM
RAW=old-raw-$ID DEC=old-dec-$ID DLQ=old-dlq-$ID
export KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT
for t in $RAW $DEC; do infra_kafka_topic "$t" 3 >/dev/null; done

procs=()
stop_all() { local p; for p in "${procs[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; }
trap '_trc=$?; stop_all; e2e_stop_servers; _cleanup $_trc' EXIT

mkdir -p "$T/seed"
for f in "$SLUICE_SOURCE_DIR"/pipelines/seed/*.yaml; do
  sed -e "s/raw_iot_data/$RAW/g; s/decoded_iot_data/$DEC/g; s/sluice_dlq/$DLQ/g" \
      -e "s/f2-decoders/odec-$ID/; s/timescale-writers/ots-$ID/; s/sluice-f2-bridge/obridge-$ID/" \
      "$f" >"$T/seed/$(basename "$f")"
done
expect_exit 0 -- "$S" validate "$T/seed/"

q "CREATE TABLE expected (LIKE iot_measurements INCLUDING ALL)"
cat >"$T/ref.yaml" <<Y
source: { plugin: f2sim, count: $N, rate: 0, start_time: "$START" }
transforms: [ { plugin: f2_decode, params_dsn: "\${DEVICE_PARAMS_DSN}" } ]
sink: { plugin: timescale, dsn: "\${TIMESERIES_DSN}", table: expected }
Y
expect_exit 0 -- "$S" run "$T/ref.yaml"
want=$(q "SELECT count(*) FROM expected")
[ "$want" -gt "$N" ] && pass || fail "reference has only $want rows"

run() { "$S" run "$T/seed/$2" >>"$T/$1.log" 2>&1 & procs+=($!); }
run bridge 10-bridge.yaml
run dec 20-decode.yaml
run sink 30-sink.yaml
wait_for 30 grep -q "assigned" "$T/sink.log" || fail "the sink got no partitions: $(tail -3 "$T/sink.log")"
wait_for 30 grep -q "assigned" "$T/dec.log" || fail "the decoder got no partitions"
wait_for 10 grep -q "f2-bridge\] running" "$T/bridge.log" || fail "bridge did not start"
sleep 1
t_before=$(date +%s)
sed -e "s/^  rate: .*/  rate: 0\n  count: $N\n  start_time: \"$START\"/" \
  "$T/seed/00-simulator.yaml" >"$T/sim.yaml"
expect_exit 0 -- "$S" run "$T/sim.yaml"

rows() { q "SELECT count(*) FROM iot_measurements"; }
rows_all() { [ "$(rows)" -ge "$want" ]; }
wait_for 120 rows_all || fail "only $(rows) of $want rows arrived"
sleep 2
missing=$(q "SELECT count(*) FROM (SELECT * FROM expected EXCEPT SELECT * FROM iot_measurements) m")
extra=$(q "SELECT count(*) FROM (SELECT * FROM iot_measurements EXCEPT SELECT * FROM expected) m")
expect_eq "$missing" 0 "rows of 2020 readings missing"
expect_eq "$extra" 0 "rows that should not be there"
expect_eq "$(q "SELECT extract(year FROM min(timestamp))::int || '-' || extract(year FROM max(timestamp))::int FROM iot_measurements")" \
  "2020-2020" "the readings keep their 2020 times"
t_after=$(date +%s)

# Both hops, as a bare Kafka consumer sees them: CreateTime (ms) between
# the simulator's start and now; sluice.timestamp (µs): on the raw topic the
# time the bridge received the MQTT message (the reading's own time is in
# the payload), on the decoded topic the reading's time, in 2020.
check_topic() { # TOPIC LOW_US HIGH_US
  local n bad
  "$SLUICE_SOURCE_DIR/tests/infra/kafka.sh" java "$SLUICE_TEST_VAR/kafka" "$KAFKA_PORT" \
    org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$KAFKA_BOOTSTRAP" \
    --topic "$1" --from-beginning --max-messages 20 --timeout-ms 30000 \
    --formatter-property print.timestamp=true --formatter-property print.headers=true \
    --formatter-property print.value=false >"$T/$1.msgs" 2>"$T/$1.err" || true
  n=$(grep -c '^CreateTime:' "$T/$1.msgs")
  [ "$n" -ge 10 ] && pass || fail "topic $1: read $n messages: $(tail -3 "$T/$1.err")"
  bad=$(awk -F'\t' -v lo="$((t_before - 5))000" -v hi="$((t_after + 5))000" -v a="$2" -v b="$3" '
    /^CreateTime:/ {
      ts = substr($1, 12); h = ""
      n = split($2, hs, ",")
      for (i = 1; i <= n; i++) if (hs[i] ~ /^sluice\.timestamp:/) h = substr(hs[i], 18)
      if (ts + 0 < lo + 0 || ts + 0 > hi + 0 || h == "" || h + 0 < a + 0 || h + 0 >= b + 0) {
        print; bad++
      }
    }
    END { print bad + 0 > "/dev/stderr" }' "$T/$1.msgs" 2>&1 >"$T/$1.bad")
  expect_eq "$bad" 0 "messages of $1 not stamped now, or without the record's time: $(head -2 "$T/$1.bad")"
}
check_topic "$RAW" "$((t_before - 5))000000" "$((t_after + 5))000000"
check_topic "$DEC" 1577836800000000 1609459200000000

for p in "${procs[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${procs[@]}"; do
  rc=0; wait "$p" || rc=$?
  expect_eq "$rc" 0 "exit status of pid $p after SIGTERM"
done
procs=()
finish
