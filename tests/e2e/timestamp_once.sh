#!/usr/bin/env bash
# `run --once` right after a write moves that write even for a table
# captured by its timestamp column: a timestamp poll reads only up to the
# clock minus a safety second, so --once waits that second out before it
# calls the capture complete.  No server: SQLite.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

BIN=$(ss_bin)
T=$(ss_tmpdir)
sq()
{
	sqlite3 -cmd '.timeout 10000' "$@"
}
DDL="CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT,
  at TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')))"
sq "$T/src.db" "$DDL"
sq "$T/dst.db" "$DDL"
cat >"$T/ss.ini" <<EOF2
[shadowsync]
journal_dir = $T/journal
[database src]
driver = odbc
dsn = Driver=SQLite3;Database=$T/src.db
[database dst]
driver = odbc
dsn = Driver=SQLite3;Database=$T/dst.db
[job j]
source = src
targets = dst
tables = main.t
capture = timestamp
timestamp_column = at
EOF2
for round in 1 2 3; do
	sq "$T/src.db" "INSERT INTO t (id, v) VALUES ($round, 'r$round')"
	"$BIN" run -c "$T/ss.ini" --once 2>"$T/once.log" || ss_fail "run --once: $(cat "$T/once.log")"
	ss_assert_eq "$round" "$(sq "$T/dst.db" 'SELECT count(*) FROM t')" "rows after --once round $round"
done
ss_pass
