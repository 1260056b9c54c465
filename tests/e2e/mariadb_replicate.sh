#!/usr/bin/env bash
# needs: server
# Replication through MariaDB in every direction: PostgreSQL -> MariaDB,
# MariaDB -> PostgreSQL and MariaDB -> MariaDB (one job with two targets,
# plus a MariaDB-only type table).  Inserts, updates, key-changing updates
# (also onto a key deleted before), deletes, NULLs, composite and text
# primary keys, and the type matrix: integers at their limits, DECIMAL(38,10)
# at full precision and negative, doubles (-0, 1e-300, 1e300, the largest),
# floats, booleans, '' vs NULL, emoji, combining marks, right-to-left text,
# backslashes and quotes, all 256 byte values, a 16 MB blob, dates, times
# with fractions, timestamps, timestamps with zone (UTC in MariaDB), JSON,
# UUIDs, BIT, YEAR, ENUM, SET and BIGINT UNSIGNED.  After `run --once` every
# target equals its source row by row (ordered dumps in one canonical text
# per engine).  Last, a NaN headed for MariaDB stops the target with the
# table, column and key named; a table altered after install stops the
# capture with an error saying so.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

ss_pg_start PG
ss_maria_start M1
ss_maria_start M2
BIN=$(ss_bin)
T=$(ss_tmpdir)

# 16 MB values need bigger packets than the 16M default: for the trigger
# building a 32 MB hex image in the writer's session, and for the applier.
for m in M1 M2; do
	ss_maria "$m" -e "SET GLOBAL max_allowed_packet = 256 * 1024 * 1024"
done

# ---- schemas -----------------------------------------------------------------

PG_TYPES='(id int PRIMARY KEY, i2 smallint, i4 int, i8 bigint, n numeric(38,10),
	d double precision, r real, b boolean, t text, v varchar(100), bl bytea, dt date,
	tm time(6), ts timestamp(6), tz timestamptz(6), j jsonb, u uuid)'
PG_PAIRS='(a int, b text, v text, PRIMARY KEY (a, b))'
MY_TYPES='(id INT PRIMARY KEY, i2 SMALLINT, i4 INT, i8 BIGINT, n DECIMAL(38,10),
	d DOUBLE, r FLOAT, b BOOLEAN, t LONGTEXT, v VARCHAR(100), bl LONGBLOB, dt DATE,
	tm TIME(6), ts DATETIME(6), tz TIMESTAMP(6) NULL, j JSON, u UUID)
	DEFAULT CHARSET utf8mb4 COLLATE utf8mb4_bin'
MY_PAIRS='(a INT, b VARCHAR(100), v TEXT, PRIMARY KEY (a, b))
	DEFAULT CHARSET utf8mb4 COLLATE utf8mb4_bin'
MY_EXTRA='(id BIGINT UNSIGNED PRIMARY KEY, bits BIT(8), flag BIT(1), yr YEAR,
	e ENUM('"'"'red'"'"', '"'"'green'"'"'), st SET('"'"'a'"'"', '"'"'b'"'"', '"'"'c'"'"'),
	fl FLOAT, ti TINYINT, mi MEDIUMINT UNSIGNED)'

ss_psql PG -c "CREATE TABLE pg_types $PG_TYPES; CREATE TABLE pg_pairs $PG_PAIRS;
	CREATE SCHEMA test; CREATE TABLE test.my_types $PG_TYPES; CREATE TABLE test.my_pairs $PG_PAIRS;"
ss_maria M1 -e "CREATE TABLE my_types $MY_TYPES; CREATE TABLE my_pairs $MY_PAIRS;
	CREATE TABLE my_extra $MY_EXTRA;"
ss_maria M2 -e "CREATE TABLE pg_types $MY_TYPES; CREATE TABLE pg_pairs $MY_PAIRS;
	CREATE TABLE my_types $MY_TYPES; CREATE TABLE my_pairs $MY_PAIRS;
	CREATE TABLE my_extra $MY_EXTRA;"

cat >"$T/ss.ini" <<EOF
[shadowsync]
journal_dir = $T/journal
log_level = info
[database pg]
driver = postgres
dsn = $PG_DSN
[database m1]
driver = mariadb
dsn = $M1_DSN
[database m2]
driver = mariadb
dsn = $M2_DSN
[job pm]
source = pg
targets = m2
tables = public.pg_types, public.pg_pairs
poll_interval = 100ms
[job m]
source = m1
targets = pg, m2
tables = test.my_types, test.my_pairs
poll_interval = 100ms
[job mm]
source = m1
targets = m2
tables = test.my_extra
poll_interval = 100ms
EOF
"$BIN" install -c "$T/ss.ini" 2>"$T/install.log" || { cat "$T/install.log"; ss_fail "install failed"; }

# ---- the same changes on PostgreSQL and on MariaDB -------------------------------

# Text that must survive: emoji, combining marks, right-to-left, backslash,
# quotes, control characters.
TXT='emoji 😀👍🏽, e + combining acute: é, Hebrew: שלום, Arabic: مرحبا, back\slash \\ quote '"'"' dq " tab	nl
end'

ss_psql PG <<SQL
INSERT INTO pg_types VALUES
 (1, -32768, -2147483648, -9223372036854775808, -999999999999999999999999999.9999999999,
  -1.7976931348623157e308, -3.4e38, false, '', '', '', '1000-01-01', '00:00:00',
  '1000-01-01 00:00:00', '1970-01-01 00:00:01+00', '[]', '00000000-0000-0000-0000-000000000000'),
 (2, 32767, 2147483647, 9223372036854775807, 9999999999999999999999999999.9999999999,
  1e300, 3.4e38, true, \$t\$$TXT\$t\$, 'quote '' dq " back\\slash',
  (SELECT string_agg(set_byte('\\x00'::bytea, 0, g), ''::bytea ORDER BY g) FROM generate_series(0, 255) g),
  '9999-12-31', '23:59:59.999999', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999+00',
  '{"a": 1, "b": [1, "é", null, true], "cc": {"d": "x\\\\y"}}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, 0, 0, 0, 0.0000000001, '-0', 1.5, false, 'plain', NULL, '\\x00', '2024-02-29', '12:34:56.5',
  '2024-02-29 12:34:56.000001', '2024-02-29 23:30:00.5+05:30', '{"k": "v"}', 'ffffffff-ffff-ffff-ffff-ffffffffffff'),
 (5, 1, 1, 1, -0.5, 1e-300, -0.25, true, NULL, '', NULL, NULL, NULL, NULL, NULL, '"str"', NULL),
 (6, NULL, NULL, NULL, 123456789012345678901234567.0123456789, 0.1, NULL, NULL, 'big', NULL,
  decode(repeat((SELECT string_agg(lpad(to_hex(g), 2, '0'), '') FROM generate_series(0, 255) g), 65536), 'hex'),
  NULL, NULL, NULL, NULL, NULL, NULL);
UPDATE pg_types SET t = 'changed', n = -n WHERE id = 5;
UPDATE pg_types SET id = 40 WHERE id = 4;
DELETE FROM pg_types WHERE id = 1;
UPDATE pg_types SET id = 1 WHERE id = 3;
INSERT INTO pg_pairs SELECT g, 'k' || g || ' ☃ ''q''', 'v' || g FROM generate_series(1, 30) g;
UPDATE pg_pairs SET b = b || 'x' WHERE a <= 5;
UPDATE pg_pairs SET b = upper(b) WHERE a = 6;
UPDATE pg_pairs SET v = NULL WHERE a = 7;
UPDATE pg_pairs SET v = '' WHERE a = 8;
DELETE FROM pg_pairs WHERE a BETWEEN 20 AND 25;
UPDATE pg_pairs SET a = 20 WHERE a = 26;
SQL

ss_maria M1 --max-allowed-packet=256M <<SQL
SET time_zone = '-07:00';
INSERT INTO my_types VALUES
 (1, -32768, -2147483648, -9223372036854775808, -999999999999999999999999999.9999999999,
  -1.7976931348623157e308, -3.4e38, 0, '', '', '', '1000-01-01', '00:00:00',
  '1000-01-01 00:00:00', '1969-12-31 17:00:01', '[]', '00000000-0000-0000-0000-000000000000'),
 (2, 32767, 2147483647, 9223372036854775807, 9999999999999999999999999999.9999999999,
  1e300, 3.4e38, 1, _utf8mb4 X'$(printf '%s' "$TXT" | od -An -tx1 -v | tr -d ' \n')', 'quote '' dq " back\\\\slash',
  (SELECT GROUP_CONCAT(CHAR(seq) ORDER BY seq SEPARATOR '') FROM seq_0_to_255),
  '9999-12-31', '23:59:59.999999', '9999-12-31 23:59:59.999999', '2038-01-18 20:14:07.999999',
  '{"a": 1, "b": [1, "é", null, true], "cc": {"d": "x\\\\\\\\y"}}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, 0, 0, 0, 0.0000000001, -0e0, 1.5, 0, 'plain', NULL, X'00', '2024-02-29', '12:34:56.5',
  '2024-02-29 12:34:56.000001', '2024-02-29 11:00:00.5', '{"k": "v"}', 'ffffffff-ffff-ffff-ffff-ffffffffffff'),
 (5, 1, 1, 1, -0.5, 1e-300, -0.25, 1, NULL, '', NULL, NULL, NULL, NULL, NULL, '"str"', NULL),
 (6, NULL, NULL, NULL, 123456789012345678901234567.0123456789, 0.1, NULL, NULL, 'big', NULL,
  REPEAT((SELECT GROUP_CONCAT(CHAR(seq) ORDER BY seq SEPARATOR '') FROM seq_0_to_255), 65536),
  NULL, NULL, NULL, NULL, NULL, NULL);
UPDATE my_types SET t = 'changed', n = -n WHERE id = 5;
UPDATE my_types SET id = 40 WHERE id = 4;
DELETE FROM my_types WHERE id = 1;
UPDATE my_types SET id = 1 WHERE id = 3;
INSERT INTO my_pairs SELECT seq, CONCAT('k', seq, ' ☃ ''q'''), CONCAT('v', seq) FROM seq_1_to_30;
UPDATE my_pairs SET b = CONCAT(b, 'x') WHERE a <= 5;
UPDATE my_pairs SET b = UPPER(b) WHERE a = 6;
UPDATE my_pairs SET v = NULL WHERE a = 7;
UPDATE my_pairs SET v = '' WHERE a = 8;
DELETE FROM my_pairs WHERE a BETWEEN 20 AND 25;
UPDATE my_pairs SET a = 20 WHERE a = 26;
INSERT INTO my_extra VALUES
 (18446744073709551615, b'11111111', b'1', 2155, 'green', 'a,c', 3.4028234e38, -128, 16777215),
 (0, b'00000000', b'0', 1901, 'red', '', -1.1754944e-38, 127, 0),
 (1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
UPDATE my_extra SET id = 9223372036854775808 WHERE id = 1;
SQL

timeout 300 "$BIN" run -c "$T/ss.ini" --once 2>"$T/run.log" || { cat "$T/run.log"; ss_fail "run --once failed"; }

# ---- compare, row by row ---------------------------------------------------------

# One line per row in a text both engines can produce: numbers as the
# database prints them (exponent without '+'; MariaDB cannot hold -0, so 0),
# text and bytes in hex (or md5 for the bytes, which may be 16 MB), times
# without trailing fractional zeros, timestamps with zone in UTC, JSON
# compact.  NULL is \N.
PG_TYPES_DUMP=$(cat <<'SQL'
SELECT concat_ws('|', id, coalesce(i2::text, '\N'), coalesce(i4::text, '\N'),
  coalesce(i8::text, '\N'), coalesce(n::text, '\N'),
  coalesce(CASE WHEN d = 0 THEN '0' ELSE replace(d::text, 'e+', 'e') END, '\N'),
  coalesce(replace(r::text, 'e+', 'e'), '\N'), coalesce(b::int::text, '\N'),
  coalesce(encode(convert_to(t, 'UTF8'), 'hex'), '\N'),
  coalesce(encode(convert_to(v, 'UTF8'), 'hex'), '\N'), coalesce(md5(bl), '\N'),
  coalesce(dt::text, '\N'), coalesce(tm::text, '\N'), coalesce(ts::text, '\N'),
  coalesce(tz::text, '\N'),
  coalesce(replace(replace(j::text, '": ', '":'), ', ', ','), '\N'), coalesce(u::text, '\N'))
FROM @T@
SQL
)
MY_TYPES_DUMP=$(cat <<'SQL'
SELECT CONCAT_WS('|', id, COALESCE(i2, '\\N'), COALESCE(i4, '\\N'), COALESCE(i8, '\\N'),
  COALESCE(CAST(n AS CHAR), '\\N'), COALESCE(CAST(d AS CHAR), '\\N'),
  COALESCE(CAST(r AS CHAR), '\\N'), COALESCE(CAST(b AS CHAR), '\\N'),
  COALESCE(LOWER(HEX(t)), '\\N'), COALESCE(LOWER(HEX(v)), '\\N'), COALESCE(MD5(bl), '\\N'),
  COALESCE(CAST(dt AS CHAR), '\\N'),
  COALESCE(TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM CAST(tm AS CHAR))), '\\N'),
  COALESCE(IF(MICROSECOND(ts) = 0, DATE_FORMAT(ts, '%Y-%m-%d %H:%i:%s'),
           TRIM(TRAILING '0' FROM CAST(ts AS CHAR))), '\\N'),
  COALESCE(CONCAT(IF(MICROSECOND(tz) = 0, DATE_FORMAT(tz, '%Y-%m-%d %H:%i:%s'),
           TRIM(TRAILING '0' FROM CAST(tz AS CHAR))), '+00'), '\\N'),
  COALESCE(JSON_COMPACT(j), '\\N'), COALESCE(CAST(u AS CHAR), '\\N'))
FROM @T@
SQL
)
PG_PAIRS_DUMP="SELECT concat_ws('|', a, encode(convert_to(b, 'UTF8'), 'hex'),
  coalesce(encode(convert_to(v, 'UTF8'), 'hex'), '\\N')) FROM @T@"
MY_PAIRS_DUMP="SELECT CONCAT_WS('|', a, LOWER(HEX(b)), COALESCE(LOWER(HEX(v)), '\\\\N')) FROM @T@"
MY_EXTRA_DUMP="SELECT CONCAT_WS('|', id, COALESCE(bits + 0, '\\\\N'), COALESCE(flag + 0, '\\\\N'),
  COALESCE(yr, '\\\\N'), COALESCE(e, '\\\\N'), COALESCE(st, '\\\\N'),
  COALESCE(CAST(CAST(fl AS DOUBLE) AS CHAR), '\\\\N'), COALESCE(ti, '\\\\N'),
  COALESCE(mi, '\\\\N')) FROM @T@"

pg_dump_rows() { # NAME QUERY TABLE
	ss_psql "$1" -c "SET TimeZone = 'UTC'" -c "${2//@T@/$3}" | LC_ALL=C sort
}
my_dump_rows() { # NAME QUERY TABLE
	ss_maria "$1" -r -e "SET time_zone = '+00:00'; ${2//@T@/$3}" | LC_ALL=C sort
}
same() { # WHAT EXPECTED ACTUAL
	if [ "$2" != "$3" ]; then
		diff <(echo "$2") <(echo "$3") >&2 || true
		ss_fail "$1 differs (< source, > target)"
	fi
}

want=$(pg_dump_rows PG "$PG_TYPES_DUMP" pg_types)
[ "$(echo "$want" | wc -l)" = 5 ] || ss_fail "PostgreSQL source has $(echo "$want" | wc -l) rows, not 5"
same "PostgreSQL -> MariaDB: pg_types" "$want" "$(my_dump_rows M2 "$MY_TYPES_DUMP" pg_types)"
want=$(pg_dump_rows PG "$PG_PAIRS_DUMP" pg_pairs)
same "PostgreSQL -> MariaDB: pg_pairs" "$want" "$(my_dump_rows M2 "$MY_PAIRS_DUMP" pg_pairs)"

want=$(my_dump_rows M1 "$MY_TYPES_DUMP" my_types)
[ "$(echo "$want" | wc -l)" = 5 ] || ss_fail "MariaDB source has $(echo "$want" | wc -l) rows, not 5"
same "the same changes on both sources" "$(pg_dump_rows PG "$PG_TYPES_DUMP" pg_types)" "$want"
same "MariaDB -> PostgreSQL: my_types" "$want" "$(pg_dump_rows PG "$PG_TYPES_DUMP" test.my_types)"
same "MariaDB -> MariaDB: my_types" "$want" "$(my_dump_rows M2 "$MY_TYPES_DUMP" my_types)"
want=$(my_dump_rows M1 "$MY_PAIRS_DUMP" my_pairs)
same "MariaDB -> PostgreSQL: my_pairs" "$want" "$(pg_dump_rows PG "$PG_PAIRS_DUMP" test.my_pairs)"
same "MariaDB -> MariaDB: my_pairs" "$want" "$(my_dump_rows M2 "$MY_PAIRS_DUMP" my_pairs)"
want=$(my_dump_rows M1 "$MY_EXTRA_DUMP" my_extra)
same "MariaDB -> MariaDB: my_extra" "$want" "$(my_dump_rows M2 "$MY_EXTRA_DUMP" my_extra)"

# Exact bytes, beyond the canonical text: the 16 MB blob and all 256 byte values.
for side in "M1 my_types" "M2 my_types" "M2 pg_types"; do
	set -- $side
	ss_assert_eq "16777216 $(printf '%s' "$(seq 0 255 | awk '{printf "%02x", $1}')" | head -c 512)" \
		"$(ss_maria "$1" -e "SELECT LENGTH(bl), LOWER(HEX(LEFT(bl, 256))) FROM $2 WHERE id = 6" | tr '\t' ' ')" \
		"$1 $2: the 16 MB blob"
done
ss_assert_eq 0 "$(ss_maria M1 -e 'SELECT COUNT(*) FROM shadowsync.log_m')" "MariaDB shadow table drained"
ss_assert_eq 0 "$(ss_psql PG -c 'SELECT count(*) FROM shadowsync.log_pm')" "PostgreSQL shadow table drained"
ss_assert_eq "pm m2" "$(ss_maria M2 -e "SELECT job, target FROM shadowsync.applied_position WHERE job = 'pm'" | tr '\t' ' ')" \
	"position saved in the MariaDB target"

# ---- what MariaDB cannot hold stops the target, naming the row -----------------

ss_psql PG -c "INSERT INTO pg_types (id, d) VALUES (999, 'NaN')"
if timeout 120 "$BIN" run -c "$T/ss.ini" --once --job pm 2>"$T/nan.log"; then
	ss_fail "a NaN was applied to MariaDB without an error"
fi
grep -q 'pg_types column d: value NaN cannot be stored in MariaDB.*key (id)=(999)' "$T/nan.log" ||
	{ cat "$T/nan.log"; ss_fail "the NaN error does not name table, column and key"; }
ss_assert_eq 0 "$(ss_maria M2 -e 'SELECT COUNT(*) FROM pg_types WHERE id = 999')" "the NaN row was not applied"

# ---- a captured table altered after install stops the capture, saying so ----------

# MariaDB triggers list the columns: a column added later would be missing
# from every image.  (--once keeps retrying a failed capture: give it 5 s.)
ss_maria M1 -e "ALTER TABLE my_extra ADD added INT; INSERT INTO my_extra (id, added) VALUES (5, 5)"
timeout 5 "$BIN" run -c "$T/ss.ini" --once --job mm 2>"$T/alter.log" || true
grep -q 'capture trigger shadowsync_mm_.* of job mm is not what install creates for table test.my_extra now' \
	"$T/alter.log" || { cat "$T/alter.log"; ss_fail "an altered table was not noticed"; }
ss_assert_eq 0 "$(ss_maria M2 -e 'SELECT COUNT(*) FROM my_extra WHERE id = 5')" \
	"a row captured by the outdated trigger was applied"
ss_pass
