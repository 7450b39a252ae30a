# Helpers for the durable-spool end-to-end tests (test_spool_*.sh): the
# shipped ingest pipeline with its disk buffer under $T, the simulator at a
# given rate, a reference decoded without MQTT, /metrics, and the loss
# queries.  Source after testlib.sh and e2e_lib.sh.
S=$SLUICE_BIN
EMB="$SLUICE_SOURCE_DIR/pipelines/embedded"
START=${START:-"2026-01-01 00:00:00"}
export SLUICE_DEAD_LETTER_FILE=$T/dead.jsonl
export SLUICE_SPOOL_DIR=$T/spool
SPOOL=$SLUICE_SPOOL_DIR/f2-ingest

# reference N RATE: `expected` holds the rows of the N readings the
# simulator publishes at RATE.  f2sim's stream does not depend on its pacing,
# only the timestamps do (start_time + k * floor(1e6 / rate) us), so the
# reference is decoded at full speed (1 ms steps) and its timestamps are
# stretched to the step of RATE: seconds instead of N / RATE seconds, and no
# dependence on the PostgreSQL outages the tests cause later.
reference() {
  local n=$1 rate=$2 step
  step=$(python3 -c "r=$rate; print(int(1e6 / r) if 0 < r <= 1e6 else 1000)")
  q "CREATE TABLE expected (LIKE iot_measurements INCLUDING DEFAULTS)"
  cat >"$T/ref.yaml" <<Y
source: { plugin: f2sim, count: $n, rate: 0, start_time: "$START" }
transforms: [ { plugin: f2_decode, params_dsn: "\${DEVICE_PARAMS_DSN}" } ]
sink: { plugin: timescale, dsn: "\${TIMESERIES_DSN}", table: expected }
Y
  expect_exit 0 -- "$S" run "$T/ref.yaml"
  q "UPDATE expected SET \"timestamp\" = \"timestamp\" + (round(extract(epoch FROM \"timestamp\" - '$START+00') * 1000)::bigint * ($step - 1000)) * interval '1 microsecond'" >/dev/null
  q "ALTER TABLE expected ADD PRIMARY KEY (\"timestamp\", device_id, connector_mode, component_type, pin_position, datapoint)"
  want=$(q "SELECT count(*) FROM expected")
  want_readings=$n
  [ "$want" -gt "$n" ] && pass || fail "reference has only $want rows for $n readings"
}

# sim_start N RATE [NAME]: the shipped simulator, bounded, with fixed
# timestamps, in the background ($simpid).
sim_start() {
  local name=${3:-sim}
  sed -e "s/^  rate: .*/  rate: $2\n  count: $1\n  start_time: \"$START\"/" \
    "$EMB/10-simulator.yaml" >"$T/$name.yaml"
  "$S" run "$T/$name.yaml" >>"$T/$name.log" 2>&1 & simpid=$!
}
sim_wait() { wait "$simpid" || fail "simulator failed: $(tail -3 "$T/sim.log")"; }

# ingest_start [FILE] [ARGS...]: sluice with the shipped ingest pipeline (or
# FILE), /metrics on a free port ($URL), pid in $ingest.  Waits until the
# pipeline runs.
INGEST_FILE=${E2E_INGEST_FILE:-$EMB/20-ingest.yaml}
ingest_start() {
  local file=${1:-$INGEST_FILE}; [ $# -gt 0 ] && shift
  local from=0; [ -f "$T/ingest.log" ] && from=$(wc -l <"$T/ingest.log")
  "$S" run --http 127.0.0.1:0 "$@" "$file" >>"$T/ingest.log" 2>&1 & ingest=$!
  URL=$(url_in "$T/ingest.log" "$((from + 1))") || true
  [ -n "$URL" ] || { fail "sluice did not serve /metrics: $(tail -5 "$T/ingest.log")"; return 1; }
  wait_for 20 sh -c "tail -n +$((from + 1)) '$T/ingest.log' | grep -q 'f2-ingest\] running'" ||
    fail "ingest did not start: $(tail -5 "$T/ingest.log")"
}
# ingest_stop [SIGNAL]: signal (TERM) and wait; the exit status in $rc.
ingest_stop() {
  rc=0; kill -"${1:-TERM}" "$ingest" 2>/dev/null || true; wait "$ingest" 2>/dev/null || rc=$?
}

# metric NAME [PIPELINE]: the sum of a metric's samples for the pipeline
# (every stage and label) on the ingest's /metrics, as an integer; empty if
# /metrics does not answer or has no such metric.
metric() { metric_at "$URL" "$1" "${2:-f2-ingest}"; }
metric_at() { # URL NAME PIPELINE
  local body
  body=$(curl -sf --max-time 5 "$1/metrics") || return 0
  awk -v n="$2" -v p="pipeline=\"$3\"" '
    index($1, n "{") == 1 && index($1, p) { s += $2; seen = 1 }
    END { if (seen) printf "%d\n", s }' <<<"$body"
}
# url_in LOG [FROM_LINE]: the /metrics base URL a `sluice run --http
# 127.0.0.1:0` logged (waits up to 15 s).
url_in() {
  local u i
  for i in $(seq 1 150); do
    u=$(tail -n +"${2:-1}" "$1" 2>/dev/null | sed -n 's|.*serving /metrics.* on \(http://[0-9.]*:[0-9]*\).*|\1|p' | head -1)
    [ -n "$u" ] && { echo "$u"; return 0; }
    sleep 0.1
  done
  return 1
}

rows() { q "SELECT count(*) FROM iot_measurements"; }
rows_above() { [ "$(rows)" -gt "$1" ]; }
spool_empty() { [ "$(metric sluice_spool_records)" = 0 ]; }
missing() { q "SELECT count(*) FROM (SELECT * FROM expected EXCEPT SELECT * FROM iot_measurements) m"; }
extra() { q "SELECT count(*) FROM (SELECT * FROM iot_measurements EXCEPT SELECT * FROM expected) m"; }
# Readings (not rows) with at least one row missing.
missing_readings() {
  q "SELECT count(DISTINCT (\"timestamp\", device_id, connector_mode, component_type, pin_position))
     FROM (SELECT * FROM expected EXCEPT SELECT * FROM iot_measurements) m"
}
dead_letters() { cat "$T/dead.jsonl" 2>/dev/null | wc -l | tr -d ' '; }

# settle [SECONDS]: waits until every expected row is there, or the table
# has stopped growing for 5 s (at most SECONDS, default 120).
settle() {
  local end=$((SECONDS + ${1:-120})) prev=-1 still=0 cur
  while [ $SECONDS -lt $end ]; do
    cur=$(rows)
    [ "$cur" -ge "$want" ] && return 0
    if [ "$cur" = "$prev" ]; then still=$((still + 1)); [ $still -ge 10 ] && return 0
    else still=0; fi
    prev=$cur; sleep 0.5
  done
}

# check_exact WHAT: every expected row once, nothing else, no dead letter;
# prints the figures.
check_exact() {
  local m e r mr
  m=$(missing); e=$(extra); r=$(rows); mr=$(missing_readings)
  echo "$1: $want_readings readings sent, $mr lost ($m of $want rows missing), $e unexpected rows, $r rows, $(dead_letters) dead letters"
  expect_eq "$mr" 0 "$1: readings lost"
  expect_eq "$m" 0 "$1: rows missing"
  expect_eq "$e" 0 "$1: unexpected rows"
  expect_eq "$r" "$want" "$1: row count (each exactly once)"
  expect_eq "$(dead_letters)" 0 "$1: dead letters"
}

pg_stop() { "$INFRA/postgres.sh" stop "$T/postgres" "$E2E_PG_PORT" >/dev/null; }
pg_start() { "$INFRA/postgres.sh" start "$T/postgres" "$E2E_PG_PORT" >/dev/null; }

# rss_kb PID: resident set size in KiB (0 once gone).
rss_kb() { ps -o rss= -p "$1" 2>/dev/null | tr -d ' ' || echo 0; }

# An ASan build's RSS and speed say nothing about the product's.
is_sanitized() { case "$(ldd "$S" 2>/dev/null)" in *libasan*) return 0 ;; esac; return 1; }

ingest=
simpid=
_spool_cleanup() {
  local rc=${1-$?}
  if [ -n "$ingest" ]; then kill -KILL "$ingest" 2>/dev/null || true; fi
  if [ -n "$simpid" ]; then kill -KILL "$simpid" 2>/dev/null || true; fi
  e2e_stop_servers
  _cleanup "$rc"
}
trap _spool_cleanup EXIT
