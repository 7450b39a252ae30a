#!/usr/bin/env bash
# The Timescale sink in real pipelines through the sluice binary: the
# options it declares as `sluice plugins` shows and `sluice validate`
# checks them, generator → fields → timescale with exact rows, a replay
# that writes nothing twice, and refused rows reaching the dead-letter sink
# with PostgreSQL's reason.
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
S=$SLUICE_BIN
: "${SLUICE_TEST_PG_PORT:?SLUICE_TEST_PG_PORT must name the test PostgreSQL (scripts/test.sh starts it)}"
DSN="host=127.0.0.1 port=$SLUICE_TEST_PG_PORT user=postgres dbname=postgres"
sql() { psql -X -q -At -v ON_ERROR_STOP=1 "$DSN" -c "$1"; }
sql "SELECT 1" >/dev/null || { echo "FAIL: PostgreSQL on port $SLUICE_TEST_PG_PORT unreachable" >&2; exit 1; }
sql "SET client_min_messages = warning; DROP SCHEMA IF EXISTS ts_pipe CASCADE; CREATE SCHEMA ts_pipe"
sql "CREATE TABLE ts_pipe.events (seq bigint PRIMARY KEY, note text NOT NULL,
     at timestamptz NOT NULL DEFAULT now())"

# 1. The declared options, as the host lists them.
expect_exit 0 -- "$S" plugins
expect_out "PostgreSQL/TimescaleDB sink"
expect_exit 0 -- "$S" plugins --describe timescale
for opt in dsn table columns conflict create_table column_types primary_key hypertable \
  time_column chunk_interval compress_after retain connect_timeout statement_timeout copy_format; do
  grep -qE "^    $opt +" "$T/out" && pass || fail "option $opt not listed"
done
expect_out "one of ignore|error|update"
# The README documents exactly the declared options.
readme=$(awk '/^## Options/ { on = 1; next } /^## / { on = 0 } on' \
  "$SLUICE_SOURCE_DIR/connectors/timescale/README.md" | grep -oE '^\| `[a-z_]+` \|' | tr -d '|` ' | sort)
listed=$(grep -oE '^    [a-z_]+ ' "$T/out" | tr -d ' ' | sort)
expect_eq "$readme" "$listed" "README option table vs declared options"
# ...and says of each what the plugin declares.
while read -r opt; do
  doc=$(awk -v o="$opt" '$1 == o { getline; sub(/^ +/, ""); print; exit }' "$T/out")
  grep -qF -- "| \`$opt\` |" "$SLUICE_SOURCE_DIR/connectors/timescale/README.md" &&
    grep -qF -- "| $doc |" <<<"$(grep -F -- "| \`$opt\` |" "$SLUICE_SOURCE_DIR/connectors/timescale/README.md")" &&
    pass || fail "README's line for $opt does not say: $doc"
done <<<"$listed"

# 2. The host validates them before any plugin code runs.
cat >"$T/bad.yaml" <<Y
name: bad
source: { plugin: generator, count: 1 }
sink:
  plugin: timescale
  dsn: "$DSN"
  table: ts_pipe.events
  conflict: maybe
  tabel: oops
Y
expect_exit 1 -- "$S" validate "$T/bad.yaml"
expect_out "bad.yaml:7:"
expect_out "conflict"
expect_out "tabel"

# 3. generator → fields (parse JSON) → timescale: every row, exactly.
cat >"$T/run.yaml" <<Y
name: ts_pipe
source: { plugin: generator, count: 2000, payload: '{"seq":{seq},"note":"n{seq}"}' }
transforms:
  - { plugin: fields, parse_json: true }
sink:
  plugin: timescale
  dsn: "$DSN"
  table: ts_pipe.events
batch: { max_records: 300, linger: 10ms }
Y
expect_exit 0 -- "$S" run "$T/run.yaml"
expect_out "finished: 2000 in, 2000 out, 0 failed"
expect_out "writing to a plain table ts_pipe.events"
expect_out "writing columns seq, note of table ts_pipe.events"
expect_eq "$(sql "SELECT count(*), sum(seq), count(*) FILTER (WHERE note = 'n' || seq) FROM ts_pipe.events")" \
  "2000|1999000|2000" "rows written"

# 4. The same records again: nothing is written twice.
expect_exit 0 -- "$S" run "$T/run.yaml"
expect_out "finished: 2000 in, 2000 out, 0 failed"
expect_eq "$(sql "SELECT count(*) FROM ts_pipe.events")" 2000 "rows after the replay"

# 5. Rows the table refuses go to the dead-letter sink with the reason; the
#    others are written.
sql "CREATE TABLE ts_pipe.checked (seq bigint PRIMARY KEY, note text, CHECK (seq % 100 <> 7))"
sed -e 's/table: ts_pipe.events/table: ts_pipe.checked/' -e 's/^name: ts_pipe/name: ts_dlq/' \
  "$T/run.yaml" >"$T/dlq.yaml"
cat >>"$T/dlq.yaml" <<Y
errors:
  tolerance: all
  dead_letter: { plugin: file, path: "$T/dead.out", format: envelope }
Y
expect_exit 0 -- "$S" run "$T/dlq.yaml"
expect_out "finished: 2000 in, 1980 out, 20 failed, 20 dead-lettered"
expect_eq "$(sql "SELECT count(*) FROM ts_pipe.checked WHERE seq % 100 = 7")" 0 "refused rows absent"
expect_eq "$(sql "SELECT count(*) FROM ts_pipe.checked")" 1980 "other rows written"
expect_eq "$(wc -l <"$T/dead.out" | tr -d ' ')" 20 "dead letters"
expect_eq "$(grep -c 'timescale: table ts_pipe.checked: new row for relation \\"checked\\" violates check constraint \\"checked_seq_check\\"' "$T/dead.out")" 20 \
  "dead letters carry PostgreSQL's reason"

sql "DROP SCHEMA ts_pipe CASCADE" >/dev/null
finish
