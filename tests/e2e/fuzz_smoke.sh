#!/bin/bash
#
# fuzz_smoke.sh -- the libFuzzer targets of tests/fuzz/ (`make fuzz-smoke`):
# builds them (clang, ASan + UBSan), replays every committed corpus input
# (the seeds and every input that once crashed, hung or leaked: each one
# fixed must stay fixed), then fuzzes each target SS_FUZZ_SECONDS (3)
# seconds.  Any crash, leak, sanitizer report or broken property fails,
# naming the target and the saved input.  The long runs are `make fuzz`.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

# make asan / make ubsan run the server-less tests again with their own
# binaries: the fuzz targets are sanitizer builds already, once is enough.
case ${SS_UNIT_DIR:-build/tests} in
build/tests) ;;
*)
	echo "fuzz targets already run under ASan/UBSan by make test"
	ss_pass
	;;
esac
command -v clang >/dev/null || ss_fail "clang not installed (make deps)"
cd "$SS_ROOT"
out=$(make -s fuzz-build 2>&1) || ss_fail "make fuzz-build failed:
$out"
rc=0
out=$(make -s fuzz-smoke FUZZ_SMOKE_SECONDS="${SS_FUZZ_SECONDS:-3}" 2>&1) || rc=$?
echo "$out"
[ $rc = 0 ] || ss_fail "a fuzz target failed (logs in build-fuzz/logs/)"
for t in $(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_\(.*\)\.c|\1|'); do
	echo "$out" | grep -q "^ok fuzz $t:" || ss_fail "fuzz target $t did not report"
done
ss_pass
