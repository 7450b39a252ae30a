#!/usr/bin/env bash
# A plugin built out of tree, against the installed headers and pkg-config
# file only, is dropped into a plugin directory and runs in a pipeline of
# the installed sluice.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
: "${SLUICE_BUILD_DIR:?}"

cmake --install "$SLUICE_BUILD_DIR" --prefix "$T/prefix" >"$T/install.log" 2>&1 \
  || { cat "$T/install.log"; fail "cmake --install failed"; finish; }
S="$T/prefix/bin/sluice"
test -x "$S" && pass || fail "sluice not installed"
test -f "$T/prefix/include/sluice/sluice.h" && pass || fail "header not installed"
test -f "$T/prefix/lib/pkgconfig/sluice.pc" && pass || fail "pkg-config file not installed"

# The plugin project sees nothing of the source tree.
cp -r "$SLUICE_SOURCE_DIR/tests/oot/plugin" "$T/src"
PKG_CONFIG_PATH="$T/prefix/lib/pkgconfig" cmake -S "$T/src" -B "$T/build" \
  -DCMAKE_BUILD_TYPE=Release >"$T/cfg.log" 2>&1 || { cat "$T/cfg.log"; fail "configure failed"; }
cmake --build "$T/build" >"$T/build.log" 2>&1 || { cat "$T/build.log"; fail "build failed"; }
mkdir -p "$T/plugins"
cp "$T/build/upper.so" "$T/plugins/"
# It needs nothing from the host at link time.
if nm -D --undefined-only "$T/plugins/upper.so" | grep -c ' sl_' >/dev/null; then
  fail "plugin references host symbols"; else pass; fi

expect_exit 0 -- "$S" plugins -P "$T/plugins"
expect_out "upper"
expect_out "generator"   # the installed first-party plugins are found too

cat >"$T/p.yaml" <<Y
name: oot
source: { plugin: generator, count: 5, payload: "hello {seq}" }
transforms:
  - { plugin: upper, suffix: "!" }
sink: { plugin: file, path: "$T/out.txt", format: raw }
Y
expect_exit 0 -- "$S" run -P "$T/plugins" "$T/p.yaml"
expect_eq "$(cat "$T/out.txt")" "$(printf 'HELLO 0!\nHELLO 1!\nHELLO 2!\nHELLO 3!\nHELLO 4!')" "transformed output"

# Its declared bounds are the host's to enforce, with file:line and values.
expect_exit 0 -- "$S" plugins -P "$T/plugins" --describe upper
expect_out "times                  int       optional, default 1, 0..16"
sed -e 's/suffix: "!" }/suffix: "!", times: 3 }/' -e "s|out.txt|out3.txt|" "$T/p.yaml" >"$T/p3.yaml"
expect_exit 0 -- "$S" run -P "$T/plugins" "$T/p3.yaml"
expect_eq "$(head -n1 "$T/out3.txt")" "HELLO 0!!!" "suffix three times"
sed -e 's/suffix: "!" }/suffix: "!", times: 17 }/' "$T/p.yaml" >"$T/p17.yaml"
expect_exit 1 -- "$S" validate -P "$T/plugins" "$T/p17.yaml"
expect_out "p17.yaml:4:42: transform[0] (plugin \"upper\"): option \"times\": 17 is out of range; expected 0..16"
finish
