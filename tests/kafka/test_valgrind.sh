#!/usr/bin/env bash
# The kafka plugin under Valgrind's memcheck, through the binary: a producing
# pipeline (json fields, the MQTT envelope, Avro, a topic template, dead
# letters for records Kafka refuses) and a consuming one (json and Avro,
# values that do not convert) must run with no invalid access and no
# definite or indirect leak, and stop cleanly on SIGTERM.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
. "$SLUICE_SOURCE_DIR/tests/infra/env.sh"
command -v valgrind >/dev/null || { fail "valgrind is not installed (scripts/install-deps.sh installs it)"; finish; }
(exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null \
  || { echo "FAIL: no Kafka broker on 127.0.0.1:$KAFKA_PORT (SLUICE_TEST_KAFKA_PORT)" >&2; exit 1; }
VG=(valgrind --keep-debuginfo=yes --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 -q
    --suppressions="$SLUICE_SOURCE_DIR/tests/kafka/valgrind.supp")
export SLUICE_KEEP_PLUGINS_LOADED=1
B=127.0.0.1:$KAFKA_PORT
ID=vg-$$-$RANDOM
N=2000

cat >"$T/produce.yaml" <<Y
name: vg-produce
source: { plugin: generator, count: $N, payload: '{"seq":{seq},"kind":"k{rand}"}', key: "dev-{seq}", seed: 3 }
transforms: [ { plugin: fields, parse_json: true } ]
sink: { plugin: kafka, bootstrap: "$B", topic: "$ID-json" }
Y
cat >"$T/envelope.yaml" <<Y
name: vg-envelope
source: { plugin: generator, count: $N, size: 300, key: "f2-{seq}" }
sink: { plugin: kafka, bootstrap: "$B", topic: "$ID-json", compression: zstd }
Y
# Avro, and a record too large for the client: refused, dead-lettered to a
# templated topic of its own.
cat >"$T/avro.yaml" <<Y
name: vg-avro
source: { plugin: generator, count: 200, payload: '{"timestamp":{ts_us},"device_id":"f2-{seq}","connector_mode":"m","component_type":"c","datapoint":"d","value":1.5}' }
transforms: [ { plugin: fields, parse_json: true } ]
sink: { plugin: kafka, bootstrap: "$B", topic: "$ID-avro", value_converter: avro,
        avro_schema: measurement.avsc, key: "field:device_id" }
errors: { tolerance: all, dead_letter: { plugin: kafka, bootstrap: "$B", topic: "$ID-dlq-{topic}", value_converter: bytes } }
Y
expect_exit 0 -- "${VG[@]}" "$SLUICE_BIN" run "$T/produce.yaml" "$T/envelope.yaml" "$T/avro.yaml"
expect_out "[vg-produce] finished: $N in, $N out"
expect_out "[vg-envelope] finished: $N in, $N out"
expect_no_out "=="

cat >"$T/consume.yaml" <<Y
name: vg-consume
source: { plugin: kafka, bootstrap: "$B", topics: ["$ID-json"], group: "$ID-g" }
sink: { plugin: file, path: "$T/json.out", format: json }
Y
# Read as Avro, the JSON topic does not convert: every record is failed to
# the error policy with the converter's reason.
cat >"$T/consume-avro.yaml" <<Y
name: vg-consume-avro
source: { plugin: kafka, bootstrap: "$B", topics: ["^$ID-(avro|json)"], group: "$ID-ga",
          value_converter: avro, avro_schema: measurement.avsc }
sink: { plugin: file, path: "$T/avro.out", format: json }
errors: { tolerance: all, dead_letter: { plugin: file, path: "$T/avro.dead", format: envelope } }
Y
"${VG[@]}" "$SLUICE_BIN" run "$T/consume.yaml" "$T/consume-avro.yaml" >"$T/consume.log" 2>&1 &
pid=$!
lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
done_reading() { [ "$(lines "$T/json.out")" -ge $((2 * N)) ] && [ "$(lines "$T/avro.out")" -ge 200 ] \
                 && [ "$(lines "$T/avro.dead")" -ge $((2 * N)) ]; }
wait_for 240 done_reading || fail "not everything read: json $(lines "$T/json.out"), avro $(lines "$T/avro.out"), dead $(lines "$T/avro.dead")"
kill -TERM "$pid"; rc=0; wait "$pid" || rc=$?
expect_eq "$rc" 0 "consumer exit status under valgrind"
cp "$T/consume.log" "$T/out"
expect_no_out "=="
expect_out "[vg-consume] stopped"
grep -q "not the single-object marker" "$T/avro.dead" && pass || fail "no converter reason in the dead letters"
finish
