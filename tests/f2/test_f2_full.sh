#!/usr/bin/env bash
# A large reading in a nearly full batch (issue 12, item 2): f2_decode makes
# one record per measurement, and when the stage batch has no room left for
# a reading it says SLUICE_FULL; the host writes what the batch holds and
# decodes the reading again into the emptied batch.  Through the sluice
# binary: file -> f2_decode -> timescale on the test PostgreSQL.  A reading
# of 6,000 measurements after 900 readings of 8 (7,200 of the 8,000 records
# a stage batch holds): every measurement is written, nothing is
# dead-lettered.  A reading too big even for an empty batch fails, saying
# what to raise, and its neighbours are written.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
S=$SLUICE_BIN
. "$SLUICE_SOURCE_DIR/tests/f2/f2db_lib.sh"
f2db_setup f2full --no-sample
# Every numeric payload field of a siren is a measurement (number_map).
psql "$PARAMS" -c "INSERT INTO device_parameters (device_id, connector_mode, component_type,
  component_id, encoding_type, units, scaling_factor, description)
  VALUES ('f2-aabbccddee99', 'alarm-mode', 'siren', NULL, 'number_map', NULL, 1.0, 'test')"
series() { psql "$SERIES" -c "$1"; }

# readings FILE N_BEFORE BIG N_AFTER: envelopes, one a line; the readings
# before and after carry 8 measurements, the one between them BIG.
readings() {
  awk -v before="$2" -v big="$3" -v after="$4" 'BEGIN {
    for (i = 0; i < before + 1 + after; i++) {
      n = (i == before) ? big : 8
      printf "{\"topic\":\"stat/f2-aabbccddee99/alarm-mode/J2/siren-1\",\"payload\":{\"timestamp\":\"2024-03-01 %02d:%02d:%02d.000000\"", int(i / 3600), int(i / 60) % 60, i % 60
      for (k = 0; k < n; k++) printf ",\"m%05d\":%d", k, k
      printf "}}\n"
    }
  }' >"$1"
}
run_yaml() { # run_yaml NAME INPUT
  cat >"$T/$1.yaml" <<Y
name: $1
source: { plugin: file, path: "$2" }
transforms:
  - plugin: f2_decode
    params_dsn: "$PARAMS"
    max_payload: 1MiB
sink:
  plugin: timescale
  dsn: "$SERIES"
  table: iot_measurements
errors:
  tolerance: all
  dead_letter: { plugin: file, path: "$T/$1.dead", format: envelope }
batch: { max_records: 1000, linger: 1s }
Y
}

# 1. 900 readings of 8, one of 6,000, 99 of 8: one source batch of 1,000.
readings "$T/big.jsonl" 900 6000 99
run_yaml big "$T/big.jsonl"
expect_exit 0 -- "$S" run "$T/big.yaml"
expect_out "finished: 1000 in, 13992 out, 0 failed, 0 dead-lettered"
expect_eq "$(series "SELECT count(*) FROM iot_measurements")" 13992 "every measurement written"
expect_eq "$(series "SELECT count(*), count(DISTINCT datapoint), sum(value) FROM iot_measurements
  WHERE \"timestamp\" = '2024-03-01 00:15:00+00'")" "6000|6000|17997000" "the big reading, whole"
expect_eq "$(wc -c <"$T/big.dead" 2>/dev/null | tr -d ' ' || echo 0)" 0 "nothing dead-lettered"

# 2. A reading of 9,000 measurements cannot fit even an empty stage batch
#    (8 x 1,000 records): it fails, saying what to raise; the others are written.
series "TRUNCATE iot_measurements"
readings "$T/huge.jsonl" 500 9000 10
run_yaml huge "$T/huge.jsonl"
expect_exit 0 -- "$S" run "$T/huge.yaml"
expect_out "finished: 511 in, 4080 out, 1 failed, 1 dead-lettered"
expect_eq "$(series "SELECT count(*) FROM iot_measurements")" 4080 "the neighbours written"
grep -qF "does not fit an empty output batch (8000 records, 16777216 bytes); raise batch.max_records or batch.max_bytes" "$T/huge.dead" \
  && pass || fail "the dead letter does not say what to raise: $(head -c 600 "$T/huge.dead")"
finish
