#!/usr/bin/env bash
# Runner semantics through the real binary with a fault-injecting plugin:
# ordering, acks, retries, partial failures, dead letters, error policies,
# restarts.  Every record must end written, dead-lettered, or counted.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
S=$SLUICE_BIN
P=(-P "$FAULT_DIR")

pipeline() { # pipeline NAME SRC_OPTS TRANSFORMS SINK_OPTS ERRORS
  cat >"$T/$1.yaml" <<Y
name: $1
source: { plugin: fault, $2 }
transforms: [ $3 ]
sink: { plugin: fault, out_file: "$T/$1.out" $4 }
batch: { max_records: 64, linger: 10ms }
retry: { initial: 10ms, max: 50ms }
restart: { initial: 50ms, max: 200ms }
$5
Y
}
lines() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }
uniq_lines() { cut -d' ' -f1 "$1" | sort -n -u | wc -l | tr -d ' '; }

# 1. Everything arrives once, in order, and is acknowledged in order.
pipeline plain "count: 1000" "" "" ""
expect_exit 0 -- "$S" run "${P[@]}" "$T/plain.yaml"
expect_out "finished: 1000 in, 1000 out, 0 failed, 0 dead-lettered"
expect_no_out "ack out of order"
expect_eq "$(lines "$T/plain.out")" 1000 "records written"
expect_eq "$(seq 0 999 | cmp - "$T/plain.out" && echo same)" same "written in order"

# 1b. A source that finds its end on an empty poll (128 = 2 full batches)
#     still finishes, and promptly: the sink side is woken, not timed out.
#     Timed between the pipeline's own "running" and "finished" log lines,
#     so a slow process start (a loaded machine, a sanitizer) does not count;
#     the bug this guards against costs the sink side's 200 ms poll timeout.
pipeline even "count: 128" "" "" ""
expect_exit 0 -- "$S" run "${P[@]}" "$T/even.yaml"
expect_out "finished: 128 in, 128 out"
log_ms() { # the log line's time of day in ms
  grep -m1 -F "$1" "$T/out" | sed -n 's/^[0-9-]*T\([0-9]*\):\([0-9]*\):\([0-9]*\)\.\([0-9]*\)Z.*/\1 \2 \3 \4/p' |
    awk '{ print (($1 * 60 + $2) * 60 + $3) * 1000 + $4 }'
}
t0=$(log_ms "[even] running:") t1=$(log_ms "[even] finished:")
[ -n "$t0" ] && [ -n "$t1" ] && [ $((t1 - t0)) -lt 150 ] && pass ||
  fail "a 128-record pipeline took $((${t1:-0} - ${t0:-0})) ms from running to finished"

# 2. Transform failures go to the dead-letter sink with reason, stage, origin.
pipeline dlq "count: 1000" "{ plugin: fault, fail_every: 10 }" "" \
  "errors: { tolerance: all, dead_letter: { plugin: fault, out_file: \"$T/dlq.dead\" } }"
expect_exit 0 -- "$S" run "${P[@]}" "$T/dlq.yaml"
expect_out "finished: 1000 in, 900 out, 100 failed, 100 dead-lettered"
expect_eq "$(lines "$T/dlq.out")" 900 "good records written"
expect_eq "$(lines "$T/dlq.dead")" 100 "dead letters"
expect_eq "$(head -1 "$T/dlq.dead")" \
  "0 sluice.error.reason=seq 0 is divisible by 10 sluice.error.stage=transform[0] sluice.error.plugin=fault sluice.error.pipeline=dlq sluice.origin.topic=fault sluice.origin.partition=0 sluice.origin.offset=0" \
  "dead-letter headers"
expect_eq "$(cat "$T/dlq.out" "$T/dlq.dead" | cut -d' ' -f1 | sort -n | uniq | wc -l)" 1000 "every record accounted for"

# 2b. A secret a plugin quotes in its failure reason reaches neither the
#     dead letter's sluice.error.reason nor the log.
pipeline leak "count: 100" "{ plugin: fault, fail_every: 10, leak: \"s3cr3t-Leak-77\" }" "" \
  "errors: { tolerance: all, dead_letter: { plugin: fault, out_file: \"$T/leak.dead\" } }"
expect_exit 0 -- "$S" run "${P[@]}" "$T/leak.yaml"
expect_eq "$(lines "$T/leak.dead")" 10 "dead letters of the leaking transform"
expect_eq "$(grep -c 's3cr3t-Leak-77' "$T/leak.dead" "$T/out" | awk -F: '{ n += $2 } END { print n }')" 0 \
  "the secret in dead letters and the log"
grep -q 'sluice.error.reason=seq 0 is divisible by 10; password=\*\*\*' "$T/leak.dead" && pass ||
  fail "the reason lost more than the secret: $(head -1 "$T/leak.dead")"

# 3. tolerance all without a dead-letter sink: counted and logged.
pipeline rej "count: 1000" "{ plugin: fault, fail_every: 100 }" "" "errors: { tolerance: all }"
expect_exit 0 -- "$S" run "${P[@]}" "$T/rej.yaml"
expect_out "finished: 1000 in, 990 out, 10 failed"
expect_out "rejected a record from fault:0@0 at transform[0] (plugin \"fault\"): seq 0 is divisible by 100"

# 4. tolerance none: the pipeline stops with the error and run exits 1.
pipeline none "count: 1000" "{ plugin: fault, fail_every: 500 }" "" "errors: { tolerance: none }"
expect_exit 1 -- "$S" run "${P[@]}" "$T/none.yaml"
expect_out "stopped (errors.tolerance: none): transform[0] (plugin \"fault\") failed a record from fault:0@0: seq 0 is divisible by 500"

# 5. Retriable sink and transform failures: retried, nothing lost or doubled.
pipeline retry "count: 1000, retry_polls: 2" "{ plugin: fault, retry_first: 3, fanout: 2 }" \
  ", retry_first: 4" ""
expect_exit 0 -- "$S" run "${P[@]}" "$T/retry.yaml"
expect_out "finished: 1000 in, 2000 out"
expect_out "database away; retry 1 in"
expect_out "lookup server away; retrying in"
expect_out "pretends its server is away; retrying in"
expect_eq "$(lines "$T/retry.out")" 2000 "fanned-out records written once each"
expect_eq "$(uniq_lines "$T/retry.out")" 1000 "every seq present"

# 6. Partial sink failures: the refused records are dead-lettered by the sink stage.
pipeline part "count: 1000" "" ", fail_every: 7" \
  "errors: { tolerance: all, dead_letter: { plugin: fault, out_file: \"$T/part.dead\" } }"
expect_exit 0 -- "$S" run "${P[@]}" "$T/part.yaml"
expect_out "finished: 1000 in, 857 out, 143 failed, 143 dead-lettered"
expect_eq "$(grep -c 'sluice.error.stage=sink' "$T/part.dead")" 143 "sink-stage dead letters"
expect_eq "$(grep -c 'refused by the sink' "$T/part.dead")" 143 "sink reason carried"

# 6b. Records the source itself fails (e.g. a value its converter cannot
#     read) are dead-lettered at the source stage, with or without
#     transforms, and still acknowledged.
pipeline srcfail "count: 1000, fail_every: 10" "" "" \
  "errors: { tolerance: all, dead_letter: { plugin: fault, out_file: \"$T/srcfail.dead\" } }"
expect_exit 0 -- "$S" run "${P[@]}" "$T/srcfail.yaml"
expect_out "finished: 1000 in, 900 out, 100 failed, 100 dead-lettered"
expect_no_out "ack out of order"
expect_eq "$(grep -c 'sluice.error.reason=seq [0-9]* cannot be converted sluice.error.stage=source' "$T/srcfail.dead")" 100 "source-stage dead letters"
pipeline srcfail2 "count: 1000, fail_every: 10" "{ plugin: fault, fanout: 2 }" "" \
  "errors: { tolerance: all, dead_letter: { plugin: fault, out_file: \"$T/srcfail2.dead\" } }"
expect_exit 0 -- "$S" run "${P[@]}" "$T/srcfail2.yaml"
expect_out "finished: 1000 in, 1800 out, 100 failed, 100 dead-lettered"
expect_eq "$(cut -d' ' -f1 "$T/srcfail2.out" | awk '$1 % 10 == 0' | wc -l | tr -d ' ')" 0 "no failed record reached the sink"

# 7. A fatal sink error restarts the pipeline with backoff; the source
#    resumes after its last acknowledgement, so nothing is lost.
pipeline fatal "count: 1000" "" ", fatal_at_write: 5" ""
expect_exit 0 -- "$S" run "${P[@]}" "$T/fatal.yaml"
expect_out "fatal error at write 5; restarting in 50 ms"
expect_eq "$(uniq_lines "$T/fatal.out")" 1000 "every record written after the restart"

# 8. Retries give up after retry.max_attempts: the pipeline fails and restarts.
cat >"$T/giveup.yaml" <<Y
source: { plugin: fault, count: 10 }
sink: { plugin: fault, always_retry: true }
retry: { initial: 5ms, max: 5ms, max_attempts: 3 }
restart: { initial: 10s, max: 10s }
Y
: >"$T/out"   # here, not only in the job: it truncates when it runs, maybe after a wait_for read
"$S" run "${P[@]}" "$T/giveup.yaml" >"$T/out" 2>&1 &
pid=$!
wait_for 10 grep -q "gave up after 3 attempts" "$T/out" || fail "no give-up message"
kill -TERM $pid; wait $pid || true
expect_out "restarting in 10000 ms"

# 9. One failing pipeline does not disturb another in the same process.
# (The bad one's source is the generator: the fault source keeps its position
# in process-wide statics, which two fault sources in one process would share.)
cat >"$T/multi-bad.yaml" <<Y
source: { plugin: generator, count: 0 }
sink: { plugin: fault, always_retry: true }
retry: { initial: 5ms, max: 20ms }
Y
pipeline multi-good "count: 3000" "" ", slow: 1ms" ""
mkdir -p "$T/multi" && mv "$T/multi-bad.yaml" "$T/multi-good.yaml" "$T/multi/"
: >"$T/out"
"$S" run "${P[@]}" "$T/multi" >"$T/out" 2>&1 &
pid=$!
wait_for 30 grep -q "multi-good.*finished: 3000 in, 3000 out" "$T/out" || fail "good pipeline did not finish"
kill -TERM $pid
sleep 1
kill -TERM $pid 2>/dev/null || true   # second signal abandons the bad pipeline's retries
wait $pid || true
expect_out "[multi-bad/sink] fixture sink: database away"

finish
