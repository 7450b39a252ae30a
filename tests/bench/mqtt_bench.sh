#!/usr/bin/env bash
# Throughput of the MQTT source against a bare libmosquitto subscriber, on
# the same private Mosquitto, in the same run, with the same messages:
#   live     a C publisher (libmosquitto, QoS 1, COUNT messages of SIZE
#            bytes) publishes while the consumer is subscribed; the
#            consumer's rate from its first to its last message;
#   backlog  COUNT messages wait in the consumer's persistent session
#            (published while it was away); the rate at which it drains
#            them: the consumer alone sets the pace.
# The consumers: (a) mqtt_bench_sub, a bare libmosquitto subscriber that only
# counts, its loop in the main thread of a one-thread process; (a') the same
# with the loop in a thread of its own (mosquitto_loop_start); (b) `sluice
# run` with the mqtt source (QoS 1) and the file sink with discard: true,
# default batch settings, timed at the sink's count
# (sluice_file_discarded_total, polled on /metrics every 5 ms).
# Prints msg/s (best of REPEAT) and sluice's share of both bare rates (the
# aim: at least 90 %).
#
#   tests/bench/mqtt_bench.sh [COUNT [SIZE]]      defaults 200000 100
#   REPEAT=3   BUILD=dir (harness build)   JOBS=2
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
COUNT=${1:-200000}
SIZE=${2:-100}
REPEAT=${REPEAT:-3}
BUILD=${BUILD:-$ROOT/build-bench-mqtt}
VAR=$ROOT/var/bench-mqtt
mkdir -p "$VAR"
log() { printf '==> %s\n' "$*" >&2; }
free_port() { local p=$1; while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done; echo "$p"; }

log "building the harness in $BUILD"
cmake -S "$ROOT/tests/bench/mqtt" -B "$BUILD" -G Ninja >/dev/null
ninja -C "$BUILD" -j"${JOBS:-2}" mqtt_bench_pub mqtt_bench_sub mqtt_bench_watch sluice \
  plugin_mqtt plugin_file >/dev/null
B=$BUILD/bin
SLUICE=$B/sluice

PORT=$(free_port 26900)
mkdir -p "$VAR/broker"
# As the test brokers, but no persistence (nothing outlives the run) and
# no cap on a session's queue, so the backlog holds COUNT messages.
cat >"$VAR/broker/mosquitto.conf" <<C
$([ "$(id -u)" -eq 0 ] && echo "user root")
listener $PORT 127.0.0.1
allow_anonymous true
persistence false
max_inflight_messages 1000
max_queued_messages 0
max_queued_bytes 0
log_dest file $VAR/broker/mosquitto.log
C
log "starting a private Mosquitto on 127.0.0.1:$PORT"
mosquitto -c "$VAR/broker/mosquitto.conf" 2>"$VAR/broker/stderr" &
BROKER=$!
SPID=
cleanup() {
  [ -n "$SPID" ] && kill -TERM "$SPID" 2>/dev/null || true
  kill -TERM "$BROKER" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done

rate() { sed -n 's/.*: \([0-9]*\) msg\/s$/\1/p'; }

# pipeline NAME TOPIC CLEAN: a pipeline file for sluice
pipeline() {
  cat >"$VAR/$1.yaml" <<Y
name: bench
source:
  plugin: mqtt
  url: mqtt://127.0.0.1:$PORT
  client_id: sluice-$1
  topics: ["$2/#"]
  qos: 1
  clean_session: $3
sink: { plugin: file, discard: true }
Y
}

# run_sluice NAME HTTP_PORT: starts sluice in the background (SPID)
run_sluice() {
  "$SLUICE" run --http "127.0.0.1:$2" "$VAR/$1.yaml" >"$VAR/$1.log" 2>&1 &
  SPID=$!
}
stop_sluice() { kill -TERM "$SPID"; wait "$SPID" || { echo "sluice failed:" >&2; cat "$VAR"/*.log >&2; exit 1; }; SPID=; }
wait_ready() {
  for _ in $(seq 200); do
    curl -sf "http://127.0.0.1:$1/ready" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "sluice did not become ready" >&2; return 1
}
SERIES='sluice_file_discarded_total{pipeline="bench",stage="sink"}'

declare -A BEST
best() { local k=$1 v=$2; [ "${v:-0}" -gt "${BEST[$k]:-0}" ] && BEST[$k]=$v; return 0; }
pub_rate=0
for rep in $(seq "$REPEAT"); do
  log "round $rep of $REPEAT: $COUNT messages of $SIZE bytes"
  # --- live: the consumer is subscribed while the publisher runs
  for kind in bare threaded; do
    arg=; [ "$kind" = threaded ] && arg=threaded
    "$B/mqtt_bench_sub" "$PORT" "live-$kind$rep/#" "$COUNT" "$kind-live-$rep" live $arg >"$VAR/sub.out" &
    SUB=$!
    for _ in $(seq 200); do grep -q subscribed "$VAR/sub.out" && break; sleep 0.02; done
    p=$("$B/mqtt_bench_pub" "$PORT" "live-$kind$rep/x" "$COUNT" "$SIZE" | rate)
    wait "$SUB"
    r=$(rate <"$VAR/sub.out"); best "live $kind" "$r"; best pub "$p"
    log "live, $kind subscriber: $r msg/s (publisher: $p msg/s)"
  done
  HP=$(free_port 27900)
  pipeline live "live-s$rep" true
  run_sluice live "$HP"
  wait_ready "$HP"
  "$B/mqtt_bench_watch" "$HP" "$SERIES" "$COUNT" 120 >"$VAR/watch.out" &
  W=$!
  p=$("$B/mqtt_bench_pub" "$PORT" "live-s$rep/x" "$COUNT" "$SIZE" | rate)
  wait "$W"
  stop_sluice
  r=$(rate <"$VAR/watch.out"); best "live sluice" "$r"; best pub "$p"
  log "live, sluice: $r msg/s (publisher: $p msg/s)"

  # --- backlog: every consumer's session exists, then the messages are
  #     published once (each session queues them), then each drains its own
  "$B/mqtt_bench_sub" "$PORT" "back$rep/#" "$COUNT" "bare-back-$rep" prepare
  "$B/mqtt_bench_sub" "$PORT" "back$rep/#" "$COUNT" "threaded-back-$rep" prepare
  HP=$(free_port 27900)
  pipeline "back$rep" "back$rep" false
  run_sluice "back$rep" "$HP"
  wait_ready "$HP"
  stop_sluice
  "$B/mqtt_bench_pub" "$PORT" "back$rep/x" "$COUNT" "$SIZE" >/dev/null
  r=$("$B/mqtt_bench_sub" "$PORT" "back$rep/#" "$COUNT" "bare-back-$rep" drain | rate)
  best "backlog bare" "$r"; log "backlog, bare subscriber: $r msg/s"
  r=$("$B/mqtt_bench_sub" "$PORT" "back$rep/#" "$COUNT" "threaded-back-$rep" drain threaded | rate)
  best "backlog threaded" "$r"; log "backlog, threaded subscriber: $r msg/s"
  HP=$(free_port 27900)
  "$B/mqtt_bench_watch" "$HP" "$SERIES" "$COUNT" 120 >"$VAR/watch.out" &
  W=$!
  run_sluice "back$rep" "$HP"
  wait "$W"
  stop_sluice
  r=$(rate <"$VAR/watch.out"); best "backlog sluice" "$r"; log "backlog, sluice: $r msg/s"
done

pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f %%", b ? 100 * a / b : 0 }'; }
echo
echo "MQTT source throughput, $COUNT messages of $SIZE bytes, QoS 1, best of $REPEAT"
echo "(mosquitto $(mosquitto -h 2>&1 | sed -n 's/^mosquitto version //p'), libmosquitto $(pkg-config --modversion libmosquitto), $(nproc) CPUs; publisher up to ${BEST[pub]} msg/s)"
printf '%-8s %12s %12s %12s %12s %14s\n' "" "bare" "bare thread" "sluice" "sluice/bare" "sluice/thread"
for mode in live backlog; do
  printf '%-8s %10s/s %10s/s %10s/s %12s %14s\n' "$mode" "${BEST[$mode bare]}" "${BEST[$mode threaded]}" \
    "${BEST[$mode sluice]}" "$(pct "${BEST[$mode sluice]}" "${BEST[$mode bare]}")" \
    "$(pct "${BEST[$mode sluice]}" "${BEST[$mode threaded]}")"
done
echo "bare: libmosquitto's loop in the main thread of a one-thread process (glibc"
echo "then skips lock atomics and cancellation handling); bare thread: the same with"
echo "mosquitto_loop_start(), as any program that does something else must run it."
