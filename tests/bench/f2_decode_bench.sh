#!/usr/bin/env bash
# f2_decode throughput with a warm cache, and the same payloads through a
# bare jansson parse for comparison.  Builds an optimised tree, provides a
# PostgreSQL with sql/ applied (the suite's when SLUICE_TEST_PG_PORT answers,
# otherwise a private one it starts and stops), and prints readings/s.
#
#   tests/bench/f2_decode_bench.sh [readings] [repetitions]   (200000 5)
#   BUILD=/path/to/build tests/bench/f2_decode_bench.sh       reuse a build dir
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}

cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$BUILD" -j"${JOBS:-2}" f2_decode_bench plugin_f2_decode plugin_f2sim f2_null_sink >/dev/null

PG_PORT=${SLUICE_TEST_PG_PORT:-}
started=
if [ -z "$PG_PORT" ] || ! pg_isready -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null; then
  PG_PORT=${F2_BENCH_PG_PORT:-15498}
  PG_DIR=${SLUICE_TEST_VAR:-$ROOT/var/test}/f2-bench-pg
  mkdir -p "$PG_DIR"
  "$ROOT/tests/infra/postgres.sh" start "$PG_DIR" "$PG_PORT" >&2
  started=1
  trap '"$ROOT/tests/infra/postgres.sh" stop "$PG_DIR" "$PG_PORT" >/dev/null 2>&1 || true' EXIT
fi

export SLUICE_TEST_PG_PORT=$PG_PORT
export SLUICE_SOURCE_DIR=$ROOT
export SLUICE_PLUGIN_DIR=$BUILD/plugins
export F2_FIXTURE_DIR=$BUILD/tests/f2/fixtures
echo "machine: $(nproc) cores, $(uname -m); build: $BUILD (Release)${started:+; private PostgreSQL on $PG_PORT}"
"$BUILD/bin/f2_decode_bench" "$@"
