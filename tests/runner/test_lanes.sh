#!/usr/bin/env bash
# `lanes: N` in the runner: a file runs as N pipelines named NAME#1..NAME#N,
# listed together in /status; SIGHUP stops and starts the lanes of a file
# together (2 -> 3 -> 1 lanes), leaves them alone when the file is
# unchanged, and keeps them when the new file does not validate; SIGTERM
# stops every lane cleanly.  With a disk buffer, each lane spools in a
# directory of its own, and leftovers of lanes no longer run are reported.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
S=$SLUICE_BIN
HTTP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

write() { # LANES
  printf 'name: p\nlanes: %s\nsource: { plugin: generator, rate: 200 }\nsink: { plugin: file, discard: true }\n' \
    "$1" >"$T/p.yaml"
}
lanes_in_status() { # prints "name/group/lane/lanes state" per entry
  curl -sf "http://127.0.0.1:$HTTP/status" | python3 -c '
import json, sys
for p in json.load(sys.stdin)["pipelines"]:
    print("%s/%s/%s/%s %s" % (p["name"], p.get("group"), p.get("lane"), p.get("lanes"), p["state"]))'
}
status_is() { [ "$(lanes_in_status | tr '\n' ' ')" = "$1" ]; }

write 2
: >"$T/out"   # here, not only in the job: it truncates when it runs, maybe after a wait_for read
"$S" run --http "127.0.0.1:$HTTP" "$T/p.yaml" >"$T/out" 2>&1 &
pid=$!
want2="p#1/p/1/2 running p#2/p/2/2 running "
wait_for 20 status_is "$want2" && pass || fail "two lanes: $(lanes_in_status | tr '\n' ' ')"

write 3
kill -HUP $pid
want3="p#1/p/1/3 running p#2/p/2/3 running p#3/p/3/3 running "
wait_for 20 status_is "$want3" && pass || fail "three lanes: $(lanes_in_status | tr '\n' ' ')"
expect_eq "$(grep -c '\[p\] changed: restarting' "$T/out")" 1 "one restart message for the file"

# Unchanged: nothing restarts.
kill -HUP $pid
sleep 1
status_is "$want3" && pass || fail "after an unchanged reload: $(lanes_in_status | tr '\n' ' ')"
expect_eq "$(grep -c '\[p#1\] running' "$T/out")" 2 "lane 1 started twice (2 lanes, then 3)"

# Not valid: the lanes keep running as they were.
write 65
kill -HUP $pid
wait_for 10 grep -q "p.yaml: not reloaded; the running pipeline keeps its old configuration" "$T/out" \
  || fail "bad lanes value on reload not reported"
grep -q "lanes: \"65\" is not a number of lanes; expected an integer in 1..64" "$T/out" && pass ||
  fail "no message for lanes: 65"
status_is "$want3" && pass || fail "after a bad reload: $(lanes_in_status | tr '\n' ' ')"

write 1
kill -HUP $pid
wait_for 20 status_is "p/None/None/None running " && pass ||
  fail "one lane: $(lanes_in_status | tr '\n' ' ')"

kill -TERM $pid
rc=0; wait $pid || rc=$?
expect_eq "$rc" 0 "exit status"

# A disk buffer is one lane's: lane K spools in PATH/K.  Going back to one
# lane (which spools in PATH) warns about the lanes' directories.
spooled() { # LANES
  printf 'name: p\nlanes: %s\nsource: { plugin: generator, rate: 200 }\nsink: { plugin: file, discard: true }\nbuffer: { type: disk, path: "%s" }\n' \
    "$1" "$T/spool" >"$T/p.yaml"
}
spool_paths() {
  curl -sf "http://127.0.0.1:$HTTP/status" | python3 -c '
import json, sys
print(" ".join(p["spool"]["path"] for p in json.load(sys.stdin)["pipelines"]))'
}
spooled 2
: >"$T/out"
"$S" run --http "127.0.0.1:$HTTP" "$T/p.yaml" >"$T/out" 2>&1 &
pid=$!
wait_for 20 status_is "$want2" && pass || fail "two spooled lanes: $(lanes_in_status | tr '\n' ' ')"
expect_eq "$(spool_paths)" "$T/spool/1 $T/spool/2" "one spool directory per lane"
[ -f "$T/spool/1/lock" ] && [ -f "$T/spool/2/lock" ] && pass || fail "lane spools not created: $(ls -R "$T/spool")"
spooled 1
kill -HUP $pid
wait_for 20 status_is "p/None/None/None running " && pass ||
  fail "one spooled lane: $(lanes_in_status | tr '\n' ' ')"
grep -q "$T/spool/2 is the disk buffer of lane 2, which this file (lanes: 1) no longer runs" "$T/out" &&
  pass || fail "no warning about the spool of lane 2"
kill -TERM $pid
rc=0; wait $pid || rc=$?
expect_eq "$rc" 0 "exit status (spooled)"
finish
