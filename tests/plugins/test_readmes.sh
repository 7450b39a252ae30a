#!/usr/bin/env bash
# Each plugin's README documents every declared option with the same
# one-line doc the plugin declares (what `sluice plugins --describe` shows).
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
for spec in generator:connectors/generator file:connectors/file \
            filter:transforms/filter fields:transforms/fields; do
  name=${spec%%:*}
  readme="$SLUICE_SOURCE_DIR/${spec#*:}/README.md"
  expect_exit 0 -- "$SLUICE_BIN" plugins --describe "$name"
  # Option lines ("    name   type ...") are followed by their doc line.
  n=0
  while IFS= read -r opt && IFS= read -r doc; do
    opt=$(awk '{print $1}' <<<"$opt"); doc=$(sed 's/^ *//' <<<"$doc")
    n=$((n + 1))
    if grep -qF -- "| \`$opt\` |" "$readme" && grep -qF -- "| $doc |" "$readme"; then pass
    else fail "$name: option $opt (\"$doc\") is not in the table of $readme"; fi
  done < <(grep -A1 -E '^    [a-z_]+ +[a-z]+ ' "$T/out" | grep -v '^--')
  if [ "$n" -ge 5 ]; then pass; else fail "$name: only $n options found in --describe"; fi
done
finish
