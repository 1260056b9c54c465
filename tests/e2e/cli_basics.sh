#!/bin/bash
#
# cli_basics.sh -- the command line without any database: --version, --help
# naming every subcommand, and errors as one clear line on stderr with a
# non-zero exit.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

bin=$(ss_bin)
[ -x "$bin" ] || ss_fail "binary $bin not found (run make)"
d=$(ss_tmpdir)

# --version: a version number, exit 0.
rc=0
"$bin" --version >"$d/out" 2>"$d/err" || rc=$?
ss_assert_eq 0 "$rc" "exit status of --version"
grep -Eq '[0-9]+\.[0-9]+' "$d/out" || ss_fail "--version printed no version: $(cat "$d/out")"

# --help: every subcommand of the documented command line, exit 0.
rc=0
"$bin" --help >"$d/out" 2>"$d/err" || rc=$?
ss_assert_eq 0 "$rc" "exit status of --help"
# Subcommands appear only once they work (no placeholders); these exist.
for cmd in run install uninstall journal; do
	grep -Eq "(^|[^a-z])$cmd([^a-z]|$)" "$d/out" ||
		ss_fail "--help does not list '$cmd':
$(cat "$d/out")"
done
# Every listed command has a --help describing its options.
for cmd in $(sed -n 's/^  \([a-z]*\)  .*/\1/p' "$d/out"); do
	"$bin" "$cmd" --help >"$d/h" || ss_fail "$cmd --help failed"
	grep -q "usage: shadowsync $cmd" "$d/h" || ss_fail "$cmd --help has no usage line"
done

# Errors: non-zero exit (not a crash), a message on stderr, nothing on stdout
# claiming success.
expect_error()
{
	local what=$1 rc=0
	shift
	"$bin" "$@" >"$d/out" 2>"$d/err" </dev/null || rc=$?
	[ "$rc" -ne 0 ] || ss_fail "$what: exit status 0"
	[ "$rc" -lt 128 ] || ss_fail "$what: killed by signal $((rc - 128))"
	[ -s "$d/err" ] || ss_fail "$what: nothing on stderr"
}

expect_error "unknown command" no-such-command
grep -q 'no-such-command' "$d/err" || ss_fail "unknown command not named: $(cat "$d/err")"

expect_error "run without -c" run

expect_error "missing config file" run -c "$d/missing.ini"
grep -q "$d/missing.ini" "$d/err" ||
	ss_fail "missing config file not named in the error: $(cat "$d/err")"

# TIME arguments: strict, and a window that ends before it starts is an error.
printf '[shadowsync]\njournal_dir = %s/j\n[database s]\ndriver = odbc\ndsn = Driver=SQLite3;Database=%s/s.db\n[database t]\ndriver = odbc\ndsn = Driver=SQLite3;Database=%s/t.db\n[job j]\nsource = s\ntargets = t\ntables = main.t\n' \
	"$d" "$d" "$d" >"$d/ss.ini"
expect_error "--from after --to" journal -c "$d/ss.ini" dump --from 2026-12-01T00:00:00Z --to 2026-11-01T00:00:00Z
grep -q -- "--from is after --to" "$d/err" || ss_fail "--from after --to: $(cat "$d/err")"
for bad in 2026-11-21T10:00:60Z 2026-11-21T10:00:00+99:00 yesterday; do
	expect_error "--from $bad" journal -c "$d/ss.ini" dump --from "$bad"
	grep -q -- "$bad" "$d/err" || ss_fail "--from $bad not named: $(cat "$d/err")"
done

ss_pass
