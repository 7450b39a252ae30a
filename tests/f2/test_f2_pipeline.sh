#!/usr/bin/env bash
# F2 end to end through the sluice binary: f2sim -> f2_decode -> timescale
# into iot_measurements (sql/timeseries.sql) with the sample parameters
# (sql/device_params*.sql) in scratch databases.  Exact row counts and
# values, a replay that writes nothing twice, and malformed readings in the
# dead-letter sink with the decoder's reason.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
S=$SLUICE_BIN
. "$SLUICE_SOURCE_DIR/tests/f2/f2db_lib.sh"
f2db_setup f2pipe

# 1. The declared options, as the host shows them, each in its plugin's
#    README table with the same one-line doc.
for spec in f2_decode:transforms/f2_decode f2sim:connectors/f2sim; do
  name=${spec%%:*}
  readme="$SLUICE_SOURCE_DIR/${spec#*:}/README.md"
  expect_exit 0 -- "$S" plugins --describe "$name"
  n=0
  while IFS= read -r opt && IFS= read -r doc; do
    opt=$(awk '{print $1}' <<<"$opt"); doc=$(sed 's/^ *//' <<<"$doc")
    n=$((n + 1))
    if grep -qF -- "| \`$opt\` |" "$readme" && grep -qF -- "| $doc |" "$readme"; then pass
    else fail "$name: option $opt (\"$doc\") is not in the table of $readme"; fi
  done < <(grep -A1 -E '^    [a-z_]+ +[a-z]+ ' "$T/out" | grep -v '^--')
  [ "$n" -ge 7 ] && pass || fail "$name: only $n options in --describe"
  # ... and its Options table lists no option the plugin does not declare.
  extra=$(awk '/^## /{on = ($0 == "## Options")} on' "$readme" | grep -oE '^\| `[a-z_]+` \|' \
    | tr -d '|` ' | while read -r o; do
    grep -qE "^    $o " "$T/out" || echo "$o"; done)
  expect_eq "$extra" "" "$name: README options not declared"
done

# 2. Validation catches a misspelt option before anything runs.
cat >"$T/bad.yaml" <<Y
name: bad
source: { plugin: f2sim }
transforms:
  - plugin: f2_decode
    params_dsn: "$PARAMS"
    tll: 5m
sink: { plugin: file, discard: true }
Y
expect_exit 1 -- "$S" validate "$T/bad.yaml"
expect_out "bad.yaml:6:"
expect_out "tll"

# 3. 20 controllers, every component 10 times: 2800 readings, 44
#    measurements per controller and round.
cat >"$T/run.yaml" <<Y
name: f2pipe
source:
  plugin: f2sim
  devices: 20
  rate: 0
  count: 2800
  start_time: "2024-01-01 00:00:00"
transforms:
  - plugin: f2_decode
    params_dsn: "$PARAMS"
sink:
  plugin: timescale
  dsn: "$SERIES"
  table: iot_measurements
batch: { max_records: 500, linger: 10ms }
Y
expect_exit 0 -- "$S" run "$T/run.yaml"
expect_out "finished: 2800 in, 8800 out, 0 failed"
expect_eq "$(series "SELECT count(*) FROM iot_measurements")" 8800 "rows written"
expect_eq "$(series "SELECT count(DISTINCT device_id) FROM iot_measurements")" 20 "controllers"
# The first reading: controller 0, J1 sensor-1, at the start time, 3 data points.
expect_eq "$(series "SELECT string_agg(datapoint || ' ' || unit, ',' ORDER BY datapoint)
  FROM iot_measurements WHERE \"timestamp\" = '2024-01-01 00:00:00+00'
  AND device_id = 'f2-02f200010000'")" "CO2 ppm,Humidity %,Temperature °C" "first reading"
expect_eq "$(series "SELECT count(*) FROM iot_measurements WHERE component_type = 'door-sensors'
  AND pin_position = '' AND datapoint = 'door_1' AND value IN (0, 1)
  AND value_text IN ('open', 'closed')")" 200 "door words kept as text"
expect_eq "$(series "SELECT count(*) FROM iot_measurements WHERE datapoint = 'card_id'
  AND value IS NULL AND value_text ~ '^[0-9A-F]{8}\$'")" 200 "card ids as text"
expect_eq "$(series "SELECT count(*) FROM iot_measurements WHERE connector_mode = 'sensor-mode'
  AND datapoint = 'data' AND unit = 'L' AND topic LIKE 'cmnd/%/J4/sensor-3'")" 200 "water meters"
expect_eq "$(series "SELECT count(*) FROM iot_measurements WHERE datapoint = 'Temperature'
  AND (value < -20 OR value > 35)")" 0 "temperatures plausible"

# 4. The same readings again: nothing written twice.
expect_exit 0 -- "$S" run "$T/run.yaml"
expect_out "finished: 2800 in, 8800 out, 0 failed"
expect_eq "$(series "SELECT count(*) FROM iot_measurements")" 8800 "rows after the replay"

# 5. Malformed readings go to the dead-letter sink with the reason; the
#    others are written.
cat >"$T/bad_run.yaml" <<Y
name: f2bad
source:
  plugin: f2sim
  devices: 5
  rate: 0
  count: 700
  bad_ratio: 0.3
  start_time: "2024-02-01 00:00:00"
transforms:
  - plugin: f2_decode
    params_dsn: "$PARAMS"
sink:
  plugin: timescale
  dsn: "$SERIES"
  table: iot_measurements
errors:
  tolerance: all
  dead_letter: { plugin: file, path: "$T/dead.out", format: envelope }
batch: { max_records: 100, linger: 10ms }
Y
expect_exit 0 -- "$S" run "$T/bad_run.yaml"
expect_out ": 700 in,"
dead=$(wc -l <"$T/dead.out" | tr -d ' ')
[ "$dead" -gt 100 ] && [ "$dead" -lt 350 ] && pass || fail "dead letters: $dead of 700"
expect_out "$dead failed, $dead dead-lettered"
for why in "payload is not JSON" "is not hex" "needs bytes 4..6, data has 5 bytes" \
  "unknown device f2-0bad" 'payload has no \"timestamp\"' "unknown topic shape" \
  "payload is not valid UTF-8"; do
  grep -qF -- "$why" "$T/dead.out" && pass || fail "no dead letter says: $why"
done
out=$(grep -o ': 700 in, [0-9]* out' "$T/out" | grep -o '[0-9]* out' | cut -d' ' -f1)
[ "${out:-0}" -gt 1000 ] && pass || fail "good readings of the bad run: ${out:-none} measurements"
expect_eq "$(series "SELECT count(*) FROM iot_measurements WHERE \"timestamp\" >= '2024-02-01'")" \
  "$out" "every measurement of the good readings written"
finish
