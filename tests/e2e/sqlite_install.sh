#!/usr/bin/env bash
# Trigger installer on SQLite through ODBC (no server): a table "Order Items"
# with a column "we"ird;--" in its composite key; --dry-run changes nothing
# and prints SQL the sqlite3 shell can run; inserts, key-changing updates and
# deletes give the right shadow rows and JSON images (NULL vs '', unicode,
# bytes as hex, REAL as exact hex floats); a second install changes nothing;
# uninstall leaves sqlite_master as it was, also with two jobs whose names
# share a prefix; a table without a primary key is refused; connection
# errors are one line and never show the password.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

command -v sqlite3 >/dev/null || ss_fail "the sqlite3 shell is not installed (make deps)"
BIN=$(ss_bin)
T=$(ss_tmpdir)
DB=$T/src.db

sqlite3 "$DB" <<'SQL'
CREATE TABLE "Order Items" (
    id INTEGER,
    "we""ird;--" TEXT,
    amount NUMERIC(12,2),
    price REAL,
    payload BLOB,
    flag BOOLEAN,
    doc JSON,
    PRIMARY KEY (id, "we""ird;--")
);
CREATE TABLE nokey (a INTEGER);
CREATE TABLE other (id INTEGER PRIMARY KEY, v TEXT);
SQL

cat >"$T/ss.ini" <<EOF
[shadowsync]
journal_dir = $T/journal
[database src]
driver = odbc
dsn = Driver=SQLite3;Database=$DB
[database dst]
driver = odbc
dsn = Driver=SQLite3;Database=$T/dst.db
[job orders]
source = src
targets = dst
tables = main."Order Items"
EOF

catalog() {
	sqlite3 "$DB" "SELECT type || ':' || name || ':' || tbl_name || ':' || coalesce(sql, '')
	                 FROM sqlite_master WHERE name <> 'sqlite_sequence' ORDER BY type, name"
}
shadow() {
	sqlite3 -separator '|' "$DB" \
		"SELECT op, key_image, coalesce(row_image, '-') FROM shadowsync_log_orders ORDER BY id"
}
count() {
	sqlite3 "$DB" "$1"
}

before=$(catalog)

# --dry-run changes nothing and prints SQL that the sqlite3 shell can run.
"$BIN" install -c "$T/ss.ini" --dry-run >"$T/install.sql"
grep -q 'CREATE TRIGGER "shadowsync_orders_[0-9a-f]*_upd" AFTER UPDATE ON "Order Items"' \
	"$T/install.sql" || ss_fail "dry-run printed no trigger DDL"
grep -q '^BEGIN IMMEDIATE;$' "$T/install.sql" && grep -q '^COMMIT;$' "$T/install.sql" ||
	ss_fail "dry-run SQL is not one transaction"
ss_assert_eq "$before" "$(catalog)" "dry-run changed sqlite_master"
sqlite3 "$DB" <"$T/install.sql" || ss_fail "the sqlite3 shell rejected the dry-run SQL"
ss_assert_eq 3 "$(count "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'
	AND tbl_name = 'Order Items' AND name LIKE 'shadowsync_orders_%'")" \
	"three triggers created from the dry-run SQL"

# A second install through the binary succeeds and changes nothing.
after_first=$(catalog)
"$BIN" install -c "$T/ss.ini" 2>"$T/install.err" || { cat "$T/install.err"; ss_fail "second install failed"; }
grep -q 'capture installed on 1 table in database src' "$T/install.err" ||
	ss_fail "install said: $(cat "$T/install.err")"
ss_assert_eq "$after_first" "$(catalog)" "second install changed sqlite_master"

# Capture: insert, key-changing updates (of either key column), a plain
# update, deletes; NULL vs '', unicode, bytes, REAL infinities.
sqlite3 "$DB" <<'SQL'
INSERT INTO "Order Items" VALUES (1, 'a;b', 12.5, 0.1, x'00ff10', 1, '{"k": [1, 2]}');
UPDATE "Order Items" SET id = 2 WHERE id = 1;
UPDATE "Order Items" SET amount = -1.25, price = -9e999, payload = x'', flag = 0, doc = NULL WHERE id = 2;
UPDATE "Order Items" SET "we""ird;--" = 'é ☃' WHERE id = 2;
DELETE FROM "Order Items" WHERE id = 2;
INSERT INTO "Order Items" VALUES (3, '', NULL, 1e300, NULL, NULL, '[]');
INSERT INTO other VALUES (1, 'not captured');
SQL
# 0x66666666666668p-58 is 0.1 and 0x5f90f22001d670p942 is 1e300, exactly
expected='I|{"id":1,"we\"ird;--":"a;b"}|{"id":1,"we\"ird;--":"a;b","amount":"0x64000000000000p-51","price":"0x66666666666668p-58","payload":"00FF10","flag":1,"doc":{"k":[1,2]}}
D|{"id":1,"we\"ird;--":"a;b"}|-
U|{"id":2,"we\"ird;--":"a;b"}|{"id":2,"we\"ird;--":"a;b","amount":"0x64000000000000p-51","price":"0x66666666666668p-58","payload":"00FF10","flag":1,"doc":{"k":[1,2]}}
U|{"id":2,"we\"ird;--":"a;b"}|{"id":2,"we\"ird;--":"a;b","amount":"-0x50000000000000p-54","price":"-Infinity","payload":"","flag":0,"doc":null}
D|{"id":2,"we\"ird;--":"a;b"}|-
U|{"id":2,"we\"ird;--":"é ☃"}|{"id":2,"we\"ird;--":"é ☃","amount":"-0x50000000000000p-54","price":"-Infinity","payload":"","flag":0,"doc":null}
D|{"id":2,"we\"ird;--":"é ☃"}|-
I|{"id":3,"we\"ird;--":""}|{"id":3,"we\"ird;--":"","amount":null,"price":"0x5f90f22001d670p942","payload":null,"flag":null,"doc":[]}'
ss_assert_eq "$expected" "$(shadow)" "shadow rows"
ss_assert_eq 8 "$(count 'SELECT max(id) FROM shadowsync_log_orders')" "shadow ids"
now_s=$(date +%s)
ss_assert_eq 1 "$(count "SELECT count(*) = 8 FROM shadowsync_log_orders
	WHERE captured_us BETWEEN ($now_s - 600) * 1000000 AND ($now_s + 600) * 1000000")" \
	"captured_us is the capture time in microseconds"

# A write that fails takes its shadow row with it.
if sqlite3 "$DB" "BEGIN; INSERT INTO \"Order Items\" VALUES (9, 'x', 1, 1, NULL, 1, NULL);
	INSERT INTO \"Order Items\" VALUES (9, 'x', 1, 1, NULL, 1, NULL); COMMIT;" 2>/dev/null; then
	ss_fail "duplicate key accepted"
fi
sqlite3 "$DB" "ROLLBACK" 2>/dev/null || true
ss_assert_eq 8 "$(count 'SELECT count(*) FROM shadowsync_log_orders')" \
	"a rolled-back write left no shadow row"

# Uninstall (dry run first) leaves sqlite_master as before.  SQLite keeps
# its internal sqlite_sequence table once an AUTOINCREMENT table existed (it
# cannot be dropped; see doc); shadowsync's row in it is gone.
"$BIN" uninstall -c "$T/ss.ini" --dry-run >"$T/uninstall.sql"
ss_assert_eq 3 "$(grep -c '^DROP TRIGGER IF EXISTS "shadowsync_orders_' "$T/uninstall.sql")" \
	"uninstall dry-run drops the three triggers"
grep -q '^DROP TABLE IF EXISTS "shadowsync_log_orders";$' "$T/uninstall.sql" ||
	ss_fail "uninstall dry-run does not drop the shadow table"
ss_assert_eq "$after_first" "$(catalog)" "uninstall --dry-run changed sqlite_master"
"$BIN" uninstall -c "$T/ss.ini" 2>"$T/uninstall.err" || { cat "$T/uninstall.err"; ss_fail "uninstall failed"; }
ss_assert_eq "$before" "$(catalog)" "sqlite_master after uninstall"
ss_assert_eq 0 "$(count "SELECT count(*) FROM sqlite_sequence WHERE name LIKE 'shadowsync%'")" \
	"sqlite_sequence row of the shadow table"
"$BIN" uninstall -c "$T/ss.ini" 2>/dev/null || ss_fail "a second uninstall failed"
ss_assert_eq "$before" "$(catalog)" "sqlite_master after a second uninstall"

# Two jobs whose names share a prefix: removing one keeps the other.
cat >"$T/two.ini" <<EOF
[shadowsync]
journal_dir = $T/journal2
[database src]
driver = odbc
dsn = Driver=SQLite3;Database=$DB
[database dst]
driver = odbc
dsn = Driver=SQLite3;Database=$T/dst.db
[job a]
source = src
targets = dst
tables = main.other
[job a_b]
source = src
targets = dst
tables = main.other, main."Order Items"
EOF
"$BIN" install -c "$T/two.ini" 2>/dev/null || ss_fail "install of two jobs failed"
ss_assert_eq 9 "$(count "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'")" \
	"3 triggers for job a, 6 for job a_b"
"$BIN" uninstall -c "$T/two.ini" --job a 2>/dev/null || ss_fail "uninstall of job a failed"
ss_assert_eq "0|1|6" "$(count "SELECT (SELECT count(*) FROM sqlite_master WHERE name = 'shadowsync_log_a'),
	(SELECT count(*) FROM sqlite_master WHERE name = 'shadowsync_log_a_b'),
	(SELECT count(*) FROM sqlite_master WHERE type = 'trigger')")" "job a_b survives job a's uninstall"
"$BIN" uninstall -c "$T/two.ini" --job a_b 2>/dev/null || ss_fail "uninstall of job a_b failed"
ss_assert_eq "$before" "$(catalog)" "sqlite_master after both jobs' uninstall"

# A table without a primary key is refused, naming it; nothing is created.
sed -i 's/^tables = .*/tables = main.nokey/' "$T/ss.ini"
if "$BIN" install -c "$T/ss.ini" 2>"$T/nokey.err"; then
	ss_fail "install on a table without a primary key succeeded"
fi
grep -q 'main.nokey.*no primary key' "$T/nokey.err" || ss_fail "unclear error: $(cat "$T/nokey.err")"
ss_assert_eq "$before" "$(catalog)" "a refused install changed sqlite_master"

# A named DSN (from the odbc.ini that ODBCINI names) works like the DSN-less
# connection string.
printf '[ss_test_lite]\nDriver = SQLite3\nDatabase = %s\n' "$DB" >"$T/odbc.ini"
sed -e 's/^dsn = Driver=SQLite3;Database=.*src.db$/dsn = DSN=ss_test_lite/' \
	-e 's/^tables = .*/tables = main.other/' "$T/ss.ini" >"$T/dsn.ini"
grep -q '^dsn = DSN=ss_test_lite$' "$T/dsn.ini" || ss_fail "test setup: DSN line not replaced"
# (unixODBC leaks its parsed odbc.ini when it looks a DSN up: no leak
# checking for this one run under `make asan`)
ODBCINI=$T/odbc.ini ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	"$BIN" install -c "$T/dsn.ini" --dry-run >"$T/dsn.sql" 2>"$T/dsn.err" ||
	ss_fail "install through a named DSN failed: $(cat "$T/dsn.err")"
grep -q 'AFTER INSERT ON "other"' "$T/dsn.sql" || ss_fail "no trigger DDL through the named DSN"

# Connection errors: one line, naming the database, without the password.
cat >"$T/bad.ini" <<EOF
[shadowsync]
journal_dir = $T/journal3
[database src]
driver = odbc
dsn = DSN=no_such_dsn_shadowsync
password_env = SS_TEST_SECRET
[database dst]
driver = odbc
dsn = Driver=SQLite3;Database=$T/dst.db
[job orders]
source = src
targets = dst
tables = main.other
EOF
if SS_TEST_SECRET='s3cr3t-Pa55' "$BIN" install -c "$T/bad.ini" 2>"$T/bad.err"; then
	ss_fail "install through a missing DSN succeeded"
fi
ss_assert_eq 1 "$(wc -l <"$T/bad.err")" "connection error is one line: $(cat "$T/bad.err")"
grep -q 'database src: cannot connect: .*IM002' "$T/bad.err" || ss_fail "unclear error: $(cat "$T/bad.err")"
if grep -q 's3cr3t' "$T/bad.err"; then
	ss_fail "the password appeared in an error message"
fi

ss_pass
