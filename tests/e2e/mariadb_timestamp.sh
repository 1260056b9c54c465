#!/usr/bin/env bash
# needs: server
# MariaDB -> MariaDB with capture = timestamp (no triggers installed),
# keyscan delete detection and a soft-delete column:
# items has TIMESTAMP(6) ... ON UPDATE CURRENT_TIMESTAMP(6) (the usual
# MariaDB pattern), soft has a DATETIME (seconds, written as UTC), a
# composite key with a binary part and a BOOLEAN soft-delete column.
# Initial load, inserts and updates, a transaction that commits 2 s after
# later ones with an older updated_at (found through the look-back window),
# many rows on one timestamp across batch boundaries (batch_rows = 10; on
# soft the ties page through a binary key), deletes found by the key scan,
# soft deletes, and a restart that keeps the checkpoint (nothing journaled
# twice).
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jobs.sh"

ss_maria_start SRC
ss_maria_start DST
BIN=$(ss_bin)
T=$(ss_tmpdir)

for m in SRC DST; do
	ss_maria $m -e "CREATE TABLE items (id BIGINT PRIMARY KEY, name VARCHAR(100), qty INT,
	  bin VARBINARY(8), deleted_at DATETIME(3) NULL,
	  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
	  KEY (updated_at)) DEFAULT CHARSET=utf8mb4"
	ss_maria $m -e "CREATE TABLE soft (a INT, b VARBINARY(10), v TEXT,
	  deleted BOOLEAN NOT NULL DEFAULT 0, updated_at DATETIME NOT NULL,
	  PRIMARY KEY (a, b), KEY (updated_at)) DEFAULT CHARSET=utf8mb4"
done
# the target keeps the source's timestamps: no ON UPDATE there
ss_maria DST -e "ALTER TABLE items MODIFY updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)"

ss_write_job "$T/ss.ini" "$T/journal" "test.items, test.soft" \
	mariadb "$SRC_DSN" mariadb "$DST_DSN"
sed -i 's/^batch_rows = .*/batch_rows = 10/' "$T/ss.ini"
cat >>"$T/ss.ini" <<'INI'
capture = timestamp
timestamp_column = updated_at
delete_detection = keyscan
keyscan_interval = 1s
[job j table test.items]
soft_delete_column = deleted_at
[job j table test.soft]
soft_delete_column = deleted
INI

src() { ss_maria SRC -e "SET time_zone = '+00:00'; $1"; }


# live rows only: a soft-deleted row is deleted on the target
ITEMS="SELECT id, name, qty, HEX(bin), updated_at FROM items WHERE deleted_at IS NULL ORDER BY id"
SOFT="SELECT a, HEX(b), v, updated_at FROM soft WHERE NOT deleted ORDER BY a, b"
dump() { ss_maria "$1" -e "SET time_zone = '+00:00'; $2" | md5sum; }
wait_equal()
{
	local what=$1 q=$2
	ss_wait_for "[ \"\$(dump SRC \"$q\")\" = \"\$(dump DST \"$q\")\" ]" 60 || {
		cat "$T/run.log"
		diff <(ss_maria SRC -e "$q") <(ss_maria DST -e "$q") | head -20
		ss_fail "$what: tables differ"
	}
}
wait_items() { wait_equal "$1" "$ITEMS"; }

# initial load: rows that exist before the first poll
src "INSERT INTO items (id, name, qty, bin, updated_at)
     SELECT seq, CONCAT('item ', seq), seq, UNHEX(LPAD(HEX(seq), 4, '0')),
            NOW(6) - INTERVAL 1 DAY + INTERVAL seq SECOND FROM seq_1_to_100"
src "INSERT INTO soft (a, b, v, updated_at)
     SELECT seq, UNHEX(CONCAT('00', HEX(seq), 'FF')), CONCAT('v', seq), UTC_TIMESTAMP() - INTERVAL 1 HOUR
     FROM seq_1_to_20"
ss_daemon_start "$T/ss.ini" "$T/run.log"
wait_items "initial load"
wait_equal "initial load of soft" "$SOFT"

# inserts and updates (ON UPDATE sets updated_at)
src "INSERT INTO items (id, name, qty) SELECT seq, CONCAT('new ', seq), seq FROM seq_101_to_130"
src "UPDATE items SET qty = qty + 1000 WHERE id % 3 = 0"
wait_items "inserts and updates"

# a transaction that takes its timestamp first and commits 2 s after later ones
src "BEGIN; INSERT INTO items (id, name) VALUES (500, 'late'); DO SLEEP(2); COMMIT;" &
late=$!
sleep 0.3
for i in 501 502 503 504 505; do
	src "INSERT INTO items (id, name) VALUES ($i, 'early')"
	sleep 0.2
done
wait $late
wait_items "late commit"
ss_assert_eq 1 "$(ss_maria DST -e 'SELECT count(*) FROM items WHERE id = 500')" "late row replicated"

# 55 rows on one timestamp (one statement), batch_rows = 10
src "INSERT INTO items (id, name) SELECT seq, 'tie' FROM seq_1000_to_1054"
src "UPDATE items SET name = 'tie2' WHERE id BETWEEN 1000 AND 1054"
src "INSERT INTO items (id, name) SELECT seq, 'tie3' FROM seq_2000_to_2054"
wait_items "ties"
ss_assert_eq 55 "$(ss_maria DST -e "SELECT count(*) FROM items WHERE name = 'tie3'")" "all tied rows"
# ties on a one-second DATETIME, paged through (a, binary b)
src "INSERT INTO soft (a, b, v, updated_at)
     SELECT seq % 3, UNHEX(CONCAT(HEX(seq), '00FF')), 'tied', UTC_TIMESTAMP() FROM seq_100_to_140"
wait_equal "ties on soft" "$SOFT"
ss_assert_eq 41 "$(ss_maria DST -e "SELECT count(*) FROM soft WHERE v = 'tied'")" "all tied soft rows"

# deletes found by the key scan
src "DELETE FROM items WHERE id BETWEEN 10 AND 20 OR id = 2054"
src "DELETE FROM soft WHERE a = 2 AND v = 'tied'"
wait_items "keyscan delete"
wait_equal "keyscan delete on soft" "$SOFT"

# soft delete: a BOOLEAN, and a nullable DATETIME(3)
src "UPDATE soft SET deleted = 1, updated_at = UTC_TIMESTAMP() WHERE a <= 5 AND v <> 'tied'"
src "UPDATE soft SET v = 'changed', updated_at = UTC_TIMESTAMP() WHERE a = 6"
src "UPDATE items SET deleted_at = NOW(3) WHERE id IN (1, 2, 3)"
wait_equal "soft delete" "$SOFT"
wait_items "soft delete of items"
ss_assert_eq 0 "$(ss_maria DST -e 'SELECT count(*) FROM items WHERE id IN (1, 2, 3)')" "soft-deleted items"

# restart: the checkpoint survives, nothing is journaled twice
sleep 2
ss_daemon_stop
n1=$("$BIN" journal -c "$T/ss.ini" dump | wc -l)
ls "$T/journal/j"/poll-*.state >/dev/null || ss_fail "no poll state file"
ss_daemon_start "$T/ss.ini" "$T/run.log"
sleep 4
ss_daemon_stop
n2=$("$BIN" journal -c "$T/ss.ini" dump | wc -l)
ss_assert_eq "$n1" "$n2" "journal records after a restart without changes"

# and it continues where it left off
ss_daemon_start "$T/ss.ini" "$T/run.log"
src "UPDATE items SET name = 'after restart' WHERE id = 4"
wait_items "after restart"
sleep 1
ss_daemon_stop
"$BIN" journal -c "$T/ss.ini" dump >"$T/dump.jsonl"
ss_assert_eq "$((n1 + 1))" "$(wc -l <"$T/dump.jsonl")" "one more record after one more change"
grep -q '"op":"D"' "$T/dump.jsonl" || ss_fail "no delete in the journal"
if grep -i 'error' "$T/run.log"; then
	ss_fail "errors in the run log"
fi
ss_pass
