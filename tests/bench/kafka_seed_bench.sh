#!/usr/bin/env bash
# The seed's topology through Kafka at full speed, each pipeline of
# pipelines/seed/ in its own `sluice run` process (one bridge, one decoder,
# one sink): f2sim -> MQTT -> bridge -> Kafka raw -> decode -> Kafka decoded
# (Avro) -> sink -> iot_measurements.  For each VARIANT, in the same run, on
# fresh topics: readings/s from the first publish to the last row, and the
# peak RSS (VmHWM) of each process.
#
# Variants (what the kafka stages get in `properties:`; message_time too):
#   before  the librdkafka settings the plugin used before its memory bounds:
#           consumer queued.min.messages=1000000 and librdkafka's defaults
#           (queued.max.messages.kbytes 65536, fetch.max.bytes 52428800);
#           producer librdkafka's defaults (queue.buffering.max.kbytes
#           1048576, batch.size 1000000); message_time: record (no header)
#   after   the plugin's defaults
# Live: the simulator publishes READINGS (QoS 1, 10 devices) as fast as it
# can, after the pipelines are up; the readings are dated now.  Backlog: the
# bridge alone fills raw_iot_data, then the decoder alone catches up (its
# readings/s and peak RSS), then the sink alone (rows/s and peak RSS): the
# consumers' prefetch is as full as their settings let it be.
#
#   tests/bench/kafka_seed_bench.sh [READINGS]        default 200000
#   VARIANTS="before after"   SLUICE_BUILD_DIR=build   LIVE=0 (backlog only)
#   VARIANTS=try TRY_CONSUMER='queued.min.messages: "50000"' TRY_PRODUCER=...
#     (properties for the kafka sources and sinks, to try settings)
#   SLUICE_BENCH_KAFKA_PORT=PORT   use a running broker (else a private one
#                                  is started under var/bench-kafka)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${SLUICE_BUILD_DIR:-$SRC/build}
N=${1:-200000}
VARIANTS=${VARIANTS:-before after}
export SLUICE_BIN=$BUILD/bin/sluice SLUICE_SOURCE_DIR=$SRC
[ -x "$SLUICE_BIN" ] || { echo "build first: no $SLUICE_BIN" >&2; exit 2; }
. "$SRC/tests/lib/testlib.sh"
. "$SRC/tests/e2e/e2e_lib.sh"
S=$SLUICE_BIN
KSH=$SRC/tests/infra/kafka.sh
log() { printf '==> %s\n' "$*" >&2; }

if [ -n "${SLUICE_BENCH_KAFKA_PORT:-}" ]; then
  KPORT=$SLUICE_BENCH_KAFKA_PORT KDIR=${SLUICE_BENCH_KAFKA_DIR:-$SRC/var/test/kafka}
else
  KDIR=$SRC/var/bench-kafka/kafka KPORT=29192
  while (exec 3<>"/dev/tcp/127.0.0.1/$KPORT") 2>/dev/null ||
        (exec 3<>"/dev/tcp/127.0.0.1/$((KPORT + 1))") 2>/dev/null; do KPORT=$((KPORT + 2)); done
  log "starting a private Kafka broker on 127.0.0.1:$KPORT"
  "$KSH" fetch "$KDIR" "$KPORT" >&2
  SLUICE_KAFKA_HEAP=${SLUICE_KAFKA_HEAP:--Xms512m -Xmx512m} "$KSH" start "$KDIR" "$KPORT" >&2
  trap '_trc=$?; "$KSH" stop "$KDIR" "$KPORT" >&2; e2e_stop_servers; _cleanup $_trc' EXIT
fi
export KAFKA_BOOTSTRAP=127.0.0.1:$KPORT
q "ALTER TABLE iot_measurements ADD COLUMN inserted_at timestamptz NOT NULL DEFAULT clock_timestamp()"

OLD_CONSUMER='queued.min.messages: "1000000", queued.max.messages.kbytes: "65536", fetch.max.bytes: "52428800", max.partition.fetch.bytes: "1048576"'
OLD_PRODUCER='queue.buffering.max.kbytes: "1048576", queue.buffering.max.messages: "100000", batch.size: "1000000", batch.num.messages: "10000"'

# prepare ID DIR VARIANT: the seed files with this run's topics and groups,
# and the variant's settings in every kafka stage (not the dead letters).
prepare() {
  local id=$1-$$ f
  mkdir -p "$2"
  for f in "$SRC"/pipelines/seed/*.yaml; do
    sed -e "s/raw_iot_data/sb-raw-$id/g; s/decoded_iot_data/sb-dec-$id/g; s/sluice_dlq/sb-dlq-$id/g" \
        -e "s/f2-decoders/sb-dec-$id/; s/timescale-writers/sb-ts-$id/; s/sluice-f2-bridge/sb-bridge-$id/" \
        "$f" | if [ "$3" = try ]; then
      awk -v c="${TRY_CONSUMER:-}" -v p="${TRY_PRODUCER:-}" '
        /^[a-z]/ { sec = $1 }
        { print }
        /^  plugin: kafka/ && sec == "source:" && c != "" { print "  properties: { " c " }" }
        /^  plugin: kafka/ && sec == "sink:" && p != "" { print "  properties: { " p " }" }'
    elif [ "$3" = before ]; then
      awk -v c="$OLD_CONSUMER" -v p="$OLD_PRODUCER" '
        /^[a-z]/ { sec = $1 }
        { print }
        /^  plugin: kafka/ && sec == "source:" { print "  properties: { " c " }" }
        /^  plugin: kafka/ && sec == "sink:" { print "  properties: { " p " }"; print "  message_time: record" }'
    else cat; fi >"$2/$(basename "$f")"
  done
  for t in sb-raw-$id sb-dec-$id; do "$KSH" topic "$KDIR" "$KPORT" "$t" 3 >&2; done
  "$S" validate "$2" >/dev/null
}

metric() { # PORT NAME: the sum of a metric's series (0 when absent)
  curl -s "http://127.0.0.1:$1/metrics" 2>/dev/null |
    awk -v n="$2" 'index($0, n "{") == 1 || $1 == n { s += $2 } END { printf "%.0f\n", s }'
}
# settled PORT NAME: waits until the metric stops moving for 1.5 s (and
# is > 0); prints the epoch time of its last change and its value.
settled() {
  local v prev=-1 since=0 tchange
  tchange=$(date +%s.%N)
  while :; do
    v=$(metric "$1" "$2")
    if [ "$v" != "$prev" ]; then prev=$v tchange=$(date +%s.%N) since=0
    elif [ "$v" -gt 0 ]; then since=$((since + 1)); [ $since -ge 15 ] && break; fi
    sleep 0.1
  done
  echo "$tchange $v"
}
hwm() { awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"; }
rows() { q "SELECT count(*) FROM iot_measurements"; }

declare -A RATE ROWS RSS_B RSS_D RSS_S DEC_RATE SINK_RATE RSS_DB RSS_SB BL_ROWS
for v in $VARIANTS; do
  log "variant $v: $N readings"
  q "TRUNCATE iot_measurements"
  D=$T/$v
  prepare "$v" "$D" "$v"
  if [ "${LIVE:-1}" = 1 ]; then
  "$S" run --log-level warn "$D/10-bridge.yaml" >"$D/bridge.log" 2>&1 & pb=$!
  "$S" run --log-level info "$D/20-decode.yaml" >"$D/decode.log" 2>&1 & pd=$!
  "$S" run --log-level info "$D/30-sink.yaml" >"$D/sink.log" 2>&1 & ps=$!
  for f in decode sink; do
    wait_for 60 grep -q "assigned" "$D/$f.log" || { echo "no partitions for $f" >&2; exit 1; }
  done
  sleep 2
  sed -e "s/^  rate: .*/  rate: 0\n  count: $N/" "$D/00-simulator.yaml" >"$D/sim.yaml"
  t0=$(date +%s.%N)
  "$S" run --log-level warn "$D/sim.yaml" >"$D/sim.log" 2>&1
  prev=-1
  while :; do cur=$(rows); [ "$cur" = "$prev" ] && break; prev=$cur; sleep 2; done
  RSS_B[$v]=$(hwm $pb) RSS_D[$v]=$(hwm $pd) RSS_S[$v]=$(hwm $ps)
  last=$(q "SELECT extract(epoch FROM max(inserted_at)) FROM iot_measurements")
  ROWS[$v]=$(rows)
  readings=$(q "SELECT count(DISTINCT (timestamp, device_id)) FROM iot_measurements")
  RATE[$v]=$(awk -v n="$readings" -v a="$t0" -v b="$last" 'BEGIN { printf "%.0f", n / (b - a) }')
  [ "$readings" -ge "$N" ] || log "variant $v: only $readings of $N readings arrived"
  for p in $pb $pd $ps; do kill -TERM "$p" 2>/dev/null || true; done
  for p in $pb $pd $ps; do wait "$p" 2>/dev/null || true; done
  fi

  # Backlog: the readings wait in raw_iot_data, then the decoder alone
  # catches up, then the sink alone: the prefetch is full all the time.
  log "variant $v: backlog of $N readings"
  q "TRUNCATE iot_measurements"
  D=$T/$v-bl
  prepare "$v-bl" "$D" "$v"
  hb=$(free_port) hd=$(free_port) hs=$(free_port)
  "$S" run --log-level warn --http "127.0.0.1:$hb" "$D/10-bridge.yaml" >"$D/bridge.log" 2>&1 & pb=$!
  sleep 2
  sed -e "s/^  rate: .*/  rate: 0\n  count: $N/" "$D/00-simulator.yaml" >"$D/sim.yaml"
  "$S" run --log-level warn "$D/sim.yaml" >"$D/sim.log" 2>&1
  read -r _ _ <<<"$(settled "$hb" sluice_records_out_total)"
  kill -TERM $pb; wait $pb 2>/dev/null || true
  t0=$(date +%s.%N)
  "$S" run --log-level warn --http "127.0.0.1:$hd" "$D/20-decode.yaml" >"$D/decode.log" 2>&1 & pd=$!
  read -r t1 m <<<"$(settled "$hd" sluice_records_out_total)"
  DEC_RATE[$v]=$(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
  RSS_DB[$v]=$(hwm $pd)
  kill -TERM $pd; wait $pd 2>/dev/null || true
  t0=$(date +%s.%N)
  "$S" run --log-level warn --http "127.0.0.1:$hs" "$D/30-sink.yaml" >"$D/sink.log" 2>&1 & ps=$!
  read -r t1 r <<<"$(settled "$hs" sluice_records_out_total)"
  SINK_RATE[$v]=$(awk -v n="$r" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
  RSS_SB[$v]=$(hwm $ps)
  BL_ROWS[$v]="$m/$r"
  kill -TERM $ps; wait $ps 2>/dev/null || true
done

if [ "${LIVE:-1}" = 1 ]; then
printf '\nseed topology, %s readings at full speed (one bridge, one decoder, one sink process)\n' "$N"
printf '%-8s %12s %10s %14s %14s %14s\n' variant readings/s rows "bridge RSS MB" "decode RSS MB" "sink RSS MB"
for v in $VARIANTS; do
  printf '%-8s %12s %10s %14s %14s %14s\n' "$v" "${RATE[$v]}" "${ROWS[$v]}" "${RSS_B[$v]}" \
    "${RSS_D[$v]}" "${RSS_S[$v]}"
done
fi
printf '\nbacklog of %s readings: the decoder alone, then the sink alone, each from process start\n' "$N"
printf '%-8s %18s %14s %16s %14s %16s\n' variant "decode readings/s" "decode RSS MB" "sink rows/s" "sink RSS MB" "rows dec/written"
for v in $VARIANTS; do
  printf '%-8s %18s %14s %16s %14s %16s\n' "$v" "${DEC_RATE[$v]}" "${RSS_DB[$v]}" "${SINK_RATE[$v]}" \
    "${RSS_SB[$v]}" "${BL_ROWS[$v]}"
done
