#!/usr/bin/env bash
# needs: server
# shadowsync check, PostgreSQL -> PostgreSQL.  Identical tables holding the
# full type matrix (ints at min/max, numeric(38,10), double -0/1e-300/1e300/
# NaN/Infinity, real, boolean, '' vs NULL, emoji/combining/RTL text,
# backslashes and quotes, bytea with all 256 byte values, date, time with
# fractions, timestamp, timestamptz, json, jsonb, uuid) are in sync (exit 0),
# also when one side is hashed by canon.c instead of SQL.  Then drift of
# every kind -- missing row, extra row, changed value, NULL <-> '', changed
# timestamp fraction, one changed byte in a blob -- spread over many chunks
# is found and reported with its key and column in text, JSON and HTML
# (exit 1).  Bad configuration, an unreachable database and a missing table
# exit 2 with one line on stderr.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

ss_pg_start PG
BIN=$(ss_bin)
T=$(ss_tmpdir)
ss_pg_createdb PG src
ss_pg_createdb PG dst
ss_pg_createdb PG dst2

MATRIX=$(
	cat <<'SQL'
CREATE TABLE matrix (
  id int PRIMARY KEY, i2 smallint, i4 int, i8 bigint, n numeric(38,10), nu numeric,
  d double precision, r real, b boolean, t text, vc varchar(50), bin bytea,
  dt date, tm time(6), ts timestamp(6), tz timestamptz(6), ts3 timestamp(3),
  j jsonb, js json, u uuid);
INSERT INTO matrix VALUES
 (1, -32768, -2147483648, -9223372036854775808, -9999999999999999999999999999.9999999999, 0.1,
  '-0', '-0', true, '', 'a', '\x', '0001-01-01', '00:00:00', '1970-01-01 00:00:00',
  '1970-01-01 00:00:00+00', '2024-01-01 00:00:00.123', '{}', '[]', '00000000-0000-0000-0000-000000000000'),
 (2, 32767, 2147483647, 9223372036854775807, 9999999999999999999999999999.9999999999, 1.50,
  1e-300, 1.234565, false, NULL, NULL, NULL, '9999-12-31', '23:59:59.999999',
  '2024-02-29 12:34:56.789012', '2024-02-29 12:34:56.789012+05:30', '2024-02-29 12:34:56.789',
  '{"b": 1, "a": [1, 2.50, "x"], "c": {"z": null}}', '{"b":1,"a":2}', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'),
 (3, 0, 0, 0, 0, -0.0, 1e300, 3.4e38, NULL, 'emoji 😀 combining é RTL שלום <b>&amp;</b>',
  'back\slash ''quote" ', NULL, NULL, '12:00:00.5', '2000-01-01 00:00:00.000001',
  '2000-01-01 00:00:00.000001-08', NULL, 'null', '"s"', NULL),
 (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'N', 's0:', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (5, 1, 1, 1, 1.5, 'NaN', 'NaN', 'Infinity', true, e'tab\there\nnewline\\', ';', NULL, '2024-01-01',
  NULL, NULL, NULL, NULL, '[1.5e-3, -0, 10, "\u00e9"]', NULL, NULL),
 (6, 2, 2, 2, 0.0000000001, 123456789012345678901234567890.123, 0.30000000000000004, 1e-40, false,
  'x', 'y', NULL, NULL, NULL, NULL, NULL, NULL, '{"aa":1,"b":2}', NULL, NULL),
 (7, 3, 3, 3, 1, 1e20, -1.2345678901234567e-300, -3.14159, true, 'z', 'z', NULL, NULL, NULL,
  NULL, '-infinity', NULL, NULL, NULL, NULL),
 (8, 4, 4, 4, -0.5, 0, '-Infinity', '-Infinity', false, 'x', 'x', NULL, NULL, NULL, NULL, 'infinity',
  NULL, NULL, NULL, NULL);
UPDATE matrix SET bin = (SELECT string_agg(set_byte('\x00'::bytea, 0, g), ''::bytea)
                         FROM generate_series(0, 255) g) WHERE id = 3;
INSERT INTO matrix (id, t, d, n, ts) SELECT g, 'row ' || g, g * 1.1, g / 7.0,
       '2026-01-01'::timestamp + g * interval '1.000001 second'
  FROM generate_series(100, 20099) g;
SQL
)
# a two-column key
PAIRS="CREATE TABLE pairs (a int, b text, v numeric, PRIMARY KEY (a, b));
       INSERT INTO pairs SELECT g / 10, 'k' || g % 10, g * 0.5 FROM generate_series(1, 3000) g;"
for db in src dst dst2; do
	ss_psql PG -d $db -c "$MATRIX" -c "$PAIRS"
done

cat >"$T/ss.ini" <<EOF
[shadowsync]
journal_dir = $T/journal
[database src]
driver = postgres
dsn = host=127.0.0.1 port=$PG_PORT dbname=src user=postgres
[database dst]
driver = postgres
dsn = host=127.0.0.1 port=$PG_PORT dbname=dst user=postgres
[database dst2]
driver = postgres
dsn = host=127.0.0.1 port=$PG_PORT dbname=dst2 user=postgres
[job m]
source = src
targets = dst, dst2
tables = public.matrix, public.pairs
EOF

# --- identical tables: in sync, in SQL and with either side hashed here ---
rc=0
"$BIN" check -c "$T/ss.ini" --min-age 0 >"$T/out" 2>"$T/err" || rc=$?
ss_assert_eq 0 "$rc" "identical matrix: exit status ($(cat "$T/out" "$T/err"))"
for want in "m: public.matrix -> dst: in sync: 20008 rows (target 20008)" \
	"m: public.matrix -> dst2: in sync: 20008 rows (target 20008)" \
	"m: public.pairs -> dst: in sync: 3000 rows (target 3000)" \
	"m: public.pairs -> dst2: in sync: 3000 rows (target 3000)" \
	"4 tables checked: 4 in sync, 0 with drift (0 rows), 0 errors"; do
	grep -qF "$want" "$T/out" || ss_fail "summary lacks \"$want\": $(cat "$T/out")"
done
[ ! -s "$T/err" ] || ss_fail "stderr not empty when it is not a terminal: $(cat "$T/err")"
for side in source target; do
	rc=0
	SS_CHECK_CLIENT_HASH=$side "$BIN" check -c "$T/ss.ini" --min-age 0 --chunk-rows 3000 \
		>"$T/out" 2>&1 || rc=$?
	ss_assert_eq 0 "$rc" "matrix with the $side hashed by canon.c: $(cat "$T/out")"
	grep -q "hashed by shadowsync (SS_CHECK_CLIENT_HASH)" "$T/out" || ss_fail "no client hashing note"
done

# --- drift of every kind, spread over the key range ---
ss_psql PG -d dst <<'SQL'
DELETE FROM matrix WHERE id IN (2000, 15000);                        -- missing
INSERT INTO matrix (id, t) VALUES (-5, 'before all'), (99999, 'after all'); -- extra
UPDATE matrix SET t = 'changed' WHERE id = 3000;                      -- changed value
UPDATE matrix SET vc = '' WHERE id = 2;                               -- NULL -> ''
UPDATE matrix SET t = NULL WHERE id = 1;                              -- '' -> NULL
UPDATE matrix SET ts = ts + interval '1 microsecond' WHERE id = 12345; -- timestamp fraction
UPDATE matrix SET bin = set_byte(bin, 200, 0) WHERE id = 3;           -- one byte of a blob
UPDATE matrix SET r = -3.14158 WHERE id = 7;                          -- real, 6th digit
DELETE FROM pairs WHERE a = 50 AND b = 'k3';
UPDATE pairs SET v = -1 WHERE a = 200 AND b = 'k7';
INSERT INTO pairs VALUES (5000, 'zz', 0), (-1, '', NULL);
SQL
TS=$(ss_psql PG -d src -c "SELECT ts FROM matrix WHERE id = 12345")
TS2=$(ss_psql PG -d dst -c "SELECT ts FROM matrix WHERE id = 12345")
# (ranges above 300 rows are cut into grouped pieces instead of streamed)
rc=0
SS_CHECK_STREAM_ROWS=300 "$BIN" check -c "$T/ss.ini" --min-age 0 --chunk-rows 2000 >"$T/out" \
	2>"$T/err" || rc=$?
ss_assert_eq 1 "$rc" "drift: exit status ($(cat "$T/err"))"
grep -q "DRIFT: 20008 rows (target 20008), 11 chunks" "$T/out" || ss_fail "summary: $(head -1 "$T/out")"
grep -q "2 missing, 2 extra, 6 different" "$T/out" || ss_fail "counts: $(head -1 "$T/out")"
for want in "missing   id='2000'" "missing   id='15000'" "extra     id='-5'" "extra     id='99999'" \
	"different id='3000': t: 'row 3000' -> 'changed'" \
	"different id='2': vc: NULL -> ''" "different id='1': t: '' -> NULL" \
	"different id='12345': ts: '$TS' -> '$TS2'" \
	"different id='3': bin: ...'" "different id='7': r: '-3.14159' -> '-3.14158'" \
	"m: public.matrix -> dst2: in sync: 20008 rows" "m: public.pairs -> dst2: in sync: 3000 rows" \
	"m: public.pairs -> dst: DRIFT: 3000 rows (target 3001), 2 chunks" \
	"1 missing, 2 extra, 1 different" "missing   a='50', b='k3'" \
	"different a='200', b='k7': v: '1003.5' -> '-1'" "extra     a='5000', b='zz'" \
	"extra     a='-1', b=''"; do
	grep -qF -- "$want" "$T/out" || ss_fail "text report lacks \"$want\": $(cat "$T/out")"
done

rc=0
"$BIN" check -c "$T/ss.ini" --min-age 0 --format json --output "$T/report.json" >"$T/out" 2>&1 || rc=$?
ss_assert_eq 1 "$rc" "json: exit status"
[ ! -s "$T/out" ] || ss_fail "--output: stdout not empty"
J=$T/report.json
grep -q '^{"status":"drift"' "$J" || ss_fail "json status: $(head -c 200 "$J")"
grep -q '"missing":2,"extra":2,"different":6' "$J" || ss_fail "json counts"
grep -qF '{"kind":"missing","key":{"id":"2000"}' "$J" || ss_fail "json missing row"
grep -qF '{"kind":"extra","key":{"id":"99999"},"columns":{"id":{"source":null,"target":"99999"}' "$J" ||
	ss_fail "json extra row"
grep -qF '{"kind":"different","key":{"id":"2"},"columns":{"vc":{"source":null,"target":""}}}' "$J" ||
	ss_fail "json NULL -> '' and json column: $(grep '"id":"2"' "$J")"
grep -qF '{"kind":"different","key":{"id":"1"},"columns":{"t":{"source":"","target":null}}}' "$J" ||
	ss_fail "json '' -> NULL"
grep -qF '"bin":{"source":"\\x000102' "$J" || ss_fail "json blob as \\x hex"
grep -F '"key":{"id":"3"}' "$J" | grep -qF 'c4c5c6c7' || ss_fail "json blob source value"
grep -F '"key":{"id":"3"}' "$J" | grep -qF 'c6c700c9' || ss_fail "json blob target value"

rc=0
"$BIN" check -c "$T/ss.ini" --min-age 0 --format html --output "$T/report.html" 2>/dev/null || rc=$?
ss_assert_eq 1 "$rc" "html: exit status"
H=$T/report.html
grep -q '^<!DOCTYPE html>' "$H" || ss_fail "html doctype"
grep -q '</html>' "$H" || ss_fail "html end"
grep -q '<td class="drift">drift</td>' "$H" || ss_fail "html status"
! grep -q '<script\|<link\|src=' "$H" || ss_fail "html not self-contained"
# a value with markup, then escaped
ss_psql PG -d dst -c "UPDATE matrix SET t = '<script>alert(\"x\")</script> & ''q''' WHERE id = 4"
"$BIN" check -c "$T/ss.ini" --min-age 0 --format html --output "$T/report.html" 2>/dev/null || true
grep -qF '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;' "$H" ||
	ss_fail "html escaping: $(grep -F 'alert' "$H")"
! grep -qF '<script>' "$H" || ss_fail "html: raw <script> in the page"

# --table selects; an unknown one is an error
"$BIN" check -c "$T/ss.ini" --min-age 0 --table public.matrix >/dev/null 2>&1 && ss_fail "--table: drift expected"
rc=0
"$BIN" check -c "$T/ss.ini" --table nosuch >/dev/null 2>"$T/err" || rc=$?
ss_assert_eq 2 "$rc" "unknown --table"
grep -q "no table nosuch" "$T/err" || ss_fail "unknown --table message: $(cat "$T/err")"

# --- errors: exit 2, one line on stderr ---
expect_error()
{ # expect_error WHAT PATTERN ARGS...
	local what=$1 pat=$2 rc=0
	shift 2
	"$BIN" check "$@" >"$T/out" 2>"$T/err" || rc=$?
	ss_assert_eq 2 "$rc" "$what: exit status ($(cat "$T/err"))"
	ss_assert_eq 1 "$(wc -l <"$T/err")" "$what: one line on stderr ($(cat "$T/err"))"
	grep -q "$pat" "$T/err" || ss_fail "$what: message: $(cat "$T/err")"
}
expect_error "no config" "missing -c FILE"
expect_error "bad format" "invalid value \"xml\" for --format" -c "$T/ss.ini" --format xml
expect_error "bad duration" "invalid duration" -c "$T/ss.ini" --min-age soon
expect_error "unknown job" "no job \"nope\"" -c "$T/ss.ini" --job nope
printf '[shadowsync]\njournal_dir = %s\nbogus = 1\n' "$T/j" >"$T/bad.ini"
expect_error "unknown key" "bad.ini:3" -c "$T/bad.ini"
sed "s/port=$PG_PORT dbname=dst/port=1 dbname=dst/" "$T/ss.ini" >"$T/down.ini"
expect_error "unreachable target" "database dst: cannot connect" -c "$T/down.ini"
ss_psql PG -d dst -c 'ALTER TABLE matrix RENAME TO matrix_old'
expect_error "missing target table" "table public.matrix -> dst: .*does not exist" -c "$T/ss.ini" --min-age 0
ss_pass
