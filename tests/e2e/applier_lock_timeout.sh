#!/usr/bin/env bash
# needs: server
# Lock and statement timeouts on a target are transient (issue 11, defect
# 8): a target row locked by another session makes the applier's statement
# fail with lock_timeout (PostgreSQL 55P03, set on the applier's role) or
# max_statement_time (MariaDB 1969, set on the applier's user); the applier
# backs off and retries, and when the lock is released the change arrives -- the target never stops.
# After a success the backoff starts again at 100 ms.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jobs.sh"

ss_pg_start SRC
ss_pg_start DST
ss_maria_start MY
BIN=$(ss_bin)
T=$(ss_tmpdir)
ss_psql SRC -c "CREATE TABLE t (id int PRIMARY KEY, v text)"
ss_psql DST -c "CREATE TABLE t (id int PRIMARY KEY, v text)"
ss_psql DST -c "CREATE ROLE repl LOGIN SUPERUSER; ALTER ROLE repl SET lock_timeout = '300ms'"
ss_maria MY -e "CREATE TABLE t (id INT PRIMARY KEY, v TEXT);
	CREATE USER repl@'127.0.0.1' WITH MAX_STATEMENT_TIME 1; GRANT ALL ON *.* TO repl@'127.0.0.1'"
ss_write_job "$T/ss.ini" "$T/journal" "public.t" postgres "$SRC_DSN" \
	postgres "${DST_DSN/user=postgres/user=repl}" mariadb "${MY_DSN/user=root/user=repl}"
"$BIN" install -c "$T/ss.ini"

src() { ss_psql SRC -c "SELECT id, v FROM t ORDER BY id"; }
pg() { ss_psql DST -c "SELECT id, v FROM t ORDER BY id"; }
my() { ss_maria MY -e "SELECT id, v FROM t ORDER BY id" | tr '\t' '|'; }
wait_equal() {
	local end=$((SECONDS + $2))
	while [ $SECONDS -lt $end ]; do
		[ "$(src)" = "$(pg)" ] && [ "$(src)" = "$(my)" ] && return 0
		sleep 0.2
	done
	tail -30 "$T/run.log"
	ss_fail "$1: targets did not reach the source"
}
# Hold row $1 locked on both targets for $2 seconds, in the background.
lock_row() {
	lockers=()
	ss_psql DST -c "BEGIN; SELECT 1 FROM t WHERE id = $1 FOR UPDATE; SELECT pg_sleep($2); COMMIT" >/dev/null &
	lockers+=($!)
	ss_maria MY -e "BEGIN; SELECT id FROM t WHERE id = $1 FOR UPDATE;
		SELECT SLEEP($2); COMMIT" >/dev/null &
	lockers+=($!)
	ss_wait_for locks_held 30 || ss_fail "the locking sessions did not start"
}
# both lockers hold their row lock and sleep
locks_held() {
	[ "$(ss_psql DST -c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep%' AND state = 'active' AND pid <> pg_backend_pid()")" = 1 ] &&
		[ "$(ss_maria MY -e "SELECT count(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP%'")" = 1 ]
}

ss_daemon_start "$T/ss.ini" "$T/run.log"
ss_psql SRC -c "INSERT INTO t SELECT g, 'a' FROM generate_series(1, 10) g"
wait_equal "first rows" 30

# Episode 1: row 1 locked for 5 s on both targets.
lock_row 1 5
ss_psql SRC -c "UPDATE t SET v = 'e1' WHERE id = 1"
ss_psql SRC -c "UPDATE t SET v = 'e1' WHERE id = 7"
wait_equal "after the first lock was released" 30
wait "${lockers[@]}"
grep -q "target dst1.*retrying" "$T/run.log" || { cat "$T/run.log"; ss_fail "PostgreSQL lock timeout not hit"; }
grep -q "target dst2.*retrying" "$T/run.log" || { cat "$T/run.log"; ss_fail "MariaDB statement timeout not hit"; }

# Episode 2: the backoff starts again at 100 ms.
mark=$(wc -l <"$T/run.log")
lock_row 2 4
ss_psql SRC -c "UPDATE t SET v = 'e2' WHERE id = 2"
wait_equal "after the second lock was released" 30
wait "${lockers[@]}"
for dst in dst1 dst2; do
	first=$(tail -n +$((mark + 1)) "$T/run.log" | grep "target $dst.*retrying in" | head -n 1 || true)
	case $first in
	*"retrying in 100 ms"*) ;;
	*) cat "$T/run.log"; ss_fail "$dst: backoff after a success did not start at 100 ms: $first" ;;
	esac
done
if grep -E "stopped|failed" "$T/run.log"; then ss_fail "a target stopped on a timeout"; fi
ss_daemon_stop
ss_pass
