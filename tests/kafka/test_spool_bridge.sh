#!/usr/bin/env bash
# The seed's topology around a Kafka outage, with readings dated 2020.
#  1. The MQTT -> Kafka bridge (pipelines/seed/10-bridge.yaml, disk buffer)
#     is stopped with SIGTERM while Kafka is down: it leaves what Kafka did
#     not take in its spool and exits; Kafka and the bridge come back and
#     every reading arrives.  Before the spool, 2,452 of 3,000 were lost.
#  2. Message time: the broker checks retention every second (the default
#     7-day retention, a faster check than the default 5 minutes), and the
#     decoder and the sink start only after the data has sat in Kafka
#     through several checks.  The readings' own time (2020) must not be the
#     messages' time, or the broker deletes them before the next hop reads
#     them; every row must arrive in the database.
# A private broker (stopped and started by the test), private Mosquitto and
# PostgreSQL (e2e_lib.sh).
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
. "$SLUICE_SOURCE_DIR/tests/infra/env.sh"
. "$SLUICE_SOURCE_DIR/tests/e2e/e2e_lib.sh"
START=${E2E_START:-"2020-06-01 00:00:00"}
. "$SLUICE_SOURCE_DIR/tests/e2e/spool_lib.sh"
KSH="$SLUICE_SOURCE_DIR/tests/infra/kafka.sh"
N=${E2E_READINGS:-3000}
RATE=${E2E_RATE:-300}
RETENTION_WAIT=${E2E_RETENTION_WAIT:-5}
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
KPORT=$(free_pair)
KDIR=$T/kafka
mkdir -p "$KDIR"
if [ -f "$SLUICE_TEST_VAR/kafka/lib/.fetched" ]; then cp -r "$SLUICE_TEST_VAR/kafka/lib" "$KDIR/lib"; fi
export SLUICE_KAFKA_HEAP=${SLUICE_KAFKA_HEAP:--Xms128m -Xmx384m}
export SLUICE_KAFKA_EXTRA_CONF="log.retention.check.interval.ms=1000
log.initial.task.delay.ms=0"
procs=()
trap '_trc=$?; for p in "${procs[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
      "$KSH" stop "$KDIR" "$KPORT" >/dev/null 2>&1 || true; _spool_cleanup $_trc' EXIT
"$KSH" start "$KDIR" "$KPORT" >/dev/null || { fail "private broker did not start"; exit 1; }
export KAFKA_BOOTSTRAP=127.0.0.1:$KPORT
for t in raw_iot_data decoded_iot_data; do "$KSH" topic "$KDIR" "$KPORT" "$t" 3 >/dev/null; done
"$KSH" topic "$KDIR" "$KPORT" sluice_dlq 1 >/dev/null

reference "$N" "$RATE"
SEED=$SLUICE_SOURCE_DIR/pipelines/seed
run() { # NAME FILE [ARGS]: a pipeline process; pid in $pid_NAME, /metrics in $url_NAME
  local name=$1 file=$2; shift 2
  local from=0; [ -f "$T/$name.log" ] && from=$(wc -l <"$T/$name.log")
  "$S" run --http 127.0.0.1:0 "$@" "$SEED/$file" >>"$T/$name.log" 2>&1 &
  procs+=($!)
  printf -v "pid_$name" %s $!
  printf -v "url_$name" %s "$(url_in "$T/$name.log" "$((from + 1))")"
}
bridge_held() { metric_at "$url_bridge" sluice_spool_records f2-bridge; }
bridge_empty() { [ "$(bridge_held)" = 0 ]; }
# The simulator: the seed's file, bounded and dated 2020.
sim_start_seed() {
  sed -e "s/^  rate: .*/  rate: $RATE\n  count: $N\n  start_time: \"$START\"/" \
    "$SEED/00-simulator.yaml" >"$T/sim.yaml"
  "$S" run "$T/sim.yaml" >>"$T/sim.log" 2>&1 & simpid=$!
}

# ------------------------------------------ 1. SIGTERM during a Kafka outage
run bridge 10-bridge.yaml --shutdown-timeout 5s
wait_for 20 grep -q "f2-bridge\] running" "$T/bridge.log" || fail "bridge did not start: $(tail -3 "$T/bridge.log")"
sim_start_seed
sleep 3
"$KSH" stop "$KDIR" "$KPORT" >/dev/null
sleep 3
held=$(bridge_held)
kill -0 "$simpid" 2>/dev/null && pass || fail "the stop came after the simulator finished"
t0=$SECONDS
kill -TERM "$pid_bridge"; rc=0; wait "$pid_bridge" || rc=$?
took=$((SECONDS - t0))
echo "bridge SIGTERM with Kafka down: exit status $rc after ${took}s, ${held:-?} records held in its spool"
# The kafka sink's write in progress waits for its delivery reports up to
# delivery_timeout (30 s by default) even past the shutdown deadline: the
# bound here is the deadline plus that, not the deadline alone.
[ "$took" -le 45 ] && pass || fail "SIGTERM took ${took}s with --shutdown-timeout 5s"
[ "${held:-0}" -gt 0 ] && pass || fail "the bridge's spool held nothing during the Kafka outage"
if grep -q "they are lost" "$T/bridge.log"; then fail "the bridge says records are lost: $(grep 'they are lost' "$T/bridge.log")"; else pass; fi
sim_wait
"$KSH" start "$KDIR" "$KPORT" >/dev/null || { fail "private broker did not start again"; exit 1; }
run bridge 10-bridge.yaml
replayed=$(metric_at "$url_bridge" sluice_spool_replayed_total f2-bridge)
echo "the bridge replayed ${replayed:-?} records from its spool"
[ "${replayed:-0}" -gt 0 ] && pass || fail "the bridge replayed nothing from its spool"
wait_for 120 bridge_empty || fail "the bridge's spool did not drain: $(bridge_held) held"
sleep 2

# ---------------------------------- 2. the data sits in Kafka, then flows on
sleep "$RETENTION_WAIT"
run dec 20-decode.yaml
wait_for 120 sh -c "[ \"\$(curl -sf $url_dec/metrics | awk '/^sluice_records_out_total\\{/ { s += \$2 } END { printf \"%d\", s }')\" -ge $want ]" ||
  fail "the decoder wrote fewer than $want measurements: $(tail -3 "$T/dec.log")"
sleep "$RETENTION_WAIT"
run sink 30-sink.yaml
settle 120
check_exact "bridge stopped during a Kafka outage; readings dated ${START%% *} through the seed topology"
grep -h "deleting\|Deleted log segment\|retention" "$KDIR"/kafka.log 2>/dev/null | grep -i "raw_iot_data\|decoded_iot_data" | head -3 || true

for p in "$pid_sink" "$pid_dec" "$pid_bridge"; do
  kill -TERM "$p" 2>/dev/null || true; rc=0; wait "$p" || rc=$?
  expect_eq "$rc" 0 "exit status after SIGTERM (pid $p)"
done
procs=()
finish
