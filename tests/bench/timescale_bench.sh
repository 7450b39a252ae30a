#!/usr/bin/env bash
# Throughput of the Timescale sink against PostgreSQL's own bulk load.
# The same ROWS iot_measurements rows (sql/timeseries.sql, key and index
# included) are written, in the same run and on the same server, into
# identical empty tables:
#   copy        psql's \copy from a CSV file: the raw COPY reference;
#   sink        the sink (conflict: ignore), binary COPY, batches of BATCH
#               records; no key repeats, so each batch is one COPY into
#               the table;
#   sink-text   the same with copy_format: text;
#   sink-stage  every batch repeats one row of the previous batch, so every
#               batch has a taken key: the ON CONFLICT path (the batch into
#               the staging table, one query for the taken keys, COPY of
#               the others into the table);
#   replay      the sink writes all the rows again into its full table:
#               every row is a conflict, nothing is written.
# The sink runs in tests/bench/timescale/ts_bench.c: the real plugin, loaded
# by the host's loader, fed prebuilt batches.  Then the whole product:
#   pipeline    `sluice run` f2sim -> f2_decode -> timescale (about ROWS
#               measurements), against psql's \copy of the very rows it
#               wrote into an identical empty table.
# Prints rows/s (best of REPEAT runs) and the ratio to raw COPY, then checks
# that the tables hold exactly the same rows.
#
# On TimescaleDB every table is the hypertable sql/timeseries.sql makes
# (continuous aggregates included; its background jobs are paused so that
# no compression or retention runs meanwhile).
#
#   tests/bench/timescale_bench.sh [ROWS [BATCH]]     defaults 500000 5000
#   REPEAT=3  SLUICE_BENCH_PG_PORT=PORT (use a running server instead of a
#   private one; trust auth as user postgres)  BUILD=dir (harness build)
#   HARNESS=path PLUGINS=dir (a ts_bench and plugin folder built elsewhere)
#   BENCH_TIMESCALEDB=1 (the private server preloads TimescaleDB; needs
#   timescaledb.so installed)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROWS=${1:-500000}
BATCH=${2:-5000}
REPEAT=${REPEAT:-3}
BUILD=${BUILD:-$ROOT/build-bench-timescale}
VAR=$ROOT/var/bench-timescale
mkdir -p "$VAR"

log() { printf '==> %s\n' "$*" >&2; }

if [ -z "${HARNESS:-}" ]; then
  log "building the harness in $BUILD"
  cmake -S "$ROOT/tests/bench/timescale" -B "$BUILD" -G Ninja >/dev/null
  ninja -C "$BUILD" -j"${JOBS:-2}" ts_bench sluice plugin_timescale plugin_f2sim \
    plugin_f2_decode >/dev/null
  HARNESS=$BUILD/ts_bench
  PLUGINS=$BUILD/plugins
  SLUICE=$BUILD/bin/sluice
fi

if [ -n "${SLUICE_BENCH_PG_PORT:-}" ]; then
  PORT=$SLUICE_BENCH_PG_PORT
else
  PORT=25900
  while (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do PORT=$((PORT + 1)); done
  PGDIR=$VAR/postgres
  if [ "${BENCH_TIMESCALEDB:-0}" = 1 ]; then PGDIR=$VAR/postgres-timescaledb; fi
  log "starting a private PostgreSQL on 127.0.0.1:$PORT"
  SLUICE_TEST_TIMESCALEDB=${BENCH_TIMESCALEDB:-0} "$ROOT/tests/infra/postgres.sh" start "$PGDIR" "$PORT" >&2
  trap '"$ROOT/tests/infra/postgres.sh" stop "$PGDIR" "$PORT" >&2' EXIT
fi
psql_() { psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres "$@"; }
[ -n "$(psql_ -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'bench'")" ] ||
  psql_ -d postgres -c "CREATE DATABASE bench"
DSN="host=127.0.0.1 port=$PORT user=postgres dbname=bench"

SCHEMAS="copy sink sink_text sink_stage pipeline pipeline_copy"
for s in $SCHEMAS; do
  psql_ -d bench -c "DROP SCHEMA IF EXISTS $s CASCADE; CREATE SCHEMA $s" 2>/dev/null
  PGOPTIONS="-c search_path=$s -c client_min_messages=warning" \
    psql_ -d bench -f "$ROOT/sql/timeseries.sql" >/dev/null 2>&1
done
KIND="plain PostgreSQL"
if [ -n "$(psql_ -d bench -c "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")" ]; then
  KIND="TimescaleDB $(psql_ -d bench -c "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"), hypertables"
  # The rows are from 2023: retention and compression would act on them.
  psql_ -d bench -c "SELECT count(*) FROM timescaledb_information.jobs j, LATERAL alter_job(j.job_id, scheduled => false) WHERE j.hypertable_name IS NOT NULL" >/dev/null
  for s in $SCHEMAS; do
    [ "$(psql_ -d bench -c "SELECT count(*) FROM timescaledb_information.hypertables WHERE hypertable_schema = '$s' AND hypertable_name = 'iot_measurements'")" = 1 ] ||
      { echo "$s.iot_measurements is not a hypertable" >&2; exit 1; }
  done
fi
if [ -n "${SLUICE:-}" ]; then
  psql_ -d postgres -c "DROP DATABASE IF EXISTS bench_params" -c "CREATE DATABASE bench_params"
  psql_ -d bench_params -f "$ROOT/sql/device_params.sql" >/dev/null
  psql_ -d bench_params -f "$ROOT/sql/device_params_sample.sql" >/dev/null
  # f2sim's sample fleet yields 44 measurements for every 14 readings.
  cat >"$VAR/pipeline.yaml" <<Y
name: ts_bench
source: { plugin: f2sim, devices: 100, rate: 0, count: $((ROWS * 14 / 44)), start_time: "2024-01-01 00:00:00" }
transforms:
  - { plugin: f2_decode, params_dsn: "host=127.0.0.1 port=$PORT user=postgres dbname=bench_params" }
sink: { plugin: timescale, dsn: "$DSN", table: pipeline.iot_measurements }
batch: { max_records: $BATCH, linger: 50ms }
Y
fi
COLS='"timestamp", device_id, connector_mode, component_type, pin_position, datapoint, value, value_text, unit, topic'

CSV=$VAR/rows.csv
log "writing $ROWS rows to $CSV"
"$HARNESS" csv "$CSV" "$ROWS"

now() { date +%s.%N; }
best_copy= best_sink= best_text= best_stage= best_replay= best_pipe= best_pipe_copy= pipe_rows=
better() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a < b) ? a : b }'; }
for r in $(seq "$REPEAT"); do
  for s in $SCHEMAS; do psql_ -d bench -c "TRUNCATE $s.iot_measurements"; done
  psql_ -d bench -c "CHECKPOINT"
  t0=$(now)
  psql_ -d bench -c "\\copy copy.iot_measurements ($COLS) FROM '$CSV' WITH (FORMAT csv)"
  t_copy=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }')
  psql_ -d bench -c "CHECKPOINT"
  t_sink=$("$HARNESS" sink "$DSN" sink.iot_measurements "$ROWS" "$BATCH" "$PLUGINS" 2>/dev/null | awk '{print $2}')
  psql_ -d bench -c "CHECKPOINT"
  t_text=$("$HARNESS" sink "$DSN" sink_text.iot_measurements "$ROWS" "$BATCH" "$PLUGINS" copy_format=text 2>/dev/null | awk '{print $2}')
  psql_ -d bench -c "CHECKPOINT"
  t_stage=$("$HARNESS" sink "$DSN" sink_stage.iot_measurements "$ROWS" "$BATCH" "$PLUGINS" --overlap 2>/dev/null | awk '{print $2}')
  psql_ -d bench -c "CHECKPOINT"
  t_replay=$("$HARNESS" sink "$DSN" sink.iot_measurements "$ROWS" "$BATCH" "$PLUGINS" 2>/dev/null | awk '{print $2}')
  log "run $r: copy ${t_copy}s  sink ${t_sink}s  sink-text ${t_text}s  sink-stage ${t_stage}s  replay ${t_replay}s"
  best_copy=$(better "$t_copy" "$best_copy")
  best_sink=$(better "$t_sink" "$best_sink")
  best_text=$(better "$t_text" "$best_text")
  best_stage=$(better "$t_stage" "$best_stage")
  best_replay=$(better "$t_replay" "$best_replay")
  if [ -n "${SLUICE:-}" ]; then
    psql_ -d bench -c "CHECKPOINT"
    t0=$(now)
    "$SLUICE" run "$VAR/pipeline.yaml" >"$VAR/pipeline.log" 2>&1 || { cat "$VAR/pipeline.log" >&2; exit 1; }
    t_pipe=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }')
    pipe_rows=$(psql_ -d bench -c "SELECT count(*) FROM pipeline.iot_measurements")
    # A query, not the table: \copy ... TO of a hypertable exports nothing.
    psql_ -d bench -c "\\copy (SELECT $COLS FROM pipeline.iot_measurements) TO '$VAR/pipeline.csv' WITH (FORMAT csv)"
    [ "$(wc -l <"$VAR/pipeline.csv")" = "$pipe_rows" ] || { echo "exported $(wc -l <"$VAR/pipeline.csv") of $pipe_rows rows" >&2; exit 1; }
    psql_ -d bench -c "CHECKPOINT"
    t0=$(now)
    psql_ -d bench -c "\\copy pipeline_copy.iot_measurements ($COLS) FROM '$VAR/pipeline.csv' WITH (FORMAT csv)"
    t_pcopy=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }')
    log "run $r: pipeline ${t_pipe}s for $pipe_rows rows, their copy ${t_pcopy}s"
    best_pipe=$(better "$t_pipe" "$best_pipe")
    best_pipe_copy=$(better "$t_pcopy" "$best_pipe_copy")
  fi
done

for s in sink sink_text sink_stage; do
  n=$(psql_ -d bench -c "SELECT count(*) FROM $s.iot_measurements")
  d=$(psql_ -d bench -c "SELECT count(*) FROM (SELECT * FROM copy.iot_measurements EXCEPT SELECT * FROM $s.iot_measurements) x")
  [ "$n" = "$ROWS" ] && [ "$d" = 0 ] || { echo "MISMATCH: $s has $n rows, $d differ from copy" >&2; exit 1; }
done
log "all tables hold the same $ROWS rows"

pg=$(psql_ -d bench -c "SHOW server_version")
printf '\nPostgreSQL %s (%s), %s rows, batches of %s, best of %s runs\n' "$pg" "$KIND" "$ROWS" "$BATCH" "$REPEAT"
awk -v n="$ROWS" -v c="$best_copy" -v s="$best_sink" -v t="$best_text" -v g="$best_stage" \
    -v p="$best_replay" 'BEGIN {
  f = "%-44s %9.3f %10.0f %6.0f%%\n"
  printf "%-44s %9s %10s %7s\n", "method", "seconds", "rows/s", "ratio"
  printf f, "psql \\copy (CSV, raw COPY)", c, n / c, 100
  printf f, "sink, binary COPY", s, n / s, 100 * c / s
  printf f, "sink, text COPY", t, n / t, 100 * c / t
  printf f, "sink, binary, every batch conflicts", g, n / g, 100 * c / g
  printf f, "sink, replay: every row a conflict", p, n / p, 100 * c / p
}'
if [ -n "$best_pipe" ]; then
  printf '\nThe whole product, %s measurements from %s readings:\n' "$pipe_rows" "$((ROWS * 14 / 44))"
  awk -v n="$pipe_rows" -v c="$best_pipe_copy" -v p="$best_pipe" 'BEGIN {
    f = "%-44s %9.3f %10.0f %6.0f%%\n"
    printf f, "psql \\copy of the same rows (CSV)", c, n / c, 100
    printf f, "sluice run f2sim -> f2_decode -> timescale", p, n / p, 100 * c / p
  }'
fi
