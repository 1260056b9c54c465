#!/usr/bin/env bash
# needs: server
# Trigger installer on PostgreSQL: a hostile table name and column name;
# --dry-run output fed to psql by hand creates working capture; inserts,
# key-changing updates and deletes give the right shadow rows and images;
# install is idempotent; uninstall leaves the catalog exactly as before;
# a table without a primary key is refused; bad configs name file:line.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

ss_pg_start SRC
BIN=$(ss_bin)
T=$(ss_tmpdir)

ss_psql SRC <<'SQL'
CREATE SCHEMA "Sales";
CREATE TABLE "Sales"."Order Items" (
    "Order No" int,
    "we""ird;--" text,
    amount numeric(38,10),
    payload bytea,
    at timestamptz,
    PRIMARY KEY ("Order No", "we""ird;--")
);
CREATE TABLE public.nokey (a int);
SQL

cat >"$T/ss.ini" <<EOF
[shadowsync]
journal_dir = $T/journal
[database src]
driver = postgres
dsn = $SRC_DSN
[database dst]
driver = postgres
dsn = $SRC_DSN dbname=unused
[job orders]
source = src
targets = dst
tables = "Sales"."Order Items"
EOF

catalog() {
	ss_psql SRC -c "SELECT string_agg(x, ',' ORDER BY x) FROM (
	  SELECT 'c:' || c.oid::regclass::text AS x FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
	  UNION ALL SELECT 'p:' || p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
	   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
	  UNION ALL SELECT 't:' || tgname FROM pg_trigger WHERE NOT tgisinternal
	  UNION ALL SELECT 'n:' || nspname FROM pg_namespace) s"
}

before=$(catalog)

# --dry-run changes nothing and prints SQL that psql can run.
"$BIN" install -c "$T/ss.ini" --dry-run >"$T/install.sql"
grep -q 'CREATE OR REPLACE TRIGGER' "$T/install.sql" || ss_fail "dry-run printed no trigger DDL"
ss_assert_eq "$before" "$(catalog)" "dry-run changed the catalog"
ss_psql SRC -f "$T/install.sql" >/dev/null
ss_assert_eq "shadowsync_delete_orders shadowsync_insert_orders shadowsync_keys_orders shadowsync_update_orders" \
	"$(ss_psql SRC -c "SELECT string_agg(tgname, ' ' ORDER BY tgname) FROM pg_trigger WHERE tgname LIKE 'shadowsync%'")" \
	"triggers created from the dry-run SQL"

# A second install through the binary succeeds and changes nothing.
after_first=$(catalog)
"$BIN" install -c "$T/ss.ini" 2>"$T/install.err" || { cat "$T/install.err"; ss_fail "second install failed"; }
ss_assert_eq "$after_first" "$(catalog)" "second install changed the catalog"

# Capture: insert, key-changing update, plain update, delete.
ss_psql SRC <<'SQL'
INSERT INTO "Sales"."Order Items" VALUES (1, 'a;b', 12345678901234567890.0123456789, '\x00ff10', '2026-01-02 03:04:05.678+02');
UPDATE "Sales"."Order Items" SET "Order No" = 2 WHERE "Order No" = 1;
UPDATE "Sales"."Order Items" SET amount = -1.5 WHERE "Order No" = 2;
DELETE FROM "Sales"."Order Items" WHERE "Order No" = 2;
SQL
rows=$(ss_psql SRC -F'|' -c "SELECT op, key_image::text, coalesce(row_image::text, '-') FROM shadowsync.log_orders ORDER BY id")
expected='I|{"Order No" : "1", "we\"ird;--" : "a;b"}|{"Order No" : "1", "we\"ird;--" : "a;b", "amount" : "12345678901234567890.0123456789", "payload" : "\\x00ff10", "at" : "2026-01-02 01:04:05.678+00"}
D|{"Order No" : "1", "we\"ird;--" : "a;b"}|-
U|{"Order No" : "2", "we\"ird;--" : "a;b"}|{"Order No" : "2", "we\"ird;--" : "a;b", "amount" : "12345678901234567890.0123456789", "payload" : "\\x00ff10", "at" : "2026-01-02 01:04:05.678+00"}
U|{"Order No" : "2", "we\"ird;--" : "a;b"}|{"Order No" : "2", "we\"ird;--" : "a;b", "amount" : "-1.5000000000", "payload" : "\\x00ff10", "at" : "2026-01-02 01:04:05.678+00"}
D|{"Order No" : "2", "we\"ird;--" : "a;b"}|-'
ss_assert_eq "$expected" "$rows" "shadow rows"

# An application role with rights on its table only can still write: the
# capture function runs as its owner (SECURITY DEFINER).
ss_psql SRC -c 'CREATE ROLE app LOGIN; GRANT USAGE ON SCHEMA "Sales" TO app;
  GRANT SELECT, INSERT, UPDATE, DELETE ON "Sales"."Order Items" TO app;'
ss_psql SRC -U app -c "INSERT INTO \"Sales\".\"Order Items\" VALUES (9, 'app', 1, NULL, NULL)" ||
	ss_fail "an application role cannot write a captured table"
ss_assert_eq 1 "$(ss_psql SRC -c "SELECT count(*) FROM shadowsync.log_orders WHERE key_image->>'Order No' = '9'")" \
	"the application role's insert was captured"

# Uninstall removes exactly what install created.
"$BIN" uninstall -c "$T/ss.ini" --dry-run | grep -q 'DROP TRIGGER' || ss_fail "uninstall --dry-run printed no DROP"
"$BIN" uninstall -c "$T/ss.ini"
ss_assert_eq "$before" "$(catalog)" "catalog after uninstall"
ss_psql SRC -c "INSERT INTO \"Sales\".\"Order Items\" VALUES (3, 'x', 1, NULL, NULL)"

# A table without a primary key is refused, naming it, and nothing is left.
sed -i 's/^tables = .*/tables = public.nokey/' "$T/ss.ini"
if "$BIN" install -c "$T/ss.ini" 2>"$T/nokey.err"; then ss_fail "install accepted a table without a primary key"; fi
grep -q 'public.nokey.*no primary key' "$T/nokey.err" || { cat "$T/nokey.err"; ss_fail "no-key message"; }
ss_assert_eq "$before" "$(catalog)" "failed install left something behind"

# A bad config: one line naming file:line, non-zero exit, nothing runs.
printf '[shadowsync]\njournal_dir = /x\nfsync = sometimes\n' >"$T/bad.ini"
if "$BIN" install -c "$T/bad.ini" 2>"$T/bad.err"; then ss_fail "bad config accepted"; fi
grep -q "bad.ini:3: .*fsync" "$T/bad.err" || { cat "$T/bad.err"; ss_fail "bad config message"; }
ss_assert_eq 1 "$(wc -l <"$T/bad.err")" "bad config gives one line"
ss_pass
