#!/usr/bin/env bash
# needs: server
# Crash safety: the daemon is killed with SIGKILL after a journal append
# before the shadow delete, during an apply before commit, and after a
# commit; each restart converges to the exact source state.  A torn record
# at the journal's end is recovered on restart.  SIGTERM mid-load stops
# cleanly.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jobs.sh"

ss_pg_start SRC
ss_pg_start DST
BIN=$(ss_bin)
T=$(ss_tmpdir)
ss_psql SRC -c "CREATE TABLE t (id int PRIMARY KEY, v text, n int)"
ss_psql DST -c "CREATE TABLE t (id int PRIMARY KEY, v text, n int)"
ss_write_job "$T/ss.ini" "$T/journal" "public.t" postgres "$SRC_DSN" postgres "$DST_DSN"
"$BIN" install -c "$T/ss.ini"
Q="SELECT * FROM t ORDER BY id"

round=0
load() {
	round=$((round + 1))
	ss_psql SRC <<SQL
INSERT INTO t SELECT g, 'r$round', 0 FROM generate_series($round * 10000, $round * 10000 + 1999) g;
UPDATE t SET n = n + 1, v = v || '.' WHERE id % 5 = 0;
DELETE FROM t WHERE id % 17 = 0;
UPDATE t SET id = id + 5000 WHERE id BETWEEN $round * 10000 AND $round * 10000 + 9;
SQL
	for i in $(seq 1 20); do ss_psql SRC -c "UPDATE t SET n = n + $i WHERE id = $round * 10000 + 100"; done
}

for point in capture_after_journal apply_before_commit apply_after_commit; do
	load
	rc=0
	SS_CRASH_AT=$point SS_CRASH_AFTER=2 timeout 60 "$BIN" run -c "$T/ss.ini" --once 2>"$T/crash-$point.log" || rc=$?
	[ $rc = 137 ] || { cat "$T/crash-$point.log"; ss_fail "$point: expected death by SIGKILL, got exit $rc"; }
	timeout 60 "$BIN" run -c "$T/ss.ini" --once 2>"$T/after-$point.log" ||
		{ cat "$T/after-$point.log"; ss_fail "$point: restart failed"; }
	ss_assert_eq "$(ss_pg_dump SRC postgres "$Q")" "$(ss_pg_dump DST postgres "$Q")" "after crash at $point"
done

# Torn tail: garbage after the last record of the last segment, as a crash
# in the middle of a write would leave.
seg=$(ls "$T/journal/j/"*.seg | tail -n 1)
printf '\x40\x00\x00\x00garbage-from-a-torn-write' >>"$seg"
load
timeout 60 "$BIN" run -c "$T/ss.ini" --once 2>"$T/torn.log" || { cat "$T/torn.log"; ss_fail "restart after torn tail failed"; }
grep -qi "recovery" "$T/torn.log" || { cat "$T/torn.log"; ss_fail "torn tail not reported"; }
ss_assert_eq "$(ss_pg_dump SRC postgres "$Q")" "$(ss_pg_dump DST postgres "$Q")" "after torn tail"

# SIGTERM while changes flow: clean stop, then a restart converges.
"$BIN" run -c "$T/ss.ini" 2>"$T/term.log" &
daemon=$!
load
kill -TERM $daemon
wait $daemon || ss_fail "SIGTERM: exit $?"
timeout 60 "$BIN" run -c "$T/ss.ini" --once 2>>"$T/term.log" || ss_fail "restart after SIGTERM failed"
ss_assert_eq "$(ss_pg_dump SRC postgres "$Q")" "$(ss_pg_dump DST postgres "$Q")" "after SIGTERM"
ss_pass
