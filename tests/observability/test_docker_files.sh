#!/usr/bin/env bash
# docker/ without a Docker engine: everything the compose file and the
# monitoring files refer to exists and fits together.  The compose file's
# paths, services, networks and volumes; Prometheus's config and rules
# (promtool) and its targets against the compose services; the pipeline
# files the services run (sluice validate); Grafana's provisioning against
# the dashboard.  The image itself (docker/Dockerfile: its build, libraries,
# plugins, pipelines and HEALTHCHECK) is built and tried by
# tests/docker/test_image.sh.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
. "$SLUICE_SOURCE_DIR/tests/observability/obslib.sh"
: "${OBS_TOOL:?OBS_TOOL must point at obs_tool (run through ctest)}"
SRC=$SLUICE_SOURCE_DIR
D=$SRC/docker
COMPOSE=$D/docker-compose.yml

# ---------------------------------------------------------------- compose
if "$OBS_TOOL" compose "$COMPOSE" >"$T/compose" 2>"$T/compose.err"; then pass; else
  fail "compose file unreadable"; sed 's/^/    | /' "$T/compose.err" >&2; finish; fi
errors=$(sed -n 's/^error //p' "$T/compose")
expect_eq "$errors" "" "compose references"
while read -r _ path; do
  if [ -e "$path" ]; then pass; else fail "compose refers to ${path#"$D"/} which does not exist"; fi
done < <(grep '^path ' "$T/compose")

services=$(awk '$1 == "service" { print $2 }' "$T/compose")
for s in mosquitto kafka postgres timescaledb prometheus grafana \
         sluice-simulator sluice-bridge sluice-decode sluice-sink; do
  grep -qx "$s" <<<"$services" && pass || fail "compose lacks service $s"
done
# Health checks on every long-running service (kafka-init runs once).
nohc=$(awk '$1 == "no-healthcheck" && $2 != "kafka-init" { print $2 }' "$T/compose")
expect_eq "$nohc" "" "services without a healthcheck"
# Everyone on iot-network.
offnet=$(awk '$1 == "network-default" { print $2 } $1 == "network" && $3 != "iot-network" { print $2 }' "$T/compose")
expect_eq "$offnet" "" "services outside iot-network"
# Only the seed's ports and the two monitoring UIs are published.
for pub in $(awk '$1 == "publish" { print $3 }' "$T/compose"); do
  host=${pub%%:*}
  case $host in 1883|9001|9092|5432|5433|3000|9090) pass ;;
    *) fail "compose publishes port $host" ;; esac
done
for want in 1883:1883 9001:9001 9092:9092 5432:5432 5433:5432 3000:3000 9090:9090; do
  grep -q "^publish [a-z-]* $want\$" "$T/compose" && pass || fail "compose does not publish $want"
done
# The SQL reaches the databases through initdb.d, in name order.
grep -q '\.\./sql/device_params\.sql:/docker-entrypoint-initdb\.d/10-' "$COMPOSE" &&
  grep -q '\.\./sql/device_params_sample\.sql:/docker-entrypoint-initdb\.d/20-' "$COMPOSE" &&
  grep -q '\.\./sql/timeseries\.sql:/docker-entrypoint-initdb\.d/10-' "$COMPOSE" &&
  pass || fail "sql/ files are not mounted into docker-entrypoint-initdb.d"

# The sluice services: one pipeline file each, from pipelines/seed/, valid
# with the environment the compose file gives them.
sluice_services=$(awk '$1 == "service" && $3 == "sluice:latest" { print $2 }' "$T/compose" | sort)
expect_eq "$(wc -l <<<"$sluice_services")" 4 "sluice services"
pipes=()
for s in $sluice_services; do
  f=$(awk -v s="$s" '$1 == "command" && $2 == s { print $3 }' "$T/compose")
  local_f=$SRC/pipelines/seed/${f#/etc/sluice/pipelines/}
  if [ -f "$local_f" ]; then pass; pipes+=("$local_f")
  else fail "$s runs $f, but pipelines/seed/${f#/etc/sluice/pipelines/} does not exist"; fi
  awk -v s="$s" '$1 == "scrape-port" && $2 == s && $3 == 9464 { ok = 1 } END { exit !ok }' \
    "$T/compose" && pass || fail "$s does not expose 9464"
done
for want in 00-simulator 10-bridge 20-decode 30-sink; do
  grep -q "/etc/sluice/pipelines/$want.yaml" <<<"$(grep '^command ' "$T/compose")" && pass ||
    fail "no service runs $want.yaml"
done
if [ ${#pipes[@]} -gt 0 ]; then
  env_of() { sed -n "s/^    $1: //p" "$COMPOSE" | head -1 | sed 's/\${[A-Z_]*:-\([^}]*\)}/\1/g'; }
  MQTT_URL=$(env_of MQTT_URL) KAFKA_BOOTSTRAP=$(env_of KAFKA_BOOTSTRAP) \
  DEVICE_PARAMS_DSN=$(env_of DEVICE_PARAMS_DSN) TIMESERIES_DSN=$(env_of TIMESERIES_DSN) \
    expect_exit 0 -- "$SLUICE_BIN" validate "${pipes[@]}"
  grep -q 'mqtt://mosquitto:1883' <<<"$(env_of MQTT_URL)" && pass || fail "MQTT_URL"
fi

# ------------------------------------------------------------- prometheus
if command -v promtool >/dev/null; then
  # The rule file path is the container's; point it at the repository's.
  sed "s|/etc/prometheus/alerts.yml|$D/prometheus/alerts.yml|" "$D/prometheus/prometheus.yml" \
    >"$T/prometheus.yml"
  promtool check config "$T/prometheus.yml" >"$T/promtool.out" 2>&1 && pass ||
    { fail "promtool check config"; sed 's/^/    | /' "$T/promtool.out" >&2; }
  promtool check rules "$D/prometheus/alerts.yml" >"$T/promtool.out" 2>&1 && pass ||
    { fail "promtool check rules"; sed 's/^/    | /' "$T/promtool.out" >&2; }
else
  fail "promtool not installed (the prometheus package, scripts/install-deps.sh)"
fi
# Prometheus scrapes exactly the sluice services, on the port they serve.
scraped=$(sed -n 's/^ *- names: \[\(.*\)\]/\1/p' "$D/prometheus/prometheus.yml" | tr -d ' ' | tr , '\n' | sort)
expect_eq "$scraped" "$sluice_services" "Prometheus targets vs compose sluice services"
grep -q '^ *port: 9464$' "$D/prometheus/prometheus.yml" && pass || fail "scrape port is not 9464"
grep -q '/etc/prometheus/alerts.yml' <<<"$(grep '^path\|prometheus' "$COMPOSE")" && pass ||
  fail "alerts.yml is not mounted where prometheus.yml loads it"

# ---------------------------------------------------------------- grafana
DS=$D/grafana/provisioning/datasources/prometheus.yml
grep -q '^ *uid: prometheus$' "$DS" && pass || fail "data source uid is not 'prometheus'"
grep -q '^ *url: http://prometheus:9090$' "$DS" && pass || fail "data source URL"
expect_eq "$("$OBS_TOOL" json '.templating.list[0].current.value' <"$D/grafana/dashboards/sluice.json")" \
  prometheus "dashboard's default data source"
dpath=$(sed -n 's/^ *path: //p' "$D/grafana/provisioning/dashboards/sluice.yml")
grep -q "\./grafana/dashboards:$dpath:ro" "$COMPOSE" && pass ||
  fail "dashboards provider path $dpath is not where compose mounts docker/grafana/dashboards"
"$OBS_TOOL" dashboard-exprs "$D/grafana/dashboards/sluice.json" >/dev/null && pass ||
  fail "dashboard JSON"

# ------------------------------------------------------------- mosquitto
M=$D/mosquitto/mosquitto.conf
for want in 'listener 1883' 'listener 9001' 'protocol websockets' 'persistence true' \
            'persistence_location /mosquitto/data/'; do
  grep -q "^$want" "$M" && pass || fail "mosquitto.conf lacks '$want'"
done
q=$(sed -n 's/^max_queued_messages //p' "$M")
[ "${q:-0}" -ge 100000 ] && pass || fail "max_queued_messages ${q:-unset} is not sized for outages"
grep -q 'mosquitto-data:/mosquitto/data' "$COMPOSE" && pass || fail "mosquitto persistence volume"

# ------------------------------------------------------------- the spool
# The bridge's disk buffer outlives its container: the compose file gives
# the bridge a named volume where the image's SLUICE_SPOOL_DIR points
# (tests/docker checks the image's side), and the bridge's pipeline spools
# under it.
grep -q -- '- bridge-spool:/var/lib/sluice/spool' <<<"$(sed -n '/^  sluice-bridge:/,/^  [a-z]/p' "$COMPOSE")" &&
  pass || fail "sluice-bridge has no spool volume"
grep -q 'path: ${SLUICE_SPOOL_DIR:-var/spool}/f2-bridge' "$SRC/pipelines/seed/10-bridge.yaml" && pass ||
  fail "pipelines/seed/10-bridge.yaml does not spool under SLUICE_SPOOL_DIR"

finish
