#!/usr/bin/env bash
# Flow control between a fanning-out transform and the host: a record whose
# output does not fit the room left in the stage batch is not a failure.  The
# host writes what the batch holds, empties it and calls the transform again
# (SLUICE_FULL, or a 1.0 transform's SLUICE_ERR after a refused allocation);
# only a record too big for an empty batch fails, and says what to raise.
# Every output is written exactly once, and no source batch is acknowledged
# before its last record is written.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
S=$SLUICE_BIN
P=(-P "$FAULT_DIR")

# max_records 64: a stage batch holds 8 x 64 = 512 records.
pipeline() { # pipeline NAME TRANSFORMS ERRORS
  cat >"$T/$1.yaml" <<Y
name: $1
source: { plugin: fault, count: 1000, check_acks: true }
transforms: [ $2 ]
sink: { plugin: fault, out_file: "$T/$1.out" }
batch: { max_records: 64, linger: 10ms }
$3
Y
}
lines() { wc -l <"$1" | tr -d ' '; }
# "seq count" for every seq written, and the number of distinct outputs.
per_seq() { cut -d' ' -f1 "$1" | sort -n | uniq -c | awk '{ print $2, $1 }'; }
expect_counts() { # expect_counts FILE EVERY BIG NORMAL [SKIP_BIG]
  local bad
  bad=$(per_seq "$1" | awk -v e="$2" -v b="$3" -v n="$4" \
    '{ want = ($1 % e == 0) ? b : n; if ($2 != want) { print "seq " $1 ": " $2 " copies, want " want; exit } }')
  expect_eq "$bad" "" "$1: copies per record"
  expect_eq "$(sort "$1" | uniq -d | head -1)" "" "$1: no output written twice"
}

# 1. SLUICE_FULL: readings of 400 outputs among ones of 3 overflow the
#    batch; each is written whole, nothing fails.
for mode in full err; do
  pipeline "fan_$mode" "{ plugin: fault, fanout: 3, big_every: 100, big_fanout: 400, on_full: $mode }" \
    "errors: { tolerance: none }"
  expect_exit 0 -- "$S" run "${P[@]}" "$T/fan_$mode.yaml"
  expect_out "finished: 1000 in, 6970 out, 0 failed, 0 dead-lettered"
  expect_no_out "ack out of order"
  expect_no_out "before a sink wrote it"
  expect_counts "$T/fan_$mode.out" 100 400 3
  expect_eq "$(cut -d' ' -f1 "$T/fan_$mode.out" | awk 'NR > 1 && $1 < prev { print; exit } { prev = $1 }')" "" \
    "fan_$mode: written in order"
done

# 2. Two fanning-out transforms: the second splits the parts of the first.
pipeline chain "{ plugin: fault, big_every: 50, big_fanout: 300, on_full: full }, { plugin: fault, fanout: 2, on_full: full }" \
  "errors: { tolerance: none }"
expect_exit 0 -- "$S" run "${P[@]}" "$T/chain.yaml"
expect_out "finished: 1000 in, 13960 out, 0 failed, 0 dead-lettered"
expect_no_out "before a sink wrote it"
expect_counts "$T/chain.out" 50 600 2

# 3. A record whose output exceeds even an empty batch fails, by name, and
#    goes to the dead-letter sink; its neighbours are written.
for mode in full err; do
  pipeline "big_$mode" "{ plugin: fault, fanout: 3, big_every: 100, big_fanout: 600, on_full: $mode }" \
    "errors: { tolerance: all, dead_letter: { plugin: fault, out_file: \"$T/big_$mode.dead\" } }"
  expect_exit 0 -- "$S" run "${P[@]}" "$T/big_$mode.yaml"
  expect_out "finished: 1000 in, 2970 out, 10 failed, 10 dead-lettered"
  expect_eq "$(lines "$T/big_$mode.dead")" 10 "big_$mode: dead letters"
  expect_eq "$(awk '$1 % 100 == 0' "$T/big_$mode.out" | wc -l | tr -d ' ')" 0 "big_$mode: no part of a failed record written"
done
expect_eq "$(grep -c 'sluice.error.reason=the record.s output does not fit an empty output batch (512 records, 16777216 bytes); raise batch.max_records or batch.max_bytes' "$T/big_full.dead")" 10 "SLUICE_FULL in an empty batch: the sizes to raise"
expect_eq "$(grep -c 'sluice.error.reason=fixture transform: out is full after 512 of 600 (even in an empty output batch: raise batch.max_records or batch.max_bytes)' "$T/big_err.dead")" 10 "1.0 SLUICE_ERR in an empty batch: its reason and what to raise"

# 4. A transform that fails for a reason of its own is not retried as full.
pipeline realfail "{ plugin: fault, fanout: 3, fail_every: 10 }" \
  "errors: { tolerance: all, dead_letter: { plugin: fault, out_file: \"$T/realfail.dead\" } }"
expect_exit 0 -- "$S" run "${P[@]}" "$T/realfail.yaml"
expect_out "finished: 1000 in, 2700 out, 100 failed, 100 dead-lettered"
expect_eq "$(grep -c 'sluice.error.reason=seq [0-9]* is divisible by 10 sluice' "$T/realfail.dead")" 100 "own reason kept"
finish
