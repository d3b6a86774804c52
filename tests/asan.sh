#!/bin/sh
# asan.sh: build amber with AddressSanitizer and UBSan and run the tests on
# that build (STYLE 19: "sanitizers (ASan/UBSan) in a test run").
#
#	sh tests/asan.sh [unit|e2e|all]		(default all; make check-asan)
#
# Everything is built into its own directory ($AMBER_ASAN_BUILD, default
# build-asan) with 'make SANITIZE=1', so the normal build is untouched. The
# unit tests, the fuzzers (tests/unit/test_fuzz_*.c) among them, run with
# leak detection: unit.h exits each case through exit(), so a leak fails the
# case that leaked. The e2e tests run the driver and every stage sanitized;
# a restored process is a fork of amber-restore-tasks whose memory is then
# replaced by the image, so ASan's runtime never runs in it.
#
# UBSan normally reports and carries on; halt_on_error makes every report a
# failure. The output ends like run-all.sh's: "N passed, M failed".
#
# Environment:
#	AMBER_ASAN_BUILD	build directory (default build-asan)
#	AMBER_ASAN_LEAKS	0 turns leak detection off (memory errors still fail)
#	JOBS			make -j (default 2)
#	AMBER_TEST_FILTER, AMBER_*_TIMEOUT	as for run-all.sh
# Exit status: 0 when nothing failed, 1 otherwise, 2 when the build failed.

cd "$(dirname "$0")/.." || exit 1
what=${1:-all}
case "$what" in
unit|e2e|all) ;;
*) echo "usage: sh tests/asan.sh [unit|e2e|all]" >&2; exit 2 ;;
esac
build=${AMBER_ASAN_BUILD:-build-asan}
leaks=1
[ "${AMBER_ASAN_LEAKS:-1}" = 0 ] && leaks=0

echo "asan: building into $build (make B=$build SANITIZE=1 tests)"
if ! make -s B="$build" SANITIZE=1 -j"${JOBS:-2}" tests; then
	echo "asan: the sanitized build failed"
	exit 2
fi

# abort_on_error=0 keeps ASan's documented exit status (1; 23 for a leak),
# which run-all.sh and unit.h report. detect_stack_use_after_return is off:
# its fake stacks confuse the remote-syscall and ptrace code for no gain.
ASAN_OPTIONS="detect_leaks=$leaks:abort_on_error=0:detect_stack_use_after_return=0:strict_string_checks=1:check_initialization_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS UBSAN_OPTIONS
# Sanitized code is 2-3 times slower: give the timeouts room.
AMBER_UNIT_TIMEOUT=${AMBER_UNIT_TIMEOUT:-300}
AMBER_E2E_TIMEOUT=${AMBER_E2E_TIMEOUT:-1200}
AMBER_E2E_CMD_TIMEOUT=${AMBER_E2E_CMD_TIMEOUT:-120}
export AMBER_UNIT_TIMEOUT AMBER_E2E_TIMEOUT AMBER_E2E_CMD_TIMEOUT

# The fuzz targets are sanitized builds of their own (tests/fuzz/run.sh):
# "all" here is the unit and end-to-end tests.
[ "$what" = all ] && set -- unit e2e || set -- "$what"
AMBER_BUILD=$build exec sh tests/run-all.sh "$@"
