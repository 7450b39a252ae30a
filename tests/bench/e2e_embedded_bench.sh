#!/usr/bin/env bash
# End to end on this machine: f2sim -> MQTT -> sluice (mqtt -> f2_decode ->
# timescale) -> iot_measurements, with private Mosquitto and PostgreSQL.
# Prints readings/s at full speed, and the latency from publish to row
# (p50/p99/max) at a steady rate below capacity.  The latency is measured in
# the database: the reading's timestamp is the simulator's wall clock at
# publish time, and a bench-only column records clock_timestamp() at insert.
#
# usage: tests/bench/e2e_embedded_bench.sh [READINGS] [STEADY_RATE]
#   env: SLUICE_BUILD_DIR (default build)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${SLUICE_BUILD_DIR:-$SRC/build}
N=${1:-100000}
STEADY=${2:-2000}
export SLUICE_BIN=$BUILD/bin/sluice SLUICE_SOURCE_DIR=$SRC
[ -x "$SLUICE_BIN" ] || { echo "build first: no $SLUICE_BIN" >&2; exit 2; }
. "$SRC/tests/lib/testlib.sh"
. "$SRC/tests/e2e/e2e_lib.sh"
S=$SLUICE_BIN
export SLUICE_DEAD_LETTER_FILE=$T/dead.jsonl
q "ALTER TABLE iot_measurements ADD COLUMN inserted_at timestamptz NOT NULL DEFAULT clock_timestamp()"

"$S" run --log-level warn "$SRC/pipelines/embedded/20-ingest.yaml" >"$T/ingest.log" 2>&1 &
ingest=$!
sleep 1
sim() { # sim COUNT RATE
  sed -e "s/^  rate: .*/  rate: $2\n  count: $1\n  devices: 100/" -e '/^  devices:/{/100/!d}' \
    "$SRC/pipelines/embedded/10-simulator.yaml" >"$T/sim.yaml"
  "$S" run --log-level warn "$T/sim.yaml"
}
rows() { q "SELECT count(*) FROM iot_measurements"; }
settle() { local prev=-1 cur; while :; do cur=$(rows); [ "$cur" = "$prev" ] && break; prev=$cur; sleep 0.5; done; }

# Full speed: the simulator publishes as fast as it can.
t0=$(date +%s.%N)
sim "$N" 0
t_pub=$(date +%s.%N)
settle
read -r first last n <<<"$(q "SELECT extract(epoch FROM min(inserted_at)), extract(epoch FROM max(inserted_at)), count(*) FROM iot_measurements" | tr '|' ' ')"
readings=$(q "SELECT count(DISTINCT (timestamp, device_id, connector_mode, component_type, pin_position)) FROM iot_measurements")
python3 - "$t0" "$t_pub" "$last" "$readings" "$n" <<'P'
import sys
t0, tpub, last, readings, rows = map(float, sys.argv[1:])
print(f"full speed: {int(readings)} readings -> {int(rows)} measurement rows")
print(f"  publisher (f2sim -> mqtt sink, QoS 1): {readings/(tpub-t0):10.0f} readings/s")
print(f"  end to end, first publish to last row: {readings/(last-t0):10.0f} readings/s"
      f"  ({rows/(last-t0):.0f} rows/s)")
P

# Steady rate: latency from publish (the reading's timestamp) to row.
q "TRUNCATE iot_measurements"
sim "$((STEADY * 10))" "$STEADY"
settle
q "SELECT 'steady ' || $STEADY || ' readings/s: latency publish -> row  p50 ' ||
          round((percentile_cont(0.5) WITHIN GROUP (ORDER BY l))::numeric * 1000, 1) || ' ms, p99 ' ||
          round((percentile_cont(0.99) WITHIN GROUP (ORDER BY l))::numeric * 1000, 1) || ' ms, max ' ||
          round(max(l)::numeric * 1000, 1) || ' ms over ' || count(*) || ' rows'
   FROM (SELECT extract(epoch FROM inserted_at - timestamp) AS l FROM iot_measurements) x"
echo "(linger of the ingest pipeline: batch.linger in pipelines/embedded/20-ingest.yaml bounds the p50)"
kill -TERM $ingest; wait $ingest || true
_failures=0
