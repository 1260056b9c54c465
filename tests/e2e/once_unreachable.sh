#!/usr/bin/env bash
# `run --once` ends when a database cannot be reached: one clear error naming
# the database and a non-zero exit after its connect_timeout of retries --
# an unreachable source, then an unreachable target (the other target still
# gets every row).  No server: port 1 refuses, SQLite is a file.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

BIN=$(ss_bin)
T=$(ss_tmpdir)
sqlite3 "$T/src.db" "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"
sqlite3 "$T/ok.db" "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"

cat >"$T/src-down.ini" <<EOF2
[shadowsync]
journal_dir = $T/j1
[database src]
driver = postgres
dsn = host=127.0.0.1 port=1 dbname=x user=u
connect_timeout = 2s
[database ok]
driver = odbc
dsn = Driver=SQLite3;Database=$T/ok.db
[job j]
source = src
targets = ok
tables = public.t
EOF2
rc=0
start=$SECONDS
timeout 60 "$BIN" run -c "$T/src-down.ini" --once 2>"$T/src-down.err" || rc=$?
[ $rc != 0 ] && [ $rc != 124 ] || ss_fail "unreachable source: exit $rc (124: it hung)"
[ $((SECONDS - start)) -le 20 ] || ss_fail "unreachable source: took $((SECONDS - start)) s"
grep -q "giving up on database src" "$T/src-down.err" || ss_fail "no clear error: $(cat "$T/src-down.err")"

cat >"$T/dst-down.ini" <<EOF2
[shadowsync]
journal_dir = $T/j2
[database src]
driver = odbc
dsn = Driver=SQLite3;Database=$T/src.db
[database ok]
driver = odbc
dsn = Driver=SQLite3;Database=$T/ok.db
[database down]
driver = postgres
dsn = host=127.0.0.1 port=1 dbname=x user=u
connect_timeout = 2s
[job j]
source = src
targets = ok, down
tables = main.t
EOF2
"$BIN" install -c "$T/dst-down.ini" >/dev/null 2>&1 || ss_fail "install on SQLite failed"
sqlite3 "$T/src.db" "INSERT INTO t VALUES (1, 'a'), (2, 'b')"
rc=0
start=$SECONDS
timeout 60 "$BIN" run -c "$T/dst-down.ini" --once 2>"$T/dst-down.err" || rc=$?
[ $rc != 0 ] && [ $rc != 124 ] || ss_fail "unreachable target: exit $rc (124: it hung)"
[ $((SECONDS - start)) -le 20 ] || ss_fail "unreachable target: took $((SECONDS - start)) s"
grep -q "giving up on target down" "$T/dst-down.err" || ss_fail "no clear error: $(cat "$T/dst-down.err")"
ss_assert_eq 2 "$(sqlite3 "$T/ok.db" 'SELECT count(*) FROM t')" "the reachable target's rows"
ss_pass
