#!/usr/bin/env bash
# needs: server
# PostgreSQL -> two PostgreSQL targets: inserts, updates, deletes,
# key-changing updates, multi-row statements, NULLs and '', 1 MB values,
# 1000 rows in one transaction; after `run --once` both targets equal the
# source row for row.  Then journal dump and --from seeking.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jobs.sh"

ss_pg_start SRC
ss_pg_start DST
BIN=$(ss_bin)
T=$(ss_tmpdir)
ss_pg_createdb DST t1
ss_pg_createdb DST t2

SCHEMA='CREATE TABLE items (id bigint PRIMARY KEY, name text, qty int, price numeric(12,2),
          note text, data bytea, seen timestamptz, flag boolean, doc jsonb);
        CREATE TABLE pairs (a int, b text, v double precision, PRIMARY KEY (a, b));'
ss_psql SRC -c "$SCHEMA"
ss_psql DST -d t1 -c "$SCHEMA"
ss_psql DST -d t2 -c "$SCHEMA"

# On t1, record which target transaction inserted each row (an ALWAYS
# trigger fires even under session_replication_role = replica).
ss_psql DST -d t1 <<'SQL'
CREATE TABLE applied_log (id bigint, ttx bigint);
CREATE FUNCTION log_apply() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO applied_log VALUES (NEW.id, txid_current()); RETURN NULL; END$$;
CREATE TRIGGER log_apply AFTER INSERT ON items FOR EACH ROW EXECUTE FUNCTION log_apply();
ALTER TABLE items ENABLE ALWAYS TRIGGER log_apply;
SQL

ss_write_job "$T/ss.ini" "$T/journal" "public.items, public.pairs" \
	postgres "$SRC_DSN" \
	postgres "host=127.0.0.1 port=$DST_PORT dbname=t1 user=postgres" \
	postgres "host=127.0.0.1 port=$DST_PORT dbname=t2 user=postgres"
"$BIN" install -c "$T/ss.ini"

ss_psql SRC <<'SQL'
-- 1000 rows in one transaction
INSERT INTO items SELECT g, 'item ' || g, g % 7, g * 1.25, NULL, decode(lpad(to_hex(g), 8, '0'), 'hex'),
       '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 second', g % 2 = 0, jsonb_build_object('g', g)
  FROM generate_series(1, 1000) g;
-- multi-row statements
UPDATE items SET qty = qty + 1 WHERE id % 3 = 0;
DELETE FROM items WHERE id BETWEEN 100 AND 150;
-- key-changing updates (also onto a key that was deleted before)
UPDATE items SET id = id + 100000 WHERE id BETWEEN 10 AND 19;
UPDATE items SET id = 120 WHERE id = 200;
-- NULL and '' kept apart, unicode, a 1 MB value
INSERT INTO items (id, name, note) VALUES (5001, NULL, ''), (5002, '', NULL),
       (5003, 'emoji 😀 é ש', repeat('x', 1024 * 1024));
-- what COPY's text format escapes (large batches are applied by COPY):
-- tab, newline, carriage return, backslash, and a value that reads \N
INSERT INTO items (id, name, note) VALUES (5004, E'tab\there', E'back\\slash\nnew\rline'),
       (5005, E'\\N', E'\\.');
-- several changes of one row in one transaction and across transactions
BEGIN;
UPDATE items SET name = 'first' WHERE id = 1;
UPDATE items SET name = 'second' WHERE id = 1;
DELETE FROM items WHERE id = 2;
INSERT INTO items (id, name) VALUES (2, 'reborn');
COMMIT;
UPDATE items SET name = 'third' WHERE id = 1;
INSERT INTO pairs SELECT g, 'k' || g, g / 3.0 FROM generate_series(1, 100) g;
UPDATE pairs SET b = b || 'x' WHERE a <= 5;
UPDATE pairs SET v = '-0' WHERE a = 6;
UPDATE pairs SET v = 'NaN' WHERE a = 7;
UPDATE pairs SET v = '-Infinity' WHERE a = 8;
SQL

timeout 120 "$BIN" run -c "$T/ss.ini" --once 2>"$T/run.log" || { cat "$T/run.log"; ss_fail "run --once failed"; }

for q in "SELECT * FROM items ORDER BY id" "SELECT * FROM pairs ORDER BY a, b"; do
	want=$(ss_pg_dump SRC postgres "$q")
	ss_assert_eq "$want" "$(ss_pg_dump DST t1 "$q")" "t1: $q"
	ss_assert_eq "$want" "$(ss_pg_dump DST t2 "$q")" "t2: $q"
done
ss_assert_eq 0 "$(ss_psql SRC -c 'SELECT count(*) FROM shadowsync.log_j')" "shadow table drained"
# The 1000 rows of the first source transaction arrived in one target
# transaction, although batch_rows is 500 (the capture read them in two
# batches and the applier may commit only at a source transaction's end).
ss_assert_eq 1 "$(ss_psql DST -d t1 -c 'SELECT count(DISTINCT ttx) FROM applied_log WHERE id BETWEEN 1 AND 1000')" \
	"one source transaction, one target commit"
grep -q '^batch_rows = 500$' "$T/ss.ini" || ss_fail "the test needs batch_rows below the transaction size"
ss_assert_eq "0 0" "$(ss_psql DST -d t1 -c "SELECT count(*) FROM items WHERE id BETWEEN 100 AND 150 AND id <> 120") $(ss_psql DST -d t1 -c "SELECT count(*) FROM items WHERE id BETWEEN 10 AND 19")" "deleted and moved keys are gone"

# A second --once with nothing new is a quick no-op.
timeout 30 "$BIN" run -c "$T/ss.ini" --once 2>>"$T/run.log" || ss_fail "second run --once failed"

# journal dump: JSON lines, one per change; --from seeks by time.
"$BIN" journal -c "$T/ss.ini" dump >"$T/dump.jsonl"
n=$(wc -l <"$T/dump.jsonl")
[ "$n" -gt 1400 ] || ss_fail "journal dump has only $n lines"
grep -q '"op":"D"' "$T/dump.jsonl" || ss_fail "no delete in the dump"
first=$(head -n 1 "$T/dump.jsonl" | sed 's/.*"time":"\([^"]*\)".*/\1/')
last=$(tail -n 1 "$T/dump.jsonl" | sed 's/.*"time":"\([^"]*\)".*/\1/')
[ "$("$BIN" journal -c "$T/ss.ini" dump --from "$last" | head -n 1)" = "$(grep -m1 "\"time\":\"$last\"" "$T/dump.jsonl")" ] ||
	ss_fail "--from $last did not start at the first record of that time"
ss_assert_eq "$n" "$("$BIN" journal -c "$T/ss.ini" dump --from "$first" --to "$last" | wc -l)" "--from/--to over everything"
# A journal that was reset (positions start again at 1) must not be
# mistaken for one the targets already applied: the applier refuses.
rm -rf "$T/journal"
ss_psql SRC -c "UPDATE items SET name = 'after reset' WHERE id = 1"
rc=0
timeout 60 "$BIN" run -c "$T/ss.ini" --once 2>"$T/reset.log" || rc=$?
[ $rc = 1 ] || { cat "$T/reset.log"; ss_fail "run after a journal reset: exit $rc, expected 1"; }
grep -q "the journal was reset or replaced" "$T/reset.log" || { cat "$T/reset.log"; ss_fail "journal reset not named"; }

"$BIN" uninstall -c "$T/ss.ini"
ss_pass
