#!/usr/bin/env bash
# Dead-letter re-drive through the sluice binary, against a real PostgreSQL:
# f2sim -> f2_decode -> timescale dead-letters (envelope file) the readings of
# controllers not registered yet and malformed readings; once the controllers'
# Device, Connector and Pin rows exist, `sluice redrive` writes the readings
# that now decode and puts the malformed ones in a new dead-letter file, with
# the counts printed.  A second re-drive writes nothing twice.  Error paths:
# missing file, a file that is not envelopes, OUT == input, bad pipeline file.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
S=$SLUICE_BIN
. "$SLUICE_SOURCE_DIR/tests/f2/f2db_lib.sh"
f2db_setup f2redrive
DEAD=$T/dead.jsonl

# The pipeline: its dead letters go to $DEAD in envelope format.  The source
# is what differs between the two feeding runs.
pipeline() { # pipeline NAME SEED DEVICES COUNT BAD_RATIO START
  cat >"$T/$1.yaml" <<Y
name: f2live
source:
  plugin: f2sim
  seed: $2
  devices: $3
  rate: 0
  count: $4
  bad_ratio: $5
  start_time: "$6"
transforms:
  - plugin: f2_decode
    params_dsn: "$PARAMS"
sink:
  plugin: timescale
  dsn: "$SERIES"
  table: iot_measurements
errors:
  tolerance: all
  dead_letter: { plugin: file, path: "$DEAD", format: envelope }
batch: { max_records: 100, linger: 10ms }
Y
}

# 1. Registered controllers (seed 1) with malformed readings among them:
#    only the malformed ones are dead letters, and they will never decode.
pipeline bad 1 5 400 0.3 "2024-03-01 00:00:00"
expect_exit 0 -- "$S" run "$T/bad.yaml"
bad=$(wc -l <"$DEAD" | tr -d ' ')
[ "$bad" -gt 50 ] && [ "$bad" -lt 200 ] && pass || fail "malformed dead letters: $bad of 400"
rows_before=$(series "SELECT count(*) FROM iot_measurements")

# 2. Controllers of seed 2, not registered yet: every reading is a dead
#    letter, "unknown device".
pipeline unknown 2 3 300 0 "2024-03-02 00:00:00"
expect_exit 0 -- "$S" run "$T/unknown.yaml"
expect_out "300 failed, 300 dead-lettered"
expect_eq "$(grep -c 'unknown device f2-02f20002' "$DEAD")" 300 "unknown-device dead letters"
expect_eq "$(wc -l <"$DEAD" | tr -d ' ')" $((bad + 300)) "mixed dead letters"
expect_eq "$(series "SELECT count(*) FROM iot_measurements")" "$rows_before" "nothing of seed 2 yet"
cp "$DEAD" "$T/dead.orig"

# 3. The controllers are registered: their Device, Connector and Pin rows
#    (and device_parameters rows), as the sample SQL makes them.
psql "$PARAMS" -c "SELECT f2sim_sample(2, 3)" >/dev/null

# 4. The re-drive: seed 2's readings are written now, the malformed ones
#    fail again into the new file, and the counts say so.
OUT=$T/again.jsonl
expect_exit 0 -- "$S" redrive "$DEAD" "$T/bad.yaml" --dead-letter "$OUT"
expect_out "read:          $((bad + 300)) dead letters"
expect_out "failed again:  $bad, dead-lettered to $OUT"
expect_out "rejected:      0"
written=$(sed -n 's/^  written: *\([0-9]*\) records.*/\1/p' "$T/out")
seed2=$(series "SELECT count(*) FROM iot_measurements WHERE device_id LIKE 'f2-02f20002%'")
[ "${written:-0}" -ge 300 ] && pass || fail "written: ${written:-none} (300 readings, >= 1 row each)"
expect_eq "$seed2" "$written" "seed 2 rows written by the re-drive"
expect_eq "$(series "SELECT count(DISTINCT device_id) FROM iot_measurements
  WHERE device_id LIKE 'f2-02f20002%'")" 3 "seed 2 controllers"
# Original reading times, not the re-drive's.
expect_eq "$(series "SELECT count(*) FROM iot_measurements WHERE device_id LIKE 'f2-02f20002%'
  AND (\"timestamp\" < '2024-03-02' OR \"timestamp\" > '2024-03-03')")" 0 "original timestamps"
expect_eq "$(wc -l <"$OUT" | tr -d ' ')" "$bad" "lines in the new dead-letter file"
expect_eq "$(grep -c 'unknown device f2-02f20002' "$OUT")" 0 "no seed 2 reading failed again"
# Fresh error headers, once each, naming this failure; the origin kept.
expect_eq "$(grep -c '"sluice.error.reason"' "$OUT")" "$bad" "one reason per re-failed record"
expect_eq "$(grep -o '"sluice.error.reason"' "$OUT" | wc -l | tr -d ' ')" "$bad" \
  "no old reason kept beside the new one"
expect_eq "$(grep -c '^{"origin":{"topic":"[^"]' "$OUT")" "$bad" "origins restored"
cmp -s "$DEAD" "$T/dead.orig" && pass || fail "the input file was changed"
# The same malformed readings, by origin offset, as in the input.
expect_eq "$(grep -o '"offset":[0-9]*' "$OUT" | sort | md5sum)" \
  "$(grep -v 'unknown device f2-02f20002' "$DEAD" | grep -o '"offset":[0-9]*' | sort | md5sum)" "same records failed again"

# 5. Again: nothing written twice (the sink ignores existing keys); the
#    default new file sits beside the input.
total=$(series "SELECT count(*) FROM iot_measurements")
expect_exit 0 -- "$S" redrive "$DEAD" "$T/bad.yaml"
expect_out "written:       $written records"
expect_out "failed again:  $bad, dead-lettered to $DEAD.redrive-"
expect_eq "$(series "SELECT count(*) FROM iot_measurements")" "$total" "rows after a second re-drive"
ls "$DEAD".redrive-*.jsonl >/dev/null 2>&1 && pass || fail "no default new dead-letter file"

# 6. The re-failed ones re-driven: all fail again, nothing is lost.
expect_exit 0 -- "$S" redrive "$OUT" "$T/bad.yaml" --dead-letter "$T/third.jsonl"
expect_out "read:          $bad dead letters"
expect_out "failed again:  $bad,"
expect_eq "$(wc -l <"$T/third.jsonl" | tr -d ' ')" "$bad" "third file"

# 7. A file whose later lines are broken: those are failed with file:line;
#    the envelopes are still re-driven.
head -n 5 "$T/dead.orig" >"$T/mixed.jsonl"
printf 'garbage\n{"origin":{"topic":"x"},"value":"unterminated\n\n' >>"$T/mixed.jsonl"
expect_exit 0 -- "$S" redrive "$T/mixed.jsonl" "$T/bad.yaml" --dead-letter "$T/mixed.out"
expect_out "read:          7 dead letters"
expect_out "failed again:  7,"
grep -qF "mixed.jsonl:6: not a dead-letter envelope: column 1" "$T/mixed.out" && pass \
  || fail "no file:line reason for a bad line"
grep -qF "mixed.jsonl:7: not a dead-letter envelope: column" "$T/mixed.out" && pass \
  || fail "no file:line reason for an unterminated envelope"

# 8. Error paths.
expect_exit 1 -- "$S" redrive "$T/missing.jsonl" "$T/bad.yaml"
expect_out "cannot read the dead-letter file $T/missing.jsonl: No such file or directory"
expect_exit 1 -- "$S" redrive "$T/bad.yaml" "$DEAD"
expect_out "bad.yaml:1 is not a dead-letter envelope"
expect_exit 2 -- "$S" redrive "$DEAD" "$T/bad.yaml" --dead-letter "$DEAD"
expect_out "is the input file"
( cd "$T" && expect_exit 2 -- "$S" redrive dead.jsonl bad.yaml --dead-letter "./dead.jsonl" \
  && expect_out "is the input file" )
expect_exit 1 -- "$S" redrive "$DEAD" "$T/nope.yaml"
expect_out "nope.yaml is not a valid pipeline file"
expect_exit 2 -- "$S" redrive "$DEAD"
expect_out "no pipeline file given"
expect_exit 0 -- "$S" redrive --help
expect_out "usage: sluice redrive"
# The pipeline's sink refuses to start (no such table): exit 1, the reason
# printed, nothing read.
sed 's/table: iot_measurements/table: no_such_table/' "$T/bad.yaml" >"$T/notable.yaml"
expect_exit 1 -- "$S" redrive "$DEAD" "$T/notable.yaml" --dead-letter "$T/y.jsonl"
expect_out "table no_such_table does not exist"
expect_out "did not finish"
[ ! -e "$T/y.jsonl" ] && pass || fail "an empty new dead-letter file was left behind"
cmp -s "$DEAD" "$T/dead.orig" && pass || fail "the input file was changed"
# A new dead-letter file that cannot be created: the re-drive fails at
# start and says why, exit 1, writing nothing.
expect_exit 1 -- "$S" redrive "$DEAD" "$T/bad.yaml" --dead-letter "$T/no/such/dir.jsonl"
expect_out "cannot open $T/no/such/dir.jsonl for writing"
finish
