#!/usr/bin/env bash
# Readings parked until their device exists (f2_decode unknown_device: park),
# through the sluice binary with real Mosquitto and PostgreSQL:
#  1. a controller nobody registered publishes 20 readings: they are parked
#     in f2_parked, nothing is written, nothing dead-lettered;
#  2. 10 s later its Device, Connector and Pin rows are inserted, statement
#     by statement, and with no operator action every reading is in
#     iot_measurements with its original timestamp, f2_parked is empty and
#     the metrics say so; a controller registered without its Pin has its
#     readings parked too, until the Pin is added;
#  3. parked readings survive a restart: parked, sluice stopped, device
#     registered while it is down, started again: written;
#  4. park_for 2s: readings of a controller that is never registered land in
#     the dead-letter file with "expired unregistered";
#  5. configuration errors: park without a disk buffer, park_for without
#     park, park_for 0, an unknown unknown_device value.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
S=$SLUICE_BIN
: "${SLUICE_TEST_MQTT_PORT:?SLUICE_TEST_MQTT_PORT must name the test Mosquitto}"
MQ=$SLUICE_TEST_MQTT_PORT
. "$SLUICE_SOURCE_DIR/tests/f2/f2db_lib.sh"
f2db_setup f2park
SPID=
stop_sluice() {
  [ -n "$SPID" ] || return 0
  kill -TERM "$SPID" 2>/dev/null || true
  local rc=0
  wait "$SPID" || rc=$?
  SPID=
  return $rc
}
trap 'rc=$?; stop_sluice; f2db_drop; _cleanup $rc; exit $rc' EXIT

HTTP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
value() { # value PIPELINE NAME: that pipeline's sample of metric NAME
  curl -sf "http://127.0.0.1:$HTTP/metrics" |
    awk -v n="$2{" -v p="pipeline=\"$1\"" 'index($1, n) == 1 && index($1, p) {print $2}'
}
value_is() { [ "$(value "$1" "$2")" = "$3" ]; }
params() { psql "$PARAMS" -c "$1"; }
parked() { params "SELECT count(*) FROM f2_parked WHERE mac = '$1'"; }
parked_is() { [ "$(parked "$1")" = "$2" ]; }
rows() { series "SELECT count(*) FROM iot_measurements WHERE device_id = 'f2-$1'"; }
rows_are() { [ "$(rows "$1")" = "$2" ]; }

pipeline() { # pipeline NAME MAC EXTRA-F2-OPTION: mqtt -> f2_decode (park) -> timescale
  cat >"$T/$1.yaml" <<Y
name: $1
source:
  plugin: mqtt
  url: mqtt://127.0.0.1:$MQ
  client_id: ${P}_$1
  topics: ["cmnd/f2-$2/#"]
  qos: 1
buffer: { type: disk, path: "$T/spool-$1" }
transforms:
  - plugin: f2_decode
    params_dsn: "$PARAMS"
    unknown_device: park
    fleet: false
$3
sink:
  plugin: timescale
  dsn: "$SERIES"
  table: iot_measurements
errors:
  tolerance: all
  dead_letter: { plugin: file, path: "$T/dead-$1.jsonl", format: envelope }
batch: { linger: 20ms }
Y
}
start() { # start NAME
  "$S" run --http "127.0.0.1:$HTTP" "$T/$1.yaml" >"$T/log-$1" 2>&1 &
  SPID=$!
  wait_for 30 grep -q "connected to mqtt://127.0.0.1:$MQ" "$T/log-$1" \
    || { fail "$1: source did not connect"; cat "$T/log-$1" >&2; exit 1; }
}
publish() { # publish MAC N HOUR: N readings at 2024-05-01 HOUR:00:00 + i s, QoS 1
  for i in $(seq 0 $(($2 - 1))); do
    printf '{"timestamp": "2024-05-01 %s:00:%02d.250000", "data": "0A 1B 15 7C 01 90"}\n' "$3" "$i"
  done | mosquitto_pub -h 127.0.0.1 -p "$MQ" -q 1 -t "cmnd/f2-$1/sensor-mode/J1/sensor-1" -l
}
register() { # register MAC-WITH-COLONS: Device, sensor, Connector, Pin, one statement each
  register_device "$1"
  register_pin "$1"
}
register_device() {
  params "INSERT INTO \"Device\" (\"DeviceName\", \"DeviceTemplateId\", \"MacAddress\")
          VALUES ('park test $1', 1, '$1')"
  params "INSERT INTO \"Device\" (\"DeviceName\", \"DeviceTemplateId\")
          VALUES ('park sensor $1', 2)"
}
register_pin() {
  params "INSERT INTO \"Connector\" (\"ControllerId\", \"ConnectorNumber\")
          SELECT \"DeviceId\", 1 FROM \"Device\" WHERE \"MacAddress\" = '$1'"
  params "INSERT INTO \"Pin\" (\"ConnectorId\", \"Position\", \"DeviceId\")
          SELECT c.\"ConnectorId\", 1,
                 (SELECT \"DeviceId\" FROM \"Device\" WHERE \"DeviceName\" = 'park sensor $1')
          FROM \"Connector\" c JOIN \"Device\" d ON d.\"DeviceId\" = c.\"ControllerId\"
          WHERE d.\"MacAddress\" = '$1'"
}
# Every reading of MAC, 3 measurements each, at its own second of HOUR.
all_written() { # all_written MAC N HOUR
  [ "$(series "SELECT count(*) || ' ' || count(DISTINCT \"timestamp\") || ' ' ||
      min(\"timestamp\") || ' ' || max(\"timestamp\") FROM iot_measurements
      WHERE device_id = 'f2-$1'")" = \
    "$(($2 * 3)) $2 2024-05-01 $3:00:00.25+00 2024-05-01 $3:00:$(printf %02d $(($2 - 1))).25+00" ]
}

# ---- 1 and 2: parked, registered 10 s later, written -------------------
MAC=0a0b0c0d0e01
pipeline park "$MAC" ""
start park
t0=$SECONDS
publish "$MAC" 20 10
wait_for 30 parked_is "$MAC" 20 || fail "20 readings not parked: $(parked "$MAC")"
expect_eq "$(rows "$MAC")" 0 "nothing written while unregistered"
wait_for 15 value_is park sluice_f2_parked 20 || fail "sluice_f2_parked: $(value park sluice_f2_parked)"
expect_eq "$(value park sluice_f2_parked_total)" 20 "sluice_f2_parked_total"
[ "$(value park sluice_f2_parked_oldest_seconds)" != "" ] && pass || fail "no sluice_f2_parked_oldest_seconds"
left=$((10 - (SECONDS - t0)))
[ "$left" -gt 0 ] && sleep "$left"
register 0A:0B:0C:0D:0E:01
t1=$SECONDS
wait_for 30 all_written "$MAC" 20 10 || fail "not every reading written: $(rows "$MAC") rows"
echo "all 20 parked readings written $((SECONDS - t1)) s after the registration"
expect_eq "$(parked "$MAC")" 0 "f2_parked emptied"
[ ! -s "$T/dead-park.jsonl" ] && pass || fail "dead letters: $(head -c 600 "$T/dead-park.jsonl")"
wait_for 15 value_is park sluice_f2_parked 0 || fail "sluice_f2_parked stays $(value park sluice_f2_parked)"
[ "$(value park sluice_f2_unparked_total)" -ge 20 ] && pass \
  || fail "sluice_f2_unparked_total: $(value park sluice_f2_unparked_total)"
grep -q "parked readings re-injected, their devices are registered now" "$T/log-park" && pass \
  || fail "no re-injection log line"

# ---- 2b: a controller registered without its Pin: its readings are known
#      but not decodable yet, so they are parked too, and written once the
#      Pin exists
MAC4=0a0b0c0d0e04
register_device 0A:0B:0C:0D:0E:04
sed -i "s/f2-$MAC/f2-$MAC4/" "$T/park.yaml"
stop_sluice || fail "sluice exit status after SIGTERM"
start park
publish "$MAC4" 4 13
wait_for 30 parked_is "$MAC4" 4 || fail "readings of a controller without its Pin not parked: $(parked "$MAC4")"
expect_eq "$(params "SELECT count(*) FROM f2_parked WHERE mac = '$MAC4'
  AND reason LIKE 'no parameters for f2-$MAC4 sensor-mode/J1/sensor-1: no Pin at connector 1 position 1%'")" \
  4 "parked with the reason"
register_pin 0A:0B:0C:0D:0E:04
wait_for 30 all_written "$MAC4" 4 13 || fail "readings parked for a Pin: $(rows "$MAC4") rows"
[ ! -s "$T/dead-park.jsonl" ] && pass || fail "dead letters: $(head -c 600 "$T/dead-park.jsonl")"
stop_sluice || fail "sluice exit status after SIGTERM"
MAC=$MAC4

# ---- 3: parked, stopped, registered meanwhile, started: written ---------
MAC2=0a0b0c0d0e02
sed -i "s/f2-$MAC/f2-$MAC2/" "$T/park.yaml"
start park
publish "$MAC2" 5 11
wait_for 30 parked_is "$MAC2" 5 || fail "5 readings not parked: $(parked "$MAC2")"
stop_sluice || fail "sluice exit status after SIGTERM"
register 0A:0B:0C:0D:0E:02
start park
wait_for 30 all_written "$MAC2" 5 11 || fail "parked before a restart: $(rows "$MAC2") rows"
expect_eq "$(parked "$MAC2")" 0 "f2_parked emptied after the restart"
# The table dropped under the running decoder: the batch's INSERT fails,
# is retried (the decoder creates the table again), nothing is lost.
MAC5=0a0b0c0d0e05
sed -i "s/f2-$MAC2/f2-$MAC5/" "$T/park.yaml"
stop_sluice || fail "sluice exit status after SIGTERM"
start park
park_thread_up() { # the parking thread has its connection (and made its table)
  [ "$(params "SELECT count(*) FROM pg_stat_activity
      WHERE application_name = 'sluice-f2_decode-park' AND datname = current_database()")" = 1 ]
}
wait_for 30 park_thread_up || fail "the parking thread did not connect"
params "DROP TABLE f2_parked"
publish "$MAC5" 3 14
wait_for 30 parked_is "$MAC5" 3 || fail "readings parked across a dropped table: $(parked "$MAC5" 2>&1)"
grep -q 'cannot park [0-9]* readings in f2_parked: relation "f2_parked" does not exist; retrying in' "$T/log-park" \
  && pass || fail "no retry line for the dropped table"
stop_sluice || fail "sluice exit status after SIGTERM"
! grep -q "^NOTICE:" "$T/log-park" && pass || fail "libpq notices on stderr"

# ---- 4: park_for 2s, never registered: expired dead letters ------------
MAC3=0a0b0c0d0e03
pipeline expiry "$MAC3" "    park_for: 2s"
start expiry
publish "$MAC3" 5 12
dead() { [ "$(grep -c 'expired unregistered' "$T/dead-expiry.jsonl" 2>/dev/null)" = 5 ]; }
wait_for 30 dead || fail "expired dead letters: $(cat "$T/dead-expiry.jsonl" 2>/dev/null | head -c 800)"
line=$(head -1 "$T/dead-expiry.jsonl")
jq -r '.headers["sluice.error.reason"]' <<<"$line" |
  grep -q '^parked reading expired unregistered: parked at 20..-..-..T..:..:..Z, not decodable after park_for (2s): unknown device f2-0a0b0c0d0e03' \
  && pass || fail "reason: $(jq -r '.headers["sluice.error.reason"]' <<<"$line")"
expect_eq "$(jq -r '.origin.topic' <<<"$line")" "cmnd/f2-$MAC3/sensor-mode/J1/sensor-1" "origin topic"
jq -r '.value' <<<"$line" | grep -q '"timestamp": "2024-05-01 12:00:0' && pass || fail "value: $line"
wait_for 10 parked_is "$MAC3" 0 || fail "expired rows still parked"
expect_eq "$(rows "$MAC3")" 0 "nothing of the expired controller written"
expect_eq "$(value expiry sluice_f2_park_expired_total)" 5 "sluice_f2_park_expired_total"
stop_sluice || fail "sluice exit status after SIGTERM"

# ---- 5: configuration errors -------------------------------------------
sed -e '/^buffer:/d' "$T/park.yaml" >"$T/bad.yaml"
expect_exit 1 -- "$S" run "$T/bad.yaml"
expect_out "unknown_device: park needs a disk buffer on this pipeline"
expect_out 'add `buffer: { type: disk, path: ... }`'
sed -e 's/unknown_device: park/park_for: 1h/' "$T/park.yaml" >"$T/bad.yaml"
expect_exit 1 -- "$S" run "$T/bad.yaml"
expect_out "park_for is set but unknown_device is not park"
sed -e 's/unknown_device: park/unknown_device: park\n    park_for: 0s/' "$T/park.yaml" >"$T/bad.yaml"
expect_exit 1 -- "$S" run "$T/bad.yaml"
expect_out 'option "park_for": 0s is out of range'
sed -e 's/unknown_device: park/unknown_device: keep/' "$T/park.yaml" >"$T/bad.yaml"
expect_exit 1 -- "$S" run "$T/bad.yaml"
expect_out "unknown_device"
expect_out "dead_letter, park"
finish
