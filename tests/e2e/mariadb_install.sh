#!/usr/bin/env bash
# needs: server
# Trigger installer on MariaDB: table `Order Items` in database `Sales` with
# columns `we"ird;--` and `back``tick`, and a table with a backtick in its
# name.  --dry-run prints SQL and changes nothing, and the mariadb client runs
# that SQL as is; inserts, updates, key-changing updates (also a change of
# case only) and deletes give the right shadow rows and JSON images (exact
# decimals, hex bytes, TIMESTAMP in UTC whatever the session's time zone,
# nested JSON); a second install changes nothing; uninstall leaves
# information_schema (SCHEMATA, TABLES, TRIGGERS) as before; a table without a
# primary key is refused, and so is one changed by ON DELETE CASCADE; an
# install that fails half way (no TRIGGER privilege on the second table)
# leaves nothing behind.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

ss_maria_start SRC
BIN=$(ss_bin)
T=$(ss_tmpdir)

ss_maria SRC <<'SQL'
CREATE DATABASE `Sales`;
CREATE TABLE `Sales`.`Order Items` (
    `order id`  INT NOT NULL,
    `line`      VARCHAR(20) NOT NULL,
    `we"ird;--` TEXT,
    `back``tick` DECIMAL(38,10),
    amount      DOUBLE,
    payload     VARBINARY(16),
    at          TIMESTAMP(6) NULL,
    doc         JSON,
    PRIMARY KEY (`order id`, `line`)
);
CREATE TABLE `Sales`.`tick``s` (`i``d` INT PRIMARY KEY, v TEXT);
CREATE TABLE `Sales`.nokey (a INT);
SQL

cat >"$T/ss.ini" <<EOF
[shadowsync]
journal_dir = $T/journal
[database src]
driver = mariadb
dsn = $SRC_DSN
[database dst]
driver = mariadb
dsn = $SRC_DSN dbname=unused
[job orders]
source = src
targets = dst
tables = "Sales"."Order Items", Sales.tick\`s
EOF

# Everything install could create or change, one object per line.
catalog() {
	ss_maria SRC -r -e "
	  SELECT CONCAT('s:', SCHEMA_NAME) FROM information_schema.SCHEMATA
	  UNION ALL SELECT CONCAT('t:', TABLE_SCHEMA, '.', TABLE_NAME) FROM information_schema.TABLES
	   WHERE TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')
	  UNION ALL SELECT CONCAT('g:', TRIGGER_SCHEMA, '.', TRIGGER_NAME, ' ', EVENT_OBJECT_TABLE, ' ',
	         ACTION_TIMING, ' ', EVENT_MANIPULATION, ' ', ACTION_ORDER, ' ', SQL_MODE, ' ',
	         MD5(ACTION_STATEMENT)) FROM information_schema.TRIGGERS" | LC_ALL=C sort
}

before=$(catalog)

# --dry-run changes nothing and prints SQL that the mariadb client can run.
"$BIN" install -c "$T/ss.ini" --dry-run >"$T/install.sql"
grep -q 'CREATE OR REPLACE TRIGGER' "$T/install.sql" || ss_fail "dry-run printed no trigger DDL"
ss_assert_eq "$before" "$(catalog)" "dry-run changed the catalog"
mariadb --no-defaults -uroot --socket="$SRC_SOCK" <"$T/install.sql" ||
	ss_fail "the mariadb client could not run the dry-run SQL"
ss_assert_eq 6 "$(ss_maria SRC -e "SELECT COUNT(*) FROM information_schema.TRIGGERS
	WHERE TRIGGER_SCHEMA = 'Sales' AND TRIGGER_NAME LIKE 'shadowsync\\_orders\\_%'")" \
	"three triggers per table from the dry-run SQL"

# A second install through the binary succeeds and changes nothing.
after_first=$(catalog)
"$BIN" install -c "$T/ss.ini" 2>"$T/install.err" || { cat "$T/install.err"; ss_fail "second install failed"; }
ss_assert_eq "$after_first" "$(catalog)" "second install changed the catalog"
"$BIN" install -c "$T/ss.ini" 2>"$T/install.err" || { cat "$T/install.err"; ss_fail "third install failed"; }
ss_assert_eq "$after_first" "$(catalog)" "third install changed the catalog"

# Capture, from a session in another time zone: insert, key-changing update,
# update, a key change of case only (equal under the collation), delete.
ss_maria SRC -D Sales <<'SQL'
SET time_zone = '+02:00';
INSERT INTO `Order Items` VALUES (1, 'a;b', 'x"y', 12345678901234567890.0123456789, 0.1,
       0x00ff10, '2026-01-02 03:04:05.678', '{"k": [1, "é", null]}');
UPDATE `Order Items` SET `order id` = 2 WHERE `order id` = 1;
UPDATE `Order Items` SET `back``tick` = -1.5, amount = 1e-300 WHERE `order id` = 2;
UPDATE `Order Items` SET line = 'A;B' WHERE `order id` = 2;
DELETE FROM `Order Items` WHERE `order id` = 2;
INSERT INTO `tick``s` VALUES (7, NULL), (8, '');
UPDATE `tick``s` SET v = 'x' WHERE `i``d` = 7;
SQL
rows=$(ss_maria SRC -r -e "SELECT CONCAT_WS('|', txid, schema_name, table_name, op, key_image,
	COALESCE(row_image, '-')) FROM shadowsync.log_orders ORDER BY id")
img1='{"order id": 1, "line": "a;b", "we\"ird;--": "x\"y", "back`tick": "12345678901234567890.0123456789", "amount": 0.1, "payload": "00FF10", "at": "2026-01-02 01:04:05.678+00", "doc": {"k": [1, "é", null]}}'
img2='{"order id": 2, "line": "a;b", "we\"ird;--": "x\"y", "back`tick": "12345678901234567890.0123456789", "amount": 0.1, "payload": "00FF10", "at": "2026-01-02 01:04:05.678+00", "doc": {"k": [1, "é", null]}}'
img3='{"order id": 2, "line": "a;b", "we\"ird;--": "x\"y", "back`tick": "-1.5000000000", "amount": 1e-300, "payload": "00FF10", "at": "2026-01-02 01:04:05.678+00", "doc": {"k": [1, "é", null]}}'
img4='{"order id": 2, "line": "A;B", "we\"ird;--": "x\"y", "back`tick": "-1.5000000000", "amount": 1e-300, "payload": "00FF10", "at": "2026-01-02 01:04:05.678+00", "doc": {"k": [1, "é", null]}}'
expected="0|Sales|Order Items|I|{\"order id\": 1, \"line\": \"a;b\"}|$img1
0|Sales|Order Items|D|{\"order id\": 1, \"line\": \"a;b\"}|-
0|Sales|Order Items|U|{\"order id\": 2, \"line\": \"a;b\"}|$img2
0|Sales|Order Items|U|{\"order id\": 2, \"line\": \"a;b\"}|$img3
0|Sales|Order Items|D|{\"order id\": 2, \"line\": \"a;b\"}|-
0|Sales|Order Items|U|{\"order id\": 2, \"line\": \"A;B\"}|$img4
0|Sales|Order Items|D|{\"order id\": 2, \"line\": \"A;B\"}|-
0|Sales|tick\`s|I|{\"i\`d\": 7}|{\"i\`d\": 7, \"v\": null}
0|Sales|tick\`s|I|{\"i\`d\": 8}|{\"i\`d\": 8, \"v\": \"\"}
0|Sales|tick\`s|U|{\"i\`d\": 7}|{\"i\`d\": 7, \"v\": \"x\"}"
ss_assert_eq "$expected" "$rows" "shadow rows"

# Uninstall removes exactly what install created.
"$BIN" uninstall -c "$T/ss.ini" --dry-run >"$T/uninstall.sql"
[ "$(grep -c '^DROP TRIGGER IF EXISTS `Sales`.`shadowsync_orders_' "$T/uninstall.sql")" = 6 ] ||
	{ cat "$T/uninstall.sql"; ss_fail "uninstall --dry-run does not drop the six triggers"; }
ss_assert_eq "$after_first" "$(catalog)" "uninstall --dry-run changed the catalog"
"$BIN" uninstall -c "$T/ss.ini" 2>"$T/uninstall.err" || { cat "$T/uninstall.err"; ss_fail "uninstall failed"; }
ss_assert_eq "$before" "$(catalog)" "catalog after uninstall"
"$BIN" uninstall -c "$T/ss.ini" 2>"$T/uninstall.err" || { cat "$T/uninstall.err"; ss_fail "second uninstall failed"; }
ss_assert_eq "$before" "$(catalog)" "catalog after a second uninstall"
ss_maria SRC -D Sales -e "INSERT INTO \`Order Items\` (\`order id\`, line) VALUES (3, 'x')" ||
	ss_fail "the table does not take writes after uninstall"

# A table without a primary key is refused, naming it, and nothing is left.
sed -i 's/^tables = .*/tables = Sales.nokey/' "$T/ss.ini"
if "$BIN" install -c "$T/ss.ini" 2>"$T/nokey.err"; then ss_fail "install accepted a table without a primary key"; fi
grep -q 'Sales.nokey.*no primary key' "$T/nokey.err" || { cat "$T/nokey.err"; ss_fail "no-key message"; }
ss_assert_eq "$before" "$(catalog)" "refused install left something behind"

# So is a table that a foreign-key action changes: MariaDB fires no trigger
# for those rows.
ss_maria SRC -D Sales -e "CREATE TABLE parent (id INT PRIMARY KEY);
	CREATE TABLE child (id INT PRIMARY KEY, p INT,
	    CONSTRAINT child_parent FOREIGN KEY (p) REFERENCES parent (id) ON DELETE CASCADE)"
before=$(catalog)
sed -i 's/^tables = .*/tables = Sales.parent, Sales.child/' "$T/ss.ini"
if "$BIN" install -c "$T/ss.ini" 2>"$T/fk.err"; then ss_fail "install accepted a table changed by ON DELETE CASCADE"; fi
grep -q 'Sales.child .*foreign key child_parent with ON DELETE CASCADE' "$T/fk.err" ||
	{ cat "$T/fk.err"; ss_fail "cascade message"; }
ss_assert_eq "$before" "$(catalog)" "refused install left something behind"
ss_maria SRC -D Sales -e "DROP TABLE child; DROP TABLE parent"
before=$(catalog)

# An install that fails half way is undone: this user may create triggers on
# the first table only, so the second table's triggers fail after the log
# table and the first table's triggers exist.
ss_maria SRC <<'SQL'
CREATE USER 'inst'@'127.0.0.1' IDENTIFIED BY 'S3cr3t-pw';
GRANT ALL ON `shadowsync`.* TO 'inst'@'127.0.0.1';
GRANT SELECT, TRIGGER ON `Sales`.`Order Items` TO 'inst'@'127.0.0.1';
GRANT SELECT ON `Sales`.`tick``s` TO 'inst'@'127.0.0.1';
SQL
sed -i -e "s/^tables = .*/tables = \"Sales\".\"Order Items\", Sales.tick\`s/" \
	-e "0,/^dsn = .*/s//dsn = host=127.0.0.1 port=$SRC_PORT user=inst dbname=Sales\npassword_env = SS_TEST_PW/" \
	"$T/ss.ini"
if SS_TEST_PW=S3cr3t-pw "$BIN" install -c "$T/ss.ini" 2>"$T/half.err"; then
	ss_fail "install without TRIGGER privilege on the second table succeeded"
fi
grep -qF "\`Sales\`.\`tick\`\`s\`" "$T/half.err" || { cat "$T/half.err"; ss_fail "the failure does not name the table"; }
grep -q 'dropped again' "$T/half.err" || { cat "$T/half.err"; ss_fail "the failure does not say it was undone"; }
grep -q 'S3cr3t' "$T/half.err" && ss_fail "the password appears in the message"
ss_assert_eq "$before" "$(catalog)" "a failed install left something behind"

# The job name must fit in MariaDB's 64-character trigger names.
sed -i 's/^\[job orders\]/[job a_job_name_that_is_much_too_long_for_mariadb]/' "$T/ss.ini"
if SS_TEST_PW=S3cr3t-pw "$BIN" install -c "$T/ss.ini" 2>"$T/long.err"; then ss_fail "a too long job name was accepted"; fi
grep -q 'longer than 32 characters' "$T/long.err" || { cat "$T/long.err"; ss_fail "long job name message"; }
ss_pass
