#!/usr/bin/env bash
# The status endpoint as an operator relies on it: the log names the address
# actually bound; GET/HEAD on exactly /status and /metrics, 404 for other
# paths (/statusXYZ too), 405 for other methods (a large POST is not
# buffered), oversized headers refused, idle connections closed; /metrics
# passes `promtool check metrics` with a database named wh"x (label values
# escaped) and carries lag in changes and seconds, source reachability and
# last poll, and error counters.  No server: SQLite, and a target on port 1.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

BIN=$(ss_bin)
T=$(ss_tmpdir)
port=$(ss_free_port)
sqlite3 "$T/src.db" "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"
sqlite3 "$T/dst.db" "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"
cat >"$T/ss.ini" <<EOF2
[shadowsync]
journal_dir = $T/journal
status_listen = 127.0.0.1:$port
[database src]
driver = odbc
dsn = Driver=SQLite3;Database=$T/src.db
[database wh"x]
driver = odbc
dsn = Driver=SQLite3;Database=$T/dst.db
[database down]
driver = postgres
dsn = host=127.0.0.1 port=1 dbname=x user=u
connect_timeout = 1s
[job j]
source = src
targets = "wh""x", down
tables = main.t
poll_interval = 50ms
max_backoff = 1s
EOF2
"$BIN" install -c "$T/ss.ini" >/dev/null 2>&1 || ss_fail "install failed"
sqlite3 "$T/src.db" "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')"
"$BIN" run -c "$T/ss.ini" 2>"$T/run.log" &
daemon=$!
ss_on_exit "kill $daemon 2>/dev/null || true"
url=http://127.0.0.1:$port
ss_wait_for "curl -sf $url/status >/dev/null" 10 || ss_fail "no /status: $(cat "$T/run.log")"
grep -q "status on http://127.0.0.1:$port/status" "$T/run.log" ||
	ss_fail "the log does not name the bound address: $(grep status "$T/run.log")"
ss_wait_for "[ \"\$(sqlite3 '$T/dst.db' 'SELECT count(*) FROM t')\" = 3 ]" 10 ||
	ss_fail "rows did not reach the reachable target"
sleep 1.5

code()
{
	curl -s -o /dev/null -w '%{http_code}' "$@" || true
}
ss_assert_eq 200 "$(code "$url/status")" "GET /status"
ss_assert_eq 200 "$(code "$url/metrics")" "GET /metrics"
ss_assert_eq 200 "$(code -I "$url/status")" "HEAD /status"
ss_assert_eq 200 "$(code "$url/status?pretty=1")" "a query string"
ss_assert_eq 404 "$(code "$url/statusXYZ")" "GET /statusXYZ"
ss_assert_eq 404 "$(code "$url/")" "GET /"
head -c 8000000 /dev/zero >"$T/big"
c=$(code -X POST --data-binary @"$T/big" "$url/status")
case $c in 405 | 413) ;; *) ss_fail "a large POST answered $c" ;; esac
ss_assert_eq 405 "$(code -X POST -d x=1 "$url/status")" "a small POST"
ss_assert_eq 405 "$(code -X DELETE "$url/status")" "DELETE"
big_header=$(head -c 20000 /dev/zero | tr '\0' a)
c=$(code -H "X-Big: $big_header" "$url/status")
[ "$c" != 200 ] || ss_fail "a 20 KB header was accepted"
kill -0 $daemon || ss_fail "the daemon died"

# An idle connection is closed by the daemon (10 s), not kept forever.
start=$SECONDS
timeout 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; cat <&3 >/dev/null" || true
[ $((SECONDS - start)) -le 15 ] || ss_fail "an idle connection stayed open $((SECONDS - start)) s"

curl -sf "$url/metrics" >"$T/metrics.txt"
if command -v promtool >/dev/null; then
	promtool check metrics <"$T/metrics.txt" >"$T/promtool.log" 2>&1 ||
		{ cat "$T/promtool.log"; ss_fail "promtool rejects /metrics"; }
elif [ -n "${CI:-}" ]; then
	ss_fail "promtool is not installed (make deps installs prometheus)"
fi
grep -q 'target="wh\\"x"' "$T/metrics.txt" || ss_fail "label value not escaped: $(grep applied_pos "$T/metrics.txt")"
val()
{
	awk -v m="$1" -v t="$2" '$1 ~ "^"m"\\{" && index($1, "target=\"" t "\"") { print $2 }' "$T/metrics.txt"
}
[ "$(val shadowsync_target_lag_changes down)" -ge 1 ] || ss_fail "no change lag for the dead target"
awk -v v="$(val shadowsync_target_lag_seconds down)" 'BEGIN { exit !(v > 0.5) }' ||
	ss_fail "no seconds lag for the dead target: $(val shadowsync_target_lag_seconds down)"
ss_assert_eq 0 "$(val shadowsync_target_lag_changes 'wh\\"x')" "lag of the live target"
[ "$(val shadowsync_apply_errors_total down)" -ge 1 ] || ss_fail "no apply errors counted"
grep -q '^shadowsync_source_up{job="j"} 1$' "$T/metrics.txt" || ss_fail "source not up"
grep -qE '^shadowsync_source_last_poll_timestamp_seconds\{job="j"\} [1-9][0-9]{9}' "$T/metrics.txt" ||
	ss_fail "no last poll time"
grep -q '^shadowsync_capture_errors_total{job="j"} 0$' "$T/metrics.txt" || ss_fail "capture errors"
kill -TERM $daemon
wait $daemon || ss_fail "daemon exit $?"
ss_pass
