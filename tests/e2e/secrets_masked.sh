#!/usr/bin/env bash
# Passwords never reach any output, including the text a client library
# echoes: a malformed URI DSN (libpq repeats it whole in its error), a
# key=value DSN with password=, an ODBC string with PWD={...}, through
# stderr of `run --once`, `install`, `check` in every format, and the
# daemon's /status and /metrics.  No server is needed: every connection fails.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

BIN=$(ss_bin)
T=$(ss_tmpdir)
port=$(ss_free_port)
cat >"$T/ss.ini" <<EOF2
[shadowsync]
journal_dir = $T/journal
status_listen = 127.0.0.1:$port
[database src]
driver = postgres
dsn = postgresql://repl:URISECRET@[::1/shop
connect_timeout = 2s
[database dst]
driver = postgres
dsn = host=127.0.0.1 port=1 dbname=x user=u password='KV SECRET' connect_timeout=2
connect_timeout = 2s
[database lake]
driver = odbc
dsn = Driver=NoSuchDriver;Server=x;UID=u;PWD={ODBC;SECRET}
[job j]
source = src
targets = dst, lake
tables = public.t
EOF2

leaks()
{
	grep -l -E "URISECRET|KV SECRET|ODBC;SECRET|SECRET}" "$@" 2>/dev/null || true
}

timeout 20 "$BIN" run -c "$T/ss.ini" --once >"$T/once.out" 2>"$T/once.err" || true
grep -q "src" "$T/once.err" || ss_fail "run --once said nothing about the source: $(cat "$T/once.err")"
timeout 20 "$BIN" install -c "$T/ss.ini" >"$T/install.out" 2>"$T/install.err" || true
timeout 20 "$BIN" install -c "$T/ss.ini" --dry-run >"$T/dry.out" 2>"$T/dry.err" || true
for fmt in text json html; do
	timeout 20 "$BIN" check -c "$T/ss.ini" --format $fmt --output "$T/check.$fmt" \
		>"$T/check-$fmt.out" 2>"$T/check-$fmt.err" || true
done

# The daemon: /status and /metrics while the source cannot be reached.
"$BIN" run -c "$T/ss.ini" >"$T/daemon.out" 2>"$T/daemon.err" &
daemon=$!
ss_on_exit "kill $daemon 2>/dev/null || true"
ss_wait_for "curl -sf http://127.0.0.1:$port/status >'$T/status.json'" 10 ||
	ss_fail "no /status: $(cat "$T/daemon.err")"
sleep 1
curl -sf "http://127.0.0.1:$port/status" >"$T/status.json" || ss_fail "no /status"
curl -sf "http://127.0.0.1:$port/metrics" >"$T/metrics.txt" || ss_fail "no /metrics"
kill -TERM $daemon
wait $daemon 2>/dev/null || true

files=$(ls "$T"/*.out "$T"/*.err "$T"/check.* "$T"/status.json "$T"/metrics.txt 2>/dev/null)
leaked=$(leaks $files)
if [ -n "$leaked" ]; then
	for f in $leaked; do
		echo "--- $f"
		grep -E "URISECRET|KV SECRET|ODBC;SECRET|SECRET}" "$f" | head -5
	done
	ss_fail "a password reached the output"
fi
ss_pass
