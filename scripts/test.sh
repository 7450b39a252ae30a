#!/usr/bin/env bash
# The test command.  On a fresh Debian machine it installs what is missing,
# builds sluice twice (optimised, and with AddressSanitizer +
# UndefinedBehaviorSanitizer), starts a private Mosquitto, PostgreSQL and
# Apache Kafka on loopback, runs the whole ctest suite against both builds,
# and stops the servers.  Exit status: 0 when every test passed.
#
#   scripts/test.sh              everything
#   scripts/test.sh -L unit      only tests with a ctest label (passed to ctest)
#   SLUICE_TEST_SANITIZE=0 ...   skip the sanitizer pass
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# sluice refuses plugins that group or others can write (plugin trust): a
# build under a group-writable umask would produce only refused plugins.
umask 022
JOBS=${JOBS:-2}

log() { printf '\n==> %s\n' "$*"; }

log "installing missing packages"
scripts/install-deps.sh

build() { # build DIR [cmake args]
  local dir=$1; shift
  cmake -S "$ROOT" -B "$dir" -G Ninja -DSLUICE_WERROR=ON "$@" >/dev/null
  ninja -C "$dir" -j"$JOBS"
}
log "building (RelWithDebInfo)"
build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${SLUICE_TEST_SANITIZE:-1}" = 1 ]; then
  log "building with AddressSanitizer and UndefinedBehaviorSanitizer"
  build build-asan -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON
fi

# Servers live under var/ of the checkout, never the system services.
export SLUICE_TEST_VAR=${SLUICE_TEST_VAR:-$ROOT/var/test}
export SLUICE_TEST_MQTT_PORT=${SLUICE_TEST_MQTT_PORT:-18830}
export SLUICE_TEST_PG_PORT=${SLUICE_TEST_PG_PORT:-15432}
export SLUICE_TEST_KAFKA_PORT=${SLUICE_TEST_KAFKA_PORT:-19092}
mkdir -p "$SLUICE_TEST_VAR"

stop_servers() {
  tests/infra/kafka.sh stop "$SLUICE_TEST_VAR/kafka" "$SLUICE_TEST_KAFKA_PORT" >/dev/null 2>&1 || true
  tests/infra/postgres.sh stop "$SLUICE_TEST_VAR/postgres" "$SLUICE_TEST_PG_PORT" >/dev/null 2>&1 || true
  tests/infra/mosquitto.sh stop "$SLUICE_TEST_VAR/mosquitto" "$SLUICE_TEST_MQTT_PORT" >/dev/null 2>&1 || true
}
trap stop_servers EXIT

log "starting Mosquitto, PostgreSQL and Kafka on 127.0.0.1"
tests/infra/mosquitto.sh start "$SLUICE_TEST_VAR/mosquitto" "$SLUICE_TEST_MQTT_PORT"
tests/infra/postgres.sh start "$SLUICE_TEST_VAR/postgres" "$SLUICE_TEST_PG_PORT"
tests/infra/kafka.sh fetch "$SLUICE_TEST_VAR/kafka" "$SLUICE_TEST_KAFKA_PORT"
tests/infra/kafka.sh start "$SLUICE_TEST_VAR/kafka" "$SLUICE_TEST_KAFKA_PORT"

rc=0
log "test suite (RelWithDebInfo)"
ctest --test-dir build --output-on-failure -j"$JOBS" "$@" || rc=1
if [ "${SLUICE_TEST_SANITIZE:-1}" = 1 ]; then
  log "test suite (ASan + UBSan)"
  # Leak reports need readable plugin symbols: keep plugins mapped at exit.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  SLUICE_KEEP_PLUGINS_LOADED=1 \
    ctest --test-dir build-asan --output-on-failure -j"$JOBS" -LE nosan "$@" || rc=1
fi
exit $rc
