#!/usr/bin/env bash
# docker/ without a Docker engine: everything the files refer to exists and
# fits together.  The compose file's paths, services, networks and volumes;
# Prometheus's config and rules (promtool) and its targets against the
# compose services; the pipeline files the services run (sluice validate);
# the Dockerfile's sources, configure flags and install layout; the runtime
# stage's packages against every shared library the binaries link; the
# health-check script against a live sluice; Grafana's provisioning against
# the dashboard.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
. "$SLUICE_SOURCE_DIR/tests/observability/obslib.sh"
: "${OBS_TOOL:?OBS_TOOL must point at obs_tool (run through ctest)}"
SRC=$SLUICE_SOURCE_DIR
D=$SRC/docker
COMPOSE=$D/docker-compose.yml
DOCKERFILE=$D/Dockerfile

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
# The bridge's disk buffer outlives its container: the image sets
# SLUICE_SPOOL_DIR to a volume the sluice user owns, the compose file gives
# the bridge a named volume there, and the bridge's pipeline spools under it.
grep -q '^ENV SLUICE_SPOOL_DIR=/var/lib/sluice/spool$' "$DOCKERFILE" && pass ||
  fail "the image does not set SLUICE_SPOOL_DIR=/var/lib/sluice/spool"
grep -q '^VOLUME \["/var/lib/sluice/spool"\]' "$DOCKERFILE" && pass || fail "the spool is not a VOLUME"
grep -q 'install -d -o sluice -g sluice -m 0700 /var/lib/sluice/spool' "$DOCKERFILE" && pass ||
  fail "the spool directory is not created for the sluice user"
grep -q -- '- bridge-spool:/var/lib/sluice/spool' <<<"$(sed -n '/^  sluice-bridge:/,/^  [a-z]/p' "$COMPOSE")" &&
  pass || fail "sluice-bridge has no spool volume"
grep -q 'path: ${SLUICE_SPOOL_DIR:-var/spool}/f2-bridge' "$SRC/pipelines/seed/10-bridge.yaml" && pass ||
  fail "pipelines/seed/10-bridge.yaml does not spool under SLUICE_SPOOL_DIR"

# ------------------------------------------------------------- Dockerfile
# Every COPY source from the build context exists.
while read -r src; do
  [ -e "$SRC/$src" ] && pass || fail "Dockerfile copies $src, which does not exist"
done < <(awk '$1 == "COPY" && $2 !~ /^--from/ { for (i = 2; i < NF; i++) print $i }' "$DOCKERFILE")
grep -q '^USER sluice' "$DOCKERFILE" && pass || fail "runtime stage does not drop to user sluice"
grep -q '^HEALTHCHECK' "$DOCKERFILE" && grep -q '"/health"' "$DOCKERFILE" && pass ||
  fail "no HEALTHCHECK on /health"
grep -q '^ENTRYPOINT \["sluice", "run", "--http", "0.0.0.0:9464"' "$DOCKERFILE" && pass ||
  fail "entrypoint is not sluice run --http 0.0.0.0:9464"
grep -q '^CMD \["/etc/sluice/pipelines"\]' "$DOCKERFILE" && pass || fail "CMD"

# The build stage's configure flags work here, and the install layout has
# what the runtime stage copies.
flags=$(sed -n '/cmake -S \. -B build/,/&&/p' "$DOCKERFILE" | grep -o -- '-D[A-Z_]*=[^ \\]*' | tr '\n' ' ')
grep -q 'SLUICE_BUILD_TESTS=OFF' <<<"$flags" && pass || fail "image build does not turn tests off"
# shellcheck disable=SC2086
if cmake -S "$SRC" -B "$T/cfg" $flags >"$T/cmake.out" 2>&1; then pass; else
  fail "configure with the Dockerfile's flags"; tail -20 "$T/cmake.out" >&2; fi
grep -qE 'SLUICE_PLUGIN_INSTALL_DIR=\\?"/opt/sluice/lib/sluice/plugins\\?"' \
  "$T/cfg/host/CMakeFiles/sluice_core.dir/flags.make" && pass ||
  fail "the image's sluice would not look for plugins in /opt/sluice/lib/sluice/plugins"
cmake --install "$SLUICE_BUILD_DIR" --prefix "$T/opt/sluice" >"$T/install.out" 2>&1 && pass ||
  { fail "cmake --install"; tail -20 "$T/install.out" >&2; }
I=$T/opt/sluice
[ -x "$I/bin/sluice" ] && pass || fail "install has no bin/sluice"
for p in mqtt kafka timescale f2_decode f2sim file generator filter fields; do
  [ -f "$I/lib/sluice/plugins/$p.so" ] && pass || fail "install lacks plugin $p"
done
for f in 00-simulator 10-bridge 20-decode 30-sink; do
  [ -f "$I/share/sluice/pipelines/seed/$f.yaml" ] && pass ||
    fail "install lacks share/sluice/pipelines/seed/$f.yaml (the image's /etc/sluice/pipelines)"
done
expect_exit 0 -- "$I/bin/sluice" plugins -P "$I/lib/sluice/plugins"
expect_out "timescale"

# The runtime stage's packages provide every library the binary and the
# plugins link against (their own dependencies come with them).
runtime_pkgs=$(awk '/^FROM debian:bookworm-slim/ { on = 1 } on' "$DOCKERFILE" |
  sed -n '/apt-get install/,/rm -rf/p' | grep -oE 'lib[a-z0-9.+-]+' | sort -u)
# Only the native architecture's copy counts: on a multilib machine
# `dpkg -S '*/libm.so.6'` lists libc6-i386's /lib32 copy too, often first.
multiarch=$(gcc -print-multiarch 2>/dev/null || dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || true)
if command -v dpkg >/dev/null && command -v readelf >/dev/null && [ -n "$multiarch" ]; then
  for lib in $(for f in "$I/bin/sluice" "$I"/lib/sluice/plugins/*.so; do
                 readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; done | sort -u); do
    pkg=$(dpkg -S "*/$multiarch/$lib" 2>/dev/null | grep -v -- '-dev:' | head -1 | cut -d: -f1)
    case $pkg in
      libc6) pass ;;              # in every Debian image
      libasan*|libubsan*|liblsan*|libtsan*) pass ;;  # a sanitizer build tree; the image has none
      "") fail "no package provides $lib here" ;;
      *) grep -qx "$pkg" <<<"$runtime_pkgs" && pass ||
           fail "$lib comes from $pkg, which the runtime stage does not install" ;;
    esac
  done
else
  fail "dpkg, readelf or the native multiarch triplet missing: cannot check the runtime packages"
fi

# ------------------------------------------------------- sluice-healthcheck
cat >"$T/gen.yaml" <<Y
name: hc
source: { plugin: generator, rate: 10 }
sink: { plugin: file, discard: true }
Y
start_sluice sluice "$T/gen.yaml"
port=${SLUICE_URL##*:}
HC=$D/healthcheck.sh
[ -x "$HC" ] && pass || fail "healthcheck.sh is not executable"
expect_exit 0 -- bash "$HC" /health "$port"
wait_for 10 bash "$HC" /ready "$port" && pass || fail "healthcheck /ready never 0"
expect_exit 1 -- bash "$HC" /nope "$port"
stop_sluice sluice
expect_exit 1 -- bash "$HC" /health "$port"
finish
