#!/usr/bin/env bash
# needs: server
# SQLite's REPLACE conflict resolution removes rows without firing a delete
# trigger: INSERT OR REPLACE, REPLACE INTO, UPDATE OR REPLACE and a UNIQUE
# constraint declared ON CONFLICT REPLACE, each on the primary key and on a
# secondary unique index (one column, several columns, NOCASE collation, a
# WITHOUT ROWID table), in multi-row statements where a row replaces one the
# same statement wrote.  The rows REPLACE removes reach an SQLite and a
# PostgreSQL target as deletes: both equal the source row by row.  OR IGNORE
# removes nothing; OR FAIL / ABORT / ROLLBACK statements that fail leave no
# shadow row behind (OR FAIL keeps only the rows written before the error).
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jobs.sh"

command -v sqlite3 >/dev/null || ss_fail "the sqlite3 shell is not installed (make deps)"
lite() {
	sqlite3 -cmd '.timeout 10000' "$@"
}
ss_pg_start PG
BIN=$(ss_bin)
T=$(ss_tmpdir)
SRC=$T/src.db
DST=$T/dst.db
ss_pg_createdb PG dst

SCHEMA='CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT UNIQUE, name TEXT);
  CREATE TABLE codes (code TEXT PRIMARY KEY, tenant INTEGER, slot INTEGER,
      label TEXT COLLATE NOCASE UNIQUE ON CONFLICT REPLACE, UNIQUE (tenant, slot));
  CREATE TABLE wr (a INTEGER, b TEXT, u TEXT UNIQUE, PRIMARY KEY (a, b)) WITHOUT ROWID;'
lite "$SRC" "$SCHEMA"
lite "$DST" "$SCHEMA"
# the PostgreSQL target without the unique constraints: it holds what it is sent
ss_psql PG -d dst -c 'CREATE TABLE people (id bigint PRIMARY KEY, email text, name text);
  CREATE TABLE codes (code text PRIMARY KEY, tenant bigint, slot bigint, label text);
  CREATE TABLE wr (a bigint, b text, u text, PRIMARY KEY (a, b));'

# targets dst1 (SQLite) and dst2 (PostgreSQL); small batches, so that a
# statement's deletes and upserts land in different target commits
ss_write_job "$T/ss.ini" "$T/journal" 'main.*' odbc "Driver=SQLite3;Database=$SRC" \
	odbc "Driver=SQLite3;Database=$DST" postgres "host=127.0.0.1 port=$PG_PORT dbname=dst user=postgres"
sed -i 's/^batch_rows = .*/batch_rows = 7/' "$T/ss.ini"
"$BIN" install -c "$T/ss.ini" 2>"$T/install.log" || { cat "$T/install.log"; ss_fail "install failed"; }

shadow_rows() { lite "$SRC" 'SELECT count(*) FROM shadowsync_log_j'; }

lite "$SRC" <<'SQL'
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 40)
INSERT INTO people SELECT n, 'p' || n || '@x', 'name ' || n FROM g;
INSERT INTO codes VALUES ('c1', 1, 1, 'one'), ('c2', 1, 2, 'two'), ('c3', 2, 1, 'three'),
    ('c4', 2, 2, 'four'), ('c5', 3, 1, 'five'), ('c6', 3, 2, 'six');
INSERT INTO wr VALUES (1, 'a', 'u1'), (2, 'b', 'u2'), (3, 'c', 'u3'), (4, 'd', 'u4');
SQL
timeout 120 "$BIN" run -c "$T/ss.ini" --once 2>"$T/run0.log" || { cat "$T/run0.log"; ss_fail "first run --once failed"; }

lite "$SRC" <<'SQL'
-- on the primary key
INSERT OR REPLACE INTO people VALUES (1, 'p1@x', 'one again');
-- on the secondary unique column: row 2 goes
INSERT OR REPLACE INTO people VALUES (100, 'p2@x', 'took p2');
-- one new row against two old ones: row 3 by key, row 4 by e-mail
REPLACE INTO people VALUES (3, 'p4@x', 'three with four''s mail');
-- multi-row: each row replaces the one before it, and old row 5
INSERT OR REPLACE INTO people VALUES (200, 'p5@x', 'a'), (201, 'p5@x', 'b'), (202, 'p5@x', 'c');
-- from a SELECT, several rows replacing several
INSERT OR REPLACE INTO people SELECT id + 300, email, 'moved' FROM people WHERE id BETWEEN 6 AND 9;
-- UPDATE OR REPLACE onto another row's e-mail, onto another row's key
UPDATE OR REPLACE people SET email = 'p10@x' WHERE id = 11;
UPDATE OR REPLACE people SET id = 12 WHERE id = 13;
-- multi-row UPDATE OR REPLACE: only the last of the rows survives
UPDATE OR REPLACE people SET email = 'same@x' WHERE id BETWEEN 20 AND 25;
-- key and unique value at once: row 27 moves onto key 26 taking row 28's mail
UPDATE OR REPLACE people SET id = 26, email = 'p28@x' WHERE id = 27;
-- ON CONFLICT REPLACE on the constraint: a plain INSERT, NOCASE collation
INSERT INTO codes VALUES ('c7', 4, 1, 'ONE');
UPDATE codes SET label = 'Two' WHERE code = 'c3';
-- OR REPLACE on the composite unique (tenant, slot)
INSERT OR REPLACE INTO codes VALUES ('c8', 3, 1, 'eight');
UPDATE OR REPLACE codes SET tenant = 3, slot = 2 WHERE code = 'c4';
-- an upsert: its BEFORE INSERT trigger fires, then the UPDATE's
INSERT INTO codes VALUES ('c7', 9, 9, 'x') ON CONFLICT (code) DO UPDATE SET label = 'seven';
-- WITHOUT ROWID
INSERT OR REPLACE INTO wr VALUES (9, 'z', 'u1');
UPDATE OR REPLACE wr SET u = 'u3' WHERE a = 2;
REPLACE INTO wr VALUES (4, 'd', 'u9');
-- OR IGNORE removes nothing
INSERT OR IGNORE INTO people VALUES (500, 'p30@x', 'ignored'), (501, 'new501@x', 'kept');
UPDATE OR IGNORE people SET email = 'p31@x' WHERE id = 32;
SQL
# a session with recursive_triggers on: the delete trigger fires as well
lite "$SRC" "PRAGMA recursive_triggers = ON; INSERT OR REPLACE INTO people VALUES (150, 'p15@x', 'recursive');
	UPDATE OR REPLACE codes SET label = 'SIX' WHERE code = 'c1';"

# Statements that fail leave no shadow row behind.
before=$(shadow_rows)
lite "$SRC" "INSERT INTO people VALUES (600, 'p33@x', 'abort')" 2>/dev/null &&
	ss_fail "the conflicting INSERT succeeded"
lite "$SRC" "UPDATE OR ABORT people SET email = 'p34@x' WHERE id = 35" 2>/dev/null &&
	ss_fail "the conflicting UPDATE OR ABORT succeeded"
lite "$SRC" "BEGIN; INSERT OR ROLLBACK INTO people VALUES (601, 'p36@x', 'rollback');" 2>/dev/null &&
	ss_fail "the conflicting INSERT OR ROLLBACK succeeded"
ss_assert_eq "$before" "$(shadow_rows)" "shadow rows after failed statements"
# OR FAIL keeps the rows written before the failing one, and only them
lite "$SRC" "INSERT OR FAIL INTO people VALUES (700, 'new700@x', 'kept'), (701, 'p37@x', 'failed'),
	(702, 'new702@x', 'never')" 2>/dev/null && ss_fail "the conflicting INSERT OR FAIL succeeded"
lite "$SRC" "UPDATE OR FAIL people SET email = 'p39@x' WHERE id IN (38, 40)" 2>/dev/null &&
	ss_fail "the conflicting UPDATE OR FAIL succeeded"
ss_assert_eq "$((before + 1))" "$(shadow_rows)" "shadow rows after INSERT OR FAIL (the row written before the error)"

timeout 120 "$BIN" run -c "$T/ss.ini" --once 2>"$T/run1.log" || { cat "$T/run1.log"; ss_fail "run --once failed"; }

q_lite="SELECT 'people|' || id || '|' || email || '|' || name FROM people
  UNION ALL SELECT 'codes|' || code || '|' || tenant || '|' || slot || '|' || label FROM codes
  UNION ALL SELECT 'wr|' || a || '|' || b || '|' || u FROM wr ORDER BY 1"
q_pg="SELECT * FROM (SELECT 'people|' || id || '|' || email || '|' || name AS l FROM people
  UNION ALL SELECT 'codes|' || code || '|' || tenant || '|' || slot || '|' || label FROM codes
  UNION ALL SELECT 'wr|' || a || '|' || b || '|' || u FROM wr) s ORDER BY l COLLATE \"C\""
same_rows() {
	if ! cmp -s "$T/src.rows" "$2"; then
		diff "$T/src.rows" "$2" | head -n 20 >&2
		ss_fail "$1 differs from the source"
	fi
}
LC_ALL=C
lite "$SRC" "$q_lite" | sort >"$T/src.rows"
lite "$DST" "$q_lite" | sort >"$T/dst.rows"
ss_psql PG -d dst -c "$q_pg" | sort >"$T/pg.rows"
# the statements above did what the test means them to do
ss_assert_eq 0 "$(lite "$SRC" "SELECT count(*) FROM people WHERE id IN (2, 4, 5, 6, 7, 8, 9, 10, 13, 15, 20, 21, 22, 23, 24, 27, 28, 200, 201, 500, 600, 601, 701, 702)")" \
	"source rows REPLACE removed (or never written)"
same_rows "the SQLite target" "$T/dst.rows"
same_rows "the PostgreSQL target" "$T/pg.rows"
ss_assert_eq 0 "$(shadow_rows)" "shadow rows consumed"

# uninstall removes the BEFORE triggers and the table of noted rows too
"$BIN" uninstall -c "$T/ss.ini" 2>"$T/uninstall.log" || { cat "$T/uninstall.log"; ss_fail "uninstall failed"; }
ss_assert_eq "" "$(lite "$SRC" "SELECT group_concat(name) FROM sqlite_master
	WHERE name LIKE 'shadowsync\\_j\\_%' ESCAPE '\\' OR name IN ('shadowsync_log_j', 'shadowsync_replaced_j')")" \
	"objects of job j left after uninstall"
ss_pass
