#!/usr/bin/env bash
# Every metric the Grafana dashboard and the Prometheus alert rules select
# exists in the /metrics of a sluice running the seed's pipelines (every
# connector of the system: f2sim, MQTT both ways, Kafka both ways, f2_decode,
# timescale) once data has gone all the way to TimescaleDB.  And every
# metric family sluice exports is described in docs/operations.md.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
. "$SLUICE_SOURCE_DIR/tests/observability/obslib.sh"
: "${SLUICE_TEST_MQTT_PORT:?SLUICE_TEST_MQTT_PORT must name the test Mosquitto (scripts/test.sh starts it)}"
: "${SLUICE_TEST_PG_PORT:?SLUICE_TEST_PG_PORT must name the test PostgreSQL}"
: "${SLUICE_TEST_KAFKA_PORT:?SLUICE_TEST_KAFKA_PORT must name the test Kafka}"
: "${OBS_TOOL:?OBS_TOOL must point at obs_tool (run through ctest)}"
SRC=$SLUICE_SOURCE_DIR
DASH=$SRC/docker/grafana/dashboards/sluice.json
RULES=$SRC/docker/prometheus/alerts.yml

# 1. The names, from the files as Grafana and Prometheus read them.
if "$OBS_TOOL" dashboard-exprs "$DASH" >"$T/exprs" 2>"$T/dash.err"; then pass; else
  fail "dashboard JSON is malformed"; sed 's/^/    | /' "$T/dash.err" >&2; fi
if "$OBS_TOOL" rules-exprs "$RULES" >>"$T/exprs" 2>"$T/rules.err"; then pass; else
  fail "alert rules unreadable"; sed 's/^/    | /' "$T/rules.err" >&2; fi
# `up` is Prometheus's own series about each scrape, never in /metrics.
"$OBS_TOOL" promql-names <"$T/exprs" | grep -vx up >"$T/names"
n=$(wc -l <"$T/names")
[ "$n" -ge 30 ] && pass || fail "only $n metric names found in the dashboard and rules"
if command -v promtool >/dev/null; then
  promtool check rules "$RULES" >"$T/promtool.out" 2>&1 && pass ||
    { fail "promtool check rules"; sed 's/^/    | /' "$T/promtool.out" >&2; }
fi

# 2. The seed's four pipelines (pipelines/seed/, as the compose file runs
#    them) in one sluice: f2sim -> MQTT -> bridge -> Kafka -> f2_decode ->
#    Kafka (Avro) -> TimescaleDB.  A private Mosquitto (the simulator
#    publishes on the devices' own topics), scratch databases, and Kafka
#    topics and groups of this run only, so parallel tests are undisturbed.
BASE="host=127.0.0.1 port=$SLUICE_TEST_PG_PORT user=postgres"
P=obsdash_$$
MQTT_PORT_OWN=$("$OBS_TOOL" free-port)
INFRA=$SRC/tests/infra
psql() { command psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
teardown() {
  "$INFRA/mosquitto.sh" stop "$T/mosquitto" "$MQTT_PORT_OWN" >/dev/null 2>&1 || true
  psql "$BASE dbname=postgres" -c "DROP DATABASE IF EXISTS ${P}_params WITH (FORCE)" \
    -c "DROP DATABASE IF EXISTS ${P}_series WITH (FORCE)" >/dev/null 2>&1 || true
}
trap 'rc=$?; for p in "${BG_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; teardown; (exit $rc); _cleanup' EXIT
"$INFRA/mosquitto.sh" start "$T/mosquitto" "$MQTT_PORT_OWN" >/dev/null
psql "$BASE dbname=postgres" -c "CREATE DATABASE ${P}_params" -c "CREATE DATABASE ${P}_series"
psql "$BASE dbname=${P}_params" -f "$SRC/sql/device_params.sql"
psql "$BASE dbname=${P}_params" -f "$SRC/sql/device_params_sample.sql"
psql "$BASE dbname=${P}_series" -f "$SRC/sql/timeseries.sql" 2>/dev/null
psql "$BASE dbname=${P}_series" -f "$SRC/sql/fleet.sql"
export MQTT_URL=mqtt://127.0.0.1:$MQTT_PORT_OWN
export KAFKA_BOOTSTRAP=127.0.0.1:$SLUICE_TEST_KAFKA_PORT
export DEVICE_PARAMS_DSN="$BASE dbname=${P}_params" TIMESERIES_DSN="$BASE dbname=${P}_series"
export F2SIM_RATE=200 F2SIM_DEVICES=5
mkdir -p "$T/p"
for f in "$SRC"/pipelines/seed/*.yaml; do
  sed -e "s/raw_iot_data/$P-raw/g; s/decoded_iot_data/$P-dec/g; s/sluice_dlq/$P-dlq/g" \
      -e "s/f2-decoders/$P-dec/; s/timescale-writers/$P-ts/" "$f" >"$T/p/$(basename "$f")"
done
n_seed=$(ls "$T/p" | wc -l)
[ "$n_seed" -eq 4 ] && pass || fail "expected the 4 seed pipelines, found $n_seed"
start_sluice sluice "$T/p"

# 3. Wait until data has gone through every connector (the lag gauge appears
#    once the consumer group has its partitions), then compare.
positive() { # positive NAME: some sample of NAME is > 0
  "$OBS_TOOL" get "$SLUICE_URL/metrics" >"$T/metrics" 2>/dev/null &&
    awk -v n="$1" '$1 == n || index($1, n "{") == 1 { if ($2 + 0 > 0) ok = 1 } END { exit !ok }' "$T/metrics"
}
for m in sluice_mqtt_messages_published_total sluice_mqtt_messages_received_total \
         sluice_kafka_messages_produced_total sluice_f2_measurements_total \
         sluice_kafka_messages_consumed_total sluice_timescale_rows_written_total; do
  if wait_for 90 positive "$m"; then pass; else fail "$m never above 0"; fi
done
wait_for 60 grep -q '^sluice_kafka_consumer_lag{' "$T/metrics" || true
"$OBS_TOOL" get "$SLUICE_URL/metrics" >"$T/metrics"
missing=""
while read -r name; do
  if grep -qE "^$name(\{| )" "$T/metrics"; then pass; else missing="$missing $name"; fi
done <"$T/names"
expect_eq "${missing# }" "" "dashboard/alert metrics absent from a running sluice's /metrics"

# 4. The operations guide describes every family sluice exports.
undocumented=""
for fam in $(sed -n 's/^# TYPE \([^ ]*\) .*/\1/p' "$T/metrics"); do
  grep -qF "\`$fam\`" "$SRC/docs/operations.md" || undocumented="$undocumented $fam"
done
expect_eq "${undocumented# }" "" "metric families missing from docs/operations.md"

stop_sluice sluice
if grep -q '"level":"error"\|error ' "$T/sluice.log"; then
  fail "sluice logged errors"; grep 'error' "$T/sluice.log" | head -20 | sed 's/^/    | /' >&2
else pass; fi
finish
