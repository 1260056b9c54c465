#!/usr/bin/env bash
# needs: server
# A transaction takes a lower shadow id, stays open while a later one
# commits and is captured and applied; then it commits.  Nothing is lost
# (consume-and-delete by id, never "highest id seen").
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jobs.sh"

ss_pg_start SRC
ss_pg_start DST
BIN=$(ss_bin)
T=$(ss_tmpdir)
ss_psql SRC -c "CREATE TABLE t (id int PRIMARY KEY, v text)"
ss_psql DST -c "CREATE TABLE t (id int PRIMARY KEY, v text)"
ss_write_job "$T/ss.ini" "$T/journal" "public.t" postgres "$SRC_DSN" postgres "$DST_DSN"
"$BIN" install -c "$T/ss.ini"

"$BIN" run -c "$T/ss.ini" 2>"$T/run.log" &
daemon=$!
ss_on_exit "kill $daemon 2>/dev/null || true"

# A: takes its shadow id first, commits last.
ss_psql SRC -c "BEGIN; INSERT INTO t VALUES (1, 'late'); SELECT pg_sleep(4); COMMIT;" >/dev/null &
a=$!
sleep 1
# B: later id, commits first.
ss_psql SRC -c "INSERT INTO t VALUES (2, 'early'); INSERT INTO t VALUES (3, 'early too')"
ss_wait_for "[ \"\$(ss_psql DST -c 'SELECT count(*) FROM t WHERE id IN (2, 3)')\" = 2 ]" 20 ||
	ss_fail "B's rows did not reach the target"
ss_assert_eq 0 "$(ss_psql DST -c 'SELECT count(*) FROM t WHERE id = 1')" "A is still uncommitted"
wait $a
ss_pg_wait_equal SRC postgres DST postgres "SELECT * FROM t ORDER BY id" 20 ||
	ss_fail "A's late commit was lost"
ss_assert_eq "1|late" "$(ss_psql DST -c 'SELECT id, v FROM t WHERE id = 1' -F'|')" "A applied"

kill -TERM $daemon
wait $daemon || ss_fail "daemon did not stop cleanly on SIGTERM (exit $?)"
grep -q "signal 15: stopping" "$T/run.log" || ss_fail "no clean stop in the log"
ss_pass
