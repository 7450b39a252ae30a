#!/usr/bin/env bash
# A permanent sink error mid-stream: INSERT on iot_measurements is revoked
# from sluice's database role (SQLSTATE 42501).  The pipeline parks with its
# records kept in the spool, and /status and /ready say why; after GRANT and
# one SIGHUP everything arrives, and the counters on /metrics account for
# every message the source handed over.  Before the spool, the restart after
# the error dropped the in-flight batch: 43 of 3,000 readings lost, 42 of
# them in no counter and no log line.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
. "$SLUICE_SOURCE_DIR/tests/e2e/e2e_lib.sh"
. "$SLUICE_SOURCE_DIR/tests/e2e/spool_lib.sh"
N=${E2E_READINGS:-3000}
RATE=${E2E_RATE:-300}
reference "$N" "$RATE"

# sluice writes as a role of its own (a superuser ignores REVOKE).
"${PSQL[@]}" -d timeseries >/dev/null <<'SQL'
CREATE ROLE sluice_ingest LOGIN;
GRANT USAGE ON SCHEMA public TO sluice_ingest;
GRANT SELECT, INSERT ON iot_measurements TO sluice_ingest;
SQL
export TIMESERIES_DSN="host=127.0.0.1 port=$E2E_PG_PORT user=sluice_ingest dbname=timeseries"

ingest_start
sim_start "$N" "$RATE"
wait_for 30 rows_above 0 || fail "no rows arrive"
sleep 1
q "REVOKE INSERT ON iot_measurements FROM sluice_ingest"
at_revoke=$(rows)
wait_for 30 grep -q "42501\|permission denied" "$T/ingest.log" && pass ||
  fail "no permission error logged: $(tail -5 "$T/ingest.log")"
# The pipeline parks, and retries after a capped backoff (parking again
# while the grant is missing): wait for a parked moment.
parked() { grep -q '"state":"parked"' <<<"$(curl -s --max-time 5 "$URL/status")"; }
wait_for 30 parked && pass || fail "the pipeline never shows as parked in /status"
status=$(curl -s --max-time 5 "$URL/status")
ready=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$URL/ready")
held=$(metric sluice_spool_records)
echo "after REVOKE at $at_revoke rows: /ready $ready, spool holds $held records"
echo "  /status reason: $(python3 -c 'import json,sys; print(json.load(sys.stdin)["pipelines"][0].get("reason"))' <<<"$status")"
expect_eq "$ready" 503 "/ready while the sink has no permission"
grep -qi "permission denied\|42501" <<<"$status" && pass || fail "/status does not say why the pipeline is stopped"
[ "${held:-0}" -gt 0 ] && pass || fail "the spool holds nothing while the sink is refused"
[ "$(rows)" -lt "$want" ] && pass || fail "REVOKE came after everything arrived"

q "GRANT INSERT ON iot_measurements TO sluice_ingest"
kill -HUP "$ingest"
sim_wait
settle 120
wait_for 20 spool_empty || true
check_exact "REVOKE INSERT mid-stream, GRANT and SIGHUP"

# Every message the source handed over is in exactly one place (the
# identity of docs/operations.md, with readings: f2_decode makes several
# rows of one reading, so the sink's own counter is in rows):
#   in == appended + failed{source}
#   replayed + appended == released + held
#   failed (all stages) == dead_letter + rejected
# and here: appended == the messages published, held == 0 at the end.
in=$(metric sluice_records_in_total)
appended=$(metric sluice_spool_appended_total)
released=$(metric sluice_spool_released_total)
replayed=$(metric sluice_spool_replayed_total)
held=$(metric sluice_spool_records)
failed=$(metric sluice_records_failed_total)
dead=$(metric sluice_dead_letter_total)
rejected=$(metric sluice_records_rejected_total)
out=$(metric sluice_records_out_total)
echo "counters: in $in, spool appended $appended, replayed $replayed, released $released, held $held; failed $failed, dead-lettered $dead, rejected $rejected; rows out $out (input: $N messages)"
expect_eq "$in" "$N" "sluice_records_in_total against the messages published"
expect_eq "$appended" "$N" "sluice_spool_appended_total against the messages published"
expect_eq "$((replayed + appended))" "$((released + held))" "replayed + appended == released + held"
expect_eq "$held" 0 "held at the end"
expect_eq "$failed" "$((dead + rejected))" "failed == dead-lettered + rejected"
expect_eq "$((dead + rejected))" 0 "dead-lettered + rejected"
ready=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$URL/ready")
expect_eq "$ready" 200 "/ready after GRANT and SIGHUP"
ingest_stop TERM
expect_eq "$rc" 0 "exit status of the last SIGTERM"
finish
