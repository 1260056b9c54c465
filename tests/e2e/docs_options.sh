#!/usr/bin/env bash
# Every subcommand the binary has is documented, with every option it
# accepts: each option of a command's getopt table (tools/*.c) appears in
# the usage line and the option list of `shadowsync CMD --help` and in the command's synopsis line of the man page
# (doc/shadowsync.1); the man page's synopsis names no command the binary
# lacks; every command has a section in doc/user-guide.md.  No server.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

BIN=$(ss_bin)
MAN=$SS_ROOT/doc/shadowsync.1
GUIDE=$SS_ROOT/doc/user-guide.md
cmds=$("$BIN" --help | sed -n 's/^  \([a-z]*\)  .*/\1/p')
[ -n "$cmds" ] || ss_fail "--help lists no command"
problems=()
for cmd in $cmds; do
	help=$("$BIN" "$cmd" --help 2>&1) || true
	usage=$(sed '/^$/q' <<<"$help")
	syn=$(grep -E "^\\\\fBshadowsync $cmd\\\\fR" "$MAN" || true)
	[ -n "$syn" ] || problems+=("man page: no synopsis line for '$cmd'")
	grep -qE "^### (.*[ ,])?$cmd([ ,]|$)" "$GUIDE" || problems+=("user guide: no '### $cmd' section")
	file=$(grep -lE "^int ss_cmd_$cmd\(" "$SS_ROOT"/tools/*.c || true)
	[ -n "$file" ] || { problems+=("no ss_cmd_$cmd in tools/"); continue; }
	opts=$(sed -n 's/^[[:space:]]*{"\([a-z][a-z-]*\)", *\(no\|required\|optional\)_argument.*/\1/p' "$file" | sort -u)
	for o in $opts; do
		case $o in config | help) continue ;; esac
		grep -qE -- "--$o\b" <<<"$help" || problems+=("'$cmd --help' does not describe --$o")
		grep -qE -- "--$o\b" <<<"$usage" || problems+=("the usage line of '$cmd --help' lacks --$o")
		mo="\\-\\-${o//-/\\-}"
		grep -qF -- "$mo" <<<"$syn" || problems+=("man page synopsis of '$cmd' lacks --$o")
	done
done
# The man page describes no command that does not exist.
for c in $(sed -n 's/^\\fBshadowsync \([a-z]*\)\\fR.*/\1/p' "$MAN" | sort -u); do
	grep -qx "$c" <<<"$cmds" || problems+=("man page synopsis names '$c', which the binary lacks")
done
if [ ${#problems[@]} -gt 0 ]; then
	printf '  %s\n' "${problems[@]}" >&2
	ss_fail "${#problems[@]} documentation gaps"
fi
ss_pass
