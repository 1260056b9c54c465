#!/bin/bash
# needs: server
#
# harness_selftest.sh -- the test harness itself: one PostgreSQL and one
# MariaDB start on free ports, answer queries, and export what tests use.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

ss_pg_start PG
ss_maria_start MDB

for v in PG_PORT PG_HOST PG_DIR PG_DSN MDB_PORT MDB_SOCK MDB_DIR MDB_DSN; do
	[ -n "${!v:-}" ] || ss_fail "$v is not set"
	env | grep -q "^$v=" || ss_fail "$v is not exported"
done
ss_assert_eq 127.0.0.1 "$PG_HOST" "PG_HOST"
ss_assert_eq "host=127.0.0.1 port=$PG_PORT dbname=postgres user=postgres" "$PG_DSN" "PG_DSN"
ss_assert_eq "host=127.0.0.1 port=$MDB_PORT user=root dbname=test" "$MDB_DSN" "MDB_DSN"
[ "$PG_PORT" != "$MDB_PORT" ] || ss_fail "both servers got port $PG_PORT"
for p in "$PG_PORT" "$MDB_PORT"; do
	[ "$p" -ge 20000 ] && [ "$p" -le 60000 ] || ss_fail "port $p outside 20000-60000"
done
[ -d "$PG_DIR" ] && [ -S "$MDB_SOCK" ] || ss_fail "server dir or socket missing"

# PostgreSQL: over TCP, with the harness's psql and a new database.
ss_assert_eq 2 "$(ss_psql PG -c 'select 1 + 1')" "psql query"
ss_pg_createdb PG shop
ss_psql PG -d shop -c 'create table t (id int primary key, v text)'
ss_psql PG -d shop -c "insert into t values (1, 'a'), (2, null)"
ss_assert_eq "shop|2" "$(ss_psql PG -d shop -c 'select current_database(), count(*) from t')" \
	"table in the new database"
ss_assert_eq off "$(ss_psql PG -c 'show fsync')" "fsync off by default"
ss_assert_eq "127.0.0.1" "$(ss_psql PG -c 'show listen_addresses')" "listen_addresses"
ss_assert_eq 1 "$(psql -X -At "$PG_DSN" -c 'select 1')" "psql with PG_DSN"

# MariaDB: over the socket with the helper, and root over TCP without password.
ss_assert_eq 2 "$(ss_maria MDB -e 'select 1 + 1')" "mariadb query"
ss_maria MDB -e 'create table t (id int primary key, v text)'
ss_maria MDB -e "insert into t values (1, 'a'), (2, null)"
ss_assert_eq "test	2" "$(ss_maria MDB -e 'select database(), count(*) from t')" \
	"table in database test"
ss_assert_eq 3 "$(mariadb --no-defaults -N -B -h127.0.0.1 -P "$MDB_PORT" -uroot test \
	-e 'select 1 + 2')" "root over TCP"

# Helpers.
d=$(ss_tmpdir)
[ -d "$d" ] || ss_fail "ss_tmpdir did not make a directory"
ss_wait_for "test -d '$d'" 1 || ss_fail "ss_wait_for on a true condition"
if ss_wait_for false 0.3; then
	ss_fail "ss_wait_for on a false condition succeeded"
fi
touch "$d/cleanup-ran"
ss_on_exit "echo 'harness_selftest: on-exit command ran'"
ss_pass
