#!/bin/bash
# run.sh -- the test suite runner behind `make test` (and `make asan`).
#
# Runs every unit-test binary ${SS_UNIT_DIR:-build/tests}/test_*, counting
# each "ok - NAME" / "not ok - NAME" line it prints as one test (a binary
# that exits non-zero without a "not ok" line is one failure), then every
# tests/e2e/*.sh with bash, one test each, in sequence, output captured in
# build/test-logs/.  Ends with one line: "N passed, N failed[, N skipped]".
#
# Environment:
#   SS_TEST=pattern        only unit binaries / e2e scripts whose name contains it
#   SS_ONLY_SERVERLESS=1   skip e2e scripts marked "# needs: server" (counted skipped)
#   SS_UNIT_DIR=dir        where the unit-test binaries are (default build/tests)
#   SS_TEST_TIMEOUT=secs   per unit binary / e2e script (default 900; 0 = none)
#   SS_BIN                 the binary under test (passed on to the e2e scripts)

if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
set -u

cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
UNIT_DIR=${SS_UNIT_DIR:-build/tests}
LOG_DIR=$ROOT/build/test-logs
TIMEOUT=${SS_TEST_TIMEOUT:-900}
PATTERN=${SS_TEST:-}
mkdir -p "$LOG_DIR" || exit 2

passed=0
failed=0
skipped=0
failures=()
child=

now() { date +%s; }
T0=$(now)

# Ctrl-C / kill: pass it on to the running test (its own process group under
# timeout(1)) so its cleanup runs, then stop.
on_signal()
{
	echo "run.sh: interrupted" >&2
	if [ -n "$child" ]; then
		kill "-$1" "$child" 2>/dev/null
		wait "$child" 2>/dev/null
	fi
	exit 130
}
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap 'on_signal HUP' HUP

matches()
{
	[ -z "$PATTERN" ] && return 0
	case $1 in
	*$PATTERN*) return 0 ;;
	esac
	return 1
}

# run LOG CMD...: run a test with a time limit, output to LOG; sets rc.
run()
{
	local log=$1
	shift
	if [ "$TIMEOUT" != 0 ] && command -v timeout >/dev/null; then
		timeout -k 30 "$TIMEOUT" "$@" >"$log" 2>&1 </dev/null &
	else
		"$@" >"$log" 2>&1 </dev/null &
	fi
	child=$!
	wait "$child" 2>/dev/null
	rc=$?
	child=
	if [ $rc -gt 128 ] && [ $rc != 124 ]; then
		echo "run.sh: killed by signal SIG$(kill -l $((rc - 128)))" >>"$log"
	fi
	if [ $rc = 124 ] && [ "$TIMEOUT" != 0 ]; then
		echo "run.sh: timed out after ${TIMEOUT}s" >>"$log"
	fi
}

sig()
{
	[ "$1" -gt 128 ] && echo ", SIG$(kill -l $(($1 - 128)))"
}

show_log()
{
	echo "--- last $2 lines of $1:"
	tail -n "$2" "$1" | sed 's/^/    /'
	echo "---"
}

# --- unit tests ---------------------------------------------------------------

for bin in "$UNIT_DIR"/test_*; do
	[ -f "$bin" ] && [ -x "$bin" ] || continue
	name=$(basename "$bin")
	matches "$name" || continue
	log=$LOG_DIR/unit-$name.log
	run "$log" "$bin"
	ok=$(grep -c '^ok - ' "$log")
	notok=$(grep -c '^not ok - ' "$log")
	grep -E '^(not )?ok - ' "$log" | sed "s/^\(\(not \)\{0,1\}ok - \)/\1$name: /"
	passed=$((passed + ok))
	failed=$((failed + notok))
	if [ "$notok" -gt 0 ]; then
		failures+=("$name")
	fi
	if [ $rc != 0 ] && [ "$notok" = 0 ]; then
		echo "not ok - $name (exit status $rc$(sig $rc))"
		failed=$((failed + 1))
		failures+=("$name")
	fi
	if [ "$notok" -gt 0 ] || [ $rc != 0 ]; then
		show_log "$log" 80
	fi
done

# --- end-to-end tests -----------------------------------------------------------

for script in tests/e2e/*.sh; do
	[ -f "$script" ] || continue
	name=e2e/$(basename "$script" .sh)
	matches "$name" || continue
	if [ "${SS_ONLY_SERVERLESS:-0}" = 1 ] &&
		head -n 10 "$script" | grep -q '^#[[:space:]]*needs:.*server'; then
		echo "ok - $name # SKIP needs server"
		skipped=$((skipped + 1))
		continue
	fi
	log=$LOG_DIR/e2e-$(basename "$script" .sh).log
	t=$(now)
	run "$log" bash "$script"
	secs=$(($(now) - t))
	if [ $rc = 0 ]; then
		echo "ok - $name (${secs}s)"
		passed=$((passed + 1))
	else
		echo "not ok - $name (${secs}s, exit status $rc$(sig $rc), log $log)"
		show_log "$log" 80
		failed=$((failed + 1))
		failures+=("$name")
	fi
done

echo "total time: $(($(now) - T0))s"
if [ ${#failures[@]} -gt 0 ]; then
	echo "failed: ${failures[*]}"
fi
if [ $skipped -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ $failed = 0 ]
