#!/usr/bin/env bash
# `make demo` from a clean state: the main job on the embedded default
# (SQLite through ODBC, no server) ends with target equal to source, well
# under 10 seconds, and can be run again.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

T=$(ss_tmpdir)
start=$SECONDS
make -s -C "$SS_ROOT" demo >"$T/out" 2>&1 || { cat "$T/out"; ss_fail "make demo failed"; }
grep -q "target equals source" "$T/out" || { cat "$T/out"; ss_fail "make demo did not confirm equality"; }
[ $((SECONDS - start)) -lt 10 ] || ss_fail "make demo took $((SECONDS - start)) s"
[ -f "$SS_ROOT/demo/shadowsync.ini" ] || ss_fail "no demo config left behind"

# Again, elsewhere, twice: it starts from a clean state each time.
for i in 1 2; do
	"$(ss_bin)" demo --dir "$T/d" >"$T/out$i" 2>&1 || { cat "$T/out$i"; ss_fail "demo run $i failed"; }
	grep -q "3 tables, 13 rows, target equals source" "$T/out$i" || { cat "$T/out$i"; ss_fail "demo run $i"; }
done
# The config it leaves works with the other commands.
"$(ss_bin)" journal -c "$T/d/shadowsync.ini" dump >"$T/dump"
[ "$(wc -l <"$T/dump")" -ge 15 ] || ss_fail "journal dump of the demo is short"
ss_pass
