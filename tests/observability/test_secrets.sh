#!/usr/bin/env bash
# A distinct secret in every place a secret can go, then every output
# channel searched for each: logs (text and json, debug level), /status,
# /ready, /metrics, `sluice validate`, `sluice plugins --describe`, and the
# messages of refused configurations.  No server is needed: every backend
# points at a closed port, which also exercises the error paths (connect
# failures, refusals) where secrets used to leak.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
. "$SLUICE_SOURCE_DIR/tests/observability/obslib.sh"
S=$SLUICE_BIN
DEAD=$(free_port)

# Every planted secret starts with "PLANTED" so a final sweep catches any
# that the per-secret list forgot.
SECRETS=(PLANTED-value-1a2b PLANTED-map-3c4d PLANTED-map-5e6f PLANTED-file-7g8h
         PLANTED-env-9i0j PLANTED-url-1k2l PLANTED-space-3m4n PLANTED-plainurl-5o6p
         PLANTED-token-7q8r PLANTED-credential-9s0t)
mkdir -p "$T/p" "$T/bad"
printf 'host=127.0.0.1 port=%s user=u dbname=x password=PLANTED-file-7g8h\n' "$DEAD" >"$T/dsn.secret"
chmod 600 "$T/dsn.secret"
export PLANTED_DSN="host=127.0.0.1 port=$DEAD user=u dbname=x password=PLANTED-env-9i0j connect_timeout=2"

# 1. a secret option by value (mqtt password)
cat >"$T/p/1-mqtt-password.yaml" <<Y
source: { plugin: generator, rate: 5 }
sink: { plugin: mqtt, url: "mqtt://127.0.0.1:$DEAD", topic: t, username: u,
        password: PLANTED-value-1a2b }
Y
# 2. secret-named keys inside a map option (kafka properties), and a URL with
#    userinfo in a plain string option
cat >"$T/p/2-kafka-properties.yaml" <<Y
source: { plugin: generator, rate: 5 }
sink:
  plugin: kafka
  bootstrap: 127.0.0.1:$DEAD
  topic: t
  properties:
    sasl.username: someone
    sasl.password: PLANTED-map-3c4d
    ssl.key.password: PLANTED-map-5e6f
    client.id: "http://u:PLANTED-plainurl-5o6p@example/"
Y
# 3. a secret from { file: } (f2_decode's params_dsn)
cat >"$T/p/3-f2-file.yaml" <<Y
source: { plugin: generator, rate: 5, topic: "f2/v1/x/raw" }
transforms:
  - { plugin: f2_decode, params_dsn: { file: $T/dsn.secret } }
sink: { plugin: file, path: $T/out.jsonl }
errors: { tolerance: all }
Y
# 4. a secret from \${VAR} (timescale dsn)
cat >"$T/p/4-ts-env.yaml" <<'Y'
source: { plugin: generator, rate: 5 }
sink: { plugin: timescale, dsn: "${PLANTED_DSN}", table: m }
Y
# Pipelines refused at start (which stops `sluice run`), run one by one:
# 5. URL userinfo where a url is refused for carrying credentials
mkdir -p "$T/r"
cat >"$T/r/5-mqtt-url.yaml" <<Y
source: { plugin: mqtt, url: "mqtt://user:PLANTED-url-1k2l@127.0.0.1:$DEAD", topics: [a] }
sink: { plugin: file, path: $T/out2.jsonl }
Y
# 6. a DSN whose password holds an unquoted space
cat >"$T/r/6-ts-space.yaml" <<Y
source: { plugin: generator, rate: 5 }
sink: { plugin: timescale, dsn: "host=127.0.0.1 port=$DEAD password=first PLANTED-space-3m4n", table: m }
Y
# 7. a secret-named map key whose property librdkafka refuses
cat >"$T/r/7-kafka-refused.yaml" <<Y
source: { plugin: generator, rate: 5 }
sink:
  plugin: kafka
  bootstrap: 127.0.0.1:$DEAD
  topic: t
  properties: { sasl.oauthbearer.client.secret: PLANTED-credential-9s0t }
Y
# Refused configurations that carry secrets: a duplicate secret key, a
# secret next to a type error, a map with a nested value, an unknown option.
cat >"$T/bad/bad.yaml" <<Y
source: { plugin: generator, rate: lots }
sink:
  plugin: mqtt
  url: "mqtt://127.0.0.1:$DEAD"
  topic: t
  password: PLANTED-value-1a2b
  password: PLANTED-token-7q8r
Y
cat >"$T/bad/bad2.yaml" <<Y
source: { plugin: generator }
sink:
  plugin: kafka
  bootstrap: "PLANTED-token-7q8r"
  topic: t
  properties: { sasl.password: PLANTED-map-3c4d, nested: { PLANTED-token-7q8r: 1 } }
  pasword: PLANTED-value-1a2b
Y

# What is searched has been written by then; SIGKILL, because a kafka sink
# facing a dead broker holds a SIGTERM for about 30 s (the shutdown
# deadline is not absolute yet; that is another change).
stop_now() { kill -KILL "$SLUICE_PID" 2>/dev/null || true; wait "$SLUICE_PID" 2>/dev/null || true; }

# --- sluice run, text logs at debug level, with HTTP -------------------------
start_sluice run-text --log-level debug --shutdown-timeout 1s "$T/p"
# Wait until every backend has failed at least once (they set last_error).
tried_all() {
  "$OBS_TOOL" get "$SLUICE_URL/status" >"$T/status.json" 2>/dev/null &&
    grep -q 'cannot connect to mqtt' "$T/run-text.log" &&
    grep -q 'cannot connect to PostgreSQL' "$T/run-text.log" &&
    grep -q 'device_params database unavailable' "$T/run-text.log"
}
if wait_for 30 tried_all; then pass; else fail "not every backend was tried"; fi
sleep 2 # a few more attempts and retries of every pipeline
"$OBS_TOOL" get "$SLUICE_URL/status" >"$T/status.json" || true
"$OBS_TOOL" get "$SLUICE_URL/ready" >"$T/ready.json" || true
"$OBS_TOOL" get "$SLUICE_URL/metrics" >"$T/metrics.txt" || true
"$OBS_TOOL" get "$SLUICE_URL/health" >"$T/health.txt" || true
stop_now

# The channels said something, so the searches below can find a leak.
for f in status.json ready.json; do
  grep -q 'password=\*\*\*' "$T/$f" && pass || fail "$f lacks password=***"
  grep -q 'sasl.password: \*\*\*' "$T/$f" && pass || fail "$f lacks sasl.password: ***"
  grep -q 'client.id: http://\*\*\*@example/' "$T/$f" && pass || fail "$f lacks the redacted URL"
done
grep -q 'sluice_' "$T/metrics.txt" && pass || fail "/metrics is empty"

# --- the refusals, in text and json ----------------------------------------
for f in "$T"/r/*.yaml; do
  "$S" run "$f" >>"$T/refused-text.log" 2>&1 && fail "$f ran" || pass
  "$S" run --log-format json --log-level debug "$f" >>"$T/refused-json.log" 2>&1 && fail "$f ran" || pass
done
for f in refused-text.log refused-json.log; do
  grep -q 'credentials do not belong in the url' "$T/$f" && pass || fail "no url refusal in $f"
  grep -q 'mqtt://\*\*\*@127.0.0.1' "$T/$f" && pass || fail "the url refusal lost its shape in $f"
  grep -q 'missing \\\?"=\\\?" after' "$T/$f" && pass || fail "no DSN refusal in $f"
  grep -q 'sasl.oauthbearer.client.secret' "$T/$f" && pass || fail "no kafka refusal in $f"
done

# --- sluice run, json logs --------------------------------------------------
start_sluice run-json --log-level debug --log-format json --shutdown-timeout 1s "$T/p"
sleep 3
"$OBS_TOOL" get "$SLUICE_URL/status" >"$T/status2.json" || true
stop_now
grep -q '"level":"warn".*cannot connect' "$T/run-json.log" && pass || fail "the json run logged no connection failure"

# --- a bearer token for /status (itself a planted secret) --------------------
printf 'PLANTED-token-7q8r\n' >"$T/http.token"
chmod 600 "$T/http.token"
# GET PATH [TOKEN] on the running sluice, with bash's /dev/tcp: status line
# and body.
http_get() {
  local hp=${SLUICE_URL#http://}
  exec 3<>"/dev/tcp/${hp%:*}/${hp#*:}"
  if [ -n "${2:-}" ]; then
    printf 'GET %s HTTP/1.0\r\nAuthorization: Bearer %s\r\n\r\n' "$1" "$2" >&3
  else
    printf 'GET %s HTTP/1.0\r\n\r\n' "$1" >&3
  fi
  cat <&3
  exec 3<&-
}
start_sluice run-token --http-token-file "$T/http.token" --shutdown-timeout 1s "$T/p"
http_get /status >"$T/token-none.txt"
http_get /status wrong-token >"$T/token-wrong.txt"
http_get /status PLANTED-token-7q8r >"$T/token-right.txt"
http_get /ready >"$T/token-ready.txt"
http_get /health >"$T/token-health.txt"
stop_now
grep -q '^HTTP/1.[01] 401' "$T/token-none.txt" && pass || fail "/status without the token: $(head -1 "$T/token-none.txt")"
grep -q '^HTTP/1.[01] 401' "$T/token-wrong.txt" && pass || fail "/status with a wrong token: $(head -1 "$T/token-wrong.txt")"
grep -q '^HTTP/1.[01] 200' "$T/token-right.txt" && pass || fail "/status with the token: $(head -1 "$T/token-right.txt")"
grep -q 'sasl.password: \*\*\*' "$T/token-right.txt" && pass || fail "/status with the token lacks the document"
grep -q '"pipelines"' "$T/token-ready.txt" && fail "/ready showed the status without the token" || pass
grep -q '^HTTP/1.[01] 200' "$T/token-health.txt" && pass || fail "/health needs no token"
grep -q '(/status needs the bearer token)' "$T/run-token.log" && pass || fail "the start line does not say /status is protected"
# A token file that is missing, empty or a FIFO: a clear error at once.
expect_exit 2 -- "$S" run --http 127.0.0.1:0 --http-token-file "$T/nope.token" "$T/p"
expect_out '--http-token-file: cannot read secret file'
: >"$T/empty.token"
expect_exit 2 -- "$S" run --http 127.0.0.1:0 --http-token-file "$T/empty.token" "$T/p"
expect_out 'the token file is empty'
mkfifo "$T/fifo.token"
start_s=$SECONDS
expect_exit 2 -- timeout 10 "$S" run --http 127.0.0.1:0 --http-token-file "$T/fifo.token" "$T/p"
expect_out 'not a regular file (a FIFO)'
[ $((SECONDS - start_s)) -le 2 ] && pass || fail "a FIFO token file took $((SECONDS - start_s)) s"
expect_exit 2 -- "$S" run --http-token-file "$T/http.token" "$T/p"
expect_out '--http-token-file needs --http'

# --- validate, plugins --describe, refused configurations --------------------
"$S" validate "$T/p" >"$T/validate-ok.txt" 2>&1 || true
grep -q 'ok' "$T/validate-ok.txt" && pass || fail "validate said nothing"
"$S" validate "$T/bad" >"$T/validate-bad.txt" 2>&1 && fail "bad files validated" || pass
grep -q 'duplicate key "password"' "$T/validate-bad.txt" && pass || fail "no duplicate-key message"
grep -q 'unknown option "pasword"' "$T/validate-bad.txt" && pass || fail "no unknown-option message"
"$S" run "$T/bad/bad.yaml" >"$T/run-bad.txt" 2>&1 && fail "a bad file ran" || pass
for p in mqtt kafka timescale f2_decode; do
  "$S" plugins --describe $p >>"$T/describe.txt" 2>&1 || fail "plugins --describe $p"
done

# --- the search ---------------------------------------------------------------
outputs=(run-text.log run-json.log run-token.log token-none.txt token-wrong.txt
         token-right.txt token-ready.txt refused-text.log refused-json.log status.json status2.json ready.json metrics.txt health.txt
         validate-ok.txt validate-bad.txt run-bad.txt describe.txt)
for f in "${outputs[@]}"; do
  [ -s "$T/$f" ] || { fail "$f is empty"; continue; }
  for s in "${SECRETS[@]}"; do
    if grep -qF -- "$s" "$T/$f"; then
      fail "secret $s appears in $f:"; grep -F -- "$s" "$T/$f" | head -3 | sed 's/^/    | /' >&2
    else pass; fi
  done
  # Pieces of the DSN password after its space, and anything else planted.
  if grep -q 'PLANTED' "$T/$f"; then
    fail "something planted appears in $f:"; grep 'PLANTED' "$T/$f" | head -3 | sed 's/^/    | /' >&2
  else pass; fi
done
finish
