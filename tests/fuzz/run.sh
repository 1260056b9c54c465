#!/bin/sh
# run.sh -- run libFuzzer targets (behind `make fuzz` and `make fuzz-smoke`).
#
#   sh tests/fuzz/run.sh [NAME...]     default: every tests/fuzz/fuzz_NAME.c
#
# Each target first replays its committed corpus tests/fuzz/corpus/NAME/
# (seeds and every input that once crashed: a regression fails here), then
# fuzzes for FUZZ_SECONDS seconds, or FUZZ_RUNS executions when that is set,
# starting from the committed corpus plus what earlier runs found
# (FUZZ_BUILD/corpus/NAME/, never committed automatically).  A crash, leak,
# sanitizer report, timeout (FUZZ_TIMEOUT s per input, default 10) or
# out-of-memory (2 GB) stops the run; the input is saved as
# FUZZ_BUILD/artifacts/NAME/crash-... and the script exits 1.
# One summary line per target: executions, seconds, executions per second.
#
# Environment: FUZZ_BUILD (build-fuzz), FUZZ_SECONDS (60), FUZZ_RUNS,
# FUZZ_TIMEOUT (10), FUZZ_FRESH=1 (start from the committed corpus only, in
# FUZZ_BUILD/smoke/NAME/, emptied first: the quick run of `make test`).
set -u
cd "$(dirname "$0")/../.." || exit 2
B=${FUZZ_BUILD:-build-fuzz}
SECS=${FUZZ_SECONDS:-60}
RUNS=${FUZZ_RUNS:-}
TMO=${FUZZ_TIMEOUT:-10}

if [ $# = 0 ]; then
	set -- $(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_\(.*\)\.c|\1|')
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
for t in "$@"; do
	bin=$B/fuzz_$t
	seeds=tests/fuzz/corpus/$t
	work=$B/corpus/$t
	art=$B/artifacts/$t
	log=$B/logs/$t.log
	if [ "${FUZZ_FRESH:-0}" = 1 ]; then
		work=$B/smoke/$t
		log=$B/smoke/$t.log
		rm -rf "$work"
	fi
	[ -x "$bin" ] || { echo "fuzz $t: $bin not built (make fuzz-build)"; status=1; continue; }
	mkdir -p "$work" "$art" "$(dirname "$log")" "$seeds"
	dict=
	[ -f "tests/fuzz/$t.dict" ] && dict=-dict=tests/fuzz/$t.dict
	# 1. regression: every committed input, once
	if ! "$bin" -runs=0 -timeout="$TMO" -rss_limit_mb=2048 $dict "$seeds" >"$log.replay" 2>&1; then
		echo "FAIL fuzz $t: a committed input of $seeds fails again:"
		grep -E 'ERROR|runtime error|property failed|Running:' "$log.replay" | tail -n 5 | sed 's/^/    /'
		echo "    log: $log.replay"
		status=1
		continue
	fi
	# 2. fuzzing
	if [ -n "$RUNS" ]; then
		limit="-runs=$RUNS"
	else
		limit="-max_total_time=$SECS"
	fi
	t0=$(date +%s)
	"$bin" $limit -timeout="$TMO" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
		-artifact_prefix="$art/" $dict "$work" "$seeds" >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - t0))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	if [ $rc != 0 ]; then
		echo "FAIL fuzz $t after ${execs:-?} executions (${secs}s): exit $rc"
		grep -E 'ERROR|runtime error|property failed|Test unit written' "$log" | head -n 8 | sed 's/^/    /'
		echo "    log: $log"
		status=1
	else
		echo "ok fuzz $t: ${execs:-?} executions in ${secs}s (${rate:-?}/s), corpus $(ls "$work" | wc -l) inputs"
	fi
done
exit $status
