#!/bin/sh
# run.sh: build amber's libFuzzer targets (tests/fuzz/fuzz_*.c) and run them.
#
#	sh tests/fuzz/run.sh check	run-all.sh's fuzz section (make check, make check-fuzz)
#	sh tests/fuzz/run.sh fuzz	make fuzz: a longer run of each
#
# The targets are built with clang -fsanitize=fuzzer,address,undefined into
# their own directory ($AMBER_FUZZ_BUILD, default build-fuzz), like
# tests/asan.sh's build-asan. Each target then
#	1. replays its regression inputs, tests/fuzz/regress/TARGET/*: inputs
#	   that once crashed it, which must now pass;
#	2. fuzzes from its seeds: tests/fuzz/corpus/TARGET/ (committed) and
#	   BUILD/seeds/TARGET/ (made now by tests/fuzz/seeds.sh from a real
#	   dump and restore, and from this machine's /proc), for an equal share
#	   of AMBER_FUZZ_TOTAL seconds (default 60) with "check", or for
#	   FUZZ_SECONDS (default 300) with "fuzz", which keeps what it learns
#	   in BUILD/corpus/TARGET/ for the next run.
# A crash, leak, timeout or sanitizer report fails the target: libFuzzer
# saves the input in BUILD/crashes/TARGET/ and the report is printed with
# the command that reproduces it. Once the bug is fixed, the input goes to
# tests/fuzz/regress/TARGET/ (see tests/fuzz/README.md).
#
# Output, read by run-all.sh like a unit test program's: a plan "1..N",
# then "ok TARGET", "not ok TARGET" or "skip TARGET" per target, with "# "
# lines of detail before. Without clang and its libFuzzer runtime every
# target is skipped with the reason; a build failure fails them all.
#
# Environment:
#	AMBER_BUILD		the normal build, whose amber makes the seeds (default build)
#	AMBER_FUZZ_BUILD	the fuzz build directory (default $AMBER_BUILD-fuzz)
#	AMBER_FUZZ_TOTAL	seconds for all targets with "check" (default 60)
#	FUZZ_SECONDS		seconds per target with "fuzz" (default 300)
#	AMBER_TEST_FILTER	only targets whose name contains this
#	FUZZ_ARGS		more libFuzzer options (e.g. -jobs=2 or -seed=1)
#	JOBS			make -j (default 2)
# Exit status: 0 when no target failed, 1 otherwise.

cd "$(dirname "$0")/../.." || exit 1
mode=${1:-check}
case "$mode" in
check|fuzz) ;;
*) echo "usage: sh tests/fuzz/run.sh [check|fuzz]" >&2; exit 2 ;;
esac
AMBER_BUILD=${AMBER_BUILD:-build}
build=${AMBER_FUZZ_BUILD:-$AMBER_BUILD-fuzz}
filter=${AMBER_TEST_FILTER:-}

targets=
for src in tests/fuzz/fuzz_*.c; do
	[ -f "$src" ] || continue
	name=$(basename "$src" .c)
	case "$name" in *"$filter"*) targets="$targets $name" ;; esac
done
n=$(echo $targets | wc -w)
echo "1..$n"
[ "$n" -gt 0 ] || exit 0

# Everything is skipped, with the reason, when clang cannot build a fuzzer.
if ! command -v clang >/dev/null 2>&1 || ! clang -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null | grep -q /; then
	echo "# clang with its libFuzzer runtime is not installed (make deps installs the Debian package clang)"
	for t in $targets; do
		echo "skip $t"
	done
	exit 0
fi

mkdir -p "$build"
echo "# building the fuzz targets into $build (make B=$build CC=clang FUZZ=1 fuzz-targets)"
if ! make -s B="$build" CC=clang FUZZ=1 -j"${JOBS:-2}" fuzz-targets >"$build/build.log" 2>&1; then
	tail -n 30 "$build/build.log" | sed 's/^/# /'
	for t in $targets; do
		echo "# $t: the fuzz build failed (see $build/build.log)"
		echo "not ok $t"
	done
	exit 1
fi

# Seeds from a real dump and restore (as root, with the normal build) and
# from this machine's /proc; the committed corpus serves without them.
sh tests/fuzz/seeds.sh "$build/seeds" 2>&1 | sed 's/^/# /'

if [ "$mode" = check ]; then
	total=${AMBER_FUZZ_TOTAL:-60}
	share=$((total / n))
	extra=$((total % n))
else
	share=${FUZZ_SECONDS:-300}
	extra=0
fi
[ "$share" -gt 0 ] || { share=1; extra=0; }

# The targets' scratch images directories (fuzz.h): on a tmpfs if there is
# one, and gone afterwards even if a target crashed.
scratch=$(mktemp -d /dev/shm/fuzz-amber-run-XXXXXX 2>/dev/null || mktemp -d /tmp/fuzz-amber-run-XXXXXX) || exit 1
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM
TMPDIR=$scratch
export TMPDIR

# detect_leaks: a leak is a bug like a crash. halt_on_error: any UBSan
# report fails the input (the build also aborts on them).
ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0:strict_string_checks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS UBSAN_OPTIONS

failed=0
i=0
for t in $targets; do
	bin=$build/fuzz/$t
	log=$build/logs/$t.log
	crashes=$build/crashes/$t
	mkdir -p "$build/logs" "$crashes"
	secs=$share
	[ "$i" -lt "$extra" ] && secs=$((secs + 1))
	i=$((i + 1))

	# 1. The inputs that once crashed it, each run once.
	regress=$(ls -d tests/fuzz/regress/"$t"/* 2>/dev/null)
	if [ -n "$regress" ] && ! "$bin" -timeout=10 -rss_limit_mb=2048 $regress >"$log" 2>&1; then
		echo "# $t: a regression input fails again:"
		grep -E '^(Running|==[0-9]+==|SUMMARY|.*runtime error)' "$log" | tail -n 20 | sed 's/^/#   /'
		echo "#   reproduce: $bin $regress"
		echo "not ok $t"
		failed=$((failed + 1))
		continue
	fi

	# 2. Fuzzing, into a corpus of its own: fresh for check, kept for fuzz.
	if [ "$mode" = check ]; then
		corpus=$build/tmp/$t
		rm -rf "$corpus"
	else
		corpus=$build/corpus/$t
	fi
	mkdir -p "$corpus"
	# Images and bundles: the dictionary of image names and magics.
	dict=
	grep -qE 'tests/fuzz/(mutate|fuzz_image)\.h' "tests/fuzz/$t.c" && dict=-dict=tests/fuzz/bundle.dict
	seeds=
	for d in tests/fuzz/corpus/"$t" "$build/seeds/$t" tests/fuzz/regress/"$t"; do
		[ -d "$d" ] && seeds="$seeds $d"
	done
	# shellcheck disable=SC2086
	# close_fd_mask: what the code under test prints is not wanted (the
	# sanitizers' reports still come).
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -close_fd_mask=3 \
		-artifact_prefix="$crashes/" $dict ${FUZZ_ARGS:-} "$corpus" $seeds >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	if [ "$rc" -ne 0 ]; then
		art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
		echo "# $t: failed after ${runs:-?} runs in $secs s (exit status $rc):"
		grep -E '^(==[0-9]+==|SUMMARY|.*runtime error|    #[0-9]+ )' "$log" | head -n 25 | sed 's/^/#   /'
		if [ -n "$art" ]; then
			echo "#   input saved as $art"
			echo "#   reproduce: $bin $art"
			echo "#   once fixed: mkdir -p tests/fuzz/regress/$t && cp $art tests/fuzz/regress/$t/"
		else
			tail -n 5 "$log" | sed 's/^/#   /'
		fi
		echo "#   log: $log"
		echo "not ok $t"
		failed=$((failed + 1))
	else
		echo "# $t: ${runs:-?} runs in $secs s, coverage ${cov:-?}"
		echo "ok $t"
	fi
	[ "$mode" = check ] && rm -rf "$corpus"
done
[ "$failed" -eq 0 ]
