#!/usr/bin/env bash
# needs: server
# Key changes one statement makes at once replicate exactly: under a
# DEFERRABLE primary key a swap (id = 3 - id) and a shift of every row
# (id = id + 1, id = id - 1) move rows onto keys other rows held at the
# start of the statement.  Per-row capture wrote D1 U2 D2 U1 for the swap
# and the delete of key 2 undid the row just moved there.  Also a
# composite key rotation, a shift of 200 rows (the COPY path), a swap
# mixed with value changes, and moves across statements of one transaction.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jobs.sh"

ss_pg_start SRC
ss_pg_start DST
BIN=$(ss_bin)
T=$(ss_tmpdir)

ss_psql SRC -c "CREATE TABLE t (id int, v text, CONSTRAINT t_pk PRIMARY KEY (id) DEFERRABLE);
  CREATE TABLE c (a int, b text, v int, CONSTRAINT c_pk PRIMARY KEY (a, b) DEFERRABLE INITIALLY DEFERRED);
  CREATE TABLE big (id int, v text, CONSTRAINT big_pk PRIMARY KEY (id) DEFERRABLE)"
ss_psql DST -c "CREATE TABLE t (id int PRIMARY KEY, v text);
  CREATE TABLE c (a int, b text, v int, PRIMARY KEY (a, b));
  CREATE TABLE big (id int PRIMARY KEY, v text)"

ss_write_job "$T/ss.ini" "$T/journal" "public.t, public.c, public.big" postgres "$SRC_DSN" postgres "$DST_DSN"
"$BIN" install -c "$T/ss.ini"

check()
{
	local what=$1 q
	timeout 120 "$BIN" run -c "$T/ss.ini" --once 2>>"$T/run.log" || { cat "$T/run.log"; ss_fail "run --once failed ($what)"; }
	for q in "SELECT * FROM t ORDER BY id" "SELECT * FROM c ORDER BY a, b" "SELECT * FROM big ORDER BY id"; do
		ss_assert_eq "$(ss_psql SRC -c "$q")" "$(ss_psql DST -c "$q")" "$what: $q"
	done
}

ss_psql SRC -c "INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three');
  INSERT INTO c VALUES (1, 'x', 10), (2, 'y', 20), (3, 'z', 30);
  INSERT INTO big SELECT g, 'r' || g FROM generate_series(1, 200) g"
check "initial rows"

ss_psql SRC -c "UPDATE t SET id = 3 - id WHERE id IN (1, 2)"
check "swap of keys 1 and 2"

ss_psql SRC -c "UPDATE t SET id = id + 1"
check "shift of every key up"

ss_psql SRC -c "UPDATE t SET id = id - 1"
check "shift of every key down"

ss_psql SRC -c "UPDATE c SET a = a % 3 + 1, v = v + 1"
check "rotation of a composite key with value changes"

ss_psql SRC -c "UPDATE big SET id = id + 1; UPDATE big SET id = 202 - id, v = v || '!'"
check "200 rows shifted, then reversed (COPY path)"

ss_psql SRC <<'SQL'
BEGIN;
UPDATE t SET id = 3 - id WHERE id IN (1, 2);
UPDATE t SET id = id + 10;
DELETE FROM t WHERE id = 11;
INSERT INTO t VALUES (11, 'again');
UPDATE t SET id = 3 - id WHERE id IN (1, 2);
COMMIT;
SQL
check "moves across the statements of one transaction"

# A statement that changes nothing wakes nobody and writes no shadow row.
ss_psql SRC -c "UPDATE t SET v = v WHERE false; DELETE FROM t WHERE false"
ss_assert_eq 0 "$(ss_psql SRC -c 'SELECT count(*) FROM shadowsync.log_j')" "no shadow row for an empty statement"
ss_pass
