#!/usr/bin/env bash
# A real Prometheus scrapes a running `sluice run --http`: promtool accepts
# the exposition, the target is up, and PromQL sees sluice_records_out_total
# grow, per pipeline, and the histograms answer histogram_quantile.
: "${OBS_TOOL:?OBS_TOOL must point at obs_tool (run through ctest)}"
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
. "$SLUICE_SOURCE_DIR/tests/observability/obslib.sh"
command -v prometheus >/dev/null || { fail "prometheus not installed (scripts/install-deps.sh installs it)"; finish; }

cat >"$T/gen.yaml" <<Y
name: gen
source: { plugin: generator, rate: 2000 }
sink: { plugin: file, discard: true }
batch: { max_records: 100, linger: 20ms }
Y
start_sluice sluice "$T/gen.yaml"
sluice_pid=$SLUICE_PID
target=${SLUICE_URL#http://}

# promtool lints the exposition as Prometheus's own code reads it.
"$OBS_TOOL" get "$SLUICE_URL/metrics" >"$T/metrics.txt"
if promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1; then pass; else
  fail "promtool check metrics"; sed 's/^/    | /' "$T/promtool.out" >&2; fi

pport=$(free_port)
cat >"$T/prometheus.yml" <<Y
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: sluice
    static_configs:
      - targets: ['$target']
Y
if promtool check config "$T/prometheus.yml" >"$T/promtool.out" 2>&1; then pass; else
  fail "promtool check config"; sed 's/^/    | /' "$T/promtool.out" >&2; fi
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/tsdb" \
  --web.listen-address="127.0.0.1:$pport" >"$T/prometheus.log" 2>&1 &
prom_pid=$!
BG_PIDS+=("$prom_pid")
P="http://127.0.0.1:$pport"
if ! wait_for 60 "$OBS_TOOL" get "$P/-/ready"; then
  fail "prometheus did not become ready"; tail -20 "$T/prometheus.log" >&2; finish
fi

# q PROMQL: the first result's value, or empty.
q() {
  "$OBS_TOOL" get "$P/api/v1/query" "query=$1" | "$OBS_TOOL" json '.data.result[0].value[1]' || true
}
positive() { local v; v=$(q "$1"); [ -n "$v" ] && awk -v v="$v" 'BEGIN { exit !(v > 0) }'; }

if wait_for 60 positive 'sluice_records_out_total{job="sluice",pipeline="gen",stage="sink"}'; then pass
else fail "Prometheus never saw sluice_records_out_total > 0"; fi
v1=$(q 'sluice_records_out_total{pipeline="gen"}')
sleep 3
v2=$(q 'sluice_records_out_total{pipeline="gen"}')
if awk -v a="$v1" -v b="$v2" 'BEGIN { exit !(b > a && a > 0) }'; then pass
else fail "sluice_records_out_total did not grow between scrapes: $v1 then $v2"; fi

expect_eq "$(q 'up{job="sluice"}')" 1 "target up"
"$OBS_TOOL" get "$P/api/v1/targets" >"$T/targets.json"
expect_eq "$("$OBS_TOOL" json '.data.activeTargets[0].health' <"$T/targets.json")" up "target health"
expect_eq "$("$OBS_TOOL" json '.data.activeTargets[0].lastError' <"$T/targets.json")" "" \
  "last scrape error"

# A rate over a few scrapes near the generator's 2000/s; and the histograms
# are complete enough for histogram_quantile.
if wait_for 30 positive 'rate(sluice_records_out_total{pipeline="gen"}[5s])'; then pass
else fail "rate(sluice_records_out_total) never positive"; fi
r=$(q 'rate(sluice_records_out_total{pipeline="gen"}[5s])')
if awk -v r="$r" 'BEGIN { exit !(r > 500 && r < 4000) }'; then pass
else fail "records/s $r far from the generator's 2000/s"; fi
if wait_for 30 positive 'histogram_quantile(0.5, sum by (le) (rate(sluice_batch_write_seconds_bucket{pipeline="gen"}[5s])))'
then pass; else fail "histogram_quantile over sluice_batch_write_seconds_bucket"; fi
lat=$(q 'histogram_quantile(0.99, sum by (le) (rate(sluice_record_latency_seconds_bucket{pipeline="gen"}[5s])))')
if awk -v l="$lat" 'BEGIN { exit !(l > 0 && l < 5) }'; then pass
else fail "p99 record latency '$lat' not in (0, 5) s"; fi
expect_eq "$(q 'sluice_pipeline_up{pipeline="gen"}')" 1 "sluice_pipeline_up"
expect_eq "$(q 'count(sluice_build_info)')" 1 "sluice_build_info"

SLUICE_PID=$sluice_pid stop_sluice sluice
stop_bg "$prom_pid"
finish
