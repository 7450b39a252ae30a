#!/usr/bin/env bash
# PostgreSQL down for a while (OUTAGE seconds, 15 by default) under 3,000
# readings/s, with the shipped ingest pipeline: the spool takes everything
# (its usage shows on /metrics), sluice's memory stays bounded (RSS sampled
# every second, under 100 MB), and once PostgreSQL is back every reading
# arrives exactly once.  The CI-sized version of the 10-minute outage of
# tests/bench/spool_outage_bench.sh.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
. "$SLUICE_SOURCE_DIR/tests/e2e/e2e_lib.sh"
. "$SLUICE_SOURCE_DIR/tests/e2e/spool_lib.sh"
RATE=${E2E_RATE:-3000}
OUTAGE=${E2E_OUTAGE:-15}
N=${E2E_READINGS:-$((RATE * (OUTAGE + 10)))}
RSS_LIMIT_KB=${E2E_RSS_LIMIT_KB:-102400}
reference "$N" "$RATE"

ingest_start
sim_start "$N" "$RATE"
wait_for 30 rows_above 0 || fail "no rows arrive"
sleep 3
pg_stop
t_down=$SECONDS
rss_max=0 max_bytes=0 max_records=0 max_age=0
sample() {
  local r b n a
  r=$(rss_kb "$ingest"); [ "${r:-0}" -gt "$rss_max" ] && rss_max=$r
  b=$(metric sluice_spool_bytes); [ "${b:-0}" -gt "$max_bytes" ] && max_bytes=$b
  n=$(metric sluice_spool_records); [ "${n:-0}" -gt "$max_records" ] && max_records=$n
  a=$(metric sluice_spool_oldest_age_seconds); [ "${a:-0}" -gt "$max_age" ] && max_age=$a
  return 0
}
while [ $((SECONDS - t_down)) -lt "$OUTAGE" ]; do sample; sleep 1; done
echo "PostgreSQL down ${OUTAGE}s at $RATE readings/s: spool up to $max_records records, $max_bytes bytes, oldest ${max_age}s; RSS up to ${rss_max} KiB"
[ "$max_records" -gt $((RATE * OUTAGE / 3)) ] && pass ||
  fail "the spool held only $max_records records during a ${OUTAGE}s outage at $RATE/s"
[ "$max_bytes" -gt 0 ] && pass || fail "sluice_spool_bytes never above 0 during the outage"
[ "$max_age" -gt 0 ] && pass || fail "sluice_spool_oldest_age_seconds never above 0 during the outage"
held_at_return=$(metric sluice_spool_records)
pg_start
t_up=$SECONDS
while kill -0 "$simpid" 2>/dev/null || ! spool_empty; do
  sample; sleep 1
  [ $((SECONDS - t_up)) -gt 240 ] && { fail "the spool did not drain within 240 s"; break; }
done
drain=$((SECONDS - t_up))
sim_wait
settle 120
echo "after PostgreSQL came back: $held_at_return held records drained (with the live stream) in ${drain}s; RSS up to ${rss_max} KiB throughout"
if is_sanitized; then
  echo "RSS limit not checked: sanitizer build"
else
  [ "$rss_max" -lt "$RSS_LIMIT_KB" ] && pass || fail "RSS reached ${rss_max} KiB (limit ${RSS_LIMIT_KB})"
fi
check_exact "PostgreSQL down ${OUTAGE}s at $RATE readings/s"
ingest_stop TERM
expect_eq "$rc" 0 "exit status of the last SIGTERM"
finish
