#!/usr/bin/env bash
# A private Mosquitto broker for the tests, on 127.0.0.1:PORT, with its
# config, persistence database, log and pidfile under DIR (never the system
# service).  A clean stop saves the persistence database, so a restarted
# broker still holds the queued messages of persistent sessions.
set -euo pipefail
PROG=mosquitto.sh
USAGE="usage: $PROG start|stop|status|restart DIR PORT"
# shellcheck source=tests/infra/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ $# -eq 3 ] || { echo "$USAGE" >&2; exit 2; }
CMD=$1 PORT=$3
check_port "$PORT"
DIR=$(abs_dir "$2")
CONF=$DIR/mosquitto.conf PIDFILE=$DIR/mosquitto.pid LOG=$DIR/mosquitto.log

running_pid() { local pid; pid=$(read_pid "$PIDFILE") && pid_matches "$pid" "$CONF" && echo "$pid"; }

# answers: the broker takes an MQTT connection and a publish.
answers() {
  if command -v mosquitto_pub >/dev/null; then
    mosquitto_pub -h 127.0.0.1 -p "$PORT" -t sluice/infra/ping -m up -q 0 >/dev/null 2>&1
  else
    port_open "$PORT"
  fi
}

write_conf() {
  mkdir -p "$DIR/data"
  {
    echo "# written by tests/infra/mosquitto.sh; rewritten on every start"
    # Mosquitto drops to the 'mosquitto' user when started as root unless told.
    if [ "$(id -u)" -eq 0 ]; then echo "user root"; fi
    echo "pid_file $PIDFILE"
    echo "listener $PORT 127.0.0.1"
    echo "allow_anonymous true"
    echo "persistence true"
    echo "persistence_location $DIR/data/"
    echo "persistence_file mosquitto.db"
    # saved on a clean stop; also every 30 s against a crash
    echo "autosave_interval 30"
    echo "max_queued_messages 100000"
    echo "max_queued_bytes 0"
    echo "max_inflight_messages 1000"
    # Without it Nagle holds each PUBACK after the first until the client's
    # delayed ACK (40 ms): a QoS 1 publisher waiting on a batch's acks then
    # adds 40-50 ms per batch (docs/operations.md, "Broker settings").
    echo "set_tcp_nodelay true"
    # 16 MiB: room for a 1 MiB test payload (message_size_limit is
    # deprecated in Mosquitto 2 and defaults to no limit)
    echo "max_packet_size 16777216"
    echo "log_dest file $LOG"
    echo "log_type error"
    echo "log_type warning"
    echo "log_type notice"
    echo "log_type information"
    echo "log_timestamp_format %Y-%m-%dT%H:%M:%S"
    echo "connection_messages true"
  } >"$CONF"
}

start() {
  local pid
  if pid=$(running_pid); then note "already running (pid $pid) on 127.0.0.1:$PORT"; return 0; fi
  command -v mosquitto >/dev/null || die "mosquitto is not installed (run scripts/install-deps.sh)"
  port_open "$PORT" && die "127.0.0.1:$PORT is already in use by another process"
  rm -f "$PIDFILE"
  write_conf
  if ! mosquitto -c "$CONF" -d 2>"$DIR/start.err"; then
    cat "$DIR/start.err" >&2; log_tail "$LOG"; die "mosquitto failed to start"
  fi
  local end=$((SECONDS + 10))
  until pid=$(running_pid) && answers; do
    if [ "$SECONDS" -ge "$end" ]; then
      cat "$DIR/start.err" >&2; log_tail "$LOG"
      die "mosquitto did not answer on 127.0.0.1:$PORT within 10 s"
    fi
    sleep 0.1
  done
  note "started (pid $pid) on 127.0.0.1:$PORT, log $LOG"
}

stop() {
  local pid
  if pid=$(running_pid); then
    stop_pid "$pid" 20 mosquitto
    note "stopped (pid $pid)"
  else
    note "not running"
  fi
  rm -f "$PIDFILE"
}

status() {
  local pid
  if pid=$(running_pid); then
    if answers; then echo "running (pid $pid) on 127.0.0.1:$PORT"; return 0; fi
    echo "running (pid $pid) but not answering on 127.0.0.1:$PORT"; return 1
  fi
  echo "stopped"; return 3
}

case $CMD in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) status ;;
  *) echo "$USAGE" >&2; exit 2 ;;
esac
