#!/usr/bin/env bash
# The sink and sql/ tests again, against TimescaleDB: a server of its own
# (tests/infra/postgres.sh with SLUICE_TEST_TIMESCALEDB=1) on
# SLUICE_TEST_TSDB_PORT (default SLUICE_TEST_PG_PORT + 1), the extension
# created in its database, then timescale_hyper (hypertables only),
# timescale_write, timescale_errors, test_ts_pipeline.sh and test_ts_sql.sh.
# Then the same server without the preload: the sink refuses to start and
# sql/timeseries.sql falls back to a plain table.
#
# TimescaleDB is not packaged for Debian: where timescaledb.so is not
# installed this prints one line and exits 77 (ctest: skipped).
#
#   test_ts_timescaledb.sh HYPER_BIN WRITE_BIN ERRORS_BIN
set -uo pipefail
[ $# -eq 3 ] || { echo "usage: $0 HYPER_BIN WRITE_BIN ERRORS_BIN" >&2; exit 2; }
: "${SLUICE_SOURCE_DIR:?run through ctest}" "${SLUICE_TEST_PG_PORT:?}" "${SLUICE_TEST_VAR:?}"
HERE=$SLUICE_SOURCE_DIR/tests/timescale
INFRA=$SLUICE_SOURCE_DIR/tests/infra
PGBIN=${SLUICE_PG_BIN:-$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)}
if [ ! -f "$PGBIN/../lib/timescaledb.so" ]; then
  echo "SKIPPED: TimescaleDB is not installed for PostgreSQL in $PGBIN/.. (Debian packages none): the timescale sink and sql/ were tested against plain PostgreSQL only" >&2
  exit 77
fi
PORT=${SLUICE_TEST_TSDB_PORT:-$((SLUICE_TEST_PG_PORT + 1))}
DIR=$SLUICE_TEST_VAR/postgres-timescaledb
mkdir -p "$DIR"
stop() { "$INFRA/postgres.sh" stop "$DIR" "$PORT" >/dev/null 2>&1 || true; }
trap stop EXIT
SLUICE_TEST_TIMESCALEDB=1 "$INFRA/postgres.sh" restart "$DIR" "$PORT" >/dev/null 2>&1 ||
  SLUICE_TEST_TIMESCALEDB=1 "$INFRA/postgres.sh" start "$DIR" "$PORT" || { echo "FAIL: cannot start TimescaleDB on $PORT" >&2; exit 1; }
psql_() { psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres "$@"; }
psql_ -d postgres -c "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS timescaledb" ||
  { echo "FAIL: CREATE EXTENSION timescaledb on $PORT" >&2; exit 1; }
echo "TimescaleDB $(psql_ -d postgres -c "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'") on PostgreSQL $(psql_ -d postgres -c 'SHOW server_version') at 127.0.0.1:$PORT"

failed=()
run() { # run NAME command...
  local name=$1 rc; shift
  local out; out=$(mktemp)
  SLUICE_TEST_PG_PORT=$PORT "$@" >"$out" 2>&1; rc=$?
  if [ $rc -eq 0 ]; then
    echo "  ok    $name ($(grep -Eo '[0-9]+ checks' "$out" | tail -n 1 || true))"
  else
    echo "  FAIL  $name (exit $rc)"; sed 's/^/    | /' "$out" | tail -n 60; failed+=("$name")
  fi
  rm -f "$out"
}
run timescale_hyper "$1"
run timescale_write "$2"
run timescale_errors "$3"
run timescale_pipeline bash "$HERE/test_ts_pipeline.sh"
run timescale_sql bash "$HERE/test_ts_sql.sh"

# The same server, not preloaded, with the extension still in the
# database: a clear refusal at start, and sql/ falls back to plain.
"$INFRA/postgres.sh" restart "$DIR" "$PORT" >/dev/null 2>&1 || { echo "FAIL: restart without the preload" >&2; exit 1; }
nopre() {
  local out rc=0
  psql_ -d postgres -c "CREATE TABLE IF NOT EXISTS public.ts_nopreload (t timestamptz PRIMARY KEY, v float8)"
  cat >"$SLUICE_TEST_VAR/ts_nopreload.yaml" <<Y
name: ts_nopreload
source: { plugin: generator, count: 1, payload: '{"v":1}' }
transforms: [ { plugin: fields, parse_json: true } ]
sink: { plugin: timescale, dsn: "host=127.0.0.1 port=$PORT user=postgres dbname=postgres", table: public.ts_nopreload }
Y
  out=$(timeout 60 "$SLUICE_BIN" run "$SLUICE_TEST_VAR/ts_nopreload.yaml" 2>&1) && rc=0 || rc=$?
  if [ $rc -eq 0 ] || ! grep -qF 'has the timescaledb 2.' <<<"$out" ||
     ! grep -qF 'extension, but the server does not preload it: add timescaledb to shared_preload_libraries' <<<"$out"; then
    echo "sluice run exited $rc:"; echo "$out"; return 1
  fi
  psql_ -d postgres -c "DROP DATABASE IF EXISTS ts_nopreload_sql" -c "CREATE DATABASE ts_nopreload_sql"
  out=$(psql -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d ts_nopreload_sql \
        -f "$SLUICE_SOURCE_DIR/sql/timeseries.sql" 2>&1) || { echo "timeseries.sql failed:"; echo "$out"; return 1; }
  grep -qF 'timescaledb is installed but not preloaded' <<<"$out" || { echo "no notice:"; echo "$out"; return 1; }
  [ "$(psql_ -d ts_nopreload_sql -c "SELECT count(*) FROM iot_measurements")" = 0 ] || return 1
  psql_ -d postgres -c "DROP DATABASE ts_nopreload_sql"
  echo "1 checks"
}
run not_preloaded nopre

if [ ${#failed[@]} -eq 0 ]; then
  echo "TimescaleDB run: all passed"
  exit 0
fi
echo "TimescaleDB run: FAILED: ${failed[*]}"
exit 1
