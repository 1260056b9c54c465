#!/usr/bin/env bash
# needs: server
# PostgreSQL -> PostgreSQL with capture = timestamp (no triggers installed),
# keyscan delete detection and a soft-delete column (boolean on one table,
# a nullable timestamp on the other):
# initial load, inserts and updates, a transaction that commits 2 s after
# later ones with an older updated_at (found through the look-back window),
# many rows on one timestamp across batch boundaries (batch_rows = 10),
# deletes found by the key scan, a soft-delete column, and a restart that
# keeps the checkpoint (no record journaled twice).
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jobs.sh"

ss_pg_start SRC
ss_pg_start DST
BIN=$(ss_bin)
T=$(ss_tmpdir)
ss_pg_createdb DST t1

SCHEMA=$(cat <<'SQL'
CREATE TABLE items (id bigint PRIMARY KEY, name text, qty int,
  updated_at timestamptz NOT NULL DEFAULT now(), deleted timestamptz);
-- timestamp without time zone: the application writes UTC
CREATE TABLE soft (a int, b text, v text, deleted boolean NOT NULL DEFAULT false,
  updated_at timestamp(6) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'), PRIMARY KEY (a, b));
SQL
)
ss_psql SRC -c "$SCHEMA"
ss_psql DST -d t1 -c "$SCHEMA"

ss_write_job "$T/ss.ini" "$T/journal" "public.items, public.soft" \
	postgres "$SRC_DSN" \
	postgres "host=127.0.0.1 port=$DST_PORT dbname=t1 user=postgres"
sed -i 's/^batch_rows = .*/batch_rows = 10/' "$T/ss.ini"
cat >>"$T/ss.ini" <<'INI'
capture = timestamp
timestamp_column = updated_at
delete_detection = keyscan
keyscan_interval = 1s
soft_delete_column = deleted
INI


ITEMS="SELECT * FROM items ORDER BY id"
wait_items()
{
	ss_pg_wait_equal SRC postgres DST t1 "$ITEMS" 60 || {
		cat "$T/run.log"
		ss_fail "$1: items differ"
	}
}

# initial load: rows that exist before the first poll
ss_psql SRC -c "INSERT INTO items SELECT g, 'item ' || g, g, now() - interval '1 day' + g * interval '1 second'
                FROM generate_series(1, 100) g"
ss_psql SRC -c "INSERT INTO soft SELECT g, 'k' || g, 'v' || g FROM generate_series(1, 20) g"
ss_daemon_start "$T/ss.ini" "$T/run.log"
wait_items "initial load"

# inserts and updates
ss_psql SRC -c "INSERT INTO items (id, name, qty) SELECT g, 'new ' || g, g FROM generate_series(101, 130) g"
ss_psql SRC -c "UPDATE items SET qty = qty + 1000, updated_at = now() WHERE id % 3 = 0"
wait_items "inserts and updates"

# a transaction that takes its timestamp first and commits 2 s after later ones
ss_psql SRC -c "BEGIN; INSERT INTO items (id, name, updated_at) VALUES (500, 'late', now());
                SELECT pg_sleep(2); COMMIT;" >/dev/null &
late=$!
sleep 0.3
for i in 501 502 503 504 505; do
	ss_psql SRC -c "INSERT INTO items (id, name) VALUES ($i, 'early')"
	sleep 0.2
done
wait $late
wait_items "late commit"
ss_assert_eq 1 "$(ss_psql DST -d t1 -c 'SELECT count(*) FROM items WHERE id = 500')" "late row replicated"

# 55 rows on one timestamp, batch_rows = 10
ss_psql SRC -c "INSERT INTO items (id, name) SELECT g, 'tie' FROM generate_series(1000, 1054) g"
ss_psql SRC -c "UPDATE items SET name = 'tie2', updated_at = now() WHERE id BETWEEN 1000 AND 1054"
ss_psql SRC -c "INSERT INTO items (id, name) SELECT g, 'tie3' FROM generate_series(2000, 2054) g"
wait_items "ties"
ss_assert_eq 55 "$(ss_psql DST -d t1 -c "SELECT count(*) FROM items WHERE name = 'tie3'")" "all tied rows"

# deletes found by the key scan
ss_psql SRC -c "DELETE FROM items WHERE id BETWEEN 10 AND 20 OR id = 2054"
wait_items "keyscan delete"

# soft delete
ss_psql SRC -c "UPDATE soft SET deleted = true, updated_at = now() AT TIME ZONE 'UTC' WHERE a <= 5"
ss_psql SRC -c "UPDATE soft SET v = 'changed', updated_at = now() AT TIME ZONE 'UTC' WHERE a = 6"
SOFT="SELECT a, b, v FROM soft WHERE NOT deleted ORDER BY a, b"
end=$((SECONDS + 60))
until [ "$(ss_pg_dump SRC postgres "$SOFT")" = "$(ss_pg_dump DST t1 "SELECT a, b, v FROM soft ORDER BY a, b")" ]; do
	[ $SECONDS -lt $end ] || { cat "$T/run.log"; ss_fail "soft delete not replicated"; }
	sleep 0.2
done

# restart: the checkpoint survives, nothing is journaled twice
sleep 2
ss_daemon_stop
n1=$("$BIN" journal -c "$T/ss.ini" dump | wc -l)
ls "$T/journal/j"/poll-*.state >/dev/null || ss_fail "no poll state file"
ss_daemon_start "$T/ss.ini" "$T/run.log"
sleep 4
ss_daemon_stop
n2=$("$BIN" journal -c "$T/ss.ini" dump | wc -l)
ss_assert_eq "$n1" "$n2" "journal records after a restart without changes"

# and it continues where it left off
ss_daemon_start "$T/ss.ini" "$T/run.log"
ss_psql SRC -c "UPDATE items SET name = 'after restart', updated_at = now() WHERE id = 1"
wait_items "after restart"
sleep 1
ss_daemon_stop
"$BIN" journal -c "$T/ss.ini" dump >"$T/dump.jsonl"
ss_assert_eq "$((n1 + 1))" "$(wc -l <"$T/dump.jsonl")" "one more record after one more change"
grep -q '"op":"D"' "$T/dump.jsonl" || ss_fail "no delete in the journal"
ss_assert_eq 0 "$(grep -c '"public.soft".*"op":"D".*"a":"[6-9]"' "$T/dump.jsonl" || true)" "no soft delete of live rows"
if grep -i 'error' "$T/run.log"; then
	ss_fail "errors in the run log"
fi
ss_pass
