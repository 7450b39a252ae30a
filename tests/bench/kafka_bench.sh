#!/usr/bin/env bash
# Throughput of the kafka plugin against bare librdkafka clients, in the
# same run, on the same broker, with the same records (COUNT values of SIZE
# bytes, 3 partitions):
#   produce  bare: tests/bench/kafka/kbench_produce (idempotent, acks=all,
#            lz4, linger 5 ms, asynchronous, one flush at the end); and
#            the same waiting for every delivery report after each BATCH
#            messages, the durability the sink gives each batch ("sync")
#            sluice: `sluice run` generator -> kafka sink (the same settings;
#            value_converter bytes, each batch written and confirmed before
#            the next), for each batch.max_records in BATCHES; with the
#            default message_time produce (a sluice.timestamp header per
#            message) and with message_time record (none)
#   consume  bare: tests/bench/kafka/kbench_consume (a new group, consumer
#            poll loop, auto commit)
#            Both consumers fetch up to 8 MiB per partition per request
#            (max.partition.fetch.bytes, fetch.max.bytes 50 MiB; smaller
#            fetches make the broker's round trips, not the client, the
#            limit), and both prefetch up to 64 MiB (queued.min.messages=
#            1000000; librdkafka's 100000 pauses fetching ~1 s): the
#            "fast" properties of connectors/kafka/README.md (Memory).
#            sluice: `sluice run` kafka source (bytes; and json) -> file
#            sink with discard, timed until /metrics shows COUNT records out;
#            and bytes with the plugin's default, bounded prefetch
#            (peak RSS of each sluice run printed too)
# Each figure is the best of REPEAT runs, process start to last record;
# the ratio is sluice / bare.
#
#   tests/bench/kafka_bench.sh [COUNT [SIZE]]      defaults 1000000 100
#   REPEAT=3  BATCHES="1000 10000"
#   SLUICE_BENCH_KAFKA_PORT=PORT   use a running broker (else a private one
#                                  is started under var/bench-kafka)
#   BUILD=dir (harness build directory)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
COUNT=${1:-1000000}
SIZE=${2:-100}
REPEAT=${REPEAT:-3}
BATCHES=${BATCHES:-1000 10000}
BUILD=${BUILD:-$ROOT/build-bench-kafka}
VAR=$ROOT/var/bench-kafka
KSH=$ROOT/tests/infra/kafka.sh
mkdir -p "$VAR"
log() { printf '==> %s\n' "$*" >&2; }
now() { date +%s.%N; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

log "building the harness in $BUILD"
cmake -S "$ROOT/tests/bench/kafka" -B "$BUILD" -G Ninja >/dev/null
ninja -C "$BUILD" -j"${JOBS:-2}" kbench_produce kbench_consume sluice plugin_kafka \
  plugin_generator plugin_file >/dev/null
S=$BUILD/bin/sluice

if [ -n "${SLUICE_BENCH_KAFKA_PORT:-}" ]; then
  PORT=$SLUICE_BENCH_KAFKA_PORT
else
  PORT=29192
  while (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null ||
        (exec 3<>"/dev/tcp/127.0.0.1/$((PORT + 1))") 2>/dev/null; do PORT=$((PORT + 2)); done
  log "starting a private Kafka broker on 127.0.0.1:$PORT"
  SLUICE_KAFKA_HEAP=${SLUICE_KAFKA_HEAP:--Xms512m -Xmx512m} "$KSH" start "$VAR/kafka" "$PORT" >&2
  trap '"$KSH" stop "$VAR/kafka" "$PORT" >&2' EXIT
fi
B=127.0.0.1:$PORT
FETCH=8388608
RUN=$$
topic() { "$KSH" topic "$VAR/kafka" "$PORT" "$1" 3 >&2; }
best() { sort -gr | head -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f%%", 100 * a / b }'; }

# --- produce ---------------------------------------------------------
log "produce: $COUNT x $SIZE B, best of $REPEAT"
bare_p=$(for r in $(seq 1 "$REPEAT"); do
  t=bench-p-bare-$RUN-$r; topic "$t"
  "$BUILD/kbench_produce" "$B" "$t" "$COUNT" "$SIZE"
done | best)
declare -A sl_p sl_pr bare_s
for batch in $BATCHES; do
  bare_s[$batch]=$(for r in $(seq 1 "$REPEAT"); do
    t=bench-p-sync-$RUN-$batch-$r; topic "$t"
    "$BUILD/kbench_produce" "$B" "$t" "$COUNT" "$SIZE" "$batch"
  done | best)
  for mt in produce record; do
  v=$(for r in $(seq 1 "$REPEAT"); do
    t=bench-p-sl-$RUN-$batch-$mt-$r; topic "$t"
    cat >"$VAR/produce.yaml" <<Y
name: kbench-produce
source: { plugin: generator, count: $COUNT, size: $SIZE }
sink: { plugin: kafka, bootstrap: "$B", topic: $t, value_converter: bytes, key: none, message_time: $mt }
batch: { max_records: $batch, max_bytes: 64MiB }
Y
    t0=$(now)
    "$S" run --log-level warn "$VAR/produce.yaml" >&2
    t1=$(now)
    awk -v n="$COUNT" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", n / (b - a) }'
  done | best)
  if [ $mt = produce ]; then sl_p[$batch]=$v; else sl_pr[$batch]=$v; fi
  done
done

# --- consume ---------------------------------------------------------
log "consume: filling a topic with $COUNT x $SIZE B"
CT=bench-c-$RUN
topic "$CT"
"$BUILD/kbench_produce" "$B" "$CT" "$COUNT" "$SIZE" >/dev/null
log "consume: best of $REPEAT"
bare_c=$(for r in $(seq 1 "$REPEAT"); do
  "$BUILD/kbench_consume" "$B" "$CT" "bench-bare-$RUN-$r" "$COUNT" "max.partition.fetch.bytes=$FETCH" \
    "fetch.max.bytes=52428800" "queued.min.messages=1000000" "queued.max.messages.kbytes=65536"
done | awk '{ print $1 }' | best)   # from client creation, as sluice_consume times it
FAST="max.partition.fetch.bytes: \"$FETCH\", fetch.max.bytes: \"52428800\", queued.min.messages: \"1000000\", queued.max.messages.kbytes: \"65536\""
sluice_consume() { # CONVERTER BATCH RUN [PROPS]: records/s until COUNT records are out
  local http; http=$(free_port)
  cat >"$VAR/consume.yaml" <<Y
name: kbench-consume
source: { plugin: kafka, bootstrap: "$B", topics: [$CT], group: bench-sl-$RUN-$1-$2-$3, value_converter: $1,
          properties: { ${4-$FAST} } }
sink: { plugin: file, discard: true }
batch: { max_records: $2, max_bytes: 64MiB }
Y
  local t0 t1 pid out
  t0=$(now)
  "$S" run --log-level warn --http "127.0.0.1:$http" "$VAR/consume.yaml" >&2 &
  pid=$!
  while :; do
    out=$(curl -s "http://127.0.0.1:$http/metrics" 2>/dev/null |
          awk '/^sluice_records_out_total\{/ && /kbench-consume/ { print $2 }')
    if [ -n "$out" ] && awk -v o="$out" -v n="$COUNT" 'BEGIN { exit !(o >= n) }'; then break; fi
    sleep 0.02
  done
  t1=$(now)
  awk '/^VmHWM/ { printf "  (peak RSS %.0f MB)\n", $2 / 1024 }' "/proc/$pid/status" >&2
  kill -TERM "$pid"; wait "$pid" || true
  awk -v n="$COUNT" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", n / (b - a) }'
}
declare -A sl_c sl_cj sl_cd
for batch in $BATCHES; do
  sl_c[$batch]=$(for r in $(seq 1 "$REPEAT"); do sluice_consume bytes "$batch" "$r"; done | best)
  sl_cj[$batch]=$(for r in $(seq 1 "$REPEAT"); do sluice_consume json "$batch" "$r"; done | best)
  sl_cd[$batch]=$(for r in $(seq 1 "$REPEAT"); do sluice_consume bytes "$batch" "d$r" ""; done | best)
done

# --- report ----------------------------------------------------------
printf '\nkafka bench: %s records x %s B, 3 partitions, best of %s (records/s)\n' \
  "$COUNT" "$SIZE" "$REPEAT"
printf '%-52s %12s %8s\n' "" "records/s" "vs bare"
printf '%-52s %12s %8s\n' "produce  bare librdkafka producer" "$bare_p" "100%"
for batch in $BATCHES; do
  printf '%-52s %12s %8s\n' "produce  bare, waiting for acks every $batch" "${bare_s[$batch]}" \
    "$(ratio "${bare_s[$batch]}" "$bare_p")"
  printf '%-52s %12s %8s %s\n' "produce  sluice generator -> kafka (batch $batch)" "${sl_p[$batch]}" \
    "$(ratio "${sl_p[$batch]}" "$bare_p")" "($(ratio "${sl_p[$batch]}" "${bare_s[$batch]}") of sync)"
  printf '%-52s %12s %8s %s\n' "produce  same, message_time: record (no header)" "${sl_pr[$batch]}" \
    "$(ratio "${sl_pr[$batch]}" "$bare_p")" "($(ratio "${sl_pr[$batch]}" "${bare_s[$batch]}") of sync)"
done
printf '%-52s %12s %8s\n' "consume  bare librdkafka consumer" "$bare_c" "100%"
for batch in $BATCHES; do
  printf '%-52s %12s %8s\n' "consume  sluice kafka (bytes) -> discard (batch $batch)" \
    "${sl_c[$batch]}" "$(ratio "${sl_c[$batch]}" "$bare_c")"
  printf '%-52s %12s %8s\n' "consume  sluice kafka (json) -> discard (batch $batch)" \
    "${sl_cj[$batch]}" "$(ratio "${sl_cj[$batch]}" "$bare_c")"
  printf '%-52s %12s %8s\n' "consume  same, bytes, default bounded prefetch" \
    "${sl_cd[$batch]}" "$(ratio "${sl_cd[$batch]}" "$bare_c")"
done
