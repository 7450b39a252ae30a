# Helpers for the observability shell tests; source after testlib.sh.

# free_port: a TCP port nobody listens on right now (the kernel picks it).
free_port() { "$OBS_TOOL" free-port; }

# start_sluice NAME ARGS...: runs `sluice run --http 127.0.0.1:0 ARGS...` in
# the background, logs to $T/NAME.log, and sets SLUICE_PID and SLUICE_URL
# from the "serving ... on http://ADDR:PORT" line.
start_sluice() {
  local name=$1; shift
  # Created here, not only by the child's redirection: the loop below may
  # read it before the child has opened it (sed on a missing file, under
  # set -e and pipefail, ended obs_secrets once).
  : >"$T/$name.log"
  "$SLUICE_BIN" run --http 127.0.0.1:0 "$@" >"$T/$name.log" 2>&1 &
  SLUICE_PID=$!
  BG_PIDS+=("$SLUICE_PID")
  local i
  for i in $(seq 1 100); do
    SLUICE_URL=$(sed -n 's|.*serving /metrics.* on \(http://[0-9.]*:[0-9]*\).*|\1|p' "$T/$name.log" | head -1)
    [ -n "$SLUICE_URL" ] && return 0
    kill -0 "$SLUICE_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "sluice did not start its HTTP endpoint:" >&2
  sed 's/^/    | /' "$T/$name.log" >&2
  return 1
}

# stop_bg PID: SIGTERM and wait; returns the process's exit status (sluice
# drains and exits 0; a sanitizer report makes it non-zero).
stop_bg() {
  local rc=0
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || rc=$?
  return "$rc"
}

# stop_sluice NAME: stops the sluice of start_sluice and checks it exited 0.
stop_sluice() {
  local rc=0
  stop_bg "$SLUICE_PID" || rc=$?
  if [ "$rc" -eq 0 ]; then pass; else
    fail "sluice exited with $rc after SIGTERM"; tail -30 "$T/$1.log" | sed 's/^/    | /' >&2; fi
}

BG_PIDS=()
_obs_cleanup() {
  local rc=$? p
  for p in "${BG_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  (exit "$rc")
  _cleanup
}
trap _obs_cleanup EXIT
