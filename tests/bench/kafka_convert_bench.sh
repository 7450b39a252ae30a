#!/usr/bin/env bash
# The Kafka source's json converter against a bare librdkafka consumer, in
# interleaved rounds so that a loaded machine's swings hit all of them:
# per round, the bare consumer (tests/bench/kafka/kbench_consume), then for
# each build in BUILDS `sluice run` kafka source (json, then bytes) -> file
# sink with discard, until /metrics shows COUNT records out.  The same
# topic of COUNT x 100 B values ({"seq":N} padded with spaces, from
# kbench_produce), the same fast prefetch properties as kafka_bench.sh.
# Prints records/s two ways and CPU seconds of each process:
#   "from start": process start to the last record, group join, partition
#     assignment and the first fetch included (a few hundred ms of a run of
#     about one second, and the same for both sides only on average);
#   "steady": from the first record to the last, the rate the converter
#     itself sets.  The bare consumer takes its clock at its first message;
#     sluice is sampled from /metrics every 20 ms, so its steady rate is
#     (records out at the end - records out at the first sample that shows
#     any) / (the time between those samples).
# The ratios json / bare are the issue's "converter vs bare": the goal is
# >= 0.8x on the steady rate.
#
#   tests/bench/kafka_convert_bench.sh [COUNT]            default 1000000
#   ROUNDS=3  BUILDS="build /path/to/other/build" (compare two builds)
#   SLUICE_BENCH_KAFKA_PORT=PORT SLUICE_BENCH_KAFKA_DIR=DIR  a running broker
#   (else a private one is started under var/bench-kafka)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
COUNT=${1:-1000000}
ROUNDS=${ROUNDS:-3}
BUILDS=${BUILDS:-$ROOT/build}
KSH=$ROOT/tests/infra/kafka.sh
W=$(mktemp -d)
log() { printf '==> %s\n' "$*" >&2; }
now() { date +%s.%N; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
cleanup() { rm -rf "$W"; }
trap cleanup EXIT
cc -O2 -o "$W/kbench_consume" "$ROOT/tests/bench/kafka/kbench_consume.c" -lrdkafka
cc -O2 -o "$W/kbench_produce" "$ROOT/tests/bench/kafka/kbench_produce.c" -lrdkafka
if [ -n "${SLUICE_BENCH_KAFKA_PORT:-}" ]; then
  PORT=$SLUICE_BENCH_KAFKA_PORT KDIR=${SLUICE_BENCH_KAFKA_DIR:-$ROOT/var/test/kafka}
else
  KDIR=$ROOT/var/bench-kafka/kafka PORT=29192
  while (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null ||
        (exec 3<>"/dev/tcp/127.0.0.1/$((PORT + 1))") 2>/dev/null; do PORT=$((PORT + 2)); done
  log "starting a private Kafka broker on 127.0.0.1:$PORT"
  "$KSH" fetch "$KDIR" "$PORT" >&2
  SLUICE_KAFKA_HEAP=${SLUICE_KAFKA_HEAP:--Xms512m -Xmx512m} "$KSH" start "$KDIR" "$PORT" >&2
  trap '"$KSH" stop "$KDIR" "$PORT" >&2; cleanup' EXIT
fi
B=127.0.0.1:$PORT RUN=$$ FETCH=8388608
CT=bench-conv-$RUN
"$KSH" topic "$KDIR" "$PORT" "$CT" 3 >&2
log "filling $CT with $COUNT x 100 B"
"$W/kbench_produce" "$B" "$CT" "$COUNT" 100 >/dev/null
FAST="max.partition.fetch.bytes: \"$FETCH\", fetch.max.bytes: \"52428800\", queued.min.messages: \"1000000\", queued.max.messages.kbytes: \"65536\""
consume() { # BUILD CONVERTER TAG: "records/s-from-start steady-records/s cpu-seconds"
  local http t0 t1 tf="" nf=0 pid out cpu
  http=$(free_port)
  cat >"$W/c-$3.yaml" <<Y
name: kbench-consume
source: { plugin: kafka, bootstrap: "$B", topics: [$CT], group: bench-conv-$RUN-$3, value_converter: $2,
          properties: { $FAST } }
sink: { plugin: file, discard: true }
batch: { max_records: 1000, max_bytes: 64MiB }
Y
  t0=$(now)
  SLUICE_PLUGIN_DIR=$1/plugins "$1/bin/sluice" run --log-level warn --http "127.0.0.1:$http" \
    "$W/c-$3.yaml" >&2 &
  pid=$!
  while :; do
    out=$(curl -s "http://127.0.0.1:$http/metrics" 2>/dev/null |
          awk '/^sluice_records_out_total\{/ && /kbench-consume/ { print $2 }')
    if [ -n "$out" ] && [ -z "$tf" ] && awk -v o="$out" 'BEGIN { exit !(o > 0) }'; then
      tf=$(now) nf=$out
    fi
    if [ -n "$out" ] && awk -v o="$out" -v n="$COUNT" 'BEGIN { exit !(o >= n) }'; then break; fi
    sleep 0.02
  done
  t1=$(now)
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$pid/stat")
  kill -TERM "$pid"; wait "$pid" || true
  # The first sample may already show all of them (a tiny COUNT): no steady figure.
  awk -v n="$COUNT" -v a="$t0" -v b="$t1" -v f="$tf" -v nf="$nf" -v c="$cpu" \
    'BEGIN { printf "%.0f %s %s\n", n / (b - a), (nf < n && b > f) ? sprintf("%.0f", (n - nf) / (b - f)) : "-", c }'
}
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.0f%%", 100 * a / b }'; }
printf '%-6s %-40s %-6s %12s %9s %12s %9s %8s\n' round build conv "from start/s" "vs bare" "steady/s" "vs bare" "CPU s"
for r in $(seq 1 "$ROUNDS"); do
  /usr/bin/time -f "%U %S" -o "$W/bare.time" "$W/kbench_consume" "$B" "$CT" "bench-conv-bare-$RUN-$r" \
    "$COUNT" "max.partition.fetch.bytes=$FETCH" "fetch.max.bytes=52428800" \
    "queued.min.messages=1000000" "queued.max.messages.kbytes=65536" >"$W/bare.out"
  read -r bare bare_steady <"$W/bare.out"
  printf '%-6s %-40s %-6s %12s %9s %12s %9s %8s   (load %s)\n' "$r" "bare librdkafka" - "$bare" - \
    "$bare_steady" - "$(awk '{ printf "%.2f", $1 + $2 }' "$W/bare.time")" "$(cut -d' ' -f1 /proc/loadavg)"
  i=0
  for b in $BUILDS; do
    i=$((i + 1))
    for conv in json bytes; do
      read -r rate steady cpu <<<"$(consume "$b" "$conv" "$r-$i-$conv")"
      printf '%-6s %-40s %-6s %12s %9s %12s %9s %8s\n' "$r" "$b" "$conv" "$rate" "$(pct "$rate" "$bare")" \
        "$steady" "$(pct "$steady" "$bare_steady")" "$cpu"
    done
  done
done
