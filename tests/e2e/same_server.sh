#!/usr/bin/env bash
# needs: server
# Source and target in one database server: a MariaDB server holding the
# databases src and dst, a PostgreSQL database holding both schemas.  The
# target table is the target's own (its default schema, or target_table):
# rows reach dst.t, src.t is left as the application wrote it, and `check`
# compares src.t with dst.t (a row deleted from dst.t is drift).  A job whose
# target table would be the source table itself (the target's dsn naming the
# source's database; no such table in the target's database, so the lookup
# would fall back to the source's schema name; a PostgreSQL target on the
# source's database without target_table) is refused by `run --once` and by
# `check`, naming the table.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

ss_maria_start M
ss_pg_start PG
BIN=$(ss_bin)
T=$(ss_tmpdir)
MDSN="host=127.0.0.1 port=$M_PORT user=root"
PDSN="host=127.0.0.1 port=$PG_PORT user=postgres dbname=shop"

ss_maria M -e "CREATE DATABASE src; CREATE DATABASE dst;
	CREATE TABLE src.t (id INT PRIMARY KEY, v VARCHAR(20));
	CREATE TABLE dst.t (id INT PRIMARY KEY, v VARCHAR(20));
	CREATE TABLE src.only_src (id INT PRIMARY KEY, v VARCHAR(20));"

# write_conf FILE JOB TABLES SRC_DRIVER SRC_DSN DST_DRIVER DST_DSN [EXTRA]
write_conf() {
	cat >"$1" <<EOF
[shadowsync]
journal_dir = $T/journal-$2
[database src]
driver = $4
dsn = $5
[database dst]
driver = $6
dsn = $7
[job $2]
source = src
targets = dst
tables = $3
poll_interval = 100ms
${8:-}
EOF
}
maria_rows() { ss_maria M -e "SELECT id, v FROM $1 ORDER BY id" | tr '\t\n' ' ;'; }

# ---- MariaDB: databases src and dst on one server ---------------------------
write_conf "$T/m.ini" j t mariadb "$MDSN dbname=src" mariadb "$MDSN dbname=dst"
"$BIN" install -c "$T/m.ini" 2>"$T/install.log" || { cat "$T/install.log"; ss_fail "install failed"; }
ss_maria M -e "INSERT INTO src.t VALUES (1, 'one'), (2, 'two'), (3, 'three');
	UPDATE src.t SET v = 'TWO' WHERE id = 2; DELETE FROM src.t WHERE id = 3;"
want='1 one;2 TWO;'
timeout 60 "$BIN" run -c "$T/m.ini" --once 2>"$T/run.log" ||
	{ cat "$T/run.log"; ss_fail "run --once (MariaDB src -> dst) failed or never ended"; }
ss_assert_eq "$want" "$(maria_rows dst.t)" "dst.t after run --once"
ss_assert_eq "$want" "$(maria_rows src.t)" "src.t after run --once (written by the application only)"
ss_assert_eq 0 "$(ss_maria M -e 'SELECT count(*) FROM shadowsync.log_j')" "shadow rows left in src"
"$BIN" check -c "$T/m.ini" >"$T/check.out" 2>&1 || { cat "$T/check.out"; ss_fail "check src.t vs dst.t: not in sync"; }
ss_maria M -e "DELETE FROM dst.t WHERE id = 1"
rc=0
"$BIN" check -c "$T/m.ini" >"$T/check2.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat "$T/check2.out"; ss_fail "check after deleting a row of dst.t: exit $rc, wanted 1 (drift)"; }

# refused: the target's dsn names the source's database
refused() { # what CONF TABLE
	local rc=0
	timeout 60 "$BIN" run -c "$2" --once >"$T/refused.log" 2>&1 || rc=$?
	[ "$rc" != 0 ] && [ "$rc" != 124 ] || { cat "$T/refused.log"; ss_fail "$1: run --once exit $rc, wanted a refusal"; }
	grep -q "$3.*source table itself" "$T/refused.log" ||
		{ cat "$T/refused.log"; ss_fail "$1: run --once did not say the target table is the source table"; }
	rc=0
	"$BIN" check -c "$2" >"$T/refused.out" 2>&1 || rc=$?
	[ "$rc" = 2 ] && grep -q "$3.*source table itself" "$T/refused.out" ||
		{ cat "$T/refused.out"; ss_fail "$1: check exit $rc, wanted 2 naming the table"; }
}
write_conf "$T/m2.ini" k src.t mariadb "$MDSN dbname=src" mariadb "$MDSN dbname=src"
"$BIN" install -c "$T/m2.ini" 2>/dev/null || ss_fail "install of job k failed"
ss_maria M -e "INSERT INTO src.t VALUES (10, 'ten')"
refused "MariaDB target dbname=src" "$T/m2.ini" "src\.t"
# refused: dst has no table only_src, and the lookup must not fall back onto src's
write_conf "$T/m3.ini" l only_src mariadb "$MDSN dbname=src" mariadb "$MDSN dbname=dst"
"$BIN" install -c "$T/m3.ini" 2>/dev/null || ss_fail "install of job l failed"
ss_maria M -e "INSERT INTO src.only_src VALUES (1, 'x')"
refused "MariaDB table missing in dst" "$T/m3.ini" "src\.only_src"
ss_assert_eq "1 x;" "$(maria_rows src.only_src)" "src.only_src untouched"

# ---- PostgreSQL: two schemas of one database --------------------------------
ss_pg_createdb PG shop
ss_psql PG -d shop -c "CREATE TABLE public.t (id int PRIMARY KEY, v text);
	CREATE SCHEMA copy; CREATE TABLE copy.t (id int PRIMARY KEY, v text);"
write_conf "$T/p.ini" p public.t postgres "$PDSN" postgres "$PDSN" "[job p table public.t]
target_table = copy.t"
"$BIN" install -c "$T/p.ini" 2>"$T/install.log" || { cat "$T/install.log"; ss_fail "PostgreSQL install failed"; }
ss_psql PG -d shop -c "INSERT INTO public.t VALUES (1, 'one'), (2, 'two'); UPDATE public.t SET v = 'ONE' WHERE id = 1"
timeout 60 "$BIN" run -c "$T/p.ini" --once 2>"$T/prun.log" ||
	{ cat "$T/prun.log"; ss_fail "run --once (public.t -> copy.t) failed or never ended"; }
ss_assert_eq "1 ONE;2 two;" "$(ss_psql PG -d shop -F ' ' -c 'SELECT id, v FROM copy.t ORDER BY id' | tr '\n' ';')" \
	"copy.t after run --once"
"$BIN" check -c "$T/p.ini" >"$T/pcheck.out" 2>&1 || { cat "$T/pcheck.out"; ss_fail "check public.t vs copy.t"; }
ss_psql PG -d shop -c "DELETE FROM copy.t WHERE id = 2"
rc=0
"$BIN" check -c "$T/p.ini" >"$T/pcheck2.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat "$T/pcheck2.out"; ss_fail "check after deleting a row of copy.t: exit $rc, wanted 1"; }
# without target_table the target table would be public.t itself
write_conf "$T/p2.ini" q public.t postgres "$PDSN" postgres "$PDSN"
"$BIN" install -c "$T/p2.ini" 2>/dev/null || ss_fail "install of job q failed"
ss_psql PG -d shop -c "INSERT INTO public.t VALUES (3, 'three')"
refused "PostgreSQL target on the source's database" "$T/p2.ini" "public\.t"
ss_assert_eq 3 "$(ss_psql PG -d shop -c 'SELECT count(*) FROM public.t')" "public.t rows"
ss_pass
