#!/usr/bin/env bash
# SIGTERM while PostgreSQL is down, with the shipped ingest pipeline (disk
# buffer): sluice writes what it can until --shutdown-timeout, leaves the
# rest in the spool and exits; PostgreSQL and sluice come back and every
# reading arrives exactly once.  Before the spool, this lost 2,502 of 3,000
# readings ("... were never handed to the pipeline ... they are lost").
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
. "$SLUICE_SOURCE_DIR/tests/e2e/e2e_lib.sh"
. "$SLUICE_SOURCE_DIR/tests/e2e/spool_lib.sh"
N=${E2E_READINGS:-3000}
RATE=${E2E_RATE:-300}
reference "$N" "$RATE"

ingest_start "$INGEST_FILE" --shutdown-timeout 5s
sim_start "$N" "$RATE"
wait_for 30 rows_above 0 || fail "no rows before the outage"
sleep 1
pg_stop
sleep 3
held=$(metric sluice_spool_records)
t0=$SECONDS
ingest_stop TERM
took=$((SECONDS - t0))
echo "SIGTERM with PostgreSQL down: exit status $rc after ${took}s, $held records held in the spool at the signal"
[ "$took" -le 20 ] && pass || fail "SIGTERM took ${took}s with --shutdown-timeout 5s"
[ "${held:-0}" -gt 0 ] && pass || fail "the spool held nothing during the outage (sluice_spool_records $held)"
if grep -q "they are lost" "$T/ingest.log"; then fail "sluice says records are lost: $(grep 'they are lost' "$T/ingest.log")"; else pass; fi
ls "$SPOOL"/*.seg >/dev/null 2>&1 && pass || fail "no spool segment left in $SPOOL"

# The simulator goes on: what it publishes now waits in the broker.
sim_wait
pg_start
ingest_start
settle 120
replayed=$(metric sluice_spool_replayed_total)
echo "replayed from the spool at the restart: $replayed records"
[ "${replayed:-0}" -gt 0 ] && pass || fail "nothing was replayed from the spool"
check_exact "SIGTERM during a PostgreSQL outage ($RATE readings/s), then both restarted"
wait_for 10 spool_empty && pass || fail "the spool still holds $(metric sluice_spool_records) records after everything arrived"
ingest_stop TERM
expect_eq "$rc" 0 "exit status of the last SIGTERM"
finish
