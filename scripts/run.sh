#!/usr/bin/env bash
# The main job on one machine: F2 controllers (simulated) publish to a local
# Mosquitto; one sluice process subscribes, decodes the readings with the
# device parameters in PostgreSQL, and writes measurements to the
# `timeseries` database.  Installs what is missing, builds, starts the
# servers under var/run/ (not the system services), applies sql/, and runs
# until Ctrl-C, printing readings in and measurements written per second.
#
#   scripts/run.sh                 run the embedded pipelines
#   F2SIM_RATE=2000 scripts/run.sh readings per second from the simulator
#   F2SIM_DEVICES=50 scripts/run.sh number of simulated controllers
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VAR=${SLUICE_RUN_VAR:-$ROOT/var/run}
MQTT_PORT=${MQTT_PORT:-1883}
PG_PORT=${PG_PORT:-5432}
HTTP=${SLUICE_HTTP:-127.0.0.1:9464}

scripts/install-deps.sh
cmake -S . -B "${SLUICE_BUILD:-build}" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "${SLUICE_BUILD:-build}"

mkdir -p "$VAR"
stop_servers() {
  echo "stopping Mosquitto and PostgreSQL"
  tests/infra/postgres.sh stop "$VAR/postgres" "$PG_PORT" >/dev/null 2>&1 || true
  tests/infra/mosquitto.sh stop "$VAR/mosquitto" "$MQTT_PORT" >/dev/null 2>&1 || true
}
trap stop_servers EXIT
tests/infra/mosquitto.sh start "$VAR/mosquitto" "$MQTT_PORT"
tests/infra/postgres.sh start "$VAR/postgres" "$PG_PORT"

PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres)
for db in device_params timeseries; do
  "${PSQL[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 \
    || "${PSQL[@]}" -d postgres -c "CREATE DATABASE $db"
done
"${PSQL[@]}" -d device_params -f sql/device_params.sql
"${PSQL[@]}" -d device_params -f sql/device_params_sample.sql
"${PSQL[@]}" -d timeseries -f sql/timeseries.sql
"${PSQL[@]}" -d timeseries -f sql/fleet.sql

export MQTT_URL=mqtt://127.0.0.1:$MQTT_PORT
export DEVICE_PARAMS_DSN="host=127.0.0.1 port=$PG_PORT user=postgres dbname=device_params"
export TIMESERIES_DSN="host=127.0.0.1 port=$PG_PORT user=postgres dbname=timeseries"
export F2SIM_RATE=${F2SIM_RATE:-500}
export F2SIM_DEVICES=${F2SIM_DEVICES:-10}
export SLUICE_DEAD_LETTER_FILE=${SLUICE_DEAD_LETTER_FILE:-$VAR/dead-letters.jsonl}
# The ingest pipeline's disk buffer (one directory per pipeline below it):
# what arrived and is not in the database yet survives a crash or a stop.
export SLUICE_SPOOL_DIR=${SLUICE_SPOOL_DIR:-$ROOT/var/spool}
mkdir -p "$SLUICE_SPOOL_DIR"

echo
echo "sluice is running the embedded pipelines (Ctrl-C stops everything cleanly)."
echo "  metrics:      http://$HTTP/metrics    status: http://$HTTP/status"
echo "  spool:        $SLUICE_SPOOL_DIR (readings not yet in the database)"
echo "  measurements: ${PSQL[*]} -d timeseries -c 'SELECT * FROM iot_measurements ORDER BY timestamp DESC LIMIT 10'"
echo
# sluice handles SIGINT itself: it drains, flushes and exits 0; the trap
# above then stops the servers.
set +e
"${SLUICE_BUILD:-build}"/bin/sluice run --http "$HTTP" --stats 5s pipelines/embedded/
rc=$?
set -e
exit $rc
