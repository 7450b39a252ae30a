#!/usr/bin/env bash
# The seed's decode stage (pipelines/seed/20-decode.yaml) with `lanes: 1`
# against `lanes: 2` (and more, LANES="1 2 4"), in the same run, draining the
# same backlog: the bridge fills raw_iot_data (6 partitions) with READINGS
# once, then each decoder run reads it from the start with a group of its
# own and writes to a decoded topic of its own.  Per run: readings/s from
# process start to the last record written (and from the first record
# written, which leaves out joining the group), readings read twice (the
# lanes' start-up rebalance), the CPU it used (user+system seconds, and as
# % of one core over the run's wall time) and peak RSS.
# The runs alternate (1 2 1 2 ...) REPEAT times, so load from elsewhere on
# a shared machine hits both; the load average is printed with the result.
#
#   tests/bench/kafka_lanes_bench.sh [READINGS]     default 200000
#   LANES="1 2"   REPEAT=2   SLUICE_BUILD_DIR=build
#   SINKS="kafka discard"  also (or only) runs where the decoder writes to a
#                 discarding file sink instead of Kafka: consume + decode
#                 only, no producer and no broker acknowledgements
#   SLUICE_BENCH_KAFKA_PORT=PORT [SLUICE_BENCH_KAFKA_DIR=DIR]  use a running
#     broker (else a private one is started under var/bench-kafka)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${SLUICE_BUILD_DIR:-$SRC/build}
N=${1:-200000}
LANES=${LANES:-1 2}
REPEAT=${REPEAT:-2}
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
ID=$$
RAW=lb-raw-$ID

metric() { # PORT NAME: the sum of a metric's series over all lanes
  curl -s "http://127.0.0.1:$1/metrics" 2>/dev/null |
    awk -v n="$2" 'index($0, n "{") == 1 || $1 == n { s += $2 } END { printf "%.0f\n", s }'
}
# settled PORT NAME: waits until the metric stops moving for 1.5 s (and
# is > 0); prints the epoch time of its last change, its value, and the
# time it was first seen above 0.
settled() {
  local v prev=-1 since=0 tchange tfirst=
  tchange=$(date +%s.%N)
  while :; do
    v=$(metric "$1" "$2")
    [ -z "$tfirst" ] && [ "$v" -gt 0 ] && tfirst=$(date +%s.%N)
    if [ "$v" != "$prev" ]; then prev=$v tchange=$(date +%s.%N) since=0
    elif [ "$v" -gt 0 ]; then since=$((since + 1)); [ $since -ge 15 ] && break; fi
    sleep 0.1
  done
  echo "$tchange $v $tfirst"
}
cpu_s() { # PID: user+system CPU seconds so far
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"
}
broker_cpu() { # the broker's CPU seconds, when its pid file is known
  local p; p=$(cat "$KDIR/kafka.pid" 2>/dev/null) && [ -r "/proc/$p/stat" ] && cpu_s "$p" || echo 0
}
hwm() { awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"; }
seed() { # FILE: a seed file with this run's raw topic
  sed -e "s/raw_iot_data/$RAW/g; s/sluice_dlq/lb-dlq-$ID/g; s/sluice-f2-bridge/lb-bridge-$ID/" \
    "$SRC/pipelines/seed/$1"
}

"$KSH" topic "$KDIR" "$KPORT" "$RAW" 6 >&2
log "filling $RAW (6 partitions) with $N readings"
seed 10-bridge.yaml >"$T/bridge.yaml"
seed 00-simulator.yaml | sed -e "s/^  rate: .*/  rate: 0\n  count: $N/" >"$T/sim.yaml"
hb=$(free_port)
"$S" run --log-level warn --http "127.0.0.1:$hb" "$T/bridge.yaml" >"$T/bridge.log" 2>&1 & pb=$!
sleep 2
"$S" run --log-level warn "$T/sim.yaml" >"$T/sim.log" 2>&1
read -r _ nb _ <<<"$(settled "$hb" sluice_records_out_total)"
kill -TERM $pb; wait $pb 2>/dev/null || true
log "$nb readings in $RAW"

declare -A RATE STEADY REPLAY CPU PCT RSS KCPU
SINKS=${SINKS:-kafka}
for r in $(seq 1 "$REPEAT"); do
  for snk in $SINKS; do
  for l in $LANES; do
    k=$snk-$l-$r
    seed 20-decode.yaml |
      sed -e "s/decoded_iot_data/lb-dec-$ID-$k/; s/f2-decoders/lb-g-$ID-$k/" \
          -e "s/^name: f2-decode$/name: f2-decode\nlanes: $l/" |
      if [ "$snk" = discard ]; then
        awk '/^sink:/ { print "sink: { plugin: file, discard: true }"; skip = 1; next }
             skip && /^  / { next } { skip = 0; print }'
      else cat; fi >"$T/dec-$k.yaml"
    "$KSH" topic "$KDIR" "$KPORT" "lb-dec-$ID-$k" 6 >&2
    hd=$(free_port)
    load0=$(cut -d' ' -f1 /proc/loadavg)
    kb0=$(broker_cpu)
    t0=$(date +%s.%N)
    "$S" run --log-level warn --http "127.0.0.1:$hd" "$T/dec-$k.yaml" >"$T/dec-$k.log" 2>&1 & pd=$!
    read -r t1 m tf <<<"$(settled "$hd" sluice_records_out_total)"
    in=$(metric "$hd" sluice_records_in_total)
    c=$(cpu_s $pd)
    KCPU[$k]=$(awk -v a="$kb0" -v b="$(broker_cpu)" 'BEGIN { printf "%.1f", b - a }')
    RSS[$k]=$(hwm $pd)
    kill -TERM $pd; wait $pd 2>/dev/null || true
    # Readings/s count each reading once; the lanes' start-up rebalance
    # may have a few read twice (REPLAY: records_in beyond the backlog).
    RATE[$k]=$(awk -v n="$nb" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
    STEADY[$k]=$(awk -v n="$nb" -v a="$tf" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
    REPLAY[$k]=$((in - nb))
    CPU[$k]=$c
    PCT[$k]=$(awk -v c="$c" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", 100 * c / (b - a) }')
    log "sink $snk, lanes $l, run $r: ${RATE[$k]} readings/s from start, ${STEADY[$k]} from the first write ($in readings in, $m records out), CPU ${c}s (${PCT[$k]}% of a core), load ${load0} -> $(cut -d' ' -f1 /proc/loadavg)"
  done
  done
done

printf '\nseed decode stage draining a backlog of %s readings (%s, 6 partitions), %s cores\n' \
  "$nb" "$RAW" "$(nproc)"
printf '%-8s %-6s %-4s %12s %14s %8s %10s %12s %8s %14s\n' sink lanes run readings/s "from 1st write" replayed "CPU s" "CPU % core" "RSS MB" "broker CPU s"
for snk in $SINKS; do
for r in $(seq 1 "$REPEAT"); do
  for l in $LANES; do
    k=$snk-$l-$r
    printf '%-8s %-6s %-4s %12s %14s %8s %10s %12s %8s %14s\n' "$snk" "$l" "$r" "${RATE[$k]}" "${STEADY[$k]}" \
      "${REPLAY[$k]}" "${CPU[$k]}" "${PCT[$k]}" "${RSS[$k]}" "${KCPU[$k]}"
  done
done
done
printf 'load average at the end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
