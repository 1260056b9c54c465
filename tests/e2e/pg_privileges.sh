#!/usr/bin/env bash
# needs: server
# Least privileges on a PostgreSQL source, as doc/user-guide.md "PostgreSQL
# permissions" lists them: a non-superuser role `repl` (CREATE on the
# database, TRIGGER on the captured table) installs the capture, owns the
# shadowsync schema and runs the daemon; an application role with rights on
# its own tables only writes rows that replicate.  That role cannot read or
# write the shadow table, cannot attach the capture function to a table of its
# own (CREATE TRIGGER ... EXECUTE FUNCTION shadowsync."capture_..."()) nor call
# it -- not even with USAGE on the schema, as an older guide told DBAs to
# grant -- so it cannot forge replicated changes.  Uninstall (by a superuser:
# dropping a trigger needs the table's owner) leaves the catalog as before.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jobs.sh"

ss_pg_start SRC
BIN=$(ss_bin)
T=$(ss_tmpdir)
ss_pg_createdb SRC dst

ss_psql SRC <<'SQL'
CREATE ROLE repl LOGIN;
CREATE ROLE app LOGIN;
CREATE SCHEMA shop;
CREATE TABLE shop.orders (id int PRIMARY KEY, item text);
-- the application: its table, and a schema of its own for its own tables
GRANT USAGE ON SCHEMA shop TO app;
GRANT SELECT, INSERT, UPDATE, DELETE ON shop.orders TO app;
CREATE SCHEMA mine AUTHORIZATION app;
-- the replication role: what the user guide lists
GRANT CREATE ON DATABASE postgres TO repl;
GRANT USAGE ON SCHEMA shop TO repl;
GRANT TRIGGER ON shop.orders TO repl;
SQL
ss_psql SRC -d dst -c 'CREATE SCHEMA shop; CREATE TABLE shop.orders (id int PRIMARY KEY, item text)'
ss_psql SRC -U app -c 'CREATE TABLE mine.own (id int PRIMARY KEY, item text)'

catalog() {
	ss_psql SRC -c "SELECT string_agg(x, ',' ORDER BY x) FROM (
	  SELECT 'c:' || c.oid::regclass::text || coalesce(c.relacl::text, '') AS x
	    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
	  UNION ALL SELECT 'p:' || p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
	   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
	  UNION ALL SELECT 't:' || tgname FROM pg_trigger WHERE NOT tgisinternal
	  UNION ALL SELECT 'n:' || nspname || coalesce(nspacl::text, '') FROM pg_namespace
	  UNION ALL SELECT 'd:' || defaclrole::regrole::text || defaclobjtype::text FROM pg_default_acl) s"
}
before=$(catalog)

SRC_REPL="host=127.0.0.1 port=$SRC_PORT dbname=postgres user=repl"
ss_write_job "$T/ss.ini" "$T/journal" "shop.orders" \
	postgres "$SRC_REPL" postgres "host=127.0.0.1 port=$SRC_PORT dbname=dst user=postgres"

"$BIN" install -c "$T/ss.ini" 2>"$T/install.err" || { cat "$T/install.err"; ss_fail "install as repl failed"; }
"$BIN" install -c "$T/ss.ini" 2>"$T/install.err" || { cat "$T/install.err"; ss_fail "second install as repl failed"; }
ss_assert_eq "repl" "$(ss_psql SRC -c "SELECT nspowner::regrole FROM pg_namespace WHERE nspname = 'shadowsync'")" \
	"the schema shadowsync belongs to the role that installed"
FUNC=$(ss_psql SRC -c "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
	WHERE n.nspname = 'shadowsync' LIMIT 1")
[ -n "$FUNC" ] || ss_fail "no capture function in schema shadowsync"
QFUNC="shadowsync.\"${FUNC//\"/\"\"}\"()"

# Nothing in the schema is open to PUBLIC: a role with no grants at all has
# no right on it (checked by the catalog, for every object install created).
ss_psql SRC -c 'CREATE ROLE nobody'
ss_assert_eq "f" "$(ss_psql SRC -c "SELECT has_schema_privilege('nobody', 'shadowsync', 'USAGE')
	OR has_schema_privilege('nobody', 'shadowsync', 'CREATE')")" "PUBLIC has rights on schema shadowsync"
ss_assert_eq "" "$(ss_psql SRC -c "SELECT string_agg(p.oid::regprocedure::text, ',') FROM pg_proc p
	JOIN pg_namespace n ON n.oid = p.pronamespace
	WHERE n.nspname = 'shadowsync' AND has_function_privilege('nobody', p.oid, 'EXECUTE')")" \
	"functions of schema shadowsync executable by PUBLIC"
ss_assert_eq "" "$(ss_psql SRC -c "SELECT string_agg(c.oid::regclass::text, ',') FROM pg_class c
	JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname = 'shadowsync' AND c.relkind = 'r'
	  AND has_table_privilege('nobody', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE')")" \
	"tables of schema shadowsync open to PUBLIC"

# The application writes its table: captured and replicated by a daemon
# running as repl.
ss_psql SRC -U app -c "INSERT INTO shop.orders VALUES (1, 'one'), (2, 'two');
	UPDATE shop.orders SET item = 'TWO' WHERE id = 2; DELETE FROM shop.orders WHERE id = 1;
	INSERT INTO shop.orders VALUES (3, 'three')" || ss_fail "the application role cannot write its captured table"
"$BIN" run -c "$T/ss.ini" --once 2>"$T/run.err" || { cat "$T/run.err"; ss_fail "run --once as repl failed"; }
ss_assert_eq "2|TWO 3|three" "$(ss_psql SRC -d dst -c "SELECT string_agg(id || '|' || item, ' ' ORDER BY id) FROM shop.orders")" \
	"the application role's changes replicated"

# must_deny WHAT SQL: SQL run as app fails with "permission denied".
must_deny() {
	if ss_psql SRC -U app -c "$2" >"$T/deny.out" 2>&1; then
		ss_fail "the application role could $1"
	fi
	grep -q 'permission denied' "$T/deny.out" || { cat "$T/deny.out"; ss_fail "$1: not a permission error"; }
}
attacks() {
	must_deny "insert into the shadow table" \
		"INSERT INTO shadowsync.log_j (schema_name, table_name, op, key_image, row_image)
		 VALUES ('shop', 'orders', 'I', '{\"id\": \"66\"}', '{\"id\": \"66\", \"item\": \"forged\"}')"
	must_deny "read the shadow table" "SELECT * FROM shadowsync.log_j"
	must_deny "attach the capture function to its own table" \
		"CREATE TRIGGER forge AFTER INSERT ON mine.own REFERENCING NEW TABLE AS shadowsync_new
		 FOR EACH STATEMENT EXECUTE FUNCTION $QFUNC"
	must_deny "call the capture function" "SELECT $QFUNC"
}
attacks
# What an older guide told DBAs to grant: the schema open, the functions not.
ss_psql SRC -U repl -c 'GRANT USAGE ON SCHEMA shadowsync TO app'
attacks
ss_psql SRC -U app -c "INSERT INTO mine.own VALUES (66, 'forged')"
"$BIN" run -c "$T/ss.ini" --once 2>"$T/run.err" || { cat "$T/run.err"; ss_fail "run --once as repl failed"; }
ss_assert_eq "2|TWO 3|three" "$(ss_psql SRC -d dst -c "SELECT string_agg(id || '|' || item, ' ' ORDER BY id) FROM shop.orders")" \
	"no forged row replicated"
ss_psql SRC -U repl -c 'REVOKE USAGE ON SCHEMA shadowsync FROM app'

# Uninstall (a superuser: DROP TRIGGER needs the table's owner) removes what
# install and the daemon created, grants included.
sed "s/user=repl/user=postgres/" "$T/ss.ini" >"$T/su.ini"
"$BIN" uninstall -c "$T/su.ini" 2>"$T/uninstall.err" || { cat "$T/uninstall.err"; ss_fail "uninstall failed"; }
ss_psql SRC -c 'DROP TABLE IF EXISTS shadowsync.lease; DROP SCHEMA IF EXISTS shadowsync; DROP ROLE nobody'
ss_assert_eq "$before" "$(catalog)" "catalog after uninstall"
ss_pass
