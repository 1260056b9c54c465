#!/usr/bin/env bash
# needs: server
# shadowsync check between PostgreSQL and MariaDB, in both directions.  The
# same type matrix loaded on each side with SQL (ints at min/max,
# numeric(38,10) / DECIMAL(38,10), doubles -0/1e-300/1e300/0.1+0.2, real /
# FLOAT, boolean / TINYINT(1), '' vs NULL, emoji/combining/RTL text,
# backslashes and quotes, bytea / LONGBLOB with all 256 byte values, date,
# TIME(6), timestamp / DATETIME(6), timestamptz / TIMESTAMP(6),
# timestamp(3) / DATETIME(3), jsonb / JSON in another key order and spacing,
# uuid / UUID) plus 3000 pseudo-random doubles over the whole exponent range:
# in sync (exit 0), with both sides hashed in SQL (JSON left out) and with
# the JSON column (hashed by canon.c on the MariaDB side).  Then drift of
# every kind planted on the target is reported with key and column (exit 1),
# PostgreSQL -> MariaDB and MariaDB -> PostgreSQL.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

ss_pg_start PG
ss_maria_start MDB
BIN=$(ss_bin)
T=$(ss_tmpdir)
my() { ss_maria MDB --default-character-set=utf8mb4 "$@"; }

BLOB=$(for i in $(seq 0 255); do printf '%02x' "$i"; done)

ss_psql PG <<SQL
CREATE TABLE xm (id int PRIMARY KEY, i2 smallint, i4 int, i8 bigint, n numeric(38,10),
  d double precision, r real, b boolean, t text, vc varchar(50), bn bytea, dt date, tm time(6),
  ts timestamp(6), tz timestamptz(6), ts3 timestamp(3), j jsonb, u uuid);
INSERT INTO xm VALUES
 (1, -32768, -2147483648, -9223372036854775808, -9999999999999999999999999999.9999999999, '-0', '-0',
  true, '', 'a', '\x', '1000-01-01', '00:00:00', '1000-01-01 00:00:00', '1970-01-02 00:00:00+00',
  '2024-01-01 00:00:00.123', '{}', '00000000-0000-0000-0000-000000000000'),
 (2, 32767, 2147483647, 9223372036854775807, 9999999999999999999999999999.9999999999, 1e-300,
  1.234565, false, NULL, NULL, NULL, '9999-12-31', '23:59:59.999999', '2024-02-29 12:34:56.789012',
  '2024-02-29 12:34:56.789012+05:30', '2024-02-29 12:34:56.789',
  '{"b": 1, "a": [1, 2.50, "x"], "c": {"z": null}}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
 (3, 0, 0, 0, 0, 1e300, 3.4e38, NULL, 'emoji 😀 combining é RTL שלום', 'back\\slash ''quote" ',
  '\\x$BLOB', NULL, '12:00:00.5', '2000-01-01 00:00:00.000001', '2000-01-01 00:00:00.000001-08',
  NULL, 'null', NULL),
 (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'N', 's0:', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (5, 1, 1, 1, 1.5, 0.30000000000000004, 1e-40, true, E'tab\\there\\nnewline\\\\', ';', NULL,
  '2024-01-01', NULL, NULL, NULL, NULL, '[1.5e-3, -0, 10, "\\u00e9"]', NULL),
 (6, 2, 2, 2, 0.0000000001, -1.2345678901234567e-300, -3.14159, false, 'x', 'y', NULL, NULL, NULL,
  NULL, NULL, NULL, '{"aa":1,"b":2}', NULL),
 (7, 3, 3, 3, 1, 123456789012345678, 16777217, true, 'z', 'z', NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL);
INSERT INTO xm (id, t, d, n) SELECT g, 'row ' || g, g * 1.1, g * 0.25 FROM generate_series(100, 9099) g;
SELECT setseed(0.42);
INSERT INTO xm (id, d) SELECT g, (random() - 0.5) * 10 ^ (floor(random() * 600) - 300)
  FROM generate_series(20000, 22999) g;
SQL

my <<SQL
SET time_zone = '+00:00';
CREATE TABLE xm (id int PRIMARY KEY, i2 smallint, i4 int, i8 bigint, n decimal(38,10), d double,
  r float, b boolean, t text, vc varchar(50), bn longblob, dt date, tm time(6), ts datetime(6),
  tz timestamp(6) NULL, ts3 datetime(3), j json, u uuid) DEFAULT CHARSET utf8mb4;
INSERT INTO xm VALUES
 (1, -32768, -2147483648, -9223372036854775808, -9999999999999999999999999999.9999999999, -0e0, -0e0,
  true, '', 'a', X'', '1000-01-01', '00:00:00', '1000-01-01 00:00:00', '1970-01-02 00:00:00',
  '2024-01-01 00:00:00.123', '{}', '00000000-0000-0000-0000-000000000000'),
 (2, 32767, 2147483647, 9223372036854775807, 9999999999999999999999999999.9999999999, 1e-300,
  1.234565, false, NULL, NULL, NULL, '9999-12-31', '23:59:59.999999', '2024-02-29 12:34:56.789012',
  '2024-02-29 07:04:56.789012', '2024-02-29 12:34:56.789',
  '{"c":{"z":null},"a":[1,2.50,"x"],"b":1}', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'),
 (3, 0, 0, 0, 0, 1e300, 3.4e38, NULL, 'emoji 😀 combining é RTL שלום', 'back\\\\slash ''quote" ',
  X'$BLOB', NULL, '12:00:00.5', '2000-01-01 00:00:00.000001', '2000-01-01 08:00:00.000001',
  NULL, 'null', NULL),
 (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'N', 's0:', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (5, 1, 1, 1, 1.5, 0.30000000000000004e0, 1e-40, true, 'tab\\there\\nnewline\\\\', ';', NULL,
  '2024-01-01', NULL, NULL, NULL, NULL, '[0.0015, 0, 1e1, "\\\\u00e9"]', NULL),
 (6, 2, 2, 2, 0.0000000001, -1.2345678901234567e-300, -3.14159, false, 'x', 'y', NULL, NULL, NULL,
  NULL, NULL, NULL, '{"b": 2, "aa": 1}', NULL),
 (7, 3, 3, 3, 1, 123456789012345678e0, 16777217, true, 'z', 'z', NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL);
INSERT INTO xm (id, t, d, n) SELECT seq, CONCAT('row ', seq), seq * 1.1, seq * 0.25 FROM seq_100_to_9099;
SQL
# the random doubles travel as PostgreSQL's shortest round-trip text
ss_psql PG -c "SELECT 'INSERT INTO xm (id, d) VALUES ' || string_agg(format('(%s, %s)', id, d), ', ') || ';'
               FROM xm WHERE id >= 20000" | my

ss_psql PG -c 'CREATE TABLE xm_orig (LIKE xm INCLUDING ALL); INSERT INTO xm_orig SELECT * FROM xm'

config()
{ # config FROM TO TABLE TARGET_TABLE [EXTRA]
	cat <<EOF
[shadowsync]
journal_dir = $T/journal
[database pg]
driver = postgres
dsn = $PG_DSN
[database maria]
driver = mariadb
dsn = $MDB_DSN
[job x]
source = $1
targets = $2
tables = $3
target_table = $4
${5:-}
EOF
}
config pg maria public.xm_orig xm "exclude_columns = j" >"$T/pg-my-sql.ini"
config pg maria public.xm_orig xm >"$T/pg-my.ini"
config maria pg test.xm public.xm "exclude_columns = j" >"$T/my-pg-sql.ini"
config maria pg test.xm public.xm >"$T/my-pg.ini"

for cfg in pg-my-sql pg-my my-pg-sql my-pg; do
	rc=0
	"$BIN" check -c "$T/$cfg.ini" --min-age 0 --chunk-rows 4000 >"$T/out" 2>&1 || rc=$?
	ss_assert_eq 0 "$rc" "identical tables ($cfg): $(cat "$T/out")"
	grep -q "in sync: 12007 rows (target 12007), 4 chunks" "$T/out" || ss_fail "$cfg: $(cat "$T/out")"
done
grep -q "note: maria: column j is hashed by shadowsync" "$T/out" || ss_fail "JSON: no client-side note"
SS_CHECK_CLIENT_HASH=both "$BIN" check -c "$T/pg-my.ini" --min-age 0 >"$T/out" 2>&1 ||
	ss_fail "both sides hashed by canon.c: $(cat "$T/out")"

# --- drift of every kind on the MariaDB copy ---
my <<'SQL'
DELETE FROM xm WHERE id = 4000;
INSERT INTO xm (id, t) VALUES (99999, 'extra');
UPDATE xm SET t = 'changed' WHERE id = 5000;
UPDATE xm SET vc = '' WHERE id = 2;
UPDATE xm SET t = NULL WHERE id = 1;
UPDATE xm SET ts = '2024-02-29 12:34:56.789013' WHERE id = 2;
UPDATE xm SET bn = CONCAT(LEFT(bn, 200), X'00', SUBSTRING(bn, 202)) WHERE id = 3;
UPDATE xm SET d = d * (1 + 1e-12) WHERE id = 21000;
SQL
check_drift()
{ # check_drift CFG: MariaDB holds the drift; it is the target (pg-*) or the source (my-*)
	local rc=0 missing=4000 extra=99999 flip=0
	case $1 in my-*) missing=99999 extra=4000 flip=1 ;; esac
	pair() # pair PG_VALUE MARIADB_VALUE (JSON): {"source":..,"target":..}
	{
		if [ $flip = 0 ]; then echo "{\"source\":$1,\"target\":$2}"; else echo "{\"source\":$2,\"target\":$1}"; fi
	}
	"$BIN" check -c "$T/$1.ini" --min-age 0 --chunk-rows 4000 --format json >"$T/out.json" \
		2>"$T/err" || rc=$?
	ss_assert_eq 1 "$rc" "$1: drift exit status ($(cat "$T/err"))"
	grep -q '"missing":1,"extra":1,"different":5' "$T/out.json" ||
		ss_fail "$1: counts: $(head -c 600 "$T/out.json")"
	for want in "{\"kind\":\"missing\",\"key\":{\"id\":\"$missing\"}" \
		"{\"kind\":\"extra\",\"key\":{\"id\":\"$extra\"}" \
		"{\"kind\":\"different\",\"key\":{\"id\":\"5000\"},\"columns\":{\"t\":$(pair '"row 5000"' '"changed"')}}" \
		"{\"kind\":\"different\",\"key\":{\"id\":\"1\"},\"columns\":{\"t\":$(pair '""' null)}}" \
		"\"key\":{\"id\":\"2\"},\"columns\":{\"vc\":$(pair null '""'),\"ts\":$(pair '"2024-02-29 12:34:56.789012"' '"2024-02-29 12:34:56.789013"')}}" \
		'{"kind":"different","key":{"id":"3"},"columns":{"bn":{' \
		'{"kind":"different","key":{"id":"21000"},"columns":{"d":'; do
		grep -qF -- "$want" "$T/out.json" || ss_fail "$1: report lacks $want: $(cat "$T/out.json")"
	done
}
for cfg in pg-my-sql pg-my my-pg-sql my-pg; do
	check_drift "$cfg"
done
# --- keys the two engines order differently (PostgreSQL's C collation vs
#     MariaDB's utf8mb4_general_ci): rows land in different chunks on the
#     two sides, yet nothing is reported but real drift ---
ss_psql PG -c "CREATE TABLE names (name varchar(40) PRIMARY KEY, v int);
  INSERT INTO names SELECT CASE WHEN g % 2 = 0 THEN 'W' ELSE 'w' END || g ||
         CASE WHEN g % 3 = 0 THEN 'x' ELSE 'Y' END, g FROM generate_series(1, 600) g;
  INSERT INTO names VALUES ('apple', 1), ('Banana', 2), ('_under', 3), ('Éclair', 4), ('zeta', 5),
         ('Zulu', 6), ('10', 7), ('9', 8), ('ärger', 9), ('', 10);"
my -e "CREATE TABLE names (name varchar(40) PRIMARY KEY, v int) DEFAULT CHARSET utf8mb4
       COLLATE utf8mb4_general_ci"
ss_psql PG -c "SELECT 'INSERT INTO names VALUES ' || string_agg(format('(%L, %s)', name, v), ', ') || ';'
               FROM names" | my
config pg maria public.names names >"$T/names.ini"
rc=0
"$BIN" check -c "$T/names.ini" --min-age 0 --chunk-rows 50 >"$T/out" 2>&1 || rc=$?
ss_assert_eq 0 "$rc" "keys in another order: $(cat "$T/out")"
grep -q "in sync: 610 rows (target 610), 13 chunks ([1-9][0-9]* differ)" "$T/out" ||
	ss_fail "the collations did not put rows in other chunks (test does not test): $(cat "$T/out")"
my -e "UPDATE names SET v = -1 WHERE name = 'Banana'; DELETE FROM names WHERE name = 'W100Y'"
rc=0
"$BIN" check -c "$T/names.ini" --min-age 0 --chunk-rows 50 >"$T/out" 2>&1 || rc=$?
ss_assert_eq 1 "$rc" "keys in another order, drift: $(cat "$T/out")"
grep -q "1 missing, 0 extra, 1 different" "$T/out" || ss_fail "collation drift counts: $(cat "$T/out")"
grep -qF "different name='Banana': v: '2' -> '-1'" "$T/out" || ss_fail "collation drift: $(cat "$T/out")"
grep -qF "missing   name='W100Y'" "$T/out" || ss_fail "collation drift: $(cat "$T/out")"
ss_pass
