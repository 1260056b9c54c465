#!/usr/bin/env bash
# needs: server
# One of two targets goes down mid-run: the other keeps up; the journal
# keeps what the dead one needs; when it returns it catches up.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jobs.sh"

ss_pg_start SRC
ss_pg_start UP
ss_pg_start DOWN
BIN=$(ss_bin)
T=$(ss_tmpdir)
for s in SRC UP DOWN; do ss_psql $s -c "CREATE TABLE t (id int PRIMARY KEY, v text)"; done
ss_write_job "$T/ss.ini" "$T/journal" "public.t" postgres "$SRC_DSN" postgres "$UP_DSN" postgres "$DOWN_DSN"
sed -i 's/^batch_rows = .*/batch_rows = 500\nmax_backoff = 1s/' "$T/ss.ini"
"$BIN" install -c "$T/ss.ini"
Q="SELECT * FROM t ORDER BY id"

"$BIN" run -c "$T/ss.ini" 2>"$T/run.log" &
daemon=$!
ss_on_exit "kill $daemon 2>/dev/null || true"

ss_psql SRC -c "INSERT INTO t SELECT g, 'a' FROM generate_series(1, 1000) g"
ss_pg_wait_equal SRC postgres DOWN postgres "$Q" 30 || ss_fail "DOWN did not get the first rows"

# Stop DOWN (fast shutdown) and keep writing.
bindir=/usr/lib/postgresql/15/bin
[ -x "$bindir/pg_ctl" ] || bindir=$(dirname "$(command -v pg_ctl)")
su postgres -s /bin/sh -c "$bindir/pg_ctl -D $DOWN_DIR/data -m fast -w stop" >/dev/null
ss_psql SRC -c "UPDATE t SET v = 'b' WHERE id % 2 = 0; INSERT INTO t SELECT g, 'c' FROM generate_series(1001, 3000) g; DELETE FROM t WHERE id % 10 = 0"
ss_pg_wait_equal SRC postgres UP postgres "$Q" 30 || ss_fail "UP fell behind while DOWN was down"
sleep 2
grep -q "target dst2.*retrying" "$T/run.log" || { tail -20 "$T/run.log"; ss_fail "no retry logged for the dead target"; }

# Bring DOWN back on the same port.
su postgres -s /bin/sh -c "$bindir/pg_ctl -D $DOWN_DIR/data -l $DOWN_DIR/postgres.log -w -o '-p $DOWN_PORT -k $DOWN_DIR/sock -c listen_addresses=127.0.0.1 -c fsync=off' start" >/dev/null
ss_pg_wait_equal SRC postgres DOWN postgres "$Q" 60 || ss_fail "DOWN did not catch up after it came back"
ss_pg_wait_equal SRC postgres UP postgres "$Q" 10 || ss_fail "UP is not equal at the end"
kill -TERM $daemon
wait $daemon || ss_fail "daemon exit $?"
ss_pass
