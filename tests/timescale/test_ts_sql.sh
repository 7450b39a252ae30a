#!/usr/bin/env bash
# sql/timeseries.sql on the test server, whichever it is: plain PostgreSQL
# (with or without timescaledb.so installed: a plain table and a notice
# saying why), or TimescaleDB (run by test_ts_timescaledb.sh): hypertable,
# chunk interval by the documented rule, compression and retention
# policies changed by a re-run, hourly and daily continuous aggregates with
# real-time aggregation whose refresh materialises late rows.  Either way:
# re-runnable, and no index that duplicates the primary key.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
: "${SLUICE_TEST_PG_PORT:?SLUICE_TEST_PG_PORT must name the test PostgreSQL}"
DB=ts_sql_$$
BASE="host=127.0.0.1 port=$SLUICE_TEST_PG_PORT user=postgres"
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$BASE dbname=$DB" -c "$1"; }
apply() { psql -X -v ON_ERROR_STOP=1 "$BASE dbname=$DB" -f "$SLUICE_SOURCE_DIR/sql/timeseries.sql" "$@"; }
psql -X -q -v ON_ERROR_STOP=1 "$BASE dbname=postgres" -c "CREATE DATABASE $DB"
cleanup_db() { psql -X -q "$BASE dbname=postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; }
trap '_trc=$?; cleanup_db; _cleanup $_trc' EXIT

expect_exit 0 -- apply
expect_exit 0 -- apply   # re-runnable
expect_eq "$(q "SELECT count(*) FROM iot_measurements")" 0 "table exists"
expect_eq "$(q "SELECT string_agg(indexdef, ' | ' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'iot_measurements'")" \
  "CREATE INDEX iot_measurements_device_time_idx ON public.iot_measurements USING btree (device_id, \"timestamp\" DESC) | CREATE UNIQUE INDEX iot_measurements_pkey ON public.iot_measurements USING btree (\"timestamp\", device_id, connector_mode, component_type, pin_position, datapoint)" \
  "indexes: the key and the device index, nothing more"

tsdb=$(q "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
if [ -z "$tsdb" ]; then
  if [ -n "$(q "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")" ]; then
    expect_out "timescaledb is installed but not preloaded"
  else
    expect_out "timescaledb is not available: iot_measurements is a plain PostgreSQL table"
  fi
  finish
  exit
fi

hyper() { q "SELECT $1 FROM timescaledb_information.$2 WHERE hypertable_name = 'iot_measurements'${3:+ AND $3}"; }
expect_out "timescaledb: iot_measurements is a hypertable (chunk_interval 01:00:00, compressed after 2 days, kept for 365 days)"
expect_eq "$(hyper "column_name || ' ' || time_interval" dimensions)" "timestamp 01:00:00" "chunk interval by the rule"
expect_eq "$(q "SELECT string_agg(attname || ':' || coalesce(segmentby_column_index::text, '') || ':' || coalesce(orderby_column_index::text, '') || ':' || coalesce(orderby_asc::text, ''), ',' ORDER BY attname) FROM timescaledb_information.compression_settings WHERE hypertable_name = 'iot_measurements'")" \
  "datapoint:2::,device_id:1::,timestamp::1:false" "compression: segmentby device_id, datapoint; orderby timestamp DESC"
expect_eq "$(hyper "string_agg(proc_name || '=' || coalesce(config->>'compress_after', config->>'drop_after'), ',' ORDER BY proc_name)" jobs)" \
  "policy_compression=2 days,policy_retention=365 days" "policies"
expect_eq "$(q "SELECT string_agg(view_name || ':' || materialized_only, ',' ORDER BY view_name) FROM timescaledb_information.continuous_aggregates")" \
  "iot_measurements_daily:false,iot_measurements_hourly:false" "real-time aggregation on"
expect_eq "$(q "SELECT string_agg(hypertable_name || ':' || (config->>'start_offset') || '..' || (config->>'end_offset'), ',' ORDER BY hypertable_name)
               FROM timescaledb_information.jobs WHERE proc_name = 'policy_refresh_continuous_aggregate'")" \
  "iot_measurements_daily:30 days..1 day,iot_measurements_hourly:7 days..01:00:00" "refresh windows"

# The rule, with other figures; policies changed by a re-run.
expect_exit 0 -- apply -v rows_per_second=1000 -v memory_mb=16384 -v compress_after='3 days' -v retain='90 days'
expect_eq "$(hyper "time_interval" dimensions)" "09:00:00" "16 GB at 1000 rows/s: 9 hours"
expect_eq "$(hyper "string_agg(proc_name || '=' || coalesce(config->>'compress_after', config->>'drop_after'), ',' ORDER BY proc_name)" jobs)" \
  "policy_compression=3 days,policy_retention=90 days" "policies after the re-run"
expect_eq "$(q "SELECT count(*) FROM timescaledb_information.jobs WHERE proc_name = 'policy_refresh_continuous_aggregate'")" 2 "one refresh policy per view"

# Late and fresh rows: fresh ones show at once (real-time), and the refresh
# policy materialises a row 5 hours late.
q "INSERT INTO iot_measurements (\"timestamp\", device_id, connector_mode, component_type, datapoint, value)
   VALUES (date_trunc('hour', now()) - interval '5 hours', 'd1', 'm', 'c', 'p', 10),
          (now() - interval '1 minute', 'd1', 'm', 'c', 'p', 20)"
expect_eq "$(q "SELECT string_agg(readings || '@' || avg_value, ',' ORDER BY bucket) FROM iot_measurements_hourly")" "1@10,1@20" "real-time: both visible"
# TimescaleDB's scheduler runs a new policy at once, in the background; a
# run_job racing it fails with "concurrent refresh".  So the policies are
# paused first, and a run that finds one still in progress waits and tries
# again (up to 30 s).
jobs=$(q "SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = 'policy_refresh_continuous_aggregate' ORDER BY job_id")
for job in $jobs; do q "SELECT alter_job($job, scheduled => false)" >/dev/null; done
for job in $jobs; do
  for try in $(seq 60); do
    if psql -X -q -At -v ON_ERROR_STOP=1 "$BASE dbname=$DB" -c "CALL run_job($job)" 2>"$T/run_job.err"; then
      break
    fi
    grep -q 'concurrent refresh' "$T/run_job.err" && [ "$try" -lt 60 ] ||
      { cat "$T/run_job.err" >&2; fail "run_job($job) failed"; break; }
    sleep 0.5
  done
done
mat=$(q "SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name) FROM timescaledb_information.continuous_aggregates WHERE view_name = 'iot_measurements_hourly'")
expect_eq "$(q "SELECT count(*) FROM $mat")" 1 "the 5 h late row is materialised, the current hour is not"
# Compressed, then a reading two days late lands in the compressed chunk.
# (Near now: the retention policy may run meanwhile.)
q "INSERT INTO iot_measurements (\"timestamp\", device_id, connector_mode, component_type, datapoint, value)
   VALUES (date_trunc('hour', now()) - interval '2 days', 'd2', 'm', 'c', 'p', 1)"
q "SELECT count(compress_chunk(c)) FROM show_chunks('iot_measurements', older_than => now() - interval '1 day') c" >/dev/null
expect_eq "$(q "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'iot_measurements' AND is_compressed")" 1 "one compressed chunk"
q "INSERT INTO iot_measurements (\"timestamp\", device_id, connector_mode, component_type, datapoint, value)
   VALUES (date_trunc('hour', now()) - interval '2 days' + interval '30 minutes', 'd2', 'm', 'c', 'p', 2) ON CONFLICT DO NOTHING"
expect_eq "$(q "SELECT string_agg(value::text, ',' ORDER BY \"timestamp\") FROM iot_measurements WHERE device_id = 'd2'")" "1,2" "late row in a compressed chunk"
finish
