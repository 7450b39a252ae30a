# Helpers shared by the server scripts in tests/infra/.  Source it after
# setting PROG (the script's name, for messages).
# shellcheck shell=bash

die() { echo "$PROG: error: $*" >&2; exit 1; }
note() { echo "$PROG: $*"; }

# check_port PORT: a number in 1..65535.
check_port() {
  if ! [[ $1 =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ] || [ "$1" -gt 65535 ]; then die "bad port '$1'"; fi
}

# abs_dir DIR: creates DIR if needed and prints its absolute path.
abs_dir() {
  mkdir -p -- "$1" || die "cannot create directory $1"
  (cd -- "$1" && pwd -P)
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# read_pid FILE: prints the pid in FILE, fails when there is none.
read_pid() {
  local pid
  [ -s "$1" ] || return 1
  read -r pid <"$1" || [ -n "${pid:-}" ] || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  echo "$pid"
}

# pid_matches PID TEXT: PID is alive and its command line contains TEXT
# (so a stale pidfile whose pid was reused is never trusted).
pid_matches() {
  local cmd
  kill -0 "$1" 2>/dev/null || return 1
  cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
  [[ $cmd == *"$2"* ]]
}

# wait_gone PID SECONDS: waits until PID has exited.
wait_gone() {
  local end=$((SECONDS + $2))
  while kill -0 "$1" 2>/dev/null; do
    # a zombie child of this shell counts as gone
    [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ] && return 0
    [ "$SECONDS" -ge "$end" ] && return 1
    sleep 0.1
  done
}

# stop_pid PID SECONDS NAME: SIGTERM, wait, then SIGKILL as a last resort.
stop_pid() {
  kill -TERM "$1" 2>/dev/null || return 0
  if ! wait_gone "$1" "$2"; then
    echo "$PROG: $3 (pid $1) still running after $2 s, sending SIGKILL" >&2
    kill -KILL "$1" 2>/dev/null || true
    wait_gone "$1" 5 || die "$3 (pid $1) does not die"
  fi
}

# log_tail FILE: the end of a log, for error messages.
log_tail() {
  if [ -s "$1" ]; then
    echo "---- last lines of $1 ----" >&2
    tail -n 25 "$1" >&2
    echo "----" >&2
  else
    echo "($1 is empty or missing)" >&2
  fi
}
