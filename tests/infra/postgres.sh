#!/usr/bin/env bash
# A private PostgreSQL cluster for the tests, on 127.0.0.1:PORT, with its data,
# unix socket and log under DIR (never the system service).  Trust auth for
# local and loopback connections: `host=127.0.0.1 port=PORT user=postgres`.
# Roles: postgres (superuser) and sluice (login, superuser); database sluice.
# Run as root, the server runs as the `postgres` OS user (created if missing).
#
# SLUICE_PG_BIN overrides the binary directory (default: the highest
# /usr/lib/postgresql/*/bin).
#
# SLUICE_TEST_TIMESCALEDB=1 makes it a TimescaleDB server: timescaledb in
# shared_preload_libraries (start fails when timescaledb.so is not
# installed).  Without it the server is plain PostgreSQL whether or not the
# extension happens to be installed on the machine, so that test outcomes
# never depend on the machine.  The setting is read on every start.
set -euo pipefail
PROG=postgres.sh
USAGE="usage: $PROG start|stop|restart|status|destroy DIR PORT"
# shellcheck source=tests/infra/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ $# -eq 3 ] || { echo "$USAGE" >&2; exit 2; }
CMD=$1 PORT=$3
check_port "$PORT"
case $CMD in start|stop|restart|status|destroy) ;; *) echo "$USAGE" >&2; exit 2 ;; esac
DIR=$(abs_dir "$2")
cd /   # the postgres user may not be able to enter the caller's directory

PGBIN=${SLUICE_PG_BIN:-$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)}
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/pg_ctl" ]; then
  die "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (run scripts/install-deps.sh)"
fi
MAJOR=$(basename "$(dirname "$PGBIN")")

# Who runs initdb/pg_ctl: PostgreSQL refuses root.
AS=()
if [ "$(id -u)" -eq 0 ]; then
  if ! id -u postgres >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --home-dir /var/lib/postgresql \
      --shell /bin/bash postgres || die "cannot create the postgres OS user"
  fi
  AS=(runuser -u postgres --)
fi
as_pg() { if [ ${#AS[@]} -gt 0 ]; then "${AS[@]}" "$@"; else "$@"; fi; }

# The cluster lives in DIR unless the postgres user cannot reach DIR (a
# parent directory closed to others) or DIR is too long for a unix socket
# path (107 bytes): then in a short directory under /tmp, linked from DIR/run.
RUN=$DIR
if [ ${#AS[@]} -gt 0 ]; then chown postgres: "$DIR"; fi
if [ ${#DIR} -gt 80 ] || ! as_pg test -w "$DIR"; then
  RUN=${TMPDIR:-/tmp}/sluice-pg-$(printf %s "$DIR" | cksum | cut -d' ' -f1)
  # a DIR made anew (no link yet) gets a new cluster, not an old one left in RUN
  if [ ! -L "$DIR/run" ] && [ -d "$RUN" ]; then
    if [ -f "$RUN/data/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" status -D "$RUN/data" >/dev/null 2>&1; then
      die "a server of an earlier $DIR still runs from $RUN: stop it with pg_ctl -D $RUN/data stop"
    fi
    rm -rf "$RUN"
  fi
  mkdir -p "$RUN"
  if [ ${#AS[@]} -gt 0 ]; then chown postgres: "$RUN"; fi
  ln -sfn "$RUN" "$DIR/run"
  as_pg test -w "$RUN" || die "the postgres user cannot write to $RUN"
fi
DATA=$RUN/data LOG=$RUN/postgres.log

pg_running() { [ -f "$DATA/PG_VERSION" ] && as_pg "$PGBIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1; }
ready() { "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres; }
psql_pg() { "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres "$@"; }

init_cluster() {
  if [ -f "$DATA/PG_VERSION" ]; then
    local v; v=$(cat "$DATA/PG_VERSION")
    [ "$v" = "$MAJOR" ] || die "$DATA was made by PostgreSQL $v but the binaries are $MAJOR: remove $DIR"
    return 0
  fi
  rm -rf "$DATA"
  if ! as_pg "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --no-locale \
      --no-instructions >"$RUN/initdb.log" 2>&1; then
    log_tail "$RUN/initdb.log"; die "initdb failed"
  fi
  echo "include_if_exists = 'sluice.conf'" >>"$DATA/postgresql.conf"
}

# sluice.conf: rewritten on every start, so the port and paths follow the
# arguments.
write_conf() {
  if [ "${SLUICE_TEST_TIMESCALEDB:-0}" = 1 ] && [ ! -f "$PGBIN/../lib/timescaledb.so" ]; then
    die "SLUICE_TEST_TIMESCALEDB=1 but timescaledb.so is not installed for PostgreSQL $MAJOR"
  fi
  {
    echo "# written by tests/infra/postgres.sh on every start"
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $PORT"
    echo "unix_socket_directories = '$RUN'"
    echo "max_connections = 100"
    echo "fsync = on"
    echo "logging_collector = off"
    echo "log_line_prefix = '%m [%p] %q%u@%d '"
    if [ "${SLUICE_TEST_TIMESCALEDB:-0}" = 1 ]; then
      echo "shared_preload_libraries = 'timescaledb'"
      echo "timescaledb.telemetry_level = off"
    fi
  } >"$DATA/sluice.conf"
  if [ ${#AS[@]} -gt 0 ]; then chown postgres: "$DATA/sluice.conf"; fi
}

wait_ready() {
  local end=$((SECONDS + 30))
  until ready; do
    if [ "$SECONDS" -ge "$end" ]; then log_tail "$LOG"; die "PostgreSQL not ready on 127.0.0.1:$PORT within 30 s"; fi
    sleep 0.2
  done
}

ensure_roles() {
  psql_pg -c "DO \$\$BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sluice') THEN
        CREATE ROLE sluice LOGIN SUPERUSER;
      END IF; END\$\$;" || die "cannot create role sluice"
  if [ -z "$(psql_pg -c "SELECT 1 FROM pg_database WHERE datname = 'sluice'")" ]; then
    psql_pg -c "CREATE DATABASE sluice OWNER sluice" || die "cannot create database sluice"
  fi
}

start() {
  init_cluster
  if pg_running; then
    wait_ready
    note "already running on 127.0.0.1:$PORT (data $DATA)"
    return 0
  fi
  port_open "$PORT" && die "127.0.0.1:$PORT is already in use by another process"
  write_conf
  if ! as_pg "$PGBIN/pg_ctl" start -D "$DATA" -l "$LOG" -w -t 30 >/dev/null 2>&1; then
    log_tail "$LOG"; die "PostgreSQL failed to start on 127.0.0.1:$PORT"
  fi
  wait_ready
  ensure_roles
  note "started PostgreSQL $MAJOR on 127.0.0.1:$PORT (data $DATA, log $LOG)"
}

stop() {
  if pg_running; then
    as_pg "$PGBIN/pg_ctl" stop -D "$DATA" -m fast -w -t 60 >/dev/null || die "pg_ctl stop failed"
    note "stopped"
  else
    note "not running"
  fi
}

restart() {
  init_cluster
  write_conf
  if ! as_pg "$PGBIN/pg_ctl" restart -D "$DATA" -l "$LOG" -m fast -w -t 60 >/dev/null 2>&1; then
    log_tail "$LOG"; die "PostgreSQL failed to restart"
  fi
  wait_ready
  ensure_roles
  note "restarted on 127.0.0.1:$PORT"
}

# destroy: stop and remove the cluster, including a short directory under
# /tmp that DIR/run points to (a scratch DIR removed by its test would leave
# that behind: hundreds of MB per test run).
destroy() {
  stop
  if [ -L "$DIR/run" ]; then rm -rf "$(readlink "$DIR/run")" "$DIR/run"; fi
  rm -rf "$DIR/data"
  note "removed the cluster"
}

status() {
  if pg_running; then
    if ready; then echo "running on 127.0.0.1:$PORT (data $DATA)"; return 0; fi
    echo "running but not ready on 127.0.0.1:$PORT"; return 1
  fi
  echo "stopped"; return 3
}

"$CMD"
