#!/usr/bin/env bash
# SIGHUP reloads the configuration like PostgreSQL and pgbouncer do: a bad
# file is logged with file:line and the running configuration stays (the
# daemon keeps replicating); a good one takes effect -- a job added starts,
# a job removed stops, the log level changes -- and the daemon ends with exit
# 0 on SIGTERM.  No server: SQLite files.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

BIN=$(ss_bin)
T=$(ss_tmpdir)
sqlite3()
{ # as an application would: waiting for the daemon's locks
	command sqlite3 -cmd '.timeout 10000' "$@"
}
for db in src1 dst1 src2 dst2; do
	sqlite3 "$T/$db.db" "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"
done
conf()
{ # conf LOG_LEVEL JOBS...
	local level=$1 j
	shift
	{
		printf '[shadowsync]\njournal_dir = %s/journal\nlog_level = %s\n' "$T" "$level"
		for j in 1 2; do
			printf '[database src%s]\ndriver = odbc\ndsn = Driver=SQLite3;Database=%s/src%s.db\n' $j "$T" $j
			printf '[database dst%s]\ndriver = odbc\ndsn = Driver=SQLite3;Database=%s/dst%s.db\n' $j "$T" $j
		done
		for j in "$@"; do
			printf '[job j%s]\nsource = src%s\ntargets = dst%s\ntables = main.t\npoll_interval = 50ms\nlease_timeout = 2s\n' $j $j $j
		done
	} >"$T/ss.ini.new"
	mv "$T/ss.ini.new" "$T/ss.ini"
}
count()
{
	sqlite3 "$T/$1.db" 'SELECT count(*) FROM t'
}
conf info 1 2
"$BIN" install -c "$T/ss.ini" >/dev/null 2>&1 || ss_fail "install failed"
conf info 1
"$BIN" run -c "$T/ss.ini" 2>"$T/run.log" &
daemon=$!
ss_on_exit "kill $daemon 2>/dev/null || true"
sqlite3 "$T/src1.db" "INSERT INTO t VALUES (1, 'a')"
ss_wait_for "[ \"\$(count dst1)\" = 1 ]" 15 || ss_fail "j1 does not replicate: $(tail "$T/run.log")"

# A bad file: logged with its line, the old configuration keeps running.
cp "$T/ss.ini" "$T/good.ini"
printf '[job j1]\nsource = src1\nno_such_key = 1\n' >>"$T/ss.ini"
kill -HUP $daemon
ss_wait_for "grep -q 'keeping the running configuration' '$T/run.log'" 10 ||
	ss_fail "bad file not reported: $(tail "$T/run.log")"
grep -qE "ss\.ini:[0-9]+: " "$T/run.log" || ss_fail "no file:line in the reload error: $(grep reload "$T/run.log")"
kill -0 $daemon || ss_fail "SIGHUP with a bad file killed the daemon"
sqlite3 "$T/src1.db" "INSERT INTO t VALUES (2, 'b')"
ss_wait_for "[ \"\$(count dst1)\" = 2 ]" 15 || ss_fail "j1 stopped after a bad reload"

# A good file: j2 added, log level debug.
conf debug 1 2
kill -HUP $daemon
ss_wait_for "grep -q 'reload: configuration' '$T/run.log'" 10 || ss_fail "no reload: $(tail "$T/run.log")"
sqlite3 "$T/src2.db" "INSERT INTO t VALUES (1, 'x')"
sqlite3 "$T/src1.db" "INSERT INTO t VALUES (3, 'c')"
ss_wait_for "[ \"\$(count dst2)\" = 1 ]" 15 || ss_fail "the added job j2 does not run: $(tail "$T/run.log")"
ss_wait_for "[ \"\$(count dst1)\" = 3 ]" 15 || ss_fail "j1 does not run after the reload"
grep -q " DEBUG " "$T/run.log" || ss_fail "log_level = debug did not take effect"

# j1 removed: it stops; j2 goes on.
conf info 2
kill -HUP $daemon
ss_wait_for "[ \$(grep -c 'reload: configuration' '$T/run.log') = 2 ]" 10 || ss_fail "second reload"
sleep 1
sqlite3 "$T/src1.db" "INSERT INTO t VALUES (4, 'd')"
sqlite3 "$T/src2.db" "INSERT INTO t VALUES (2, 'y')"
ss_wait_for "[ \"\$(count dst2)\" = 2 ]" 15 || ss_fail "j2 stopped"
sleep 1
ss_assert_eq 3 "$(count dst1)" "rows of the removed job j1"
kill -TERM $daemon
rc=0
wait $daemon || rc=$?
ss_assert_eq 0 $rc "exit status after SIGTERM"
ss_pass
