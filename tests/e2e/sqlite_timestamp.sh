#!/usr/bin/env bash
# SQLite -> SQLite with capture = timestamp (no triggers, no server): ISO
# text timestamps in the forms applications write ("... 10:00:00",
# "... 10:00:00.500", "...T10:00:00.5Z") compared as instants, not as text;
# initial load, updates, a row written with a timestamp older than what was
# already read (found through the look-back window), 55 rows on one instant
# in mixed forms across batch boundaries (batch_rows = 10), ties paged
# through a BLOB key, REAL values to the last bit, deletes found by the key
# scan, a soft-delete column, and a restart that keeps the checkpoint.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jobs.sh"

command -v sqlite3 >/dev/null || ss_fail "the sqlite3 shell is not installed (make deps)"
lite() {
	sqlite3 -cmd '.timeout 10000' "$@"
}
BIN=$(ss_bin)
T=$(ss_tmpdir)
SRC=$T/src.db
DST=$T/dst.db

SCHEMA='CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, r REAL,
            deleted BOOLEAN NOT NULL DEFAULT 0, updated_at DATETIME NOT NULL);
        CREATE INDEX items_ts ON items (updated_at);
        CREATE TABLE blobs (k BLOB PRIMARY KEY, v TEXT, updated_at TIMESTAMP NOT NULL);'
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
batch_rows = 10
capture = timestamp
timestamp_column = updated_at
delete_detection = keyscan
keyscan_interval = 1s
[job j table main.items]
soft_delete_column = deleted
EOF


# live rows; timestamps as instants (the target gets the journal's form)
ITEMS="SELECT id, name, quote(r), strftime('%Y-%m-%d %H:%M:%f', updated_at) FROM items
       WHERE NOT deleted ORDER BY id"
BLOBS="SELECT hex(k), v, strftime('%Y-%m-%d %H:%M:%f', updated_at) FROM blobs ORDER BY k"
wait_equal()
{
	local what=$1 q=$2
	ss_wait_for "[ \"\$(lite '$SRC' \"$q\" | md5sum)\" = \"\$(lite '$DST' \"$q\" | md5sum)\" ]" 30 || {
		cat "$T/run.log"
		diff <(lite "$SRC" "$q") <(lite "$DST" "$q") | head -20
		ss_fail "$what: tables differ"
	}
}
NOW="strftime('%Y-%m-%d %H:%M:%f', 'now')"

# initial load, REAL values that need every bit
lite "$SRC" "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 60)
             INSERT INTO items (id, name, r, updated_at)
             SELECT i, 'item ' || i, 1.0 / i, datetime('now', '-1 day', '+' || i || ' seconds') FROM g;
             INSERT INTO items (id, name, r, updated_at) VALUES
               (61, 'tiny', 4.9406564584124654e-324, '2026-01-01T00:00:00Z'),
               (62, 'big', 1.7976931348623157e308, '2026-01-01 00:00:00.25'),
               (63, 'tenth', 0.1, '2026-01-01 00:00:00.250');"
lite "$SRC" "INSERT INTO blobs VALUES (x'00ff', 'a', datetime('now', '-1 hour')), (x'ff00', 'b', datetime('now', '-1 hour'))"
ss_daemon_start "$T/ss.ini" "$T/run.log"
wait_equal "initial load" "$ITEMS"
wait_equal "initial load of blobs" "$BLOBS"

# updates and inserts
lite "$SRC" "UPDATE items SET name = name || ' updated', updated_at = $NOW WHERE id % 4 = 0;
             INSERT INTO items (id, name, r, updated_at) VALUES (100, 'new', -0.0, $NOW)"
wait_equal "updates" "$ITEMS"

# a row whose timestamp is older than rows already read: within lookback
sleep 1.5
lite "$SRC" "INSERT INTO items (id, name, updated_at) VALUES (500, 'late', strftime('%Y-%m-%d %H:%M:%f', 'now', '-3 seconds'))"
wait_equal "late row" "$ITEMS"
ss_assert_eq 1 "$(lite "$DST" 'SELECT count(*) FROM items WHERE id = 500')" "late row replicated"

# 55 rows on one instant written three ways, batch_rows = 10
lite "$SRC" "WITH RECURSIVE g(i) AS (SELECT 1000 UNION ALL SELECT i + 1 FROM g WHERE i < 1054),
               t(ts) AS (SELECT strftime('%Y-%m-%d %H:%M:%S', 'now'))
             INSERT INTO items (id, name, updated_at)
             SELECT i, 'tie', CASE i % 3 WHEN 0 THEN ts || '.500' WHEN 1 THEN ts || '.5'
                                ELSE replace(ts, ' ', 'T') || '.5Z' END FROM g, t"
lite "$SRC" "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 33)
             INSERT INTO blobs SELECT CAST(randomblob(4) || x'00' AS BLOB), 'tied', $NOW FROM g"
wait_equal "ties" "$ITEMS"
wait_equal "ties on blobs" "$BLOBS"
ss_assert_eq 55 "$(lite "$DST" "SELECT count(*) FROM items WHERE name = 'tie'")" "all tied rows"
ss_assert_eq 33 "$(lite "$DST" "SELECT count(*) FROM blobs WHERE v = 'tied'")" "all tied blob rows"

# deletes found by the key scan; a soft delete
lite "$SRC" "DELETE FROM items WHERE id BETWEEN 10 AND 20 OR id = 1054; DELETE FROM blobs WHERE v = 'a'"
lite "$SRC" "UPDATE items SET deleted = 1, updated_at = $NOW WHERE id IN (30, 31)"
wait_equal "deletes" "$ITEMS"
wait_equal "blob deletes" "$BLOBS"
ss_assert_eq 0 "$(lite "$DST" 'SELECT count(*) FROM items WHERE id IN (30, 31)')" "soft-deleted rows"

# restart: nothing journaled twice, and it continues
sleep 2
ss_daemon_stop
n1=$("$BIN" journal -c "$T/ss.ini" dump | wc -l)
ss_daemon_start "$T/ss.ini" "$T/run.log"
sleep 3
ss_daemon_stop
ss_assert_eq "$n1" "$("$BIN" journal -c "$T/ss.ini" dump | wc -l)" "journal records after a restart"
ss_daemon_start "$T/ss.ini" "$T/run.log"
lite "$SRC" "UPDATE items SET name = 'after restart', updated_at = $NOW WHERE id = 1"
wait_equal "after restart" "$ITEMS"
sleep 1
ss_daemon_stop
ss_assert_eq "$((n1 + 1))" "$("$BIN" journal -c "$T/ss.ini" dump | wc -l)" "one more record"
if grep -i 'error' "$T/run.log"; then
	ss_fail "errors in the run log"
fi
ss_pass
