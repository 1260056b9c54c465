#!/usr/bin/env bash
# needs: server
# Issue 11, defect 13: a journal segment cut below what the journal had made
# durable (and a target had applied) is corruption, not a torn tail.  `run
# --once` stops with an error naming the segment file and the offset, and
# neither reuses positions nor touches the target.  A torn tail left by a
# crash before the commit's fsync returned is still cut at start-up, with a
# note, and the run converges.
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
Q="SELECT * FROM t ORDER BY id"
J="$T/journal/j"

# Several commits' worth, replicated.
for i in $(seq 1 5); do
	ss_psql SRC -c "INSERT INTO t SELECT g, 'row ' || g FROM generate_series($i * 100, $i * 100 + 19) g"
	timeout 60 "$BIN" run -c "$T/ss.ini" --once 2>>"$T/run.log" || { cat "$T/run.log"; ss_fail "run $i"; }
done
ss_assert_eq "$(ss_pg_dump SRC postgres "$Q")" "$(ss_pg_dump DST postgres "$Q")" "replicated"

# A crash after the capture wrote its records but before their fsync
# returned, and the write torn: the tail is cut with a note, nothing lost.
ss_psql SRC -c "INSERT INTO t SELECT g, 'late ' || g FROM generate_series(900, 909) g"
rc=0
SS_CRASH_AT=journal_before_sync timeout 60 "$BIN" run -c "$T/ss.ini" --once 2>"$T/crash.log" || rc=$?
[ $rc = 137 ] || { cat "$T/crash.log"; ss_fail "expected death by SIGKILL before the fsync, got exit $rc"; }
seg=$(ls "$J"/*.seg | tail -n 1)
truncate -s -7 "$seg"
timeout 60 "$BIN" run -c "$T/ss.ini" --once 2>"$T/torn.log" || { cat "$T/torn.log"; ss_fail "restart after a torn tail failed"; }
grep -q "torn record at $seg" "$T/torn.log" || { cat "$T/torn.log"; ss_fail "torn tail not reported"; }
ss_assert_eq "$(ss_pg_dump SRC postgres "$Q")" "$(ss_pg_dump DST postgres "$Q")" "after the torn tail"

# Now cut the newest segment into its last record, committed and applied,
# and add a row.  Taken for a torn tail, the cut would free that record's
# position for the new row, which the target, already past it, would skip
# (exit 0, the row lost).  The run must refuse, naming the segment and the
# offset.
before=$(ss_pg_dump DST postgres "$Q")
pos_before=$(ss_psql DST -Atc "SELECT * FROM shadowsync.applied_position")
seg=$(ls "$J"/*.seg | tail -n 1)
size=$(stat -c %s "$seg")
cut=$((size - 10))
truncate -s $cut "$seg"
ss_psql SRC -c "INSERT INTO t VALUES (5000, 'after the damage')"
rc=0
timeout 60 "$BIN" run -c "$T/ss.ini" --once 2>"$T/cut.log" || rc=$?
# and again: no run may pass once a first one has refused (a capture that
# went on journaling would grow the journal past the target's position)
rc2=0
timeout 60 "$BIN" run -c "$T/ss.ini" --once 2>"$T/cut2.log" || rc2=$?
[ $rc != 0 ] || { cat "$T/cut.log"; ss_fail "run --once exited 0 on a journal cut below its committed end"; }
[ $rc2 != 0 ] || { cat "$T/cut.log" "$T/cut2.log"; ss_fail "second run --once exited 0: positions reused"; }
for log in "$T/cut.log" "$T/cut2.log"; do
	grep -q "$seg at offset [0-9]" "$log" || { cat "$log"; ss_fail "the error does not name the segment file and offset"; }
done
# The file is left as it was for inspection, the target untouched.
[ "$(stat -c %s "$seg")" = $cut ] || ss_fail "the damaged segment was changed"
ss_assert_eq "$before" "$(ss_pg_dump DST postgres "$Q")" "target untouched"
ss_assert_eq "$pos_before" "$(ss_psql DST -Atc "SELECT * FROM shadowsync.applied_position")" "position untouched"
ss_pass
