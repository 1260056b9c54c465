#!/usr/bin/env bash
# SQLite -> SQLite through ODBC (no server): 1000 rows in one transaction,
# multi-row updates and deletes, key-changing updates, NULL vs '', unicode,
# a blob of all 256 byte values, 1 MB text and blob values, REAL values to
# the last bit (0.1, 1/3, 1e300, the smallest subnormal, +-Infinity), a
# composite key; after `run --once` the target equals the source row for row
# (same values and same storage classes).  A second round after more changes
# continues from the recorded position; a third --once with nothing new
# changes nothing.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

command -v sqlite3 >/dev/null || ss_fail "the sqlite3 shell is not installed (make deps)"
# the sqlite3 shell, waiting for locks like an application would
lite() {
	sqlite3 -cmd '.timeout 10000' "$@"
}
BIN=$(ss_bin)
T=$(ss_tmpdir)
SRC=$T/src.db
DST=$T/dst.db

SCHEMA='CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, price NUMERIC(12,2),
            r REAL, data BLOB, flag BOOLEAN, doc JSON, at TIMESTAMP, note VARCHAR(20));
        CREATE TABLE pairs (a INTEGER, "b b" TEXT, v DOUBLE, PRIMARY KEY (a, "b b"));'
lite "$SRC" "$SCHEMA"
lite "$DST" "$SCHEMA"

cat >"$T/ss.ini" <<EOF
[shadowsync]
journal_dir = $T/journal
[database src]
driver = odbc
dsn = Driver=SQLite3;Database=$SRC
[database dst]
driver = odbc
dsn = Driver=SQLite3;Database=$DST
[job j]
source = src
targets = dst
tables = main.*
poll_interval = 100ms
batch_rows = 300
EOF
"$BIN" install -c "$T/ss.ini" 2>/dev/null || ss_fail "install failed"

all_bytes=$(for i in $(seq 0 255); do printf '%02X' "$i"; done)
lite "$SRC" <<SQL
-- 1000 rows in one transaction
BEGIN;
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 1000)
INSERT INTO items SELECT n, 'item ' || n, n % 7, n * 1.25, n / 7.0, randomblob(n % 17),
       n % 2, json_object('g', n), '2026-01-01 00:00:' || printf('%02d', n % 60), NULL FROM g;
COMMIT;
-- multi-row statements
UPDATE items SET qty = qty + 1 WHERE id % 3 = 0;
DELETE FROM items WHERE id BETWEEN 100 AND 150;
-- key-changing updates (also onto a key deleted before)
UPDATE items SET id = id + 100000 WHERE id BETWEEN 10 AND 19;
UPDATE items SET id = 120 WHERE id = 200;
-- NULL and '' kept apart, unicode, every byte value, 1 MB values
INSERT INTO items (id, name, note, data) VALUES (5001, NULL, '', x''), (5002, '', NULL, NULL),
       (5003, 'emoji 😀 é ש ☃', 'ß', x'$all_bytes');
INSERT INTO items (id, name, data) VALUES (5004, printf('%.*c', 1048576, 'x') || '€',
       zeroblob(1048576));
UPDATE items SET data = CAST(data || x'$all_bytes' AS BLOB) WHERE id = 5004;
-- REAL values to the last bit
INSERT INTO items (id, r) VALUES (6001, 0.1), (6002, 1.0 / 3), (6003, 1e300), (6004, 4.9406564584124654e-324),
       (6005, 9e999), (6006, -9e999), (6007, -0.0), (6008, 1.7976931348623157e308), (6009, -2.2250738585072014e-308);
-- several changes of one row in one transaction, and across transactions
BEGIN;
UPDATE items SET name = 'first' WHERE id = 1;
UPDATE items SET name = 'second' WHERE id = 1;
DELETE FROM items WHERE id = 2;
INSERT INTO items (id, name) VALUES (2, 'reborn');
COMMIT;
UPDATE items SET name = 'third' WHERE id = 1;
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 50)
INSERT INTO pairs SELECT n, 'k ' || n, n / 3.0 FROM g;
UPDATE pairs SET "b b" = "b b" || 'x' WHERE a <= 5;
SQL

# Every column with its storage class, both ways round: no difference.
diff_rows() {
	local cols="id, name, typeof(name), qty, typeof(qty), price, typeof(price), r, typeof(r),
	            data, typeof(data), flag, typeof(flag), doc, typeof(doc), at, note, typeof(note)"
	lite "$SRC" "ATTACH '$DST' AS d;
	  SELECT (SELECT count(*) FROM (SELECT $cols FROM main.items EXCEPT SELECT $cols FROM d.items))
	       + (SELECT count(*) FROM (SELECT $cols FROM d.items EXCEPT SELECT $cols FROM main.items))
	       + (SELECT count(*) FROM (SELECT * FROM main.pairs EXCEPT SELECT * FROM d.pairs))
	       + (SELECT count(*) FROM (SELECT * FROM d.pairs EXCEPT SELECT * FROM main.pairs))
	       + abs((SELECT count(*) FROM main.items) - (SELECT count(*) FROM d.items))
	       + abs((SELECT count(*) FROM main.pairs) - (SELECT count(*) FROM d.pairs))"
}

timeout 120 "$BIN" run -c "$T/ss.ini" --once 2>"$T/run.log" || { cat "$T/run.log"; ss_fail "run --once failed"; }
ss_assert_eq 0 "$(diff_rows)" "rows differing between source and target"
ss_assert_eq 962 "$(lite "$DST" 'SELECT count(*) FROM items')" "target row count"
ss_assert_eq "third|reborn" "$(lite "$DST" "SELECT (SELECT name FROM items WHERE id = 1),
	(SELECT name FROM items WHERE id = 2)")" "last change of a row wins"
ss_assert_eq "NULL|''|X''" "$(lite "$DST" "SELECT quote(name), quote(note), quote(data) FROM items WHERE id = 5001")" \
	"row 5001: NULL name, '' note, empty blob"
ss_assert_eq "''|NULL|NULL" "$(lite "$DST" "SELECT quote(name), quote(note), quote(data) FROM items WHERE id = 5002")" \
	"row 5002: '' name, NULL note, NULL blob"
ss_assert_eq "emoji 😀 é ש ☃|256|$all_bytes" \
	"$(lite "$DST" "SELECT name, length(data), hex(data) FROM items WHERE id = 5003")" "unicode and all byte values"
ss_assert_eq "1048579|1048832" "$(lite "$DST" "SELECT length(CAST(name AS BLOB)), length(data) FROM items WHERE id = 5004")" \
	"1 MB values"
ss_assert_eq "1|1|1|1|1|1|1|1|1" "$(lite "$DST" "SELECT
	(SELECT r FROM items WHERE id = 6001) = 0.1, (SELECT r FROM items WHERE id = 6002) = 1.0 / 3,
	(SELECT r FROM items WHERE id = 6003) = 1e300, (SELECT r FROM items WHERE id = 6004) = 4.9406564584124654e-324,
	(SELECT r FROM items WHERE id = 6005) = 9e999, (SELECT r FROM items WHERE id = 6006) = -9e999,
	(SELECT r FROM items WHERE id = 6007) = 0, (SELECT r FROM items WHERE id = 6008) = 1.7976931348623157e308,
	(SELECT r FROM items WHERE id = 6009) = -2.2250738585072014e-308")" "REAL values exact"
ss_assert_eq 0 "$(lite "$SRC" 'SELECT count(*) FROM shadowsync_log_j')" "shadow rows consumed"

# Second round: more changes, continue from the recorded position.
pos1=$(lite "$DST" "SELECT pos FROM shadowsync_applied_position WHERE job = 'j' AND target = 'dst'")
[ "${pos1:-0}" -gt 0 ] || ss_fail "no position recorded on the target"
lite "$SRC" "UPDATE items SET price = price * 2, flag = NOT flag WHERE id % 5 = 0;
	DELETE FROM items WHERE id > 100000; DELETE FROM pairs WHERE a % 2 = 0;
	UPDATE items SET id = -id WHERE id BETWEEN 300 AND 310;"
timeout 120 "$BIN" run -c "$T/ss.ini" --once 2>"$T/run2.log" || { cat "$T/run2.log"; ss_fail "second run --once failed"; }
ss_assert_eq 0 "$(diff_rows)" "rows differing after the second round"
pos2=$(lite "$DST" "SELECT pos FROM shadowsync_applied_position WHERE job = 'j' AND target = 'dst'")
[ "$pos2" -gt "$pos1" ] || ss_fail "position did not advance: $pos1 -> $pos2"

# Nothing new: nothing changes.
timeout 60 "$BIN" run -c "$T/ss.ini" --once 2>"$T/run3.log" || { cat "$T/run3.log"; ss_fail "third run --once failed"; }
ss_assert_eq "$pos2" "$(lite "$DST" "SELECT pos FROM shadowsync_applied_position WHERE job = 'j'")" \
	"position after an idle run"
ss_assert_eq 0 "$(diff_rows)" "rows differing after an idle run"

# The daemon while an application writes: 600 statements, each its own
# transaction, racing the capture for SQLite's write lock (the application
# waits up to 10 s, as the capture does); the target catches up.
"$BIN" run -c "$T/ss.ini" 2>"$T/daemon.log" &
daemon=$!
ss_on_exit "kill -TERM $daemon 2>/dev/null; wait $daemon 2>/dev/null"
{
	echo ".timeout 10000"
	for i in $(seq 1 200); do
		echo "INSERT INTO items (id, name, r) VALUES ($((20000 + i)), 'live $i', $i.5);"
		echo "UPDATE items SET qty = $i WHERE id = $((20000 + i / 2));"
		echo "DELETE FROM pairs WHERE a = $((i % 60));"
	done
} | lite "$SRC" || ss_fail "the application's writes failed while the daemon ran"
ss_wait_for '[ "$(diff_rows)" = 0 ] && [ "$(lite "$SRC" "SELECT count(*) FROM shadowsync_log_j")" = 0 ]' 30 ||
	{ cat "$T/daemon.log"; ss_fail "the target did not catch up with the running daemon"; }
kill -TERM "$daemon"
wait "$daemon" || { cat "$T/daemon.log"; ss_fail "the daemon did not exit cleanly on SIGTERM"; }
if grep -q ERROR "$T/daemon.log"; then
	cat "$T/daemon.log"
	ss_fail "the daemon logged errors"
fi

ss_pass
