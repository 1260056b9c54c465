#!/usr/bin/env bash
# needs: server
# The job lease on a MariaDB source (GET_LOCK on the capture's session):
# a second daemon is a standby and consumes nothing, `run --once` beside the
# owner fails naming it, and when the owner is killed the standby takes over
# within about a second and the (SQLite) target ends equal to the source.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jobs.sh"

ss_maria_start SRC
BIN=$(ss_bin)
T=$(ss_tmpdir)
ss_maria SRC -e "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(100)) DEFAULT CHARSET=utf8mb4"
sqlite3 "$T/dst.db" "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"
ss_write_job "$T/a.ini" "$T/ja" "test.t" mariadb "$SRC_DSN" odbc "Driver=SQLite3;Database=$T/dst.db"
sed "s|^journal_dir = .*|journal_dir = $T/jb|" "$T/a.ini" >"$T/b.ini"
"$BIN" install -c "$T/a.ini"

ss_daemon_role "$T/a.ini" "$T/a.log" owner
A=$SS_ROLE_PID
ss_daemon_role "$T/b.ini" "$T/b.log" standby
B=$SS_ROLE_PID
ss_maria SRC -e "INSERT INTO t SELECT seq, CONCAT('a', seq) FROM seq_1_to_300"
ss_wait_for "[ \"\$(sqlite3 '$T/dst.db' 'SELECT count(*) FROM t')\" = 300 ]" 30 || ss_fail "A did not replicate"
[ ! -e "$T/jb" ] || ss_fail "the standby opened a journal of its own"
rc=0
timeout 30 "$BIN" run -c "$T/b.ini" --once 2>"$T/once.log" || rc=$?
[ $rc = 1 ] && grep -q "another shadowsync process owns the job" "$T/once.log" ||
	{ cat "$T/once.log"; ss_fail "run --once beside the owner: exit $rc without a clear error"; }

kill -KILL $A
t0=$(date +%s%N)
ss_wait_for "grep -q 'owner of the job' '$T/b.log'" 30 || { cat "$T/b.log"; ss_fail "B did not take over"; }
echo "takeover after SIGKILL: $((($(date +%s%N) - t0) / 1000000)) ms"
ss_maria SRC -e "UPDATE t SET v = 'b' WHERE id % 3 = 0; DELETE FROM t WHERE id % 5 = 0; INSERT INTO t VALUES (1000, 'c')"
want=$(ss_maria SRC -e "SELECT id, v FROM t ORDER BY id" | tr '\t' '|')
got() { sqlite3 "$T/dst.db" "SELECT id, v FROM t ORDER BY id"; }
ss_wait_for "[ \"\$(got | md5sum)\" = \"\$(printf '%s\n' \"\$want\" | md5sum)\" ]" 30 || {
	diff <(printf '%s\n' "$want") <(got) | head -20
	ss_fail "the target differs from the source after the takeover"
}
ss_assert_eq "$(ss_maria SRC -N -e "SELECT epoch FROM shadowsync.lease WHERE job = 'j'")" "2" "lease epoch"
ss_assert_eq "$(sqlite3 "$T/dst.db" "SELECT epoch FROM shadowsync_applied_position")" "2" "target position epoch"
kill -TERM $B
wait $B || ss_fail "B: exit $?"
ss_pass
