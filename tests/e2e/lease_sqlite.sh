#!/usr/bin/env bash
# The job lease on a SQLite source (through ODBC): no session locks there,
# so the lease is a row with an expiry that the owner renews.  A second
# daemon waits as a standby; when the owner is killed it takes over once
# the lease has expired (lease_timeout = 2s here: within about 3 s), and the
# target ends equal to the source.  A clean stop releases the lease at once.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jobs.sh"

BIN=$(ss_bin)
T=$(ss_tmpdir)
sqlite3 "$T/src.db" "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"
sqlite3 "$T/dst.db" "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"
ss_write_job "$T/a.ini" "$T/ja" "main.t" odbc "Driver=SQLite3;Database=$T/src.db" odbc "Driver=SQLite3;Database=$T/dst.db"
printf 'lease_timeout = 2s\n' >>"$T/a.ini"
sed "s|^journal_dir = .*|journal_dir = $T/jb|" "$T/a.ini" >"$T/b.ini"
"$BIN" install -c "$T/a.ini"
same() { [ "$(sqlite3 -cmd ".timeout 10000" "$T/src.db" 'SELECT * FROM t ORDER BY id' | md5sum)" = "$(sqlite3 -cmd ".timeout 10000" "$T/dst.db" 'SELECT * FROM t ORDER BY id' | md5sum)" ]; }

ss_daemon_role "$T/a.ini" "$T/a.log" owner
A=$SS_ROLE_PID
ss_daemon_role "$T/b.ini" "$T/b.log" standby
B=$SS_ROLE_PID
sqlite3 -cmd ".timeout 10000" "$T/src.db" "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 200) INSERT INTO t SELECT i, 'a' || i FROM g"
ss_wait_for same 30 || ss_fail "A did not replicate"
sleep 3 # past one expiry: A renews, B stays standby
grep -q "owner of the job" "$T/b.log" && { cat "$T/b.log"; ss_fail "B took the lease while A renews it"; }
[ ! -e "$T/jb" ] || ss_fail "the standby opened a journal of its own"

kill -KILL $A
t0=$(date +%s%N)
ss_wait_for "grep -q 'owner of the job' '$T/b.log'" 30 || { cat "$T/b.log"; ss_fail "B did not take over"; }
ms=$((($(date +%s%N) - t0) / 1000000))
echo "takeover after SIGKILL: $ms ms (lease_timeout 2s)"
[ $ms -lt 5000 ] || ss_fail "takeover took $ms ms"
sqlite3 -cmd ".timeout 10000" "$T/src.db" "UPDATE t SET v = 'b' WHERE id % 3 = 0; DELETE FROM t WHERE id % 5 = 0; INSERT INTO t VALUES (1000, 'c')"
ss_wait_for same 30 || ss_fail "the target differs from the source after the takeover"

# a clean stop releases the lease: A (restarted, standby) takes over at once
"$BIN" run -c "$T/a.ini" 2>"$T/a2.log" &
A=$!
ss_wait_for "grep -q 'standby' '$T/a2.log'" 20 || { cat "$T/a2.log"; ss_fail "A did not wait as standby"; }
kill -TERM $B
wait $B || ss_fail "B: exit $?"
ss_wait_for "grep -q 'owner of the job' '$T/a2.log'" 2.5 || { cat "$T/a2.log"; ss_fail "the released lease was not taken at once"; }
kill -TERM $A
wait $A || ss_fail "A: exit $?"
ss_pass
