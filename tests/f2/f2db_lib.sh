# Scratch device-parameter and timeseries databases on the suite's
# PostgreSQL for one F2 shell test, dropped when it exits.  Source after
# testlib.sh, then: f2db_setup PREFIX [--no-sample].  Sets BASE, PARAMS,
# SERIES; defines psql (quiet, unaligned, stops on error) and series SQL.
f2db_setup() {
  : "${SLUICE_TEST_PG_PORT:?SLUICE_TEST_PG_PORT must name the test PostgreSQL (scripts/test.sh starts it)}"
  BASE="host=127.0.0.1 port=$SLUICE_TEST_PG_PORT user=postgres"
  P=${1}_$$
  PARAMS="$BASE dbname=${P}_params" SERIES="$BASE dbname=${P}_series"
  psql "$BASE dbname=postgres" -c "SELECT 1" >/dev/null \
    || { echo "FAIL: PostgreSQL on port $SLUICE_TEST_PG_PORT unreachable" >&2; exit 1; }
  trap 'rc=$?; f2db_drop; _cleanup $rc; exit $rc' EXIT
  psql "$BASE dbname=postgres" -c "CREATE DATABASE ${P}_params" -c "CREATE DATABASE ${P}_series"
  psql "$PARAMS" -f "$SLUICE_SOURCE_DIR/sql/device_params.sql"
  [ "${2:-}" = --no-sample ] || psql "$PARAMS" -f "$SLUICE_SOURCE_DIR/sql/device_params_sample.sql"
  psql "$SERIES" -f "$SLUICE_SOURCE_DIR/sql/timeseries.sql" 2>/dev/null
}
psql() { command psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
f2db_drop() {
  psql "$BASE dbname=postgres" -c "DROP DATABASE IF EXISTS ${P}_params WITH (FORCE)" \
    -c "DROP DATABASE IF EXISTS ${P}_series WITH (FORCE)" >/dev/null 2>&1 || true
}
series() { psql "$SERIES" -c "$1"; }
