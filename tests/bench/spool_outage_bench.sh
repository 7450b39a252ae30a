#!/usr/bin/env bash
# PostgreSQL down for OUTAGE seconds (default 600: the issue's 10 minutes)
# under RATE readings/s (default 3000), with the shipped ingest pipeline
# (disk buffer), private Mosquitto and PostgreSQL.  Prints, every SAMPLE
# seconds, sluice's RSS and the spool metrics from /metrics; then the
# catch-up rate once PostgreSQL is back (readings written per second from its
# return until the spool is empty, with the live stream still coming) against
# the undisturbed rate measured first in the same run (a backlog of BACKLOG
# readings drained from the broker with PostgreSQL up: sluice's full speed);
# and whether every reading arrived (distinct readings against the count
# published).
#
# usage: tests/bench/spool_outage_bench.sh [OUTAGE_SECONDS] [RATE]
#   env: SLUICE_BUILD_DIR (default build), SAMPLE (5), WARM (10),
#        BACKLOG (60000)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${SLUICE_BUILD_DIR:-$SRC/build}
OUTAGE=${1:-600}
RATE=${2:-3000}
SAMPLE=${SAMPLE:-5}
WARM=${WARM:-10}
BACKLOG=${BACKLOG:-60000}
export SLUICE_BIN=$BUILD/bin/sluice SLUICE_SOURCE_DIR=$SRC
[ -x "$SLUICE_BIN" ] || { echo "build first: no $SLUICE_BIN" >&2; exit 2; }
. "$SRC/tests/lib/testlib.sh"
. "$SRC/tests/e2e/e2e_lib.sh"
. "$SRC/tests/e2e/spool_lib.sh"
q "ALTER TABLE iot_measurements ADD COLUMN inserted_at timestamptz NOT NULL DEFAULT clock_timestamp()"
want=$((1 << 60))   # settle: wait until the table stops growing
readings() { q "SELECT count(DISTINCT (timestamp, device_id, connector_mode, component_type, pin_position)) FROM iot_measurements $1"; }
now() { date +%s.%N; }

# 1. Undisturbed: a backlog queued in the broker while sluice is stopped,
#    drained at full speed with PostgreSQL up.
ingest_start
ingest_stop TERM
START="2025-01-01 00:00:00" sim_start "$BACKLOG" 0 backlog
wait "$simpid"
t0=$(now)
ingest_start
settle 600
undisturbed=$(q "SELECT round(count(DISTINCT (timestamp, device_id, connector_mode, component_type, pin_position)) / extract(epoch FROM max(inserted_at) - to_timestamp($t0)))::bigint FROM iot_measurements")
echo "undisturbed: a backlog of $BACKLOG readings drained at $undisturbed readings/s (start of sluice to last row)"
q "TRUNCATE iot_measurements"

# 2. The outage.
N=$((RATE * (WARM + OUTAGE + 60)))
sim_start "$N" "$RATE"
sleep "$WARM"
pg_stop
t_down=$SECONDS
rss_max=0
printf '%6s %9s %10s %12s %10s %5s\n' "t(s)" "rss(KiB)" "records" "bytes" "oldest(s)" "full"
report() {
  local r b n a f
  r=$(rss_kb "$ingest"); [ "${r:-0}" -gt "$rss_max" ] && rss_max=$r
  b=$(metric sluice_spool_bytes); n=$(metric sluice_spool_records)
  a=$(metric sluice_spool_oldest_age_seconds); f=$(metric sluice_spool_full)
  printf '%6d %9s %10s %12s %10s %5s\n' "$((SECONDS - t_down))" "$r" "$n" "$b" "$a" "$f"
}
while [ $((SECONDS - t_down)) -lt "$OUTAGE" ]; do report; sleep "$SAMPLE"; done
held=$(metric sluice_spool_records)
pg_start
t_up=$(now)
echo "PostgreSQL back after ${OUTAGE}s with $held records in the spool"
until spool_empty; do report; sleep "$SAMPLE"; done
t_empty=$(now)
report
# The sink notices PostgreSQL again at its next retry (retry.max, 30 s by
# default, after a long outage): the catch-up rate counts from the first
# row written after the return.
t_first=$(q "SELECT extract(epoch FROM min(inserted_at)) FROM iot_measurements WHERE inserted_at > to_timestamp($t_up)")
caught=$(readings "WHERE inserted_at BETWEEN to_timestamp($t_first) AND to_timestamp($t_empty)")
catchup=$(python3 -c "print(round($caught / ($t_empty - $t_first)))")
all=$(readings "WHERE inserted_at BETWEEN to_timestamp($t_up) AND to_timestamp($t_empty)")
sim_wait
settle 600
got=$(readings "")
echo "the sink wrote again $(python3 -c "print(round($t_first - $t_up, 1))")s after PostgreSQL came back (its retry backoff)"
echo "catch-up: $caught readings in $(python3 -c "print(round($t_empty - $t_first, 1))")s = $catchup readings/s, $(python3 -c "print(f'{$catchup / $undisturbed:.2f}')")x the undisturbed $undisturbed readings/s (goal >= 0.8x)"
echo "  counted from PostgreSQL's return instead: $all readings in $(python3 -c "print(round($t_empty - $t_up, 1))")s = $(python3 -c "print(round($all / ($t_empty - $t_up)))") readings/s"
echo "RSS of sluice: at most ${rss_max} KiB ($(python3 -c "print(f'{$rss_max / 1024:.1f}')") MiB; goal < 100 MB)"
echo "readings: $N published, $got distinct in iot_measurements, $((N - got)) lost, $(dead_letters) dead letters"
ingest_stop TERM
_failures=0
