#!/usr/bin/env bash
# End to end on this machine: f2sim -> MQTT -> sluice (mqtt -> f2_decode ->
# timescale) -> iot_measurements, with private Mosquitto and PostgreSQL.
# Prints readings/s at full speed, and the latency from publish to row
# (p50/p99/max) at a steady rate below capacity.  The latency is measured in
# the database: the reading's timestamp is the simulator's wall clock at
# publish time, and a bench-only column records clock_timestamp() at insert.
#
# Both with the shipped ingest pipeline (disk buffer: the spool) and with the
# same pipeline on the in-memory buffer, in the same run, alternating, and
# the ratio spool / memory of the full-speed throughput (best of REPEAT).
#
# usage: tests/bench/e2e_embedded_bench.sh [READINGS] [STEADY_RATE]
#   env: SLUICE_BUILD_DIR (default build), REPEAT (default 2),
#        VARIANTS (default "memory disk")
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${SLUICE_BUILD_DIR:-$SRC/build}
N=${1:-100000}
STEADY=${2:-2000}
REPEAT=${REPEAT:-2}
VARIANTS=${VARIANTS:-memory disk}
export SLUICE_BIN=$BUILD/bin/sluice SLUICE_SOURCE_DIR=$SRC
[ -x "$SLUICE_BIN" ] || { echo "build first: no $SLUICE_BIN" >&2; exit 2; }
. "$SRC/tests/lib/testlib.sh"
. "$SRC/tests/e2e/e2e_lib.sh"
S=$SLUICE_BIN
export SLUICE_DEAD_LETTER_FILE=$T/dead.jsonl
q "ALTER TABLE iot_measurements ADD COLUMN inserted_at timestamptz NOT NULL DEFAULT clock_timestamp()"

# The pipeline files: disk = the shipped one; memory = the same without
# its buffer: section's disk keys.
cp "$SRC/pipelines/embedded/20-ingest.yaml" "$T/disk.yaml"
sed '/^buffer:/,/^  max_size:/d' "$SRC/pipelines/embedded/20-ingest.yaml" >"$T/memory.yaml"
grep -q "type: disk" "$T/disk.yaml" || echo "note: the shipped ingest pipeline has no disk buffer" >&2

sim() { # sim COUNT RATE
  sed -e "s/^  rate: .*/  rate: $2\n  count: $1\n  devices: 100/" -e '/^  devices:/{/100/!d}' \
    "$SRC/pipelines/embedded/10-simulator.yaml" >"$T/sim.yaml"
  "$S" run --log-level warn "$T/sim.yaml"
}
rows() { q "SELECT count(*) FROM iot_measurements"; }
settle() { local prev=-1 cur; while :; do cur=$(rows); [ "$cur" = "$prev" ] && break; prev=$cur; sleep 0.5; done; }

declare -A best
run_variant() { # VARIANT
  local v=$1 ingest
  q "TRUNCATE iot_measurements"
  rm -rf "$SLUICE_SPOOL_DIR"
  "$S" run --log-level warn "$T/$v.yaml" >>"$T/ingest-$v.log" 2>&1 &
  ingest=$!
  sleep 1
  # Full speed: the simulator publishes as fast as it can.
  local t0 t_pub first last n readings
  t0=$(date +%s.%N)
  sim "$N" 0
  t_pub=$(date +%s.%N)
  settle
  read -r first last n <<<"$(q "SELECT extract(epoch FROM min(inserted_at)), extract(epoch FROM max(inserted_at)), count(*) FROM iot_measurements" | tr '|' ' ')"
  readings=$(q "SELECT count(DISTINCT (timestamp, device_id, connector_mode, component_type, pin_position)) FROM iot_measurements")
  local rate
  rate=$(python3 - "$v" "$t0" "$t_pub" "$last" "$readings" "$n" <<'P'
import sys
v = sys.argv[1]
t0, tpub, last, readings, rows = map(float, sys.argv[2:])
print(f"[{v}] full speed: {int(readings)} readings -> {int(rows)} measurement rows", file=sys.stderr)
print(f"[{v}]   publisher (f2sim -> mqtt sink, QoS 1): {readings/(tpub-t0):10.0f} readings/s", file=sys.stderr)
print(f"[{v}]   end to end, first publish to last row: {readings/(last-t0):10.0f} readings/s"
      f"  ({rows/(last-t0):.0f} rows/s)", file=sys.stderr)
print(f"{readings/(last-t0):.0f}")
P
)
  [ "${best[$v]:-0}" -lt "$rate" ] && best[$v]=$rate

  # Steady rate: latency from publish (the reading's timestamp) to row.
  q "TRUNCATE iot_measurements"
  sim "$((STEADY * 10))" "$STEADY"
  settle
  q "SELECT '[$v] steady ' || $STEADY || ' readings/s: latency publish -> row  p50 ' ||
            round((percentile_cont(0.5) WITHIN GROUP (ORDER BY l))::numeric * 1000, 1) || ' ms, p99 ' ||
            round((percentile_cont(0.99) WITHIN GROUP (ORDER BY l))::numeric * 1000, 1) || ' ms, max ' ||
            round(max(l)::numeric * 1000, 1) || ' ms over ' || count(*) || ' rows'
     FROM (SELECT extract(epoch FROM inserted_at - timestamp) AS l FROM iot_measurements) x"
  kill -TERM $ingest; wait $ingest || true
}

for r in $(seq 1 "$REPEAT"); do
  for v in $VARIANTS; do run_variant "$v"; done
done
for v in $VARIANTS; do echo "best end-to-end full speed [$v]: ${best[$v]} readings/s"; done
if [ -n "${best[memory]:-}" ] && [ -n "${best[disk]:-}" ]; then
  python3 -c "print(f'spool / memory throughput: {${best[disk]} / ${best[memory]}:.2f}x (goal >= 0.8x)')"
fi
echo "(linger of the ingest pipeline: batch.linger in pipelines/embedded/20-ingest.yaml bounds the p50)"
_failures=0
