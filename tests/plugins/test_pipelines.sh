#!/usr/bin/env bash
# The generic plugins in real pipelines through the sluice binary, with
# exact line counts and contents: generator → filter → file, file (json) →
# filter on a field → file, parse errors to a dead-letter file (envelope),
# a byte-exact file copy, follow mode with a clean stop, and init errors.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
S=$SLUICE_BIN
lines() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo missing; fi; }
has_lines() { [ "$(lines "$1")" = "$2" ]; }

# 1. generator → filter (topic pattern) → file raw: every record, in order.
cat >"$T/topic.yaml" <<Y
name: topic
source: { plugin: generator, count: 1000, topic: "f2/ctl/7/data", payload: "{seq}" }
transforms:
  - { plugin: filter, topic: "f2/+/7/#" }
sink: { plugin: file, path: "$T/topic.out", format: raw }
batch: { max_records: 64, linger: 10ms }
Y
expect_exit 0 -- "$S" run "$T/topic.yaml"
expect_out "finished: 1000 in, 1000 out, 0 failed"
expect_eq "$(seq 0 999 | cmp - "$T/topic.out" && echo same)" same "generator → filter → file content"

# 2. The same records dropped by a pattern that does not match.
sed -e 's|f2/+/7/#|f2/+/8/#|' -e 's|topic.out|none.out|' "$T/topic.yaml" >"$T/none.yaml"
expect_exit 0 -- "$S" run "$T/none.yaml"
expect_out "finished: 1000 in, 0 out, 0 failed"
expect_eq "$(lines "$T/none.out")" 0 "all filtered out"

# 3. file (json lines) → filter on a field → file json: exactly the even ones.
for i in $(seq 0 999); do
  if [ $((i % 2)) -eq 0 ]; then p=even; else p=odd; fi
  printf '{"n":%d,"parity":"%s"}\n' "$i" "$p"
done >"$T/in.jsonl"
grep '"even"' "$T/in.jsonl" >"$T/even.want"
cat >"$T/even.yaml" <<Y
name: even
source: { plugin: file, path: "$T/in.jsonl", format: json }
transforms:
  - { plugin: filter, field: parity, equals: even }
sink: { plugin: file, path: "$T/even.out", format: json }
Y
expect_exit 0 -- "$S" run "$T/even.yaml"
expect_out "finished: 1000 in, 500 out, 0 failed"
expect_eq "$(cmp "$T/even.want" "$T/even.out" && echo same)" same "filtered json lines"

# 4. Bad JSON is not dropped: fields parse_json fails those records, and
#    the dead-letter file (envelope) shows why and where they came from.
printf '{"a":1}\nnot json\n{"a":2}\n[3]\n{"a":3}\n' >"$T/mixed.txt"
cat >"$T/dlq.yaml" <<Y
name: dlq
source: { plugin: file, path: "$T/mixed.txt" }
transforms:
  - { plugin: fields, parse_json: true, set: { site: plant-1 } }
sink: { plugin: file, path: "$T/good.out" }
errors:
  tolerance: all
  dead_letter: { plugin: file, path: "$T/dead.out", format: envelope }
Y
expect_exit 0 -- "$S" run "$T/dlq.yaml"
expect_out "finished: 5 in, 3 out, 2 failed, 2 dead-lettered"
expect_eq "$(cat "$T/good.out")" \
  "$(printf '{"a":1,"site":"plant-1"}\n{"a":2,"site":"plant-1"}\n{"a":3,"site":"plant-1"}')" \
  "parsed records"
expect_eq "$(lines "$T/dead.out")" 2 "dead letters"
first=$(head -1 "$T/dead.out")
case "$first" in
  "{\"origin\":{\"topic\":\"$T/mixed.txt\",\"partition\":-1,\"offset\":2},\"timestamp\":\"20"*) pass ;;
  *) fail "dead letter origin: $first" ;;
esac
case "$first" in
  *'"key":null,"value":"not json","headers":{"sluice.error.reason":"parse_json: the value is not a JSON object: invalid JSON at line 1 column '*) pass ;;
  *) fail "dead letter reason: $first" ;;
esac
case "$first" in
  *'"sluice.error.stage":"transform[0]","sluice.error.plugin":"fields","sluice.error.pipeline":"dlq"'*'"sluice.origin.offset":"2"},"fields":{}}') pass ;;
  *) fail "dead letter headers: $first" ;;
esac
expect_eq "$(sed -n 2p "$T/dead.out" | grep -c '"value":"\[3\]".*JSON value is an array, not an object')" 1 \
  "second dead letter"

# 5. A byte-exact copy of a large file (raw in, raw out), CRLF and all.
awk 'BEGIN { for (i = 0; i < 200000; i++) printf "row %d %s\n", i, substr("abcdefghijklmnopqrstuvwxyz", 1, i % 27) }' >"$T/big.txt"
cat >"$T/copy.yaml" <<Y
name: copy
source: { plugin: file, path: "$T/big.txt" }
sink: { plugin: file, path: "$T/copy.out", format: raw, append: false }
Y
expect_exit 0 -- "$S" run "$T/copy.yaml"
expect_out "finished: 200000 in, 200000 out, 0 failed"
expect_eq "$(cmp "$T/big.txt" "$T/copy.out" && echo same)" same "file copy"

# 6. follow: appended lines flow until SIGTERM, which stops cleanly.
printf 'a\nb\n' >"$T/tail.txt"
cat >"$T/follow.yaml" <<Y
name: follow
source: { plugin: file, path: "$T/tail.txt", follow: true }
sink: { plugin: file, path: "$T/follow.out", format: raw }
batch: { linger: 10ms }
Y
: >"$T/out"   # here, not only in the job: it truncates when it runs, maybe after a wait_for read
"$S" run "$T/follow.yaml" >"$T/out" 2>&1 &
pid=$!
wait_for 10 has_lines "$T/follow.out" 2 || fail "first lines did not arrive"
printf 'c\nd\n' >>"$T/tail.txt"
wait_for 10 has_lines "$T/follow.out" 4 || fail "appended lines did not arrive"
kill -TERM $pid
rc=0; wait $pid || rc=$?
expect_eq "$rc" 0 "exit status after SIGTERM"
expect_eq "$(cat "$T/follow.out")" "$(printf 'a\nb\nc\nd')" "followed content"

# 7. rate: 30 records at 100/s take about 0.3 s, not less.
cat >"$T/rate.yaml" <<Y
name: rate
source: { plugin: generator, count: 30, rate: 100 }
sink: { plugin: file, discard: true }
batch: { linger: 10ms }
Y
t0=$(date +%s%N)
expect_exit 0 -- "$S" run "$T/rate.yaml"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_out "finished: 30 in, 30 out"
if [ "$ms" -ge 250 ]; then pass; else fail "rate 100/s: 30 records took only $ms ms"; fi

# 8. Options the host cannot check alone are refused at init, by name.
cat >"$T/bad.yaml" <<Y
source: { plugin: generator, count: 3, payload: "{sq}" }
sink: { plugin: file, discard: true }
Y
expect_exit 1 -- "$S" run "$T/bad.yaml"
expect_out 'payload: unknown placeholder "{sq}" at byte 0'
cat >"$T/bad2.yaml" <<Y
source: { plugin: generator, count: 3 }
transforms: [ { plugin: filter, field: x } ]
sink: { plugin: file, discard: true }
Y
expect_exit 1 -- "$S" run "$T/bad2.yaml"
expect_out 'field "x" needs equals or exists'

finish
