#!/usr/bin/env bash
# The CLI refuses bad plugins and bad configuration with one clear line and
# a non-zero exit, and never crashes; a good pipeline runs to completion.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
S=$SLUICE_BIN
FX=$ABI_FIXTURES

expect_exit 0 -- "$S" version
expect_out "plugin ABI 1.2"
expect_exit 0 -- "$S" --help
expect_out "usage: sluice <command>"
expect_out "redrive DEAD_LETTER_FILE PIPELINE_FILE"
for c in run validate redrive plugins; do
  expect_exit 0 -- "$S" $c --help
  expect_out "usage: sluice $c"
done
expect_exit 0 -- "$S" version --help
expect_out "usage: sluice version"
expect_no_out "(plugin ABI "
expect_exit 2 -- "$S" version extra
expect_out 'unexpected argument "extra"'
expect_exit 2 -- "$S" plugins --describe
expect_out "--describe needs a plugin name"
expect_exit 2 -- "$S" frobnicate
expect_out 'unknown command "frobnicate"'

expect_exit 0 -- "$S" plugins -P "$FX/good"
expect_out "abi_good"
expect_exit 0 -- "$S" plugins -P "$FX/good" --describe abi_good
expect_out "count"
expect_out "default 3"
expect_exit 1 -- "$S" plugins -P "$FX/good" --describe nope
expect_out 'no plugin named "nope"'

cat >"$T/p.yaml" <<'Y'
name: fixture
source: { plugin: abi_good, count: 5 }
sink: { plugin: abi_good }
Y
# A plugin built for another ABI: refused by name and versions, run refuses.
expect_exit 1 -- "$S" run -P "$FX/good" -P "$FX/major" "$T/p.yaml"
expect_out "abi_major.so\": ABI version mismatch: host 1.2, plugin 99.0"
expect_exit 1 -- "$S" validate -P "$FX/good" -P "$FX/noentry" "$T/p.yaml"
expect_out "no entry function"
expect_exit 1 -- "$S" plugins -P "$FX/good" -P "$FX/dup"
expect_out 'duplicate plugin name "abi_good"'
expect_exit 1 -- "$S" run -P "$T/missing-dir" "$T/p.yaml"
expect_out 'plugin directory'

# Files that fail the ABI note check are never opened, by any command: their
# constructors would leave a mark.  SLUICE_PLUGIN_PATH at a directory holding
# another program's library (no note) and a wrong-ABI plugin.
mkdir -p "$T/pp"
cp "$FX/nonote/abi_nonote.so" "$FX/major/abi_major.so" "$FX/minor/abi_minor.so" "$T/pp/"
export ABI_MARKER="$T/marker"
for cmd in "plugins" "plugins --describe abi_good" "validate $T/p.yaml" "run $T/p.yaml"; do
  # shellcheck disable=SC2086
  expect_exit 1 -- env SLUICE_PLUGIN_PATH="$T/pp" "$S" $cmd -P "$FX/good"
  expect_out "abi_nonote.so\": not a sluice plugin (no .note.sluice; rebuild against sluice.h >= 1.0"
  expect_out "abi_major.so\": ABI version mismatch: host 1.2, plugin 99.0"
  expect_out "abi_minor.so\": ABI version mismatch: host 1.2, plugin 1.99"
  if grep -qv '^abi_good$' "$T/marker"; then fail "sluice $cmd ran a refused plugin's constructor: $(cat "$T/marker")"; else pass; fi
done
# A plugin directory others can write is not looked into at all.
chmod 0777 "$T/pp"
expect_exit 0 -- env SLUICE_PLUGIN_PATH="$T/pp" "$S" plugins -P "$FX/good"
expect_out "plugin directory \"$T/pp\": refused: directory \"$T/pp\" is writable by others (mode 0777)"
expect_exit 1 -- "$S" plugins -P "$T/pp"
expect_out "is writable by others"
if grep -qv '^abi_good$' "$T/marker"; then fail "a plugin in a world-writable directory ran"; else pass; fi
# The good plugin leaves its mark, so the checks above can fail.
if grep -q '^abi_good$' "$T/marker"; then pass; else fail "the good fixture left no mark"; fi
unset ABI_MARKER

# The good pipeline validates and runs to the end of its bounded source.
expect_exit 0 -- "$S" validate -P "$FX/good" "$T/p.yaml"
expect_out "ok (pipeline \"fixture\""
expect_exit 0 -- "$S" run -P "$FX/good" "$T/p.yaml"
expect_out "finished: 5 in, 5 out"

# A plugin whose init fails: one message naming stage, plugin, file; exit 1.
cat >"$T/f.yaml" <<'Y'
source: { plugin: abi_good, fail: true }
sink: { plugin: abi_good }
Y
expect_exit 1 -- "$S" run -P "$FX/good" "$T/f.yaml"
expect_out "source (plugin \"abi_good\", $T/f.yaml:1): the fixture was told to fail"
expect_no_out "running:"

# Unknown plugin, wrong type, malformed YAML, unreadable secret.
printf 'source: { plugin: abi_goood }\nsink: { plugin: abi_good }\n' >"$T/u.yaml"
expect_exit 1 -- "$S" validate -P "$FX/good" "$T/u.yaml"
expect_out 'abi_goood'
expect_out 'did you mean "abi_good"'
printf 'source: { plugin: abi_good, count: lots }\nsink: { plugin: abi_good }\n' >"$T/w.yaml"
expect_exit 1 -- "$S" run -P "$FX/good" "$T/w.yaml"
expect_out "$T/w.yaml:1:"
expect_out '"count"'
printf 'source: { plugin: abi_good\nsink: [\n' >"$T/m.yaml"
expect_exit 1 -- "$S" validate -P "$FX/good" "$T/m.yaml"
expect_out "$T/m.yaml:"
printf 'source: { plugin: abi_good, token: { file: %s/nope.txt } }\nsink: { plugin: abi_good }\n' "$T" >"$T/s.yaml"
expect_exit 1 -- "$S" run -P "$FX/good" "$T/s.yaml"
expect_out "nope.txt"
echo "hunter2" >"$T/secret.txt"
printf 'source: { plugin: abi_good, token: { file: %s/secret.txt } }\nsink: { plugin: abi_good }\n' "$T" >"$T/s2.yaml"
expect_exit 0 -- "$S" run -P "$FX/good" "$T/s2.yaml"
expect_no_out "hunter2"
# Logging: JSON lines parse, levels filter, bad flags are refused.
expect_exit 0 -- "$S" run -P "$FX/good" --log-format json "$T/p.yaml"
if python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1]) if l.strip()]' "$T/out"; then
  pass; else fail "--log-format json wrote a line that is not JSON"; fi
expect_out '"level":"info","pipeline":"fixture","msg":"finished: 5 in, 5 out'
expect_exit 0 -- "$S" run -P "$FX/good" --log-level error "$T/p.yaml"
expect_no_out "finished"
expect_exit 2 -- "$S" run -P "$FX/good" --log-level loud "$T/p.yaml"
expect_out "expected error, warn, info or debug"
expect_exit 2 -- "$S" run -P "$FX/good" --http nonsense "$T/p.yaml"
expect_out "expected ADDR:PORT"
expect_exit 2 -- "$S" run -P "$FX/good" --stats soon "$T/p.yaml"
expect_exit 2 -- "$S" run -P "$FX/good"
expect_out "no pipeline file given"
# The HTTP port is taken: a clear error, exit 1.
python3 -c 'import socket,time,sys; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(10)' >"$T/port" &
holder=$!
wait_for 5 test -s "$T/port"
expect_exit 1 -- "$S" run -P "$FX/good" --http "127.0.0.1:$(cat "$T/port")" "$T/p.yaml"
expect_out "--http 127.0.0.1:"
kill $holder 2>/dev/null || true

# Bounds declared in the option table: described, and enforced with the
# file, line, option, value and bounds.
expect_exit 0 -- "$S" plugins -P "$FX/good" --describe abi_good
expect_out "default 3, 0..1000000"
printf 'source: { plugin: abi_good, count: 2000000 }\nsink: { plugin: abi_good }\n' >"$T/b.yaml"
expect_exit 1 -- "$S" validate -P "$FX/good" "$T/b.yaml"
expect_out "$T/b.yaml:1:36: source (plugin \"abi_good\"): option \"count\": 2000000 is out of range; expected 0..1000000"

# A plugin built against ABI 1.1 (shorter sluice_option elements, cfg_int
# with a default) still loads, validates and runs in this host.
expect_exit 0 -- "$S" plugins -P "$FX/v11" --describe abi_v11
expect_out "ABI: 1.1"
expect_out "wait                   duration  required"
expect_out "mode                   string    optional, default a, one of a|b"
cat >"$T/v11.yaml" <<'Y'
name: v11
source: { plugin: abi_v11, count: 4, wait: 1s }
sink: { plugin: abi_v11, wait: 2s, mode: b }
Y
expect_exit 0 -- "$S" run -P "$FX/v11" "$T/v11.yaml"
expect_out "finished: 4 in, 4 out"
printf 'source: { plugin: abi_v11, mode: c, wait: 1s }\nsink: { plugin: abi_v11 }\n' >"$T/v11bad.yaml"
expect_exit 1 -- "$S" validate -P "$FX/v11" "$T/v11bad.yaml"
expect_out '"c" is not one of: a, b'
expect_out 'sink (plugin "abi_v11"): missing required option "wait"'

# Validate lists every bad file, and exits 1 if any is bad.
expect_exit 1 -- "$S" validate -P "$FX/good" "$T/p.yaml" "$T/u.yaml" "$T/w.yaml"
expect_out "p.yaml: ok"
expect_out "u.yaml:1"
expect_out "w.yaml:1"
finish
