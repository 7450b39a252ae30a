#!/usr/bin/env bash
# Fleet health through the sluice binary, with real Mosquitto and
# PostgreSQL: two controllers publish, one stops; within silent_after (2 s
# here) plus a scan and a flush period, sluice_f2_devices, /devices and
# device_last_seen (sql/fleet.sql) show it silent, and active again when it
# resumes.  Then the table is dropped under the running decoder: the flush
# fails and is logged, readings keep decoding, and once the table is back
# the next flush fills it again.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
S=$SLUICE_BIN
: "${SLUICE_TEST_PG_PORT:?SLUICE_TEST_PG_PORT must name the test PostgreSQL}"
: "${SLUICE_TEST_MQTT_PORT:?SLUICE_TEST_MQTT_PORT must name the test Mosquitto}"
BASE="host=127.0.0.1 port=$SLUICE_TEST_PG_PORT user=postgres"
MQ=$SLUICE_TEST_MQTT_PORT
P=f2fleet_$$
PARAMS="$BASE dbname=${P}_params" SERIES="$BASE dbname=${P}_series"
psql() { command psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
psql "$BASE dbname=postgres" -c "SELECT 1" >/dev/null \
  || { echo "FAIL: PostgreSQL on port $SLUICE_TEST_PG_PORT unreachable" >&2; exit 1; }
PIDS=()
drop() {
  touch "$T/stop0" "$T/stop1"
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$BASE dbname=postgres" -c "DROP DATABASE IF EXISTS ${P}_params WITH (FORCE)" \
    -c "DROP DATABASE IF EXISTS ${P}_series WITH (FORCE)" >/dev/null 2>&1 || true
}
trap 'rc=$?; drop; _cleanup $rc; exit $rc' EXIT
psql "$BASE dbname=postgres" -c "CREATE DATABASE ${P}_params" -c "CREATE DATABASE ${P}_series"
psql "$PARAMS" -f "$SLUICE_SOURCE_DIR/sql/device_params.sql"
psql "$PARAMS" -f "$SLUICE_SOURCE_DIR/sql/device_params_sample.sql"
psql "$SERIES" -f "$SLUICE_SOURCE_DIR/sql/fleet.sql"
series() { psql "$SERIES" -c "$1"; }

# Controllers 992 and 993 of the sample fleet (seed 1): only this test's.
MAC0=02F2000103E0 MAC1=02F2000103E1
ID0=f2-02f2000103e0 ID1=f2-02f2000103e1
HTTP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
get() { curl -sf "http://127.0.0.1:$HTTP$1"; }
metric() { # metric PIPELINE STATE: sluice_f2_devices{state=STATE} of PIPELINE
  local m
  m=$(get /metrics) || return 1
  awk -v s="state=\"$2\"" -v p="pipeline=\"$1\"" \
    '$1 ~ /^sluice_f2_devices\{/ && index($1, s) && index($1, p) {print $2}' <<<"$m"
}
value() { # value NAME: the fleet pipeline's sample of metric NAME
  local m
  m=$(get /metrics) || return 1
  awk -v n="$1{" 'index($1, n) == 1 && index($1, "pipeline=\"fleet\"") {print $2}' <<<"$m"
}
readings() { series "SELECT readings FROM device_last_seen WHERE device_id = '$1'"; }
grown() { [ "$($1 "$2")" -gt "$3" ]; }

publish() { # publish N MAC: a reading every 200 ms until $T/stopN exists
  local n=$1 mac=$2
  rm -f "$T/stop$n"
  ( while [ ! -e "$T/stop$n" ]; do
      echo "{\"timestamp\": \"$(date -u '+%Y-%m-%d %H:%M:%S.%6N')\", \"data\": \"0A 1B 15 7C 01 90\"}"
      sleep 0.2
    done | mosquitto_pub -h 127.0.0.1 -p "$MQ" -q 1 -t "cmnd/f2-$mac/sensor-mode/J1/sensor-1" -l ) &
  PIDS+=($!)
}

cat >"$T/fleet.yaml" <<Y
name: fleet
source:
  plugin: mqtt
  url: mqtt://127.0.0.1:$MQ
  client_id: $P
  topics: ["cmnd/f2-$MAC0/#", "cmnd/f2-$MAC1/#"]
transforms:
  - plugin: f2_decode
    params_dsn: "$PARAMS"
    fleet_dsn: "$SERIES"
    silent_after: 2s
    fleet_flush: 1s
sink: { plugin: file, discard: true }
batch: { linger: 20ms }
Y
"$S" run --http "127.0.0.1:$HTTP" "$T/fleet.yaml" >"$T/log" 2>&1 &
SPID=$!
PIDS+=("$SPID")
wait_for 20 grep -q "connected to mqtt://127.0.0.1:$MQ" "$T/log" || fail "source did not connect"
publish 0 "$MAC0"
publish 1 "$MAC1"

both_active() {
  [ "$(metric fleet active)" = 2 ] && [ "$(metric fleet silent)" = 0 ] &&
    get "/devices?state=active" | jq -e '.total == 2' &&
    [ "$(series "SELECT count(*) FROM device_last_seen WHERE last_seen > now() - interval '2 s'")" = 2 ]
}
wait_for 30 both_active || fail "both controllers never showed active: metric $(metric fleet active)/$(metric fleet silent), $(get /devices)"
doc=$(get /devices)
expect_eq "$(jq -r '[.devices[].device_id] | join(" ")' <<<"$doc")" "$ID0 $ID1" "/devices lists both, sorted"
expect_eq "$(jq -r ".devices[0].last_topic" <<<"$doc")" "cmnd/f2-$MAC0/sensor-mode/J1/sensor-1" "last_topic as received"
expect_eq "$(series "SELECT last_topic FROM device_last_seen WHERE device_id = '$ID1'")" \
  "cmnd/f2-$MAC1/sensor-mode/J1/sensor-1" "device_last_seen.last_topic"
[ "$(value sluice_f2_fleet_bytes)" -gt 0 ] && pass || fail "no sluice_f2_fleet_bytes"

# Controller 1 stops.
touch "$T/stop1"
stopped=$SECONDS
one_silent() {
  [ "$(metric fleet silent)" = 1 ] && [ "$(metric fleet active)" = 1 ] &&
    get "/devices?state=silent" | jq -e ".total == 1 and .devices[0].device_id == \"$ID1\"" &&
    [ "$(series "SELECT string_agg(device_id, ',') FROM device_last_seen WHERE last_seen < now() - interval '2 s'")" = "$ID1" ]
}
wait_for 30 one_silent || fail "controller 1 never showed silent: $(metric fleet active)/$(metric fleet silent), $(get /devices)"
took=$((SECONDS - stopped))
echo "silent seen in metric, /devices and table ${took}s after the stop (silent_after 2s)"
# The 2 s, a 1 s scan, a 1 s flush and a loaded machine's slack.
[ "$took" -le 12 ] && pass || fail "silence took ${took}s to show"
grep -q "1 controller(s) went silent (no reading for 2 s): $ID1" "$T/log" && pass \
  || fail "no 'went silent' line naming $ID1"
# The one still publishing stays active, and its readings keep counting.
r0=$(readings "$ID0")
wait_for 10 grown readings "$ID0" "$r0" || fail "readings of $ID0 stopped growing in device_last_seen"
r1=$(readings "$ID1")
api_r1=$(get /devices | jq ".devices[] | select(.device_id == \"$ID1\") | .readings")
expect_eq "$r1" "$api_r1" "readings of the stopped controller: table and /devices agree"

# It resumes.
publish 1 "$MAC1"
wait_for 30 both_active || fail "controller 1 did not become active again"
grep -q "1 silent controller(s) sent readings again" "$T/log" && pass || fail "no 'again' line"

# The table goes away under the running decoder: flushes fail and are
# logged once, readings keep decoding; the table returns, flushes resume.
series "DROP TABLE device_last_seen"
wait_for 15 grep -q 'device_last_seen: upsert into device_last_seen failed: .*does not exist; readings are unaffected' "$T/log" \
  || fail "no flush-failure line"
n=$(value sluice_f2_readings_decoded_total)
wait_for 10 grown value sluice_f2_readings_decoded_total "$n" || fail "readings stopped decoding while the flush failed"
expect_eq "$(grep -c 'upsert into device_last_seen failed' "$T/log")" 1 "one failure line per outage"
[ "$(value sluice_f2_fleet_flush_failures_total)" -gt 0 ] && pass || fail "sluice_f2_fleet_flush_failures_total did not count"
psql "$SERIES" -f "$SLUICE_SOURCE_DIR/sql/fleet.sql"
rows_are() { [ "$(series "SELECT count(*) FROM device_last_seen")" = "$1" ]; }
wait_for 15 rows_are 2 || fail "the flush did not resume"
grep -q "device_last_seen: flushing again" "$T/log" && pass || fail "no 'flushing again' line"

# Bad option values are refused at start with the option's name.
sed -e 's/silent_after: 2s/silent_after: 0s/' "$T/fleet.yaml" >"$T/bad.yaml"
expect_exit 1 -- "$S" run "$T/bad.yaml"
expect_out 'option "silent_after": 0s is out of range; expected at least 1ms'
sed -e 's|fleet_flush: 1s|fleet_path: /status|' "$T/fleet.yaml" >"$T/bad.yaml"
expect_exit 1 -- "$S" run "$T/bad.yaml"
expect_out "fleet_path: http_json: path \"/status\" is the host's own"

touch "$T/stop0" "$T/stop1"
kill -TERM "$SPID"
rc=0
wait "$SPID" || rc=$?
expect_eq "$rc" 0 "sluice exit status after SIGTERM"
finish
