#!/usr/bin/env bash
# The host under Valgrind's memcheck: a pipeline with transforms, dead
# letters, retries, a restart, a disk buffer that parks once, and the HTTP
# endpoint must run with no invalid
# access and no definite or indirect leak.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
command -v valgrind >/dev/null || { fail "valgrind is not installed (scripts/install-deps.sh installs it)"; finish; }
VG=(valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 -q)
export SLUICE_KEEP_PLUGINS_LOADED=1   # readable stacks for plugin frames

cat >"$T/a.yaml" <<Y
name: vg-plugins
source: { plugin: generator, count: 5000, size: 100, payload: '{"seq":{seq}}' }
transforms:
  - { plugin: fields, parse_json: true, set: { site: "x" } }
  - { plugin: filter, topic: "#" }
sink: { plugin: file, path: "$T/a.out", format: json }
Y
cat >"$T/b.yaml" <<Y
name: vg-faults
source: { plugin: fault, count: 3000 }
transforms: [ { plugin: fault, fail_every: 10, retry_first: 2 } ]
sink: { plugin: fault, out_file: "$T/b.out", retry_first: 2, fail_every: 7, fatal_at_write: 3 }
errors: { tolerance: all, dead_letter: { plugin: fault, out_file: "$T/b.dead" } }
retry: { initial: 5ms, max: 20ms }
restart: { initial: 10ms, max: 20ms }
Y
cat >"$T/c.yaml" <<Y
name: vg-spool
source: { plugin: generator, count: 3000 }
sink: { plugin: fault, fail_writes: 1 }
buffer: { type: disk, path: "$T/spool" }
restart: { initial: 10ms, max: 20ms }
Y
expect_exit 0 -- "${VG[@]}" "$SLUICE_BIN" run -P "$FAULT_DIR" --http 127.0.0.1:0 "$T/a.yaml" "$T/b.yaml" "$T/c.yaml"
expect_out "[vg-plugins] finished: 5000 in, 5000 out"
expect_out "[vg-faults] finished"
expect_out "[vg-spool] parked: sink"
# The generator starts again from 0 after the restart, on top of what the
# spool kept of the first run: as many out as in, whatever the timing.
grep -qE '\[vg-spool\] finished: ([0-9]+) in, \1 out' "$T/out" && pass || fail "vg-spool: in != out"
expect_no_out "=="        # valgrind's report lines start with ==PID==
expect_exit 1 -- "${VG[@]}" "$SLUICE_BIN" validate "$T/missing.yaml"
expect_no_out "=="
finish
