#!/usr/bin/env bash
# needs: server
# A target never shows part of a source transaction, even when the capture
# restarts (or a poll fails) while a transaction is only partly journaled
# (issue 11, defect 14).  Transaction U writes rows first (low shadow ids)
# and stays open; S writes 25 rows and commits.  With batch_rows = 10 the
# first poll journals 10 rows of S, deletes them, and the process is killed
# (SS_CRASH_AT=capture_after_delete).  U commits.  The next run's first poll
# reads U's rows only: U ends there, but S is still open in the journal, so
# no target commit may end after U.  The restarted daemon is killed right
# after its first target commit: the target then holds none or all of S.
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
sed -i 's/^batch_rows = .*/batch_rows = 10/' "$T/ss.ini"
"$BIN" install -c "$T/ss.ini"
Q="SELECT * FROM t ORDER BY id"

# U: an open transaction in a psql fed through a FIFO
mkfifo "$T/u.fifo"
ss_psql SRC <"$T/u.fifo" >/dev/null &
upid=$!
exec 3>"$T/u.fifo"
echo "BEGIN; INSERT INTO t SELECT g, 'u' FROM generate_series(1, 10) g;" >&3
u_open() { [ "$(ss_psql SRC -c "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'")" = 1 ]; }
ss_wait_for u_open 30 ||
	ss_fail "transaction U did not start"
ss_psql SRC -c "INSERT INTO t SELECT g, 's' FROM generate_series(100, 124) g"

rc=0
SS_CRASH_AT=capture_after_delete SS_CRASH_AFTER=1 timeout 60 "$BIN" run -c "$T/ss.ini" --once \
	2>"$T/run1.log" || rc=$?
[ $rc = 137 ] || { cat "$T/run1.log"; ss_fail "first run: expected death by SIGKILL, got exit $rc"; }
ss_assert_eq 15 "$(ss_psql SRC -c "SELECT count(*) FROM shadowsync.log_j")" \
	"shadow rows left after the first poll (U's 10 invisible, S's last 15)"
echo "COMMIT;" >&3
exec 3>&-
wait $upid

rc=0
SS_CRASH_AT=apply_after_commit SS_CRASH_AFTER=1 timeout 60 "$BIN" run -c "$T/ss.ini" --once \
	2>"$T/run2.log" || rc=$?
[ $rc = 137 ] || { cat "$T/run2.log"; ss_fail "second run: expected death by SIGKILL, got exit $rc"; }
s=$(ss_psql DST -c "SELECT count(*) FROM t WHERE v = 's'")
[ "$s" = 0 ] || [ "$s" = 25 ] ||
	{ cat "$T/run2.log"; ss_fail "the target shows $s of the 25 rows of one source transaction"; }

timeout 60 "$BIN" run -c "$T/ss.ini" --once 2>"$T/run3.log" || { cat "$T/run3.log"; ss_fail "last run failed"; }
ss_assert_eq "$(ss_pg_dump SRC postgres "$Q")" "$(ss_pg_dump DST postgres "$Q")" "target equals source"
ss_pass
