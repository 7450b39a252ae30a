#!/usr/bin/env bash
# connectors/kafka/README.md documents exactly the options the plugin
# declares, in the same order, with the same defaults.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
README="$SLUICE_SOURCE_DIR/connectors/kafka/README.md"
expect_exit 0 -- "$SLUICE_BIN" plugins --describe kafka
cp "$T/out" "$T/describe"

declared() { # KIND: "name default" per option, from the plugin
  awk -v kind="$1" '
    /^  [a-z]+ options:/ { on = ($1 == kind); next }
    on && /^    [a-z_]+ / {
      d = "-"
      if ($0 ~ /required/) d = "required"
      else if (match($0, /default [^,]*/)) d = substr($0, RSTART + 8, RLENGTH - 8)
      print $1, d
    }' "$T/describe"
}
documented() { # SECTION: "name default" per row of the README's table
  awk -v sec="## $1 options" '
    $0 == sec { on = 1; next }
    on && /^## / { on = 0 }
    on && /^\| `/ {
      row = $0; gsub(/\\\|/, "/", row)   # the \| of enumerations
      split(row, c, "|")
      name = c[2]; gsub(/[ `]/, "", name)
      d = c[4]; gsub(/^ +| +$/, "", d); gsub(/`/, "", d)
      if (d == "**required**") d = "required"
      if (d == "—") d = "-"
      print name, d
    }' "$README"
}
for k in source:Source sink:Sink; do
  declared "${k%%:*}" >"$T/want"
  documented "${k##*:}" >"$T/got"
  [ -s "$T/want" ] && pass || fail "no ${k%%:*} options in the plugin's description"
  if diff -u "$T/want" "$T/got" >"$T/diff"; then pass; else
    fail "README's ${k##*:} options differ from the declared ones:"; cat "$T/diff" >&2; fi
done
finish
