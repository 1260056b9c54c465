#!/usr/bin/env bash
# Log formats: log_format = json gives one JSON object a line (time, level,
# context, message; passwords masked); when stderr is the systemd journal
# (JOURNAL_STREAM holds its device:inode) every line starts with its syslog
# priority (<3> error, <6> info) and no timestamp; a JOURNAL_STREAM naming
# another file changes nothing.  No server: the source cannot be reached.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

BIN=$(ss_bin)
T=$(ss_tmpdir)
conf()
{
	cat >"$T/ss.ini" <<EOF2
[shadowsync]
journal_dir = $T/journal
log_format = $1
[database src]
driver = postgres
dsn = postgresql://repl:SECRET@[::1/shop
connect_timeout = 2s
[database dst]
driver = odbc
dsn = Driver=SQLite3;Database=$T/dst.db
[job j]
source = src
targets = dst
tables = public.t
EOF2
}

conf json
timeout 20 "$BIN" run -c "$T/ss.ini" --once 2>"$T/json.err" || true
[ -s "$T/json.err" ] || ss_fail "nothing logged"
bad=$(grep -cvE '^\{"time":"[0-9T:.-]+Z","level":"(error|warn|info|debug)","context":"[^"]*","message":".*"\}$' "$T/json.err" || true)
[ "$bad" = 0 ] || ss_fail "$bad lines are not JSON log objects: $(cat "$T/json.err")"
grep -q '"level":"error"' "$T/json.err" || ss_fail "no error line: $(cat "$T/json.err")"
grep -q '"context":"job j"' "$T/json.err" || ss_fail "no job context: $(cat "$T/json.err")"
! grep -q SECRET "$T/json.err" || ss_fail "password in the JSON log"

conf text
: >"$T/journal.err"
js=$(stat -c '%d:%i' "$T/journal.err")
JOURNAL_STREAM=$js timeout 20 "$BIN" run -c "$T/ss.ini" --once 2>>"$T/journal.err" || true
grep -qE '^<3>ERROR job j: ' "$T/journal.err" || ss_fail "no <3> error line: $(cat "$T/journal.err")"
grep -qE '^<6>INFO ' "$T/journal.err" || ss_fail "no <6> info line: $(cat "$T/journal.err")"
! grep -qE '^[0-9]{4}-' "$T/journal.err" || ss_fail "timestamps under the journal: $(cat "$T/journal.err")"

JOURNAL_STREAM=1:2 timeout 20 "$BIN" run -c "$T/ss.ini" --once 2>"$T/plain.err" || true
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z ERROR job j: ' "$T/plain.err" ||
	ss_fail "a foreign JOURNAL_STREAM changed the format: $(cat "$T/plain.err")"
ss_pass
