#!/usr/bin/env bash
# needs: server
# shadowsync check between PostgreSQL and SQLite (through ODBC), in both
# directions.  SQLite has no MD5: its rows are hashed by canon.c, which must
# give byte for byte the text PostgreSQL's SQL gives.  A type matrix SQLite
# can hold (ints at min/max, doubles -0/1e-300/1e300/0.1+0.2/subnormals, a
# REAL-stored NUMERIC, boolean as 1/0, '' vs NULL, emoji/combining/RTL,
# backslashes and quotes, a BLOB with all 256 byte values, dates, times,
# timestamps as text with and without zone, JSON in another key order,
# UUIDs in capitals) loaded with SQL on each side is in sync (exit 0); then
# every kind of drift planted in the SQLite file is reported with key and
# column (exit 1), as target and as source.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

command -v sqlite3 >/dev/null || ss_fail "the sqlite3 shell is not installed (make deps)"
ss_pg_start PG
BIN=$(ss_bin)
T=$(ss_tmpdir)
DB=$T/lite.db
BLOB=$(for i in $(seq 0 255); do printf '%02x' "$i"; done)

ss_psql PG <<SQL
CREATE TABLE sm (id bigint PRIMARY KEY, i8 bigint, n numeric(20,6), d double precision,
  b boolean, t text, bn bytea, dt date, tm time, ts timestamp(3), tz timestamptz, j jsonb, u uuid);
INSERT INTO sm VALUES
 (1, -9223372036854775808, 1.5, '-0', true, '', '\\x', '2024-02-29', '00:00:00',
  '2024-01-01 00:00:00.123', '2024-01-01 10:00:00+00', '{}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
 (2, 9223372036854775807, 0.000001, 1e-300, false, NULL, '\\x$BLOB', '1970-01-01', '23:59:59.5',
  '1999-12-31 23:59:59.999', '2024-06-30 23:30:00.25-02:00', '{"b": 1, "a": [1, 2.50, "x"]}', NULL),
 (3, 0, -12345.678901, 1e300, NULL, 'emoji 😀 combining é RTL שלום', NULL, NULL, NULL, NULL, NULL,
  'null', NULL),
 (4, NULL, NULL, 0.30000000000000004, true, 'back\\slash ''quote" ;', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (5, 1, 0, 4.9406564584124654e-324, false, E'tab\\there\\nnewline', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (6, 2, NULL, -1.2345678901234567e-300, true, 'N', NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO sm (id, t, d, n) SELECT g, 'row ' || g, g * 1.1, g * 0.25 FROM generate_series(100, 5099) g;
SQL

sqlite3 "$DB" <<SQL
CREATE TABLE sm (id INTEGER PRIMARY KEY, i8 BIGINT, n NUMERIC(20,6), d DOUBLE PRECISION,
  b BOOLEAN, t TEXT, bn BLOB, dt DATE, tm TIME, ts TIMESTAMP(3), tz TIMESTAMP WITH TIME ZONE,
  j JSON, u UUID);
INSERT INTO sm VALUES
 (1, -9223372036854775808, 1.5, 0.0, 1, '', X'', '2024-02-29', '00:00:00',
  '2024-01-01 00:00:00.123', '2024-01-01T10:00:00Z', '{}', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'),
 (2, 9223372036854775807, 0.000001, 1e-300, 0, NULL, X'$BLOB', '1970-01-01', '23:59:59.5',
  '1999-12-31 23:59:59.999', '2024-07-01 01:30:00.25+00:00', '{"a":[1,2.50,"x"],"b":1}', NULL),
 (3, 0, -12345.678901, 1e300, NULL, 'emoji 😀 combining é RTL שלום', NULL, NULL, NULL, NULL, NULL,
  'null', NULL),
 (4, NULL, NULL, 0.30000000000000004, 1, 'back\\slash ''quote" ;', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (5, 1, 0, 0, 0, 'tab' || char(9) || 'here' || char(10) || 'newline', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (6, 2, NULL, -1.2345678901234567e-300, 1, 'N', NULL, NULL, NULL, NULL, NULL, NULL, NULL);
-- the smallest subnormal (the shell's decimal parser misses it): DBL_MIN / 2^52
UPDATE sm SET d = 2.2250738585072014e-308 / 4503599627370496.0 WHERE id = 5;
WITH RECURSIVE g(x) AS (SELECT 100 UNION ALL SELECT x + 1 FROM g WHERE x < 5099)
INSERT INTO sm (id, t, d, n) SELECT x, 'row ' || x, x * 1.1, x * 0.25 FROM g;
SQL

config()
{ # config FROM TO TABLE
	cat <<EOF
[shadowsync]
journal_dir = $T/journal
[database pg]
driver = postgres
dsn = $PG_DSN
[database lite]
driver = odbc
dsn = Driver=SQLite3;Database=$DB
[job s]
source = $1
targets = $2
tables = $3
EOF
}
config pg lite public.sm >"$T/pg-lite.ini"
config lite pg main.sm >"$T/lite-pg.ini"

for cfg in pg-lite lite-pg; do
	rc=0
	"$BIN" check -c "$T/$cfg.ini" --min-age 0 --chunk-rows 1500 >"$T/out" 2>&1 || rc=$?
	ss_assert_eq 0 "$rc" "identical tables ($cfg): $(cat "$T/out")"
	grep -q "in sync: 5006 rows (target 5006), 4 chunks" "$T/out" || ss_fail "$cfg: $(cat "$T/out")"
	grep -q "note: lite: rows are hashed by shadowsync (the database has no MD5)" "$T/out" ||
		ss_fail "$cfg: no client-side note"
done

sqlite3 "$DB" <<'SQL'
DELETE FROM sm WHERE id = 3000;
INSERT INTO sm (id, t) VALUES (77777, 'extra');
UPDATE sm SET t = 'changed' WHERE id = 4000;
UPDATE sm SET t = '' WHERE id = 2;
UPDATE sm SET t = NULL WHERE id = 1;
UPDATE sm SET ts = '1999-12-31 23:59:59.998' WHERE id = 2;
UPDATE sm SET bn = substr(bn, 1, 100) || X'00' || substr(bn, 102) WHERE id = 2;
UPDATE sm SET d = 1e300 * 1.0000000001 WHERE id = 3;
SQL
for cfg in pg-lite lite-pg; do
	rc=0
	"$BIN" check -c "$T/$cfg.ini" --min-age 0 --chunk-rows 1500 >"$T/out" 2>"$T/err" || rc=$?
	ss_assert_eq 1 "$rc" "$cfg: drift exit status ($(cat "$T/err"))"
	grep -q "1 missing, 1 extra, 4 different" "$T/out" || ss_fail "$cfg: counts: $(cat "$T/out")"
	if [ $cfg = pg-lite ]; then
		miss=3000 extra=77777
		pair() { echo "'$1' -> '$2'"; }
	else
		miss=77777 extra=3000
		pair() { echo "'$2' -> '$1'"; }
	fi
	for want in "missing   id='$miss'" "extra     id='$extra'" \
		"different id='4000': t: $(pair 'row 4000' changed)"; do
		grep -qF -- "$want" "$T/out" || ss_fail "$cfg: report lacks \"$want\": $(cat "$T/out")"
	done
	grep -qF "different id='1': t: " "$T/out" || ss_fail "$cfg: '' vs NULL: $(cat "$T/out")"
	grep -q "different id='3': d: .*'1e+300'" "$T/out" || ss_fail "$cfg: double: $(cat "$T/out")"
	grep -q "different id='2': t: .*; bn: .*; ts: '1999-12-31 23:59:59.99[89]' -> '1999-12-31 23:59:59.99[89]'" \
		"$T/out" || ss_fail "$cfg: NULL vs '', blob byte, fraction: $(cat "$T/out")"
done
ss_pass
