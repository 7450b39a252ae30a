#!/usr/bin/env bash
# kill -9 of sluice five times mid-stream at 3,000 readings/s, with the
# shipped ingest pipeline (disk buffer): the mqtt source appends each message
# to the spool from libmosquitto's thread, so what the broker considered
# delivered (PUBACK) survives the crash and is replayed at the next start.
# Before the spool, each kill lost about 0.1 s of traffic.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
. "$SLUICE_SOURCE_DIR/tests/e2e/e2e_lib.sh"
. "$SLUICE_SOURCE_DIR/tests/e2e/spool_lib.sh"
RATE=${E2E_RATE:-3000}
KILLS=${E2E_KILLS:-5}
N=${E2E_READINGS:-$((RATE * (3 * KILLS + 3)))}
reference "$N" "$RATE"

ingest_start
sim_start "$N" "$RATE"
wait_for 30 rows_above 0 || fail "no rows arrive"
replayed=0
for i in $(seq 1 "$KILLS"); do
  sleep 1.5
  before=$(rows)
  ingest_stop KILL
  [ "$before" -lt "$want" ] && pass || fail "kill $i came after everything arrived"
  kill -0 "$simpid" 2>/dev/null && pass || fail "kill $i came after the simulator finished"
  ingest_start
  r=$(metric sluice_spool_replayed_total); replayed=$((replayed + ${r:-0}))
  echo "kill -9 #$i at $before rows; the next start replayed ${r:-?} records from the spool"
done
sim_wait
settle 180
echo "$KILLS x kill -9, $replayed records replayed in all"
check_exact "kill -9 x$KILLS mid-stream at $RATE readings/s"
torn=$(metric sluice_spool_torn_total)
echo "torn records reported by the last start: ${torn:-?}"
ingest_stop TERM
expect_eq "$rc" 0 "exit status of the last SIGTERM"
finish
