#!/usr/bin/env bash
# A torn tail: SLUICE_SPOOL_FAULT_TORN=K makes the K-th spool append write
# only part of its bytes and kill the process (SIGKILL), as a crash in the
# middle of write() would.  The next start cuts the torn record off, reports
# it (sluice_spool_torn_total and the log) and delivers every complete one.
# The torn reading itself may be gone, if its PUBACK had left the process
# (libmosquitto acknowledges before on_message returns, at the latest); at
# most that one reading may be missing.  Measured: 0, the broker sent it
# again.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
. "$SLUICE_SOURCE_DIR/tests/e2e/e2e_lib.sh"
. "$SLUICE_SOURCE_DIR/tests/e2e/spool_lib.sh"
N=${E2E_READINGS:-2000}
RATE=${E2E_RATE:-1000}
K=${E2E_TORN_AT:-700}
reference "$N" "$RATE"

SLUICE_SPOOL_FAULT_TORN=$K ingest_start
sim_start "$N" "$RATE"
rc=0; wait "$ingest" || rc=$?
expect_eq "$rc" 137 "exit status of the process killed by the torn append (128 + SIGKILL)"
at_kill=$(rows)
kill -0 "$simpid" 2>/dev/null && pass || fail "the torn append came after the simulator finished"
segs=$(ls "$SPOOL"/*.seg 2>/dev/null | wc -l)
[ "$segs" -gt 0 ] && pass || fail "no spool segment after the kill"
ingest_start
sim_wait
settle 120
torn=$(metric sluice_spool_torn_total)
replayed=$(metric sluice_spool_replayed_total)
lost=$(missing_readings)
echo "torn append #$K: killed at $at_kill rows; restart reported $torn torn record(s), replayed $replayed; readings lost: $lost of $N (0 when the broker sends the torn message again, its PUBACK not yet out of the process)"
expect_eq "$torn" 1 "sluice_spool_torn_total after the restart"
grep -qi "torn" "$T/ingest.log" && pass || fail "the log does not report the torn record"
[ "${replayed:-0}" -gt 0 ] && pass || fail "nothing replayed: the complete records before the torn one were not in the spool"
[ "$lost" -le 1 ] && pass || fail "$lost readings lost: only the torn one may be"
expect_eq "$(extra)" 0 "unexpected rows"
expect_eq "$(dead_letters)" 0 "dead letters"
# The spool is usable after the cut: it drains to empty and takes new records.
wait_for 10 spool_empty && pass || fail "the spool still holds $(metric sluice_spool_records) records"
ingest_stop TERM
expect_eq "$rc" 0 "exit status of the last SIGTERM"
finish
