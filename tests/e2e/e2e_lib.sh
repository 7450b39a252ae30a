# Private Mosquitto + PostgreSQL for one e2e test, and the F2 databases.
# Source after testlib.sh.
INFRA="$SLUICE_SOURCE_DIR/tests/infra"
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
E2E_MQTT_PORT=$(free_port)
E2E_PG_PORT=$(free_port)
e2e_stop_servers() {
  "$INFRA/mosquitto.sh" stop "$T/mosquitto" "$E2E_MQTT_PORT" >/dev/null 2>&1 || true
  # A passing test leaves no cluster behind; a failing one keeps it with $T.
  local how=destroy
  [ "${_e2e_rc:-0}" -eq 0 ] && [ "$_failures" -eq 0 ] || how=stop
  "$INFRA/postgres.sh" "$how" "$T/postgres" "$E2E_PG_PORT" >/dev/null 2>&1 || true
}
# _cleanup judges by the exit status, so hand it the test's, not ours.
trap '_e2e_rc=$?; e2e_stop_servers; (exit $_e2e_rc); _cleanup' EXIT
"$INFRA/mosquitto.sh" start "$T/mosquitto" "$E2E_MQTT_PORT" >/dev/null
"$INFRA/postgres.sh" start "$T/postgres" "$E2E_PG_PORT" >/dev/null
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$E2E_PG_PORT" -U postgres)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE device_params" -c "CREATE DATABASE timeseries"
"${PSQL[@]}" -d device_params -f "$SLUICE_SOURCE_DIR/sql/device_params.sql" >/dev/null
"${PSQL[@]}" -d device_params -f "$SLUICE_SOURCE_DIR/sql/device_params_sample.sql" >/dev/null
"${PSQL[@]}" -d timeseries -f "$SLUICE_SOURCE_DIR/sql/timeseries.sql" >/dev/null 2>&1
"${PSQL[@]}" -d timeseries -f "$SLUICE_SOURCE_DIR/sql/fleet.sql" >/dev/null
export MQTT_URL=mqtt://127.0.0.1:$E2E_MQTT_PORT
export DEVICE_PARAMS_DSN="host=127.0.0.1 port=$E2E_PG_PORT user=postgres dbname=device_params"
export TIMESERIES_DSN="host=127.0.0.1 port=$E2E_PG_PORT user=postgres dbname=timeseries"
q() { "${PSQL[@]}" -d timeseries -Atc "$1"; }
