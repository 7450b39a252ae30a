#!/usr/bin/env bash
# Bad input through the whole embedded path (MQTT -> f2_decode ->
# timescale): non-JSON, bad hex, short data, unknown MAC, unknown topic
# shapes, a huge payload, invalid UTF-8.  sluice keeps running, each bad
# reading lands in the dead-letter file with its reason and origin topic,
# and the good readings published around them all arrive.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
. "$SLUICE_SOURCE_DIR/tests/e2e/e2e_lib.sh"
S=$SLUICE_BIN
export SLUICE_DEAD_LETTER_FILE=$T/dead.jsonl
MAC=$("${PSQL[@]}" -d device_params -Atc 'SELECT lower("MacAddress") FROM "Device" WHERE "MacAddress" IS NOT NULL ORDER BY "DeviceId" LIMIT 1' | tr -d ':-')
[ -n "$MAC" ] && pass || fail "no controller in the sample data"

"$S" run "$SLUICE_SOURCE_DIR/pipelines/embedded/20-ingest.yaml" >"$T/ingest.log" 2>&1 &
ingest=$!
wait_for 10 grep -q "f2-ingest\] running" "$T/ingest.log" || fail "ingest did not start"

pub() { mosquitto_pub -h 127.0.0.1 -p "$E2E_MQTT_PORT" -q 1 -t "$1" "${@:2}"; }
good() { # good SECONDS: a door-sensors status with a distinct timestamp
  pub "stat/f2-$MAC/access-control-mode/1/door-sensors" \
    -m "{\"timestamp\":\"2026-02-01 00:00:$1.000000\",\"door_1\":\"open\",\"door_2\":\"closed\",\"tamper\":false}"
}
good 01
pub "cmnd/f2-$MAC/sensor-mode/1/sensor-1" -m 'this is not json'
good 02
pub "cmnd/f2-$MAC/sensor-mode/1/sensor-1" -m '{"timestamp":"2026-02-01 00:00:03.000000","data":"0A 1B ZZ"}'
good 04
pub "cmnd/f2-$MAC/sensor-mode/1/sensor-1" -m '{"timestamp":"2026-02-01 00:00:05.000000","data":"0A"}'
good 06
pub "cmnd/f2-ffffffffffff/sensor-mode/1/sensor-1" -m '{"timestamp":"2026-02-01 00:00:07.000000","data":"0A1B157C0190"}'
good 08
pub "cmnd/not-an-f2-topic" -m '{"timestamp":"2026-02-01 00:00:09.000000"}'
good 10
head -c 2000000 /dev/zero | tr '\0' 'a' >"$T/huge"
pub "cmnd/f2-$MAC/sensor-mode/1/sensor-1" -f "$T/huge"
good 12
printf '{"timestamp":"2026-02-01 00:00:13.000000","data":"\xff\xfe"}' >"$T/utf8"
pub "cmnd/f2-$MAC/sensor-mode/1/sensor-1" -f "$T/utf8"
good 14

dead_count() { [ -f "$T/dead.jsonl" ] && [ "$(wc -l <"$T/dead.jsonl")" -ge 7 ]; }
wait_for 20 dead_count || fail "dead letters did not arrive"
sleep 1
kill -0 $ingest && pass || fail "sluice died on bad input"
expect_eq "$(wc -l <"$T/dead.jsonl" | tr -d ' ')" 7 "dead letters"
expect_eq "$(q "SELECT count(DISTINCT timestamp) FROM iot_measurements WHERE device_id = 'f2-$MAC' AND component_type = 'door-sensors'")" 8 "good readings around the bad ones"
reasons=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    h = r.get("headers", {})
    print(h.get("sluice.origin.topic"), "|", h.get("sluice.error.stage"), "|", h.get("sluice.error.reason"))
' "$T/dead.jsonl")
echo "$reasons"
for want in "not JSON|json|JSON" "hex" "needs bytes|short|bytes" "unknown device|no parameters|unknown" \
            "topic" "payload|large|bytes" "UTF-8"; do
  grep -Eqi "$want" <<<"$reasons" && pass || fail "no dead letter matching /$want/"
done
expect_eq "$(echo "$reasons" | grep -c 'transform\[0\]')" 7 "every dead letter names the decode stage"
kill -TERM $ingest; rc=0; wait $ingest || rc=$?
expect_eq "$rc" 0 "clean stop"
finish
