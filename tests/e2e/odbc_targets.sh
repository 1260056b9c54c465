#!/usr/bin/env bash
# needs: server
# SQLite (through ODBC) -> three targets at once: PostgreSQL with the native
# driver, PostgreSQL through psqlodbc, MariaDB through MariaDB Connector/ODBC.
# The ODBC connections pick their flavour from SQL_DBMS_NAME and introspect
# the targets (information_schema / pg_catalog: a target column the source
# lacks is left alone, a generated column is skipped); 1000 rows in one
# transaction, multi-row updates and deletes, key-changing updates, NULL vs
# '', unicode, all 256 byte values, 1 MB values (24 MB in one transaction,
# more than MariaDB takes in one packet), exact doubles, composite keys with
# a space in a column name; every target equals the source row by row.
# Then a value a target cannot hold (Infinity for MariaDB) stops that target
# alone with the table, column and key named, and the password given through
# password_env never shows.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

command -v sqlite3 >/dev/null || ss_fail "the sqlite3 shell is not installed (make deps)"
ss_pg_start PG
ss_maria_start MDB
BIN=$(ss_bin)
T=$(ss_tmpdir)
SRC=$T/src.db
ss_pg_createdb PG native
ss_pg_createdb PG viaodbc
ss_psql PG -c "ALTER USER postgres PASSWORD 'pg-Secret-42'"

sqlite3 "$SRC" <<'SQL'
CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, price NUMERIC(12,2),
    r REAL, data BLOB, flag BOOLEAN, doc JSON, at TIMESTAMP);
CREATE TABLE pairs (a INTEGER, "b b" TEXT, v DOUBLE, PRIMARY KEY (a, "b b"));
SQL
PG_SCHEMA='CREATE TABLE items (id bigint PRIMARY KEY, name text, qty int, price numeric(12,2),
    r double precision, data bytea, flag boolean, doc jsonb, at timestamp, extra text DEFAULT $$kept$$,
    twice bigint GENERATED ALWAYS AS (qty * 2) STORED);
  CREATE TABLE pairs (a int, "b b" text, v double precision, PRIMARY KEY (a, "b b"));'
ss_psql PG -d native -c "$PG_SCHEMA"
ss_psql PG -d viaodbc -c "$PG_SCHEMA"
ss_maria MDB -e 'CREATE TABLE items (id BIGINT PRIMARY KEY, name LONGTEXT, qty INT, price DECIMAL(12,2),
    r DOUBLE, data LONGBLOB, flag BOOLEAN, doc JSON, at DATETIME(6), extra VARCHAR(10) DEFAULT "kept",
    twice BIGINT AS (qty * 2) VIRTUAL) DEFAULT CHARSET = utf8mb4;
  CREATE TABLE pairs (a INT, `b b` VARCHAR(100), v DOUBLE, PRIMARY KEY (a, `b b`)) DEFAULT CHARSET = utf8mb4;'

export SS_PG_PASSWORD='pg-Secret-42'
# The drivers as installed, but without psqlodbc's communication log
# (Debian's odbcinst.ini turns it on: a /tmp/psqlodbc_*.log per process).
sed 's/^CommLog *= *1/CommLog=0/' /etc/odbcinst.ini >"$T/odbcinst.ini"
: >"$T/odbc.ini"
export ODBCSYSINI=$T
cat >"$T/ss.ini" <<EOF
[shadowsync]
journal_dir = $T/journal
[database src]
driver = odbc
dsn = Driver=SQLite3;Database=$SRC
[database pg_native]
driver = postgres
dsn = host=127.0.0.1 port=$PG_PORT dbname=native user=postgres
[database pg_odbc]
driver = odbc
dsn = Driver=PostgreSQL Unicode;Server=127.0.0.1;Port=$PG_PORT;Database=viaodbc;Uid=postgres
password_env = SS_PG_PASSWORD
[database maria_odbc]
driver = odbc
dsn = Driver=MariaDB Unicode;Server=127.0.0.1;Port=$MDB_PORT;Database=test;Uid=root
[job j]
source = src
targets = pg_native, pg_odbc, maria_odbc
tables = main.items, main.pairs
poll_interval = 100ms
batch_rows = 400
EOF
"$BIN" install -c "$T/ss.ini" 2>/dev/null || ss_fail "install failed"

all_bytes=$(for i in $(seq 0 255); do printf '%02X' "$i"; done)
sqlite3 "$SRC" <<SQL
BEGIN;
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 1000)
INSERT INTO items SELECT n, 'item ' || n, n % 7, n * 1.25, n / 7.0, CAST(printf('%08x', n) AS BLOB),
       n % 2, json_object('g', n), '2026-01-01 00:' || printf('%02d:%02d', n / 60 % 60, n % 60) FROM g;
COMMIT;
UPDATE items SET qty = qty + 1 WHERE id % 3 = 0;
DELETE FROM items WHERE id BETWEEN 100 AND 150;
UPDATE items SET id = id + 100000 WHERE id BETWEEN 10 AND 19;
UPDATE items SET id = 120 WHERE id = 200;
INSERT INTO items (id, name, doc, data) VALUES (5001, NULL, NULL, x''), (5002, '', '[]', NULL),
       (5003, 'emoji 😀 é ש ☃ ß', '{"k": "ü"}', x'$all_bytes');
INSERT INTO items (id, name, data) VALUES (5004, printf('%.*c', 1048576, 'y') || 'é', zeroblob(1048576));
-- 24 MB in one transaction: more than MariaDB's 16 MB max_allowed_packet
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 12)
INSERT INTO items (id, name, data) SELECT 7000 + n, printf('%.*c', 1048576, char(64 + n)),
       CAST(printf('%.*c', 1048576, char(96 + n)) AS BLOB) FROM g;
INSERT INTO items (id, r) VALUES (6001, 0.1), (6002, 1.0 / 3), (6003, 1e300), (6004, 4.9406564584124654e-324),
       (6005, 1.7976931348623157e308), (6006, -2.2250738585072014e-308);
BEGIN;
UPDATE items SET name = 'first' WHERE id = 1;
DELETE FROM items WHERE id = 2;
INSERT INTO items (id, name) VALUES (2, 'reborn');
COMMIT;
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 50)
INSERT INTO pairs SELECT n, 'k ' || n, n / 3.0 FROM g;
UPDATE pairs SET "b b" = "b b" || 'x' WHERE a <= 5;
DELETE FROM pairs WHERE a BETWEEN 40 AND 45;
SQL

timeout 180 "$BIN" run -c "$T/ss.ini" --once 2>"$T/run.log" || { cat "$T/run.log"; ss_fail "run --once failed"; }

# One canonical line per row, the same text from every engine: NULL as \N,
# bytes as upper-case hex, price in cents, doubles by exact comparison with
# the value the source computed, timestamps to the second.
q_sqlite="SELECT id || '|' || coalesce(name, '\\N') || '|' || coalesce(qty, '\\N') || '|' ||
    coalesce(CAST(round(price * 100) AS INTEGER), '\\N') || '|' || CASE WHEN data IS NULL THEN '\\N' ELSE hex(data) END ||
    '|' || coalesce(flag, '\\N') || '|' || coalesce(json_extract(doc, '\$.g'), json_extract(doc, '\$.k'), '\\N') ||
    '|' || coalesce(at, '\\N') FROM items ORDER BY id"
q_pg="SELECT id || '|' || coalesce(name, '\\N') || '|' || coalesce(qty::text, '\\N') || '|' ||
    coalesce(round(price * 100)::bigint::text, '\\N') || '|' || coalesce(upper(encode(data, 'hex')), '\\N') ||
    '|' || coalesce(flag::int::text, '\\N') || '|' || coalesce(doc->>'g', doc->>'k', '\\N') ||
    '|' || coalesce(to_char(at, 'YYYY-MM-DD HH24:MI:SS'), '\\N') FROM items ORDER BY id"
q_my="SELECT CONCAT_WS('|', id, coalesce(name, '\\\\N'), coalesce(qty, '\\\\N'),
    coalesce(CAST(round(price * 100) AS SIGNED), '\\\\N'), coalesce(HEX(data), '\\\\N'), coalesce(flag, '\\\\N'),
    coalesce(JSON_VALUE(doc, '\$.g'), JSON_VALUE(doc, '\$.k'), '\\\\N'),
    coalesce(DATE_FORMAT(at, '%Y-%m-%d %H:%i:%s'), '\\\\N')) FROM items ORDER BY id"
# Compare a target's rows with the source's; on a difference show the first
# differing lines (cut to 200 characters).
same_rows() {
	local what=$1 got=$2
	if ! cmp -s "$T/src.rows" "$got"; then
		diff "$T/src.rows" "$got" | cut -c1-200 | head -n 10 >&2
		ss_fail "$what differ from the source"
	fi
}
sqlite3 "$SRC" "$q_sqlite" >"$T/src.rows"
ss_assert_eq 971 "$(wc -l <"$T/src.rows")" "source rows"
ss_psql PG -d native -c "$q_pg" >"$T/pg_native.rows"
same_rows "PostgreSQL (native) items" "$T/pg_native.rows"
ss_psql PG -d viaodbc -c "$q_pg" >"$T/pg_odbc.rows"
same_rows "PostgreSQL (ODBC) items" "$T/pg_odbc.rows"
ss_maria MDB -r --default-character-set=utf8mb4 -e "$q_my" >"$T/maria_odbc.rows"
same_rows "MariaDB (ODBC) items" "$T/maria_odbc.rows"

# Doubles exact: every r equals what the source computed.
# (rows whose key changed keep the r of their first key)
first="(CASE WHEN id > 100000 THEN id - 100000 WHEN id = 120 THEN 200 ELSE id END)"
r_pg="SELECT count(*) FROM items WHERE r = $first / 7.0::float8 OR (id = 6001 AND r = 0.1::float8)
    OR (id = 6002 AND r = 1 / 3.0::float8) OR (id = 6003 AND r = 1e300::float8)
    OR (id = 6004 AND r = 4.9406564584124654e-324::float8) OR (id = 6005 AND r = 1.7976931348623157e308::float8)
    OR (id = 6006 AND r = -2.2250738585072014e-308::float8)"
r_my="SELECT count(*) FROM items WHERE r = $first / 7e0 OR (id = 6001 AND r = 0.1e0) OR (id = 6002 AND r = 1 / 3e0)
    OR (id = 6003 AND r = 1e300) OR (id = 6004 AND r = 4.9406564584124654e-324)
    OR (id = 6005 AND r = 1.7976931348623157e308) OR (id = 6006 AND r = -2.2250738585072014e-308)"
r_n=$(sqlite3 "$SRC" "SELECT count(*) FROM items WHERE r IS NOT NULL")
ss_assert_eq "$r_n" "$(ss_psql PG -d native -c "$r_pg")" "PostgreSQL (native) doubles"
ss_assert_eq "$r_n" "$(ss_psql PG -d viaodbc -c "$r_pg")" "PostgreSQL (ODBC) doubles"
ss_assert_eq "$r_n" "$(ss_maria MDB -e "$r_my")" "MariaDB (ODBC) doubles"

# Composite keys with a space in a column name.
md5() { md5sum | cut -c1-32; }
p_src=$(sqlite3 "$SRC" "SELECT a || '|' || \"b b\" || '|' || (v = a / 3.0) FROM pairs ORDER BY a" | md5)
ss_assert_eq "$p_src" "$(ss_psql PG -d native -c "SELECT a || '|' || \"b b\" || '|' || (v = a / 3.0::float8)::int FROM pairs ORDER BY a" | md5)" \
	"PostgreSQL (native) pairs"
ss_assert_eq "$p_src" "$(ss_psql PG -d viaodbc -c "SELECT a || '|' || \"b b\" || '|' || (v = a / 3.0::float8)::int FROM pairs ORDER BY a" | md5)" \
	"PostgreSQL (ODBC) pairs"
ss_assert_eq "$p_src" "$(ss_maria MDB -e 'SELECT CONCAT_WS("|", a, `b b`, v = a / 3e0) FROM pairs ORDER BY a' | md5)" \
	"MariaDB (ODBC) pairs"

# Target-only columns are left alone; generated columns are computed there.
ss_assert_eq "kept|2" "$(ss_psql PG -d viaodbc -F'|' -c 'SELECT extra, twice FROM items WHERE id = 1')" \
	"PostgreSQL (ODBC) target-only and generated columns"
ss_assert_eq "kept	2" "$(ss_maria MDB -e 'SELECT extra, twice FROM items WHERE id = 1')" \
	"MariaDB (ODBC) target-only and generated columns"

# Positions: in shadowsync.applied_position on PostgreSQL (either driver) and
# MariaDB, the same as the native dialects use.
pos=$(ss_psql PG -d native -c "SELECT pos FROM shadowsync.applied_position WHERE job = 'j'")
[ "${pos:-0}" -gt 0 ] || ss_fail "no position on the native PostgreSQL target"
ss_assert_eq "$pos" "$(ss_psql PG -d viaodbc -c "SELECT pos FROM shadowsync.applied_position WHERE job = 'j'")" \
	"PostgreSQL (ODBC) position"
ss_assert_eq "$pos" "$(ss_maria MDB -e "SELECT pos FROM shadowsync.applied_position WHERE job = 'j'")" \
	"MariaDB (ODBC) position"

# Capture through ODBC is SQLite's alone.
sed -e 's/^source = src/source = pg_odbc/' -e 's/^targets = .*/targets = src/' \
	-e 's/^tables = .*/tables = public.items/' "$T/ss.ini" >"$T/pgsrc.ini"
if "$BIN" install -c "$T/pgsrc.ini" 2>"$T/pgsrc.err"; then
	ss_fail "capture install through psqlodbc succeeded"
fi
grep -q 'use driver = postgres for a capture source' "$T/pgsrc.err" ||
	ss_fail "unclear refusal: $(cat "$T/pgsrc.err")"

# A value MariaDB cannot hold stops MariaDB alone, naming table, column, key.
sqlite3 "$SRC" "UPDATE items SET r = 9e999 WHERE id = 7; UPDATE items SET name = 'after' WHERE id = 8;"
if timeout 120 "$BIN" run -c "$T/ss.ini" --once 2>"$T/run2.log"; then
	ss_fail "run --once succeeded although MariaDB cannot store Infinity"
fi
grep -q 'maria_odbc.*items.*id=7.*column r: MariaDB cannot store Infinity' "$T/run2.log" ||
	ss_fail "unclear error: $(grep -i error "$T/run2.log")"
ss_assert_eq "Infinity|after" "$(ss_psql PG -d viaodbc -F'|' -c "SELECT (SELECT r FROM items WHERE id = 7), (SELECT name FROM items WHERE id = 8)")" \
	"the ODBC PostgreSQL target went on"
ss_assert_eq "Infinity|after" "$(ss_psql PG -d native -F'|' -c "SELECT (SELECT r FROM items WHERE id = 7), (SELECT name FROM items WHERE id = 8)")" \
	"the native PostgreSQL target went on"
ss_assert_eq "item 8" "$(ss_maria MDB -e 'SELECT name FROM items WHERE id = 8')" \
	"MariaDB stopped before the change it cannot hold"
if grep -q 'pg-Secret-42' "$T/run.log" "$T/run2.log" "$T/pgsrc.err"; then
	ss_fail "the password appeared in the output"
fi

ss_pass
