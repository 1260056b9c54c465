#!/usr/bin/env bash
# needs: server
# Fencing (DESIGN invariant 6): a target refuses a position written under a
# lower lease epoch than the one it holds.  While daemon A applies, the
# target's epoch is bumped by hand, as a new owner's fencing would: A's
# applier stops with a message saying it was fenced, and the target is left
# untouched (no new rows, position and epoch as the "new owner" left them),
# while A's other target goes on.  Then the journal identity: a position row
# written before identities (journal_id NULL) is adopted when the journal
# reaches it.  Last, a lost lease row in the source does not lock the job out.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jobs.sh"

ss_pg_start SRC
ss_pg_start DST
ss_pg_createdb DST d2
D2_DSN=${DST_DSN/dbname=postgres/dbname=d2}
BIN=$(ss_bin)
T=$(ss_tmpdir)
ss_psql SRC -c "CREATE TABLE t (id int PRIMARY KEY, v text)"
ss_psql DST -c "CREATE TABLE t (id int PRIMARY KEY, v text)"
ss_psql DST -d d2 -c "CREATE TABLE t (id int PRIMARY KEY, v text)"
ss_write_job "$T/ss.ini" "$T/journal" "public.t" postgres "$SRC_DSN" postgres "$DST_DSN" postgres "$D2_DSN"
"$BIN" install -c "$T/ss.ini"
Q="SELECT * FROM t ORDER BY id"

"$BIN" run -c "$T/ss.ini" 2>"$T/a.log" &
A=$!
ss_on_exit "kill -KILL $A 2>/dev/null || true"
ss_psql SRC -c "INSERT INTO t SELECT g, 'a' FROM generate_series(1, 100) g"
ss_pg_wait_equal SRC postgres DST postgres "$Q" 30 || { cat "$T/a.log"; ss_fail "dst1 did not get the first rows"; }
ss_pg_wait_equal SRC postgres DST d2 "$Q" 30 || ss_fail "dst2 did not get the first rows"

# a new owner fences dst1
epoch=$(ss_psql DST -Atc "SELECT epoch FROM shadowsync.applied_position WHERE job = 'j'")
[ "$epoch" -ge 1 ] || ss_fail "dst1's position carries no epoch ($epoch)"
ss_psql DST -c "UPDATE shadowsync.applied_position SET epoch = epoch + 1 WHERE job = 'j'"
before=$(ss_psql DST -Atc "SELECT pos, epoch, journal_id FROM shadowsync.applied_position WHERE job = 'j'")
ss_psql SRC -c "INSERT INTO t SELECT g, 'b' FROM generate_series(101, 200) g; UPDATE t SET v = 'c' WHERE id <= 10"
ss_pg_wait_equal SRC postgres DST d2 "$Q" 30 || ss_fail "dst2 stopped with dst1"
ss_wait_for "grep -q 'target dst1: stopped: fenced' '$T/a.log'" 20 || { cat "$T/a.log"; ss_fail "the fenced applier did not stop with a clear message"; }
grep "fenced" "$T/a.log" | head -1
ss_assert_eq "$(ss_psql DST -Atc "SELECT count(*), count(*) FILTER (WHERE v <> 'a') FROM t")" "100|0" "fenced target untouched"
ss_assert_eq "$(ss_psql DST -Atc "SELECT pos, epoch, journal_id FROM shadowsync.applied_position WHERE job = 'j'")" "$before" "fenced target's position"
kill -TERM $A
wait $A || true

# A position without identity (an older shadowsync) within the journal is
# adopted; the next owner (epoch bumped) also takes over the fenced target.
ss_psql DST -c "UPDATE shadowsync.applied_position SET journal_id = NULL WHERE job = 'j'"
timeout 60 "$BIN" run -c "$T/ss.ini" --once 2>"$T/b.log" || { cat "$T/b.log"; ss_fail "run after a legacy position failed"; }
grep -q "has no journal identity" "$T/b.log" || { cat "$T/b.log"; ss_fail "legacy position not reported"; }
ss_assert_eq "$(ss_pg_dump SRC postgres "$Q")" "$(ss_pg_dump DST postgres "$Q")" "dst1 after adoption"
ss_assert_eq "$(ss_psql DST -Atc "SELECT journal_id = '$(cat "$T/journal/j/id")' FROM shadowsync.applied_position WHERE job = 'j'")" "t" "dst1 records the journal identity"

# The source's lease row is lost (dropped, or a restore): the next owner's
# epoch restarts below the targets'; holding the lease, it raises its epoch
# past theirs instead of being fenced out for good.
ss_psql SRC -c "DROP TABLE shadowsync.lease"
ss_psql SRC -c "INSERT INTO t VALUES (1000, 'after the lease reset')"
timeout 60 "$BIN" run -c "$T/ss.ini" --once 2>"$T/c.log" || { cat "$T/c.log"; ss_fail "run after the lease row was dropped failed"; }
grep -q "raising the lease past it" "$T/c.log" || { cat "$T/c.log"; ss_fail "the raised epoch was not reported"; }
ss_assert_eq "$(ss_pg_dump SRC postgres "$Q")" "$(ss_pg_dump DST postgres "$Q")" "dst1 after the lease reset"
ss_assert_eq "$(ss_pg_dump SRC postgres "$Q")" "$(ss_pg_dump DST d2 "$Q")" "dst2 after the lease reset"
ss_pass
