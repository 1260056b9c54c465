#!/usr/bin/env bash
# needs: server
# One owner per job (DESIGN invariant 6).  Daemon A owns the job (PostgreSQL
# source, two targets); daemon B, same job, its own journal_dir, started
# while A runs, is a standby: it logs so once and consumes nothing (no
# journal of its own, the shadow rows go to A), and `run --once` beside A
# fails with an error naming the owner.  A is killed with SIGKILL while a
# workload runs; B takes over within the documented bound (about 1 s plus
# setup; asserted < 5 s), continues A's journal (reachable on this host), and
# in the end both targets equal the source row by row, their positions
# carrying the new epoch.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jobs.sh"

ss_pg_start SRC
ss_pg_start DST
ss_pg_createdb DST d2
D2_DSN=${DST_DSN/dbname=postgres/dbname=d2}
BIN=$(ss_bin)
T=$(ss_tmpdir)
ss_psql SRC -c "CREATE TABLE t (id int PRIMARY KEY, v text, n int)"
ss_psql DST -c "CREATE TABLE t (id int PRIMARY KEY, v text, n int)"
ss_psql DST -d d2 -c "CREATE TABLE t (id int PRIMARY KEY, v text, n int)"
ss_write_job "$T/a.ini" "$T/ja" "public.t" postgres "$SRC_DSN" postgres "$DST_DSN" postgres "$D2_DSN"
sed "s|^journal_dir = .*|journal_dir = $T/jb|" "$T/a.ini" >"$T/b.ini"
"$BIN" install -c "$T/a.ini"
Q="SELECT * FROM t ORDER BY id"

ss_daemon_role "$T/a.ini" "$T/a.log" owner
A=$SS_ROLE_PID

# a workload throughout: inserts, updates of earlier rows, deletes
(
	i=0
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		ss_psql SRC -c "INSERT INTO t VALUES ($i, 'r$i', 0);
			UPDATE t SET n = n + 1, v = v || '.' WHERE id = $((i / 2));
			DELETE FROM t WHERE id = $((i / 3)) AND id % 7 = 0" >/dev/null
	done
) &
W=$!
ss_on_exit "touch '$T/stop'; kill $W 2>/dev/null || true"

ss_daemon_role "$T/b.ini" "$T/b.log" standby
B=$SS_ROLE_PID
sleep 3
[ "$(grep -c standby "$T/b.log")" = 1 ] || { cat "$T/b.log"; ss_fail "standby logged more than once"; }
[ ! -e "$T/jb" ] || { ls -R "$T/jb"; ss_fail "the standby opened a journal of its own"; }
grep -q "owner of the job" "$T/b.log" && ss_fail "B took the lease while A owns it"
kill -0 $A || ss_fail "A died"

# --once beside the owner: a clear error, non-zero exit, nothing consumed
rc=0
timeout 30 "$BIN" run -c "$T/b.ini" --once 2>"$T/once.log" || rc=$?
[ $rc = 1 ] || { cat "$T/once.log"; ss_fail "run --once beside the owner: exit $rc, expected 1"; }
grep -q "another shadowsync process owns the job" "$T/once.log" || { cat "$T/once.log"; ss_fail "run --once: no clear error"; }
[ ! -e "$T/jb" ] || ss_fail "run --once beside the owner opened a journal"

# SIGKILL the owner; B takes over
kill -KILL $A
t0=$(date +%s%N)
ss_wait_for "grep -q 'owner of the job' '$T/b.log'" 30 || { cat "$T/b.log"; ss_fail "B did not take over"; }
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
echo "takeover after SIGKILL: ${ms} ms"
[ $ms -lt 5000 ] || ss_fail "takeover took ${ms} ms, bound is about 1 s"
grep -q "continuing the previous owner's journal $T/ja" "$T/b.log" || { cat "$T/b.log"; ss_fail "B did not continue A's journal"; }

sleep 3
touch "$T/stop"
wait $W || true
ss_pg_wait_equal SRC postgres DST postgres "$Q" 60 || { tail -20 "$T/b.log"; ss_fail "dst1 differs from the source after the takeover"; }
ss_pg_wait_equal SRC postgres DST d2 "$Q" 60 || { tail -20 "$T/b.log"; ss_fail "dst2 differs from the source after the takeover"; }
[ "$(ss_psql SRC -Atc "SELECT max(id) FROM t")" -gt 0 ] || ss_fail "the workload wrote nothing"
ss_assert_eq "$(ss_psql SRC -Atc "SELECT epoch FROM shadowsync.lease WHERE job = 'j'")" "2" "lease epoch after one takeover"
ss_assert_eq "$(ss_psql DST -Atc "SELECT epoch FROM shadowsync.applied_position WHERE job = 'j'")" "2" "dst1 position epoch"
ss_assert_eq "$(ss_psql DST -d d2 -Atc "SELECT epoch FROM shadowsync.applied_position WHERE job = 'j'")" "2" "dst2 position epoch"
kill -TERM $B
wait $B || ss_fail "B: exit $? on SIGTERM"
ss_pass
