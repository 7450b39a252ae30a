#!/usr/bin/env bash
# Runner throughput through the real `sluice run` binary:
#   A  generator (100-byte records) → file sink (discard)
#   B  generator (100-byte records) → fields (set) → file sink (discard)
# against a "bare" C program doing the same generating and dropping with no
# host (tests/bench/runner/bare.c).  Prints records/s, ns per record, the
# per-record cost of the runner and of one transform, and the ratio to bare.
# Not a ctest test: it prints numbers.
#
# usage: tests/bench/runner_bench.sh [RECORDS] [RUNS]
#   env: SLUICE_BUILD_DIR (default: build-basic next to this repo's top),
#        BATCH (batch.max_records, default 1000), CC (default cc)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${SLUICE_BUILD_DIR:-$SRC/build-basic}
N=${1:-5000000}
RUNS=${2:-3}
BATCH=${BATCH:-1000}
BIN=$BUILD/bin/sluice
[ -x "$BIN" ] || { echo "no $BIN: build it first (ninja -C $BUILD sluice plugin_generator plugin_fields plugin_file)" >&2; exit 2; }
for p in generator fields file; do
  [ -f "$BUILD/plugins/$p.so" ] || { echo "no $BUILD/plugins/$p.so: build plugin_$p" >&2; exit 2; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT

TIMECMD=/usr/bin/time
[ -x "$TIMECMD" ] || { echo "needs GNU time (/usr/bin/time, Debian package time)" >&2; exit 2; }
"${CC:-cc}" -O2 -std=c11 -o "$T/bare" "$SRC/tests/bench/runner/bare.c"

# pipelines NAME COUNT
pipelines() {
  cat >"$T/plain$1.yaml" <<Y
name: plain
source: { plugin: generator, count: $2, size: 100 }
sink: { plugin: file, discard: true }
batch: { max_records: $BATCH }
Y
  cat >"$T/transform$1.yaml" <<Y
name: transform
source: { plugin: generator, count: $2, size: 100 }
transforms:
  - { plugin: fields, set: { site: plant-1 } }
sink: { plugin: file, discard: true }
batch: { max_records: $BATCH }
Y
}
# The full run, and a quarter run: their difference is the cost of the
# extra records alone, without the fixed start-up and shut-down time.
Q=$((N / 4))
pipelines "" "$N"
pipelines "_q" "$Q"

ms_of() { date -u -d "$1" +%s%3N; }   # log timestamp → epoch ms

# run NAME [COUNT]: best of RUNS; sets WALL_NS (whole process), PIPE_MS (from the
# log's "running" line to its "finished" line: start-up and exit excluded)
# and CPU_NS (user + system time of the whole process, both threads).
run() {
  local n=${2:-$N} best=0 bestpipe=0 bestcpu=0 i
  for i in $(seq "$RUNS"); do
    local t0 t1 out cpu
    t0=$(date +%s%N)
    out=$(TIME="%U %S" "$TIMECMD" -o "$T/time" "$BIN" run --log-level info "$T/$1.yaml" 2>&1)
    t1=$(date +%s%N)
    cpu=$(awk '{ printf "%d", ($1 + $2) * 1e9 }' "$T/time")
    if ! grep -q "finished: $n in, $n out, 0 failed" <<<"$out"; then
      echo "$1: did not finish with $n records:" >&2; echo "$out" >&2; exit 1
    fi
    local w=$((t1 - t0))
    local r f
    r=$(grep -m1 'running:' <<<"$out" | cut -d' ' -f1)
    f=$(grep -m1 'finished:' <<<"$out" | cut -d' ' -f1)
    local p=$(( $(ms_of "$f") - $(ms_of "$r") ))
    if [ "$best" -eq 0 ] || [ "$p" -lt "$bestpipe" ]; then best=$w; bestpipe=$p; bestcpu=$cpu; fi
  done
  WALL_NS=$best
  PIPE_MS=$bestpipe
  CPU_NS=$bestcpu
}

best_bare() {
  local best=0 i
  for i in $(seq "$RUNS"); do
    local ns
    ns=$("$T/bare" "$N" 100 | cut -d' ' -f2)
    if [ "$best" -eq 0 ] || [ "$ns" -lt "$best" ]; then best=$ns; fi
  done
  BARE_NS=$best
}

rate() { awk -v n="$N" -v ns="$1" 'BEGIN { printf "%.2f", n / (ns / 1e9) / 1e6 }'; }
per()  { awk -v n="$N" -v ns="$1" 'BEGIN { printf "%.1f", ns / n }'; }

run plain;     A_WALL=$WALL_NS; A_PIPE=$((PIPE_MS * 1000000)); A_CPU=$CPU_NS
run transform; B_WALL=$WALL_NS; B_PIPE=$((PIPE_MS * 1000000)); B_CPU=$CPU_NS
run plain_q "$Q";     AQ_PIPE=$((PIPE_MS * 1000000)); AQ_CPU=$CPU_NS
run transform_q "$Q"; BQ_PIPE=$((PIPE_MS * 1000000)); BQ_CPU=$CPU_NS
best_bare

echo "sluice runner bench: $N records of 100 bytes, batch.max_records $BATCH, best of $RUNS, $(nproc) cores"
printf '%-50s %9s %11s %10s\n' "" "seconds" "Mrecords/s" "ns/record"
row() { printf '%-50s %9.3f %11s %10s\n' "$1" "$(awk -v ns="$2" 'BEGIN{print ns/1e9}')" "$(rate "$2")" "$(per "$2")"; }
row "bare C (generate + drop, no host, 1 thread)" "$BARE_NS"
row "A  generator -> discard: pipeline time" "$A_PIPE"
row "A    whole process, wall" "$A_WALL"
row "A    whole process, CPU (both threads)" "$A_CPU"
row "B  generator -> fields set -> discard: pipeline" "$B_PIPE"
row "B    whole process, wall" "$B_WALL"
row "B    whole process, CPU (both threads)" "$B_CPU"
echo
awk -v n="$N" -v a="$A_PIPE" -v b="$B_PIPE" -v ac="$A_CPU" -v bc="$B_CPU" -v bare="$BARE_NS" 'BEGIN {
  printf "runner overhead per record, elapsed (A - bare):  %6.1f ns\n", (a - bare) / n
  printf "runner overhead per record, CPU (A cpu - bare):  %6.1f ns\n", (ac - bare) / n
  printf "one transform per record, elapsed (B - A):       %6.1f ns\n", (b - a) / n
  printf "one transform per record, CPU (B cpu - A cpu):   %6.1f ns\n", (bc - ac) / n
  printf "ratio A / bare (elapsed):                        %6.2fx\n", a / bare
  printf "ratio B / bare (elapsed):                        %6.2fx\n", b / bare
}'
echo
echo "marginal cost of a record (runs of $N and $Q records: start-up and shut-down excluded)"
awk -v m="$((N - Q))" -v a="$A_PIPE" -v aq="$AQ_PIPE" -v b="$B_PIPE" -v bq="$BQ_PIPE" \
    -v ac="$A_CPU" -v acq="$AQ_CPU" -v bc="$B_CPU" -v bcq="$BQ_CPU" -v bare="$BARE_NS" -v n="$N" 'BEGIN {
  ra = (a - aq) / m; rb = (b - bq) / m
  printf "A  generator -> discard:           %6.1f ns/record elapsed (%5.2f Mrecords/s), %6.1f ns CPU\n", ra, 1e3 / ra, (ac - acq) / m
  printf "B  generator -> fields -> discard: %6.1f ns/record elapsed (%5.2f Mrecords/s), %6.1f ns CPU\n", rb, 1e3 / rb, (bc - bcq) / m
  printf "runner overhead per record (A - bare): %.1f ns elapsed; ratio A / bare %.2fx, B / bare %.2fx\n", ra - bare / n, ra / (bare / n), rb / (bare / n)
}'
