#!/usr/bin/env bash
# needs: server
# MariaDB reached through ODBC (MariaDB Connector/ODBC) as a target whose
# table has a secondary unique key, and has drifted: another row there
# already holds the unique value a source row brings.  ON DUPLICATE KEY
# UPDATE fires on any unique key, so an unguarded upsert would overwrite
# that other row silently.  The apply must refuse instead, naming the
# database, the table and the reason (doc/types.md), leave the other row
# as it was, and apply nothing of the batch; once the drift is repaired the
# same run goes through.  The upsert is the one the native MariaDB dialect
# uses: one engine's SQL, whichever transport reaches it.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

command -v sqlite3 >/dev/null || ss_fail "the sqlite3 shell is not installed (make deps)"
ss_maria_start MDB
BIN=$(ss_bin)
T=$(ss_tmpdir)
SRC=$T/src.db

sqlite3 "$SRC" 'CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, name TEXT);'
ss_maria MDB -e 'CREATE TABLE users (id BIGINT PRIMARY KEY, email VARCHAR(100) UNIQUE,
    name VARCHAR(100)) DEFAULT CHARSET = utf8mb4;
  INSERT INTO users VALUES (2, "ann@example.org", "drifted row");'

sed 's/^CommLog *= *1/CommLog=0/' /etc/odbcinst.ini >"$T/odbcinst.ini"
: >"$T/odbc.ini"
export ODBCSYSINI=$T
cat >"$T/ss.ini" <<EOT
[shadowsync]
journal_dir = $T/journal
[database src]
driver = odbc
dsn = Driver=SQLite3;Database=$SRC
[database maria_odbc]
driver = odbc
dsn = Driver=MariaDB Unicode;Server=127.0.0.1;Port=$MDB_PORT;Database=test;Uid=root
[job j]
source = src
targets = maria_odbc
tables = main.users
poll_interval = 100ms
EOT
"$BIN" install -c "$T/ss.ini" 2>"$T/install.log" || { cat "$T/install.log"; ss_fail "install failed"; }

sqlite3 "$SRC" "INSERT INTO users VALUES (1, 'ann@example.org', 'Ann'), (3, 'bob@example.org', 'Bob');"
if timeout 120 "$BIN" run -c "$T/ss.ini" --once 2>"$T/run.log"; then
	ss_fail "run --once succeeded although row 2 of the target holds row 1's unique email"
fi
grep -q 'maria_odbc.*users.*another primary key already holds a value of a unique key' "$T/run.log" ||
	ss_fail "unclear error: $(grep -i error "$T/run.log")"
ss_assert_eq "2	ann@example.org	drifted row" "$(ss_maria MDB -e 'SELECT id, email, name FROM users ORDER BY id')" \
	"the other row holding the unique value is untouched, nothing of the batch applied"
ss_assert_eq "0" "$(ss_maria MDB -e "SELECT count(*) FROM shadowsync.applied_position WHERE job = 'j' AND pos > 0")" \
	"no position recorded for the refused batch"

# The drift repaired, the same changes apply.
ss_maria MDB -e 'DELETE FROM users WHERE id = 2'
timeout 120 "$BIN" run -c "$T/ss.ini" --once 2>"$T/run2.log" || { cat "$T/run2.log"; ss_fail "run --once failed after the repair"; }
ss_assert_eq "1	ann@example.org	Ann
3	bob@example.org	Bob" "$(ss_maria MDB -e 'SELECT id, email, name FROM users ORDER BY id')" "target equals source"

ss_pass
