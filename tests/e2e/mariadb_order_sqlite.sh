#!/usr/bin/env bash
# needs: server
# MariaDB source: a transaction that takes its shadow id first and commits
# last is not lost (consume-and-delete by id); and MariaDB -> SQLite.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jobs.sh"

ss_maria_start SRC
BIN=$(ss_bin)
T=$(ss_tmpdir)
ss_maria SRC -e "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(100), b VARBINARY(16), n DECIMAL(20,5)) DEFAULT CHARSET=utf8mb4"
sqlite3 "$T/dst.db" "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, b BLOB, n TEXT)"
ss_write_job "$T/ss.ini" "$T/journal" "test.t" mariadb "$SRC_DSN" odbc "Driver=SQLite3;Database=$T/dst.db"
"$BIN" install -c "$T/ss.ini"

"$BIN" run -c "$T/ss.ini" 2>"$T/run.log" &
daemon=$!
ss_on_exit "kill $daemon 2>/dev/null || true"

# A takes its id first and commits after B.
ss_maria SRC -e "BEGIN; INSERT INTO t VALUES (1, 'late', X'00', 1.5); SELECT SLEEP(3); COMMIT;" >/dev/null &
a=$!
sleep 1
ss_maria SRC -e "INSERT INTO t VALUES (2, 'early', X'ff', -2.25), (3, '', NULL, NULL)"
ss_wait_for "[ \"\$(sqlite3 '$T/dst.db' 'SELECT count(*) FROM t WHERE id IN (2, 3)')\" = 2 ]" 20 ||
	ss_fail "B's rows did not reach SQLite"
ss_assert_eq 0 "$(sqlite3 "$T/dst.db" 'SELECT count(*) FROM t WHERE id = 1')" "A not yet committed"
wait $a
ss_wait_for "[ \"\$(sqlite3 '$T/dst.db' 'SELECT count(*) FROM t WHERE id = 1')\" = 1 ]" 20 ||
	ss_fail "A's late commit was lost"

# Updates, a key change, deletes, unicode; then compare row by row.
ss_maria SRC -e "SET NAMES utf8mb4; UPDATE t SET v = 'ünïcødé 😀' WHERE id = 2; UPDATE t SET id = 30 WHERE id = 3;
  INSERT INTO t VALUES (4, 'gone', NULL, 0); DELETE FROM t WHERE id = 4;
  INSERT INTO t SELECT seq, CONCAT('r', seq), UNHEX(HEX(seq)), seq / 7 FROM seq_100_to_600"
want=$(ss_maria SRC -e "SET NAMES utf8mb4; SELECT id, IFNULL(v, '<null>'), IFNULL(HEX(b), '<null>'), IFNULL(TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM n)), '<null>') FROM t ORDER BY id" | tr '\t' '|')
got() {
	sqlite3 "$T/dst.db" "SELECT id, IFNULL(v, '<null>'), CASE WHEN b IS NULL THEN '<null>' ELSE hex(b) END,
	  IFNULL(rtrim(rtrim(n, '0'), '.'), '<null>') FROM t ORDER BY id"
}
ss_wait_for "[ \"\$(got | md5sum)\" = \"\$(printf '%s\n' \"\$want\" | md5sum)\" ]" 30 || {
	diff <(printf '%s\n' "$want") <(got) | head -20
	ss_fail "SQLite target differs from the MariaDB source"
}
kill -TERM $daemon
wait $daemon || ss_fail "daemon exit $?"
ss_pass
