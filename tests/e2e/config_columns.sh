#!/usr/bin/env bash
# A column named in the configuration must exist: a misspelt exclude_columns
# entry (which would replicate the column it meant to keep out) and an
# excluded key column are errors with file:line, at install and at start,
# and nothing is captured or applied.  A correct one keeps the column out.
# No server: SQLite.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

BIN=$(ss_bin)
T=$(ss_tmpdir)
sqlite3 "$T/src.db" "CREATE TABLE t (id INTEGER PRIMARY KEY, email TEXT, card TEXT)"
sqlite3 "$T/dst.db" "CREATE TABLE t (id INTEGER PRIMARY KEY, email TEXT, card TEXT)"
conf()
{
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

[job j table main.t]
exclude_columns = $1
EOF2
}
conf crad
rc=0
"$BIN" install -c "$T/ss.ini" 2>"$T/install.err" || rc=$?
[ $rc != 0 ] || ss_fail "install accepted a misspelt exclude_columns"
grep -qE "ss\.ini:1[0-9]: exclude_columns names \"crad\", which is not a column of main\.t" "$T/install.err" ||
	ss_fail "install error: $(cat "$T/install.err")"
conf card
"$BIN" install -c "$T/ss.ini" >/dev/null 2>&1 || ss_fail "install with a correct exclude_columns failed"
sqlite3 "$T/src.db" "INSERT INTO t VALUES (1, 'a@x', '4111')"
conf crad
rc=0
timeout 30 "$BIN" run -c "$T/ss.ini" --once 2>"$T/run.err" || rc=$?
[ $rc != 0 ] && [ $rc != 124 ] || ss_fail "run accepted a misspelt exclude_columns (exit $rc)"
grep -q 'exclude_columns names "crad"' "$T/run.err" || ss_fail "run error: $(cat "$T/run.err")"
ss_assert_eq 0 "$(sqlite3 "$T/dst.db" 'SELECT count(*) FROM t')" "rows applied under a bad configuration"
conf id
rc=0
timeout 30 "$BIN" run -c "$T/ss.ini" --once 2>"$T/run.err" || rc=$?
[ $rc != 0 ] && [ $rc != 124 ] || ss_fail "run accepted an excluded key column (exit $rc)"
grep -q 'primary key column' "$T/run.err" || ss_fail "key column error: $(cat "$T/run.err")"
conf card
timeout 30 "$BIN" run -c "$T/ss.ini" --once 2>"$T/run.err" || ss_fail "run failed: $(cat "$T/run.err")"
ss_assert_eq "1|a@x|" "$(sqlite3 "$T/dst.db" 'SELECT id, email, card FROM t')" "the excluded column stays out"
ss_pass
