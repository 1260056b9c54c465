#!/usr/bin/env bash
# needs: server
# shadowsync check while replication runs.  Differences that are changes in
# flight are not drift: with the daemon applying a steady stream of updates,
# check (--min-age 1s) reports in sync; with the daemon stopped and changes
# waiting in the shadow log, check waits for the capture and the applier
# (restarted meanwhile) to pass the source's high-water mark and then reports
# in sync; without anyone to apply them, --max-wait runs out and the
# changes are reported, with a note.  Drift planted on the target persists
# under a running daemon and is reported with its key (exit 1).
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jobs.sh"

ss_pg_start SRC
ss_pg_start DST
BIN=$(ss_bin)
T=$(ss_tmpdir)

SETUP="CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, t text, at timestamptz);
       INSERT INTO items SELECT g, 0, 'item ' || g, '2026-01-01'::timestamptz + g * interval '1 ms'
         FROM generate_series(1, 20000) g;"
ss_psql SRC -c "$SETUP"
ss_psql DST -c "$SETUP"
ss_write_job "$T/ss.ini" "$T/journal" public.items postgres "$SRC_DSN" postgres "$DST_DSN"
"$BIN" install -c "$T/ss.ini" 2>/dev/null

DAEMON=
start_daemon()
{
	"$BIN" run -c "$T/ss.ini" 2>>"$T/run.log" &
	DAEMON=$!
}
stop_daemon()
{
	[ -n "$DAEMON" ] || return 0
	kill -TERM "$DAEMON" 2>/dev/null || true
	wait "$DAEMON" 2>/dev/null || true
	DAEMON=
}
ss_on_exit stop_daemon
start_daemon

# --- a steady stream of updates (50 rows per transaction), checked while it flows ---
ss_psql SRC -c "DO \$\$ BEGIN
  FOR i IN 1..300 LOOP
    UPDATE items SET v = v + 1, at = clock_timestamp()
     WHERE id IN (SELECT 1 + (i * 7919 + k * 104729) % 20000 FROM generate_series(1, 50) k);
    COMMIT;
    PERFORM pg_sleep(0.02);
  END LOOP; END \$\$" &
WRITER=$!
sleep 1
rc=0
"$BIN" check -c "$T/ss.ini" --min-age 1s --max-wait 30s --chunk-rows 2500 >"$T/out" 2>&1 || rc=$?
kill -0 "$WRITER" 2>/dev/null || ss_fail "the writer finished before the check did (too fast to test)"
wait "$WRITER"
ss_assert_eq 0 "$rc" "check during replication: $(cat "$T/out")"
grep -q "in sync: 20000 rows" "$T/out" || ss_fail "summary: $(cat "$T/out")"

ss_pg_wait_equal SRC postgres DST postgres "SELECT * FROM items ORDER BY id" 60 ||
	ss_fail "the target did not catch up"

# --- changes waiting in the shadow log: check waits for capture and applier ---
stop_daemon
ss_psql SRC -c "UPDATE items SET t = 'late ' || id WHERE id % 1000 = 0"
(sleep 2 && start_daemon && echo "$DAEMON" >"$T/daemon.pid") &
RESTART=$!
rc=0
"$BIN" check -c "$T/ss.ini" --min-age 0 --max-wait 60s >"$T/out" 2>&1 || rc=$?
wait "$RESTART"
DAEMON=$(cat "$T/daemon.pid")
ss_assert_eq 0 "$rc" "check across a restarted applier: $(cat "$T/out")"
grep -q "note: .* differed at first and matched once the changes in flight had been applied" "$T/out" ||
	ss_fail "the pending changes were not seen in flight: $(cat "$T/out")"

# --- nobody applies: after --max-wait the changes are reported, with a note ---
stop_daemon
ss_psql SRC -c "UPDATE items SET t = 'stuck' WHERE id = 777"
rc=0
"$BIN" check -c "$T/ss.ini" --min-age 0 --max-wait 2s >"$T/out" 2>&1 || rc=$?
ss_assert_eq 1 "$rc" "check with the changes stuck: $(cat "$T/out")"
grep -qF "different id='777': t: 'stuck' -> 'item 777'" "$T/out" || ss_fail "stuck row: $(cat "$T/out")"
grep -q "note: changes captured on src were still waiting in its shadow log" "$T/out" ||
	ss_fail "no note about the waiting changes: $(cat "$T/out")"
start_daemon
ss_pg_wait_equal SRC postgres DST postgres "SELECT * FROM items ORDER BY id" 60 ||
	ss_fail "the target did not catch up after the restart"

# --- drift on the target persists under a running daemon ---
ss_psql DST -c "UPDATE items SET v = -1 WHERE id = 4242; DELETE FROM items WHERE id = 4343"
rc=0
"$BIN" check -c "$T/ss.ini" --min-age 500ms >"$T/out" 2>&1 || rc=$?
ss_assert_eq 1 "$rc" "planted drift: $(cat "$T/out")"
grep -qF "different id='4242': v: " "$T/out" || ss_fail "changed row: $(cat "$T/out")"
grep -qF "missing   id='4343'" "$T/out" || ss_fail "deleted row: $(cat "$T/out")"
grep -q "1 missing, 0 extra, 1 different" "$T/out" || ss_fail "counts: $(cat "$T/out")"
ss_pass
