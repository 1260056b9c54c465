#!/usr/bin/env bash
# needs: server
# PostgreSQL -> PostgreSQL carries every type exactly, by its own text form,
# whatever the writing session's settings and whatever path applies it
# (doc/types.md).  A type matrix (arrays, composites, ranges, enums,
# domains, interval, money, inet/cidr, hstore, tsvector, bit strings, BC /
# 5-digit-year / infinite dates and timestamps, -0/NaN floats, the JSON
# document null, ...) is written by a session with hostile settings
# (bytea_output, extra_float_digits, IntervalStyle, DateStyle, TimeZone)
# once a row per transaction (small batches: the json_to_recordset path) and
# once in one statement of 100 rows (COPY): the target equals the source,
# and both copies of each row are equal on the target.  JSON text from a
# text column into a jsonb column arrives as the document on both paths.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jobs.sh"

ss_pg_start SRC
ss_pg_start DST
BIN=$(ss_bin)
T=$(ss_tmpdir)

TYPES="CREATE EXTENSION hstore;
  CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
  CREATE TYPE pair AS (a int, b text);
  CREATE DOMAIN posint AS int CHECK (VALUE > 0);
  CREATE DOMAIN short AS varchar(8);"
COLS="b bytea, f8 float8, f4 real, iv interval, d date, ts timestamp, tz timestamptz, t time,
  tt timetz, m money, n numeric, ia int[], ta text[], tz_a timestamptz[], comp pair, compa pair[],
  r int4range, tr tstzrange, mr int4multirange, e mood, ea mood[], dom posint, sh short, i inet,
  c cidr, mac macaddr, h hstore, tv tsvector, tq tsquery, bs bit(5), vb varbit, j json, jb jsonb,
  jba jsonb[], x xml, u uuid, pt point, bo boolean, ch char(5), txt text"
for db in SRC DST; do
	ss_psql $db -c "$TYPES
	  CREATE TABLE small (id int PRIMARY KEY, $COLS);
	  CREATE TABLE big (id int PRIMARY KEY, $COLS);"
done
# JSON text in a text column, into jsonb on the target
ss_psql SRC -c "CREATE TABLE docs (id int PRIMARY KEY, doc text)"
ss_psql DST -c "CREATE TABLE docs (id int PRIMARY KEY, doc jsonb)"
ss_psql SRC -c "CREATE TABLE matrix (LIKE small)" # not replicated: the values to write

ss_psql SRC <<'SQL'
INSERT INTO matrix VALUES
 (1, '\xcafe00ff', 0.30000000000000004, 1.1, '-1 day -02:00:00', '2026-03-01', '2026-03-01 12:34:56.789',
  '2026-03-01 12:34:56.789+05:30', '23:59:59.999999', '10:00:00+02', 1234.56, 1.50,
  '{1,NULL,3}', '{"a b","q\"uote","back\\slash",NULL,""}', '{"2026-01-01 00:00:00+00"}',
  '(1,"x, y")', '{"(1,a)","(,\"\")"}', '[1,10)', '["2026-01-01 00:00+00","2026-02-01 00:00+00")',
  '{[1,3),[5,9)}', 'happy', '{sad,ok}', 7, 'eight ch', '10.1.2.3', '10.0.0.0/8', '08:00:2b:01:02:03',
  'a=>1, "b c"=>NULL', 'the quick brown fox', 'fox & !dog', B'10101', B'1', '{"k": [1, 2]}',
  '{"b": 1, "a": [true, null]}', '{"{\"x\": 1}",null}', '<a x="1">t</a>',
  'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '(1.5,-2)', true, 'ab', 'plain'),
 (2, '\x', '-0', '-Infinity', 'P1Y2M3DT4H5M6.5S', '0044-03-15 BC', '0044-03-15 10:00:00 BC',
  '0044-03-15 10:00:00+00 BC', '00:00:00', '00:00:00-11:30', -0.01, 'NaN',
  '{}', '{}', '{}', '(,)', '{}', 'empty', '(,)', '{}', 'sad', '{}', 1, '', '::1', '2001:db8::/32',
  'ff:ff:ff:ff:ff:ff', '', '', 'a', B'00000', B'', '"a string"', 'null',
  '{}', '', '00000000-0000-0000-0000-000000000000', '(0,0)', false, '', ''),
 (3, NULL, 'NaN', 'NaN', '-178000000 years', 'infinity', '-infinity', 'infinity', '24:00:00',
  '24:00:00-15:59', '-92233720368547758.08', '-12345678901234567890.123456789012345678',
  '{{1,2},{3,4}}', '{"{}","NULL","null"}', '{infinity,-infinity}', '(-1,NULL)', '{NULL}',
  '(,5]', '[-infinity,infinity]', '{}', 'ok', '{happy,NULL}', 2147483647, 'x', '255.255.255.255/32',
  '0.0.0.0/0', '00:00:00:00:00:00', '"\"q\""=>"\\"', 'a:1A b:2B', 'a <-> b', B'11111', B'0101',
  '[1,2,3]', '[1, 2, 3]', '{null,"null"}', '<!-- c -->', NULL, '(1e300,-1e-300)', NULL, NULL, E'tab\tnew\nline');
INSERT INTO matrix (id, b, f8, f4, iv, d, ts, tz) VALUES
 (4, NULL, 1e308, 3.4e38, '0', '12345-01-01', '12345-06-07 08:09:10', '12345-06-07 08:09:10+00');
UPDATE matrix SET n = '1e-20', jb = '{"": ""}', txt = 'emoji 😀 é ש' WHERE id = 4;
INSERT INTO matrix (id, f8, f4, iv, d, ts, tz) VALUES
 (5, 5e-324, 1e-45, '1 mon -1 days 00:00:00.000001', '4713-01-01 BC', '4713-01-01 00:00:00 BC',
  '1850-01-01 00:00:00+00:19:32');
SQL
NROWS=5

# polled: timestamp capture reads the same text forms as the triggers
for db in SRC DST; do
	ss_psql $db -c "CREATE TABLE polled (id int PRIMARY KEY, ia int[], comp pair, jb jsonb, iv interval,
	  at timestamptz NOT NULL DEFAULT clock_timestamp())"
done
ss_write_job "$T/ss.ini" "$T/journal" "public.small, public.big, public.docs, public.polled" \
	postgres "$SRC_DSN" postgres "$DST_DSN"
printf '[job j table public.polled]\ncapture = timestamp\ntimestamp_column = at\n' >>"$T/ss.ini"
ss_psql SRC -c "INSERT INTO polled (id, ia, comp, jb, iv) VALUES (1, '{1,NULL,3}', '(1,\"x, y\")', 'null', '-1 day -02:00:00'),
  (2, '{}', NULL, '[1, 2]', NULL)"
"$BIN" install -c "$T/ss.ini"

# Every setting that changes how a value prints, set against us.
HOSTILE="SET bytea_output = escape; SET extra_float_digits = 0; SET IntervalStyle = sql_standard;
  SET DateStyle = 'SQL, DMY'; SET TimeZone = 'Asia/Kolkata'; SET quote_all_identifiers = on;"
{
	for id in $(seq 1 $NROWS); do
		echo "$HOSTILE BEGIN; INSERT INTO small SELECT * FROM matrix WHERE id = $id; COMMIT;"
	done
	# big: 100 rows in one statement (the COPY path), ids k*100+id
	echo "$HOSTILE INSERT INTO big SELECT (jsonb_populate_record(w, jsonb_build_object('id', w.id + k * 100))).*
	  FROM matrix w, generate_series(0, 19) k;"
	echo "INSERT INTO docs VALUES (1, '[1, 2, 3]'), (2, 'null'), (3, NULL), (4, '{\"a\": \"b\"}');"
	echo "INSERT INTO docs SELECT 100 + g, (ARRAY['[1, 2, 3]', 'null', NULL, '{\"a\": \"b\"}'])[g % 4 + 1] FROM generate_series(0, 99) g;"
} | ss_psql SRC >/dev/null

# update every row under hostile settings too (an UPDATE statement's capture)
ss_psql SRC -c "$HOSTILE UPDATE small SET txt = txt WHERE id <= 2" >/dev/null

timeout 120 "$BIN" run -c "$T/ss.ini" --once 2>"$T/run.log" || { cat "$T/run.log"; ss_fail "run --once failed"; }

same()
{
	local q=$1 what=$2 a b
	a=$(ss_psql SRC -c "COPY ($q) TO STDOUT")
	b=$(ss_psql DST -c "COPY ($q) TO STDOUT")
	if [ "$a" != "$b" ]; then
		diff <(echo "$a") <(echo "$b") | head -n 20 >&2
		ss_fail "$what: target differs from source"
	fi
}
same "SELECT * FROM small ORDER BY id" "small batches (json_to_recordset)"
same "SELECT * FROM big ORDER BY id" "one batch of 100 rows (COPY)"
same "SELECT * FROM polled ORDER BY id" "timestamp capture"
# the two paths wrote the same values
ss_assert_eq "" "$(ss_psql DST -c "SELECT s.id FROM small s JOIN big g ON g.id % 100 = s.id
   WHERE (s.*)::text IS DISTINCT FROM regexp_replace((g.*)::text, '^\(\d+,', '(' || s.id || ',')")" \
	"rows that differ between the small-batch and the COPY path"
# JSON text into jsonb: the document, on both paths; the document null is not SQL NULL
ss_assert_eq "1|[1, 2, 3]|array
2|null|null
3|-|-
4|{\"a\": \"b\"}|object" "$(ss_psql DST -F'|' -c "SELECT id, coalesce(doc::text, '-'), coalesce(jsonb_typeof(doc), '-') FROM docs WHERE id < 100 ORDER BY id")" \
	"docs (small batches)"
ss_assert_eq "" "$(ss_psql DST -c "SELECT a.id FROM docs a JOIN docs b ON b.id = 100 + a.id - 1 WHERE a.doc IS DISTINCT FROM b.doc AND a.id < 100")" \
	"docs: COPY path differs from the small-batch path"
ss_assert_eq "2|null" "$(ss_psql DST -F"|" -c "SELECT id, jsonb_typeof(jb) FROM small WHERE id = 2")" "jsonb document null arrived as JSON null"

# Capture never stopped: a later change of every table arrived.
ss_psql SRC -c "UPDATE small SET txt = 'later' WHERE id = 1; UPDATE docs SET doc = '7' WHERE id = 1"
timeout 60 "$BIN" run -c "$T/ss.ini" --once 2>>"$T/run.log" || { cat "$T/run.log"; ss_fail "second run failed"; }
same "SELECT * FROM small ORDER BY id" "after a later change"
ss_assert_eq "7" "$(ss_psql DST -c "SELECT doc FROM docs WHERE id = 1")" "later change of docs"

"$BIN" uninstall -c "$T/ss.ini"
ss_pass
