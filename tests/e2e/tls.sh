#!/usr/bin/env bash
# needs: server
# TLS to both engines, with a CA and a server certificate made here by
# openssl.  MariaDB runs with --ssl-ca/--ssl-cert/--ssl-key and the job's
# user REQUIRE SSL; PostgreSQL runs with ssl=on and pg_hba rejects every
# TCP connection that is not TLS, so a connection that works is encrypted.
# PostgreSQL source (libpq's sslmode=verify-full sslrootcert=...) ->
# MariaDB target (our sslmode=verify-full sslrootcert=...): rows arrive.
# A wrong CA, sslmode=disable, and sslmode=require against a MariaDB that
# offers no TLS, verify-full to a host name not in the certificate (where
# verify-ca connects) are refused, each with an error naming the database, and
# no row reaches the target.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

BIN=$(ss_bin)
T=$(ss_tmpdir)
chmod 755 "$T"
C=$T/ca
mkdir -p "$C"
(
	cd "$C"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=shadowsync test CA" \
		-keyout ca.key -out ca.crt
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=some other CA" \
		-keyout other.key -out other.crt
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key -out server.csr
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext
	openssl x509 -req -days 2 -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
		-extfile san.ext -out server.crt
) >"$T/openssl.log" 2>&1 || { cat "$T/openssl.log"; ss_fail "openssl could not make the certificates"; }
chmod 644 "$C"/*.crt
# each server reads its own copy, owned by its user, key 0600
for u in mysql postgres; do
	mkdir -p "$T/$u"
	cp "$C/ca.crt" "$C/server.crt" "$C/server.key" "$T/$u/"
	chmod 600 "$T/$u/server.key"
	[ "$(id -u)" -ne 0 ] || chown -R "$u:" "$T/$u"
done

SS_MARIA_EXTRA_OPTS="--ssl-ca=$T/mysql/ca.crt --ssl-cert=$T/mysql/server.crt --ssl-key=$T/mysql/server.key" \
	ss_maria_start M
SS_PG_EXTRA_OPTS="-c ssl=on -c ssl_cert_file=$T/postgres/server.crt -c ssl_key_file=$T/postgres/server.key" \
	ss_pg_start PG
ss_maria_start PLAIN # no TLS offered
ss_maria M -e "CREATE DATABASE dst; CREATE TABLE dst.t (id INT PRIMARY KEY, v VARCHAR(20));
	CREATE USER repl@'%' IDENTIFIED BY 'sEcret' REQUIRE SSL; GRANT ALL ON *.* TO repl@'%';"
ss_maria PLAIN -e "CREATE DATABASE dst; CREATE TABLE dst.t (id INT PRIMARY KEY, v VARCHAR(20));"
ss_assert_eq "Ssl_cipher" "$(ss_maria M -e "SHOW STATUS LIKE 'Ssl_cipher'" | cut -f1)" "MariaDB M has TLS"
ss_pg_createdb PG shop
ss_psql PG -d shop -c "CREATE TABLE t (id int PRIMARY KEY, v text)"
# TCP without TLS is rejected by the server itself
{ echo "hostnossl all all 127.0.0.1/32 reject"; cat "$PG_DIR/data/pg_hba.conf"; } >"$T/hba"
cat "$T/hba" >"$PG_DIR/data/pg_hba.conf"
ss_psql PG -c "SELECT pg_reload_conf()" >/dev/null

PSRC="host=127.0.0.1 port=$PG_PORT user=postgres dbname=shop"
MDST="host=127.0.0.1 port=$M_PORT user=repl password=sEcret dbname=dst"
# conf FILE SRC_DSN DST_DSN
conf() {
	cat >"$1" <<EOF2
[shadowsync]
journal_dir = $T/journal
[database src]
driver = postgres
dsn = $2
connect_timeout = 2s
[database dst]
driver = mariadb
dsn = $3
connect_timeout = 2s
[job j]
source = src
targets = dst
tables = public.t
poll_interval = 100ms
EOF2
}
# refused WHAT CONF DB PATTERN: run --once fails naming DB, its error matches PATTERN
refused() {
	local rc=0
	timeout 120 "$BIN" run -c "$2" --once >"$T/refused.log" 2>&1 || rc=$?
	[ "$rc" != 0 ] && [ "$rc" != 124 ] || { cat "$T/refused.log"; ss_fail "$1: run --once exit $rc, wanted a refusal"; }
	grep -q "database $3" "$T/refused.log" || { cat "$T/refused.log"; ss_fail "$1: the error does not name database $3"; }
	grep -Eqi "$4" "$T/refused.log" || { cat "$T/refused.log"; ss_fail "$1: the error does not say /$4/"; }
	! grep -q sEcret "$T/refused.log" || { cat "$T/refused.log"; ss_fail "$1: the password is printed"; }
	ss_assert_eq 0 "$(ss_maria M -e 'SELECT count(*) FROM dst.t')" "$1: rows in dst.t"
}

conf "$T/good.ini" "$PSRC sslmode=verify-full sslrootcert=$C/ca.crt" \
	"$MDST sslmode=verify-full sslrootcert=$C/ca.crt"
"$BIN" install -c "$T/good.ini" >"$T/install.log" 2>&1 || { cat "$T/install.log"; ss_fail "install over TLS failed"; }
ss_psql PG -d shop -c "INSERT INTO t VALUES (1, 'one'), (2, 'two'); UPDATE t SET v = 'TWO' WHERE id = 2"

conf "$T/m-wrongca.ini" "$PSRC sslmode=verify-full sslrootcert=$C/ca.crt" \
	"$MDST sslmode=verify-full sslrootcert=$C/other.crt"
refused "MariaDB verify-full with a wrong CA" "$T/m-wrongca.ini" dst "certificate|verif"
conf "$T/m-verifyca.ini" "$PSRC sslmode=verify-full sslrootcert=$C/ca.crt" \
	"$MDST sslmode=verify-ca sslrootcert=$C/other.crt"
refused "MariaDB verify-ca with a wrong CA" "$T/m-verifyca.ini" dst "certificate|verif"
# 127.1 is 127.0.0.1, but not a name in the certificate: only verify-full cares
conf "$T/m-wronghost.ini" "$PSRC sslmode=verify-full sslrootcert=$C/ca.crt" \
	"$MDST host=127.1 sslmode=verify-full sslrootcert=$C/ca.crt"
refused "MariaDB verify-full, host name not in the certificate" "$T/m-wronghost.ini" dst "certificate|verif|name|match"
conf "$T/m-disable.ini" "$PSRC sslmode=verify-full sslrootcert=$C/ca.crt" "$MDST sslmode=disable"
refused "MariaDB sslmode=disable, user REQUIRE SSL" "$T/m-disable.ini" dst "access denied"
conf "$T/m-plain.ini" "$PSRC sslmode=verify-full sslrootcert=$C/ca.crt" \
	"host=127.0.0.1 port=$PLAIN_PORT user=root dbname=dst sslmode=require"
refused "MariaDB sslmode=require, server without TLS" "$T/m-plain.ini" dst "tls|ssl"
ss_assert_eq 0 "$(ss_maria PLAIN -e 'SELECT count(*) FROM dst.t')" "rows in the non-TLS MariaDB"
conf "$T/m-badkey.ini" "$PSRC" "$MDST sslmode=verify-full sslrootcert=$C/ca.crt sslrootcrt=x"
refused "MariaDB dsn with a misspelt key" "$T/m-badkey.ini" dst "unknown key \"sslrootcrt\""
conf "$T/m-badmode.ini" "$PSRC" "$MDST sslmode=prefer-maybe"
refused "MariaDB dsn with an unknown sslmode" "$T/m-badmode.ini" dst "sslmode"
conf "$T/p-wrongca.ini" "$PSRC sslmode=verify-full sslrootcert=$C/other.crt" \
	"$MDST sslmode=verify-full sslrootcert=$C/ca.crt"
refused "PostgreSQL verify-full with a wrong root" "$T/p-wrongca.ini" src "certificate|ssl"
conf "$T/p-disable.ini" "$PSRC sslmode=disable" "$MDST sslmode=verify-full sslrootcert=$C/ca.crt"
refused "PostgreSQL sslmode=disable, hostnossl rejected" "$T/p-disable.ini" src "no encryption|pg_hba"

timeout 120 "$BIN" run -c "$T/good.ini" --once >"$T/run.log" 2>&1 ||
	{ cat "$T/run.log"; ss_fail "run --once over TLS (verify-full both ends) failed"; }
ss_assert_eq "1 one;2 TWO;" "$(ss_maria M -e 'SELECT id, v FROM dst.t ORDER BY id' | tr '\t\n' ' ;')" \
	"dst.t after run --once over TLS"
# verify-ca and require also connect (encrypted: the user is REQUIRE SSL)
ss_psql PG -d shop -c "INSERT INTO t VALUES (3, 'three')"
conf "$T/require.ini" "$PSRC sslmode=verify-ca sslrootcert=$C/ca.crt" "$MDST sslmode=require"
timeout 120 "$BIN" run -c "$T/require.ini" --once >"$T/run2.log" 2>&1 ||
	{ cat "$T/run2.log"; ss_fail "run --once with sslmode=require / verify-ca failed"; }
ss_psql PG -d shop -c "INSERT INTO t VALUES (4, 'four')"
conf "$T/verifyca.ini" "$PSRC sslmode=require" "$MDST host=127.1 sslmode=verify-ca sslrootcert=$C/ca.crt"
timeout 120 "$BIN" run -c "$T/verifyca.ini" --once >"$T/run3.log" 2>&1 ||
	{ cat "$T/run3.log"; ss_fail "run --once with MariaDB sslmode=verify-ca (host 127.1, not in the certificate) failed"; }
ss_assert_eq "1 one;2 TWO;3 three;4 four;" \
	"$(ss_maria M -e 'SELECT id, v FROM dst.t ORDER BY id' | tr '\t\n' ' ;')" "dst.t after require / verify-ca"
ss_pass
