#!/usr/bin/env bash
# A Kafka broker restart in the middle of a stream, through the sluice
# binary: a producing pipeline (generator -> kafka) and a consuming one
# (kafka -> file) keep running while the broker goes away and comes back.
# The sink's writes fail retriably meanwhile (SLUICE_RETRY, then OK) and the
# source reconnects by itself: every record arrives, none is lost.  Then the
# broker stops for good, and the consumer still stops cleanly and quickly.
# The broker is a private one (tests/infra/kafka.sh on free ports), so the
# suite's shared broker is never disturbed.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
. "$SLUICE_SOURCE_DIR/tests/infra/env.sh"
S=$SLUICE_BIN
KSH="$SLUICE_SOURCE_DIR/tests/infra/kafka.sh"
N=${RESTART_RECORDS:-30000}
RATE=${RESTART_RATE:-2500}
free_pair() { # a port P with P+1 free too (the controller's)
  python3 - <<'P'
import socket
for _ in range(200):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", p + 1)); t.close(); s.close(); print(p); break
    except OSError:
        s.close()
P
}
PORT=$(free_pair)
KDIR=$T/kafka
mkdir -p "$KDIR"
# The suite's broker fetched the jars already: reuse them.
if [ -f "$SLUICE_TEST_VAR/kafka/lib/.fetched" ]; then cp -r "$SLUICE_TEST_VAR/kafka/lib" "$KDIR/lib"; fi
export SLUICE_KAFKA_HEAP=${SLUICE_KAFKA_HEAP:--Xms128m -Xmx384m}
pids=()
cleanup_all() {
  local p; for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  "$KSH" stop "$KDIR" "$PORT" >/dev/null 2>&1 || true
}
trap '_trc=$?; cleanup_all; _cleanup $_trc' EXIT
"$KSH" start "$KDIR" "$PORT" >/dev/null || { fail "private broker did not start"; exit 1; }
"$KSH" topic "$KDIR" "$PORT" restart-t 3

cat >"$T/produce.yaml" <<Y
name: produce
source: { plugin: generator, count: $N, rate: $RATE, payload: '{"seq":{seq}}', key: "k{seq}" }
sink: { plugin: kafka, bootstrap: "127.0.0.1:$PORT", topic: restart-t, value_converter: bytes,
        delivery_timeout: 3s }
retry: { initial: 200ms, max: 2s }
batch: { max_records: 500, linger: 50ms }
Y
cat >"$T/consume.yaml" <<Y
name: consume
source: { plugin: kafka, bootstrap: "127.0.0.1:$PORT", topics: [restart-t], group: restart-g,
          value_converter: bytes }
sink: { plugin: file, path: "$T/out.txt", format: raw }
Y
"$S" run "$T/consume.yaml" >"$T/consume.log" 2>&1 & consume=$!; pids+=($consume)
wait_for 30 grep -q assigned "$T/consume.log" || fail "consumer got no partitions"
"$S" run "$T/produce.yaml" >"$T/produce.log" 2>&1 & produce=$!; pids+=($produce)
wait_for 30 test -s "$T/out.txt" || fail "nothing consumed before the restart"
sleep 2
before=$(wc -l <"$T/out.txt")
"$KSH" restart "$KDIR" "$PORT" >/dev/null || fail "broker restart failed"
after_restart=$(wc -l <"$T/out.txt")
rc=0; wait "$produce" || rc=$?
expect_eq "$rc" 0 "producer exit status"
distinct() { grep -o '"seq":[0-9]*' "$T/out.txt" | sort -u | wc -l; }
all_in() { [ "$(distinct)" -ge "$N" ]; }
wait_for 120 all_in || true
# The broker goes away for good; a clean stop must still end within the
# host's shutdown deadline, not wait for a group coordinator.
"$KSH" stop "$KDIR" "$PORT" >/dev/null
sleep 2
t0=$SECONDS
kill -TERM "$consume"; rc=0; wait "$consume" || rc=$?
expect_eq "$rc" 0 "consumer exit status (broker gone)"
[ $((SECONDS - t0)) -lt 25 ] && pass || fail "stopping without a broker took $((SECONDS - t0)) s"
pids=()
expect_eq "$(distinct)" "$N" "distinct records consumed"
lines=$(wc -l <"$T/out.txt")
[ "$before" -lt "$N" ] && [ "$after_restart" -lt "$N" ] && pass \
  || fail "the restart was not mid-stream ($before, $after_restart of $N)"
grep -q "retry" "$T/produce.log" && pass || fail "the sink never retried: $(grep -c . "$T/produce.log") log lines"
grep -q "finished: $N in, $N out" "$T/produce.log" && pass \
  || fail "producer did not finish cleanly: $(tail -2 "$T/produce.log")"
echo "restart at $before of $N records consumed; $lines lines in all ($((lines - N)) duplicates)"
finish
