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
#   SLUICE_FUZZ_SECONDS=N ...    seconds per fuzz target (default 30; 0 skips)
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
# The image test's slow part (tests/docker: debootstrap, podman build, mostly
# waiting on the Debian archive) starts now, in the background, and warms its
# caches while the builds below compile; the docker_image test waits for it
# (a lock) and then only checks.  Its log: build/docker-image/prepare.log.
PREP_PID=
if [ $# -eq 0 ] && [ "${SLUICE_DOCKER_TEST:-1}" != 0 ]; then
  mkdir -p build/docker-image
  SLUICE_DOCKER_PREPARE=1 SLUICE_SOURCE_DIR=$ROOT SLUICE_BUILD_DIR=$ROOT/build \
    bash tests/docker/test_image.sh >build/docker-image/prepare.log 2>&1 &
  PREP_PID=$!
fi

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
rm -f build/docker-image/SKIPPED
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

# ---- fuzzing (tests/fuzz/README.md) ---------------------------------------
# Every libFuzzer target of tests/fuzz runs SLUICE_FUZZ_SECONDS (default 30,
# 0 skips) under ASan + UBSan, from its seed corpus plus what earlier runs
# found (build-fuzz/corpus/).  A finding fails the run; its input is kept in
# build-fuzz/findings/.  build-fuzz is a clang build of its own: the gcc
# builds above never see -fsanitize=fuzzer.
fuzz_targets() {
  local secs=$1 dir=$ROOT/build-fuzz t fail=0
  if ! cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_C_COMPILER=clang -DSLUICE_FUZZ=ON \
       -DSLUICE_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null; then
    echo "test.sh: error: cannot configure the fuzz build (build-fuzz); it needs clang and" \
         "libFuzzer (scripts/install-deps.sh installs clang and libclang-rt-dev)" >&2
    return 1
  fi
  ninja -C "$dir" -j"$JOBS" fuzz || return 1
  mkdir -p "$dir/findings"
  for t in $(ls tests/fuzz/corpus); do
    local log=$dir/fuzz-$t.log dict=()
    [ -f "tests/fuzz/dict/$t.dict" ] && dict=(-dict="tests/fuzz/dict/$t.dict")
    mkdir -p "$dir/corpus/$t"
    if ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 \
       UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
       "$dir/bin/fuzz_$t" -max_total_time="$secs" -timeout=20 -print_final_stats=1 \
         "${dict[@]}" -artifact_prefix="$dir/findings/$t-" \
         "$dir/corpus/$t" "tests/fuzz/corpus/$t" </dev/null >"$log" 2>&1; then
      printf 'fuzz_%-16s %12s executions  %8s exec/s  in %ss\n' "$t" \
        "$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")" \
        "$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")" "$secs"
    else
      tail -n 60 "$log"
      echo "fuzz_$t: FINDING (full log: $log; input: $dir/findings/$t-*;" \
           "see tests/fuzz/README.md to reproduce and minimise)" >&2
      fail=1
    fi
  done
  return $fail
}
FUZZ_SECONDS=${SLUICE_FUZZ_SECONDS:-30}
[[ $FUZZ_SECONDS =~ ^[0-9]+$ ]] ||
  { echo "test.sh: error: SLUICE_FUZZ_SECONDS=\"$FUZZ_SECONDS\" is not a number of seconds" >&2; exit 2; }
if [ "$FUZZ_SECONDS" -gt 0 ]; then
  log "fuzzing, ${FUZZ_SECONDS}s per target (ASan + UBSan)"
  fuzz_targets "$FUZZ_SECONDS" || rc=1
fi
# ---- end of fuzzing ---------------------------------------------------------

# Debian packages no TimescaleDB, so most machines (CI among them) skip the
# sink's run against it: say so where nobody can miss it.
pgbin=${SLUICE_PG_BIN:-$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)}
if [ ! -f "$pgbin/../lib/timescaledb.so" ]; then
  log "SKIPPED: the TimescaleDB run (timescale_timescaledb): timescaledb.so is not installed for $pgbin; the timescale sink and sql/ were tested on plain PostgreSQL only (connectors/timescale/README.md says how to run it)"
fi
[ -n "$PREP_PID" ] && { wait "$PREP_PID" || true; }
# tests/docker skips where root, podman, namespaces or the Debian archive
# are missing (ctest lists it only as "Skipped"): repeat its reason.
if [ -f build/docker-image/SKIPPED ]; then
  log "$(cat build/docker-image/SKIPPED)"
fi
exit $rc
