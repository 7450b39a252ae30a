#!/usr/bin/env bash
# The host builds without any plugin's libraries (issue 12 item 5).  A
# pkg-config that sees every installed module except libpq, libmosquitto,
# rdkafka and avro-c stands in for a machine without them:
#  1. with the plugins left on (the default), the configure stops and says
#     which Debian package to install and which option turns the plugin off;
#  2. with every SLUICE_WITH_<PLUGIN>=OFF, it configures (tests included:
#     none of a plugin that is off is registered) and `sluice` builds and
#     links none of those libraries.
# Only the sluice target is built, at -O0, so this stays near a minute.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"

# Every .pc file on pkg-config's path, minus the plugins' libraries.
pc=$T/pkgconfig
mkdir -p "$pc"
IFS=: read -ra dirs <<<"$(pkg-config --variable pc_path pkg-config)"
for d in "${dirs[@]}"; do
  [ -d "$d" ] || continue
  for f in "$d"/*.pc; do
    [ -e "$f" ] || continue
    case $(basename "$f" .pc) in
      libpq|libmosquitto|libmosquittopp|rdkafka|rdkafka++|avro-c) continue ;;
    esac
    [ -e "$pc/$(basename "$f")" ] || ln -s "$f" "$pc/"
  done
done
export PKG_CONFIG_LIBDIR=$pc PKG_CONFIG_PATH=
pkg-config --exists libpq && fail "pkg-config still finds libpq: the test cannot hide it"
pkg-config --exists yaml-0.1 jansson libmicrohttpd || fail "the host's own modules are hidden too"

# 1. The default: every plugin on, their libraries missing.
expect_exit 1 -- cmake -S "$SLUICE_SOURCE_DIR" -B "$T/on" -G Ninja
expect_out "pkg-config finds no"
expect_out "Install the Debian package lib"
expect_out "build without this plugin"
expect_out "-DSLUICE_WITH_KAFKA=OFF"

# 2. Host only.
off=()
for o in MQTT KAFKA TIMESCALE F2_DECODE F2SIM FILE GENERATOR FIELDS FILTER; do
  off+=("-DSLUICE_WITH_$o=OFF")
done
expect_exit 0 -- cmake -S "$SLUICE_SOURCE_DIR" -B "$T/off" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DSLUICE_WERROR=ON "${off[@]}"
# Every plugin directory declares its option (a new plugin must, too).
for d in "$SLUICE_SOURCE_DIR"/connectors/*/ "$SLUICE_SOURCE_DIR"/transforms/*/; do
  [ -f "$d/CMakeLists.txt" ] || continue
  n=$(basename "$d" | tr '[:lower:]' '[:upper:]')
  grep -q "^SLUICE_WITH_$n:BOOL=OFF" "$T/off/CMakeCache.txt" || fail "plugin $(basename "$d") has no SLUICE_WITH_$n option"
done
expect_exit 0 -- ctest --test-dir "$T/off" -N
expect_out "unit_arena"
expect_out "config_load"
expect_out "fuzz_corpus_json"      # the host's JSON parser and writer: no plugin needed
for t in mqtt_unit kafka_unit timescale_unit f2_units e2e_embedded plugins_generator \
         runner_semantics fuzz_corpus_avro; do
  expect_no_out "$t"
done
expect_exit 0 -- ninja -C "$T/off" -j2 sluice
if [ -x "$T/off/bin/sluice" ]; then
  readelf -d "$T/off/bin/sluice" >"$T/out" 2>&1
  expect_out "(NEEDED)"
  for lib in libpq libmosquitto librdkafka libavro; do
    expect_no_out "[$lib."
  done
  expect_exit 0 -- "$T/off/bin/sluice" version
  # No plugin was built.
  expect_eq "$(find "$T/off/plugins" -name '*.so' 2>/dev/null | wc -l)" 0 "plugins built"
else
  fail "no sluice binary in $T/off/bin"
fi
finish
