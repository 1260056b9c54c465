#!/usr/bin/env bash
# needs: server
# Defect 1: a job's journal directory is lost while the target keeps its
# position.  Every run then refuses the target (exit 1, naming the target,
# both journal identities and the command), also after the new journal has
# grown past the old position, and never exits 0 with rows missing.  The
# documented way forward: stop, re-sync the target, `journal adopt`, run:
# every row arrives.
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

for i in 1 2 3 4 5; do ss_psql SRC -c "INSERT INTO t VALUES ($i, 'a')"; done
timeout 60 "$BIN" run -c "$T/ss.ini" --once 2>"$T/1.log" || { cat "$T/1.log"; ss_fail "first run failed"; }
ss_assert_eq "$(ss_pg_dump SRC postgres "$Q")" "$(ss_pg_dump DST postgres "$Q")" "before the reset"
old_id=$(cat "$T/journal/j/id" 2>/dev/null || true)

rm -rf "$T/journal"
for round in 2 3; do
	for i in 1 2 3 4 5; do ss_psql SRC -c "INSERT INTO t VALUES ($((round * 10 + i)), 'b')"; done
	rc=0
	timeout 60 "$BIN" run -c "$T/ss.ini" --once 2>"$T/$round.log" || rc=$?
	[ $rc = 1 ] || { cat "$T/$round.log"; ss_fail "run $round after the reset: exit $rc, expected 1"; }
	new_id=$(cat "$T/journal/j/id" 2>/dev/null || true)
	grep "target dst1" "$T/$round.log" | grep "$old_id" | grep "$new_id" |
		grep -q "journal -c FILE adopt --job j --target dst1" ||
		{ cat "$T/$round.log"; ss_fail "run $round: the error does not name target, identities and command"; }
done
ss_assert_eq "$(ss_psql DST -Atc "SELECT count(*) FROM t")" "5" "the target untouched while refused"

# the way forward: re-sync (here: copy the table), adopt, run
ss_psql SRC -c "COPY t TO STDOUT" >"$T/t.copy"
ss_psql DST -c "TRUNCATE t"
ss_psql DST -c "COPY t FROM STDIN" <"$T/t.copy"
"$BIN" journal -c "$T/ss.ini" adopt --job j --target dst1 >"$T/adopt.out" || ss_fail "adopt failed"
cat "$T/adopt.out"
grep -q "follows journal $new_id" "$T/adopt.out" || ss_fail "adopt did not say what it did"
for i in 1 2 3 4 5; do ss_psql SRC -c "INSERT INTO t VALUES ($((40 + i)), 'c'); UPDATE t SET v = 'd' WHERE id = $((20 + i))"; done
timeout 60 "$BIN" run -c "$T/ss.ini" --once 2>"$T/4.log" || { cat "$T/4.log"; ss_fail "run after adopt failed"; }
ss_assert_eq "$(ss_pg_dump SRC postgres "$Q")" "$(ss_pg_dump DST postgres "$Q")" "after adopt"
ss_assert_eq "$(ss_psql DST -Atc "SELECT count(*) FROM t")" "20" "every row arrived"
ss_pass
