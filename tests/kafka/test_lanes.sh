#!/usr/bin/env bash
# `lanes: 2` on a Kafka source, against the suite's broker: one pipeline file
# runs as two lanes ("lt#1", "lt#2") in one process and one consumer group,
# on a topic of 4 partitions.  Every record arrives exactly once, both lanes
# own partitions and write records (/status), each partition's records reach
# the sink in offset order, and after a stop and a second run nothing already
# written is replayed (each lane committed its partitions' offsets).  Also:
# `consumers: 2` is refused with a pointer to `lanes`.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
. "$SLUICE_SOURCE_DIR/tests/infra/env.sh"
(exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null \
  || { echo "FAIL: no Kafka broker on 127.0.0.1:$KAFKA_PORT (SLUICE_TEST_KAFKA_PORT)" >&2; exit 1; }
S=$SLUICE_BIN
B=127.0.0.1:$KAFKA_PORT
ID=$$$RANDOM
TOPIC=lanes-$ID GROUP=lanes-g-$ID
N1=4000 N2=1000
infra_kafka_topic "$TOPIC" 4 >/dev/null

pid=
trap '_trc=$?; [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; _cleanup $_trc' EXIT

produce() { # RUN COUNT: values {"r":RUN,"seq":0..COUNT-1}, keyed by both
  cat >"$T/produce.yaml" <<Y
name: lanes-produce
source: { plugin: generator, count: $2, payload: '{"r":$1,"seq":{seq}}', key: "$1-{seq}" }
sink: { plugin: kafka, bootstrap: "$B", topic: $TOPIC, key: record, value_converter: bytes }
Y
  expect_exit 0 -- "$S" run "$T/produce.yaml"
}

cat >"$T/lt.yaml" <<Y
name: lt
lanes: 2
source: { plugin: kafka, bootstrap: "$B", topics: [$TOPIC], group: $GROUP, value_converter: bytes }
sink: { plugin: file, path: "$T/out.jsonl", format: envelope }
batch: { max_records: 100, linger: 20ms }
Y
expect_exit 0 -- "$S" validate "$T/lt.yaml"
expect_out "2 lanes"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start() {
  HTTP=$(port)
  "$S" run --http "127.0.0.1:$HTTP" "$T/lt.yaml" >>"$T/run.log" 2>&1 &
  pid=$!
}
stop() { kill -TERM "$pid"; wait "$pid" || fail "the laned run did not end cleanly: $(tail -5 "$T/run.log")"; pid=; }
status() { curl -sf "http://127.0.0.1:$HTTP/status"; }
# Both lanes hold partitions before anything is produced, so no rebalance
# moves a partition while records are in flight (which may replay them:
# at-least-once, as in any consumer group).
both_assigned() { grep -q "\[lt#1/source:kafka\] assigned $TOPIC/" "$T/run.log" &&
                  grep -q "\[lt#2/source:kafka\] assigned $TOPIC/" "$T/run.log"; }
lines() { [ -f "$T/out.jsonl" ] && [ "$(wc -l <"$T/out.jsonl")" -ge "$1" ]; }

start
wait_for 60 both_assigned || fail "both lanes did not get partitions: $(grep -i assign "$T/run.log" | tail -4)"
produce 1 "$N1"
wait_for 60 lines "$N1" || fail "only $(wc -l <"$T/out.jsonl" 2>/dev/null) of $N1 records arrived"
sleep 1

# /status: two entries grouped as "lt", each of which wrote records.
status >"$T/status.json" || fail "no /status"
python3 - "$T/status.json" "$N1" <<'P' || fail "/status does not show two working lanes: $(cat "$T/status.json")"
import json, sys
ps = [p for p in json.load(open(sys.argv[1]))["pipelines"] if p.get("group") == "lt"]
assert sorted(p["name"] for p in ps) == ["lt#1", "lt#2"], ps
assert all(p["lanes"] == 2 and p["state"] == "running" for p in ps), ps
assert all(p["records_out"] > 0 for p in ps), [p["records_out"] for p in ps]
assert sum(p["records_out"] for p in ps) == int(sys.argv[2]), ps
P
curl -sf "http://127.0.0.1:$HTTP/metrics" >"$T/metrics" || fail "no /metrics"
for l in 1 2; do
  grep -q "^sluice_records_out_total{pipeline=\"lt#$l\",stage=\"sink\"} [1-9]" "$T/metrics" && pass ||
    fail "no records_out for lane $l in /metrics: $(grep records_out "$T/metrics")"
done
stop

check_out() { # N1 [N2]: each (run, seq) exactly once; per partition, offsets rising
  python3 - "$T/out.jsonl" "$@" <<'P'
import json, sys
want = sorted((r + 1, s) for r, n in enumerate(map(int, sys.argv[2:])) for s in range(n))
seqs, last, err = [], {}, []
for line in open(sys.argv[1]):
    r = json.loads(line)
    v = json.loads(r["value"])
    seqs.append((v["r"], v["seq"]))
    p, o = r["origin"]["partition"], r["origin"]["offset"]
    if o <= last.get(p, -1):
        err.append(f"partition {p}: offset {o} after {last[p]}")
    last[p] = o
if sorted(seqs) != want:
    dup = len(seqs) - len(set(seqs))
    err.append(f"{len(seqs)} records, {len(set(seqs))} distinct, {dup} duplicates, want {len(want)}")
if len(last) != 4:
    err.append(f"records from partitions {sorted(last)}, want 4")
print("; ".join(err[:5]))
sys.exit(1 if err else 0)
P
}
check_out "$N1" >"$T/check" && pass || fail "first run: $(cat "$T/check")"

# A second run of the same group: the committed offsets hold, so only the
# new records are written.
: >"$T/run.log"
start
wait_for 60 both_assigned || fail "second run: both lanes did not get partitions"
produce 2 "$N2"
wait_for 60 lines $((N1 + N2)) || fail "second run: $(wc -l <"$T/out.jsonl") of $((N1 + N2)) records"
sleep 2
stop
check_out "$N1" "$N2" >"$T/check" && pass || fail "after the restart: $(cat "$T/check")"

# The old way to ask for parallelism names the new one.
cat >"$T/c2.yaml" <<Y
source: { plugin: kafka, bootstrap: "$B", topics: [$TOPIC], group: $GROUP-c, consumers: 2 }
sink: { plugin: file, discard: true }
Y
expect_exit 1 -- "$S" run "$T/c2.yaml"
expect_out 'top-level "lanes: 2"'
finish
