#!/usr/bin/env bash
# needs: server
# Least privileges on a MariaDB source, as doc/user-guide.md "MariaDB
# permissions" lists them: a user `repl` with only those grants installs the
# capture (the triggers' DEFINER) and runs the daemon; an application user
# with rights on its own tables only (none on the shadowsync database) writes
# rows that are captured (the triggers run with their definer's rights) and
# replicate.  That user can neither read nor write the shadow table, cannot
# create a trigger running as repl (DEFINER = repl), and a trigger of its own
# writing the shadow table fails when it fires: nothing forged replicates.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jobs.sh"

ss_maria_start SRC
BIN=$(ss_bin)
T=$(ss_tmpdir)

ss_maria SRC <<'SQL'
CREATE DATABASE shop;
CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(20));
CREATE DATABASE mine;
CREATE TABLE mine.own (id INT PRIMARY KEY, item VARCHAR(20));
CREATE DATABASE dst;
CREATE TABLE dst.orders (id INT PRIMARY KEY, item VARCHAR(20));
-- the replication user: what the user guide lists
CREATE USER repl@'%';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, DROP ON shadowsync.* TO repl@'%';
GRANT SELECT, TRIGGER ON shop.orders TO repl@'%';
-- the application: its table, and a database of its own
CREATE USER app@'%';
GRANT SELECT, INSERT, UPDATE, DELETE ON shop.orders TO app@'%';
GRANT ALL ON mine.* TO app@'%';
SQL

ss_write_job "$T/ss.ini" "$T/journal" "shop.orders" \
	mariadb "host=127.0.0.1 port=$SRC_PORT user=repl dbname=shop" \
	mariadb "host=127.0.0.1 port=$SRC_PORT user=root dbname=dst"

"$BIN" install -c "$T/ss.ini" 2>"$T/install.err" || { cat "$T/install.err"; ss_fail "install as repl failed"; }
"$BIN" install -c "$T/ss.ini" 2>"$T/install.err" || { cat "$T/install.err"; ss_fail "second install as repl failed"; }
ss_assert_eq "repl@% repl@% repl@%" "$(ss_maria SRC -e "SELECT GROUP_CONCAT(DEFINER ORDER BY TRIGGER_NAME SEPARATOR ' ')
	FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = 'shop'")" "the triggers run as repl"

app() { mariadb --no-defaults -N -B -h127.0.0.1 -P "$SRC_PORT" -uapp "$@"; }

# The application writes its table: captured and replicated by a daemon
# running as repl.
app -e "INSERT INTO shop.orders VALUES (1, 'one'), (2, 'two');
	UPDATE shop.orders SET item = 'TWO' WHERE id = 2; DELETE FROM shop.orders WHERE id = 1;
	INSERT INTO shop.orders VALUES (3, 'three')" || ss_fail "the application user cannot write its captured table"
"$BIN" run -c "$T/ss.ini" --once 2>"$T/run.err" || { cat "$T/run.err"; ss_fail "run --once as repl failed"; }
replicated() { ss_maria SRC -e "SELECT GROUP_CONCAT(id, '|', item ORDER BY id SEPARATOR ' ') FROM dst.orders"; }
ss_assert_eq "2|TWO 3|three" "$(replicated)" "the application user's changes replicated"

# must_deny WHAT SQL: SQL run as app fails with an access error.
must_deny() {
	if app -e "$2" >"$T/deny.out" 2>&1; then
		ss_fail "the application user could $1"
	fi
	grep -qi 'denied' "$T/deny.out" || { cat "$T/deny.out"; ss_fail "$1: not an access error"; }
}
must_deny "insert into the shadow table" \
	"INSERT INTO shadowsync.log_j (schema_name, table_name, op, key_image, row_image)
	 VALUES ('shop', 'orders', 'I', '{\"id\": \"66\"}', '{\"id\": \"66\", \"item\": \"forged\"}')"
must_deny "read the shadow table" "SELECT * FROM shadowsync.log_j"
must_deny "create a trigger running as repl" \
	"CREATE DEFINER = repl@'%' TRIGGER mine.forge AFTER INSERT ON mine.own FOR EACH ROW
	 INSERT INTO shadowsync.log_j (schema_name, table_name, op, key_image, row_image)
	 VALUES ('shop', 'orders', 'I', JSON_OBJECT('id', NEW.id), JSON_OBJECT('id', NEW.id, 'item', NEW.item))"
# A trigger of its own (definer app) may be created, but it cannot write.
app -e "CREATE TRIGGER mine.forge AFTER INSERT ON mine.own FOR EACH ROW
	INSERT INTO shadowsync.log_j (schema_name, table_name, op, key_image, row_image)
	VALUES ('shop', 'orders', 'I', JSON_OBJECT('id', NEW.id), JSON_OBJECT('id', NEW.id, 'item', NEW.item))" ||
	ss_fail "the application user cannot create a trigger on its own table"
must_deny "write the shadow table through its own trigger" "INSERT INTO mine.own VALUES (66, 'forged')"
"$BIN" run -c "$T/ss.ini" --once 2>"$T/run.err" || { cat "$T/run.err"; ss_fail "run --once as repl failed"; }
ss_assert_eq "2|TWO 3|three" "$(replicated)" "no forged row replicated"

# repl uninstalls with the same grants; the shadowsync database stays only
# for the daemon's lease table.
"$BIN" uninstall -c "$T/ss.ini" 2>"$T/uninstall.err" || { cat "$T/uninstall.err"; ss_fail "uninstall as repl failed"; }
ss_assert_eq 0 "$(ss_maria SRC -e "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = 'shop'")" \
	"triggers left after uninstall"
app -e "INSERT INTO shop.orders VALUES (4, 'four')" || ss_fail "the application user cannot write after uninstall"
ss_pass
