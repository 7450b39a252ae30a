#!/usr/bin/env bash
# The mqtt plugin through the real sluice binary, with mosquitto_pub and
# mosquitto_sub on the other side: the options it declares are the ones the
# README documents; validation errors; mqtt → file with keys; a persistent
# session that keeps what is published while sluice is stopped; a clean stop
# in the middle of a stream loses nothing; mqtt → mqtt through the sink's
# topic template; /metrics and /ready; a broker that comes up only after
# sluice started; an init error that stops `sluice run`.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
S=$SLUICE_BIN
: "${SLUICE_TEST_MQTT_PORT:?SLUICE_TEST_MQTT_PORT must name the test broker (scripts/test.sh starts it)}"
P=$SLUICE_TEST_MQTT_PORT
(exec 3<>"/dev/tcp/127.0.0.1/$P") 2>/dev/null ||
  { echo "FAIL: nothing answers on 127.0.0.1:$P (SLUICE_TEST_MQTT_PORT)" >&2; exit 1; }
U="mqtt-pipe-$$"              # topics and client ids of this run
PIDS=()
cleanup_pids() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; }
trap '_trc=$?; cleanup_pids; _cleanup $_trc' EXIT

lines() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }
at_least() { [ "$(lines "$1")" -ge "$2" ]; }
# values FILE: the "payload" of every line of a file-sink JSON output (the
# envelope of a record without fields), sorted
values() { sed -n 's/.*"payload":"\([^"]*\)".*/\1/p' "$1" | sort -n; }
start_sluice() { # start_sluice LOG ARGS...: runs sluice in the background, sets SPID
  local log=$1; shift
  "$S" run "$@" >"$log" 2>&1 &
  SPID=$!
  PIDS+=("$SPID")
}
stop_sluice() { # stop_sluice: SIGTERM, wait, expect exit 0
  local rc=0
  kill -TERM "$SPID"
  wait "$SPID" || rc=$?
  expect_eq "$rc" 0 "sluice exit status after SIGTERM"
}
pub() { mosquitto_pub -h 127.0.0.1 -p "$P" -q 1 "$@"; }

# 1. The declared options are exactly the README's (both kinds).
"$S" plugins --describe mqtt >"$T/describe" 2>&1
for kind in source sink; do
  sed -n "/^  $kind options:/,/^  [a-z]* options:/p" "$T/describe" |
    awk '/^    [a-z_]+ /{print $1}' | sort >"$T/declared.$kind"
  awk -v h="### ${kind^} options" '$0 == h {f = 1; next} /^#/ {f = 0} f' \
    "$SLUICE_SOURCE_DIR/connectors/mqtt/README.md" |
    sed -n 's/^| `\([a-z_]*\)` |.*/\1/p' | sort >"$T/documented.$kind"
  if [ -s "$T/declared.$kind" ] && cmp -s "$T/declared.$kind" "$T/documented.$kind"; then pass; else
    fail "$kind options declared vs README: $(diff "$T/declared.$kind" "$T/documented.$kind" | tr '\n' ' ')"
  fi
done

# 2. Validation: what the loader can tell from the declared options.
cat >"$T/bad.yaml" <<Y
source:
  plugin: mqtt
  qos: 3
  topic: [a]
  protocol: "4"
sink: { plugin: mqtt, retain: maybe }
Y
expect_exit 1 -- "$S" validate "$T/bad.yaml"
expect_out 'bad.yaml:3:8: source (plugin "mqtt"): option "qos": "3" is not one of: 0, 1, 2'
expect_out 'bad.yaml:4:3: source (plugin "mqtt"): unknown option "topic"; did you mean "topics"?'
expect_out 'bad.yaml:5:13: source (plugin "mqtt"): option "protocol": "4" is not one of: 3.1.1, 5'
expect_out 'bad.yaml:6:7: sink (plugin "mqtt"): missing required option "topic"'
expect_out 'option "retain": expected true or false'

# 3. mqtt → file: every message, with the key from the topic.
cat >"$T/in.yaml" <<Y
name: $U-in
source:
  plugin: mqtt
  url: mqtt://127.0.0.1:$P
  client_id: $U-in
  topics: ["$U/in/#"]
  key_segment: 2
sink: { plugin: file, path: "$T/in.out" }
batch: { linger: 20ms }
Y
start_sluice "$T/in.log" "$T/in.yaml"
wait_for 10 grep -q "connected to mqtt://127.0.0.1:$P" "$T/in.log" || fail "source did not connect"
seq 1 500 | pub -t "$U/in/f2-a4cf12b3c4d5/sensor-mode" -l
wait_for 10 at_least "$T/in.out" 500 || fail "only $(lines "$T/in.out") of 500 arrived"
stop_sluice
expect_eq "$(values "$T/in.out" | tr '\n' ' ')" "$(seq 1 500 | tr '\n' ' ')" "values 1..500"
expect_eq "$(grep -c "\"topic\":\"$U/in/f2-a4cf12b3c4d5/sensor-mode\",.*\"device_id\":\"f2-a4cf12b3c4d5\"" "$T/in.out")" 500 \
  "topic and key of every record"

# 4. Stopped: the broker keeps the persistent session's messages; they all
#    arrive at the next start, once.
seq 501 800 | pub -t "$U/in/f2-a4cf12b3c4d5/sensor-mode" -l
start_sluice "$T/in2.log" "$T/in.yaml"
wait_for 10 at_least "$T/in.out" 800 || fail "after restart: $(lines "$T/in.out") of 800"
stop_sluice
expect_out_file() { grep -qF -- "$2" "$1" && pass || fail "$1 lacks: $2"; }
expect_out_file "$T/in2.log" "resuming the broker's session for \"$U-in\""
expect_eq "$(values "$T/in.out" | tr '\n' ' ')" "$(seq 1 800 | tr '\n' ' ')" "values 1..800, each once"

# 5. A clean stop in the middle of a fast stream loses nothing: what the
#    plugin took is drained into the file, the rest waits in the session.
start_sluice "$T/in3.log" "$T/in.yaml"
wait_for 10 grep -q "connected to" "$T/in3.log" || fail "source did not connect (3)"
seq 801 30800 | pub -t "$U/in/f2-a4cf12b3c4d5/sensor-mode" -l &
PUBPID=$!
wait_for 20 at_least "$T/in.out" 5000 || fail "stream did not start"
stop_sluice
wait "$PUBPID"
mid=$(lines "$T/in.out")
start_sluice "$T/in4.log" "$T/in.yaml"
wait_for 30 at_least "$T/in.out" 30800 || fail "after the mid-stream stop: $(lines "$T/in.out") of 30800"
sleep 0.5
stop_sluice
echo "mid-stream stop after $mid of 30800 lines" >&2
expect_eq "$(values "$T/in.out" | uniq | wc -l | tr -d ' ')" 30800 "distinct values (nothing lost)"
expect_eq "$(lines "$T/in.out")" 30800 "lines (nothing twice)"
# Leave no session behind on the shared broker.
mosquitto_sub -h 127.0.0.1 -p "$P" -i "$U-in" -c -E >/dev/null 2>&1 || true
mosquitto_sub -h 127.0.0.1 -p "$P" -i "$U-in" -E >/dev/null 2>&1 || true

# 6. mqtt → mqtt: the sink's topic template and QoS 1, observed with
#    mosquitto_sub; /metrics and /ready while it runs.
cat >"$T/bridge.yaml" <<Y
name: $U-bridge
source:
  plugin: mqtt
  url: mqtt://127.0.0.1:$P
  clean_session: true
  topics: ["$U/raw/#"]
  key_segment: 2
sink:
  plugin: mqtt
  url: mqtt://127.0.0.1:$P
  topic: "$U/out/{key}/{topic}"
batch: { linger: 20ms }
Y
mosquitto_sub -h 127.0.0.1 -p "$P" -q 1 -t "$U/out/#" -v -C 100 -W 30 >"$T/bridge.sub" 2>&1 &
SUBPID=$!
PIDS+=("$SUBPID")
start_sluice "$T/bridge.log" --http 127.0.0.1:0 "$T/bridge.yaml"
wait_for 10 grep -q "serving /metrics" "$T/bridge.log" || fail "no http endpoint"
HTTP=$(sed -n 's|.*serving /metrics, /health, /ready, /status on \(http://[0-9.:]*\).*|\1|p' "$T/bridge.log" | head -1)
wait_for 10 curl -sf "$HTTP/ready" || fail "not ready: $(curl -s "$HTTP/ready")"
sleep 0.3     # mosquitto_sub is subscribed by now
for i in $(seq 1 100); do echo "m$i"; done | pub -t "$U/raw/dev-7/x" -l
wait "$SUBPID" || true
expect_eq "$(wc -l <"$T/bridge.sub" | tr -d ' ')" 100 "bridged messages"
expect_eq "$(head -1 "$T/bridge.sub")" "$U/out/dev-7/$U/raw/dev-7/x m1" "bridged topic and payload"
curl -s "$HTTP/metrics" >"$T/metrics"
expect_out_file "$T/metrics" "sluice_mqtt_messages_received_total{pipeline=\"$U-bridge\",stage=\"source\"} 100"
expect_out_file "$T/metrics" "sluice_mqtt_messages_published_total{pipeline=\"$U-bridge\",stage=\"sink\"} 100"
expect_out_file "$T/metrics" "sluice_mqtt_connected{pipeline=\"$U-bridge\",stage=\"source\"} 1"
expect_out_file "$T/metrics" "sluice_mqtt_connected{pipeline=\"$U-bridge\",stage=\"sink\"} 1"
stop_sluice

# 7. The broker comes up after sluice: init is retried with backoff, the
#    log says why, then messages flow.  (A private broker on a free port.)
Q=$((P + 1000))
while (exec 3<>"/dev/tcp/127.0.0.1/$Q") 2>/dev/null; do Q=$((Q + 1)); done
cat >"$T/late.yaml" <<Y
name: $U-late
source:
  plugin: mqtt
  url: mqtt://127.0.0.1:$Q
  topics: ["late/#"]
sink: { plugin: file, path: "$T/late.out" }
batch: { linger: 20ms }
retry: { initial: 100ms, max: 500ms }
Y
start_sluice "$T/late.log" --http 127.0.0.1:0 "$T/late.yaml"
wait_for 10 grep -q "cannot connect to mqtt://127.0.0.1:$Q: Connection refused; retrying in" "$T/late.log" ||
  fail "no retry message: $(cat "$T/late.log")"
HTTP=$(sed -n 's|.*serving /metrics, /health, /ready, /status on \(http://[0-9.:]*\).*|\1|p' "$T/late.log" | head -1)
if curl -sf "$HTTP/ready" >/dev/null; then fail "ready while the broker is down"; else pass; fi
"$SLUICE_SOURCE_DIR/tests/infra/mosquitto.sh" start "$T/broker" "$Q" >/dev/null
wait_for 15 grep -q "connected to mqtt://127.0.0.1:$Q" "$T/late.log" || fail "did not connect once the broker was up"
wait_for 10 curl -sf "$HTTP/ready" || fail "not ready after connecting"
echo late | mosquitto_pub -h 127.0.0.1 -p "$Q" -q 1 -t late/x -l
wait_for 10 at_least "$T/late.out" 1 || fail "nothing arrived after the late start"
stop_sluice
"$SLUICE_SOURCE_DIR/tests/infra/mosquitto.sh" stop "$T/broker" "$Q" >/dev/null

# 8. A configuration the plugin refuses at init: `sluice run` exits 1 and
#    says which option of which file.
cat >"$T/refused.yaml" <<Y
name: $U-refused
source:
  plugin: mqtt
  url: mqtt://127.0.0.1:$P
  topics: ["ok/#", "a/#/b"]
sink: { plugin: file, path: "$T/refused.out" }
Y
expect_exit 1 -- timeout 20 "$S" run "$T/refused.yaml"
expect_out "refused.yaml"
expect_out "topics: \"a/#/b\" (item 2) is not a valid topic filter"

finish
