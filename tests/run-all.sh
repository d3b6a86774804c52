#!/bin/sh
# run-all.sh: run amber's unit, end-to-end and fuzz tests and count test cases.
#
#	sh tests/run-all.sh [unit|e2e|fuzz|all]...	(make check, make check-unit,
#						 make check-e2e, make check-fuzz)
#
# "all" is unit, e2e and fuzz; several words run those sections in order.
# Unit tests are the programs in $AMBER_BUILD/tests/unit/ (tests/unit/unit.h):
# each prints a plan "1..N" and one "ok NAME", "not ok NAME" or "skip NAME"
# per case. End-to-end tests are the shunit2 scripts tests/e2e/t*.sh, counted
# per test function: a function fails when it printed an "ASSERT:" or a
# shunit2 error, is skipped when it printed "SKIP:" (tests/e2e/lib.sh's
# e2e_skip) and nothing failed. The fuzz section is tests/fuzz/run.sh, which
# builds the libFuzzer targets and runs each (its regression inputs, then
# 60 s of fuzzing shared among them) and prints a line per target like a
# unit test program: each target is one case (skipped without clang).
#
# A program that crashes, times out or stops before its plan is done counts
# its missing cases as failed, so a crash can never read as success. Each
# failure is listed with the tail of its output, and the last line is always
#	N passed, M failed[, K skipped]
# Exit status: 0 when nothing failed, 1 otherwise.
#
# Environment:
#	AMBER_BUILD		build directory (default: build)
#	AMBER_UNIT_TIMEOUT	seconds per unit program (default 120)
#	AMBER_E2E_TIMEOUT	seconds per e2e script (default 600)
#	AMBER_FUZZ_TIMEOUT	seconds for the fuzz section, its build included (default 1800)
#	AMBER_FUZZ_BUILD, AMBER_FUZZ_TOTAL	see tests/fuzz/run.sh
#	AMBER_TEST_FILTER	run only programs/scripts/fuzz targets whose name contains this

cd "$(dirname "$0")/.." || exit 1
AMBER_BUILD=${AMBER_BUILD:-build}
export AMBER_BUILD
[ $# -gt 0 ] || set -- all
unit_timeout=${AMBER_UNIT_TIMEOUT:-120}
e2e_timeout=${AMBER_E2E_TIMEOUT:-600}
fuzz_timeout=${AMBER_FUZZ_TIMEOUT:-1800}
filter=${AMBER_TEST_FILTER:-}

for what in "$@"; do
	case "$what" in
	unit|e2e|fuzz|all) ;;
	*) echo "usage: sh tests/run-all.sh [unit|e2e|fuzz|all]..." >&2; exit 2 ;;
	esac
done

work=$(mktemp -d /tmp/amber-run-all-XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
passed=0
failed=0
skipped=0
: >"$work/failures"

# Adds one counts line "P F S" (from the parsers below) to the totals.
add_counts() {
	set -- $1
	passed=$((passed + $1))
	failed=$((failed + $2))
	skipped=$((skipped + $3))
}

# Runs one command under a timeout with output in $work/out; sets rc.
run_timed() {
	secs=$1
	shift
	timeout -k 10 "$secs" "$@" >"$work/out" 2>&1 </dev/null
	rc=$?
}

# Parses $work/out of unit program $1 (exit status $2; $3 the section,
# default unit); appends failures, prints "P F S".
parse_unit() {
	awk -v prog="$1" -v rc="$2" -v area="${3:-unit}" -v fails="$work/failures" '
	function flush_fail(name,   i, from) {
		print "FAIL " area "/" prog "/" name >> fails
		from = nbuf > 20 ? nbuf - 20 : 0
		for (i = from; i < nbuf; i++)
			print "    " buf[i] >> fails
	}
	/^1\.\.[0-9]+$/ { plan = substr($0, 4) + 0; haveplan = 1; next }
	/^ok / { p++; nbuf = 0; next }
	/^not ok / { f++; flush_fail(substr($0, 8)); nbuf = 0; next }
	/^skip / { s++; nbuf = 0; next }
	{ buf[nbuf++] = $0 }
	END {
		seen = p + f + s
		why = rc == 124 || rc == 137 ? "timed out" : "exit status " rc
		if (haveplan && seen < plan) {
			f += plan - seen
			flush_fail("(" plan - seen " cases did not run: " why ")")
		} else if (!haveplan && seen == 0) {
			f++
			flush_fail("(no test output: " why ")")
		} else if (rc != 0 && f == 0) {
			f++
			flush_fail("(" why " although no case failed)")
		}
		print p + 0, f + 0, s + 0
	}' "$work/out"
}

# Parses $work/out of shunit2 script $1 (exit status $2), whose test
# functions are listed in $work/tests; appends failures, prints "P F S".
parse_e2e() {
	awk -v script="$1" -v rc="$2" -v fails="$work/failures" -v list="$work/tests" '
	BEGIN {
		while ((getline name < list) > 0)
			if (name != "") { order[n++] = name; known[name] = 1 }
	}
	function close_test(   i, from) {
		if (cur == "")
			return
		if (bad) {
			f++
			print "FAIL e2e/" script "/" cur >> fails
			from = nbuf > 25 ? nbuf - 25 : 0
			for (i = from; i < nbuf; i++)
				print "    " buf[i] >> fails
		} else if (skip)
			s++
		else
			p++
		done[cur] = 1
		cur = ""
	}
	known[$0] && !done[$0] { close_test(); cur = $0; bad = 0; skip = 0; nbuf = 0; next }
	/^Ran [0-9]+ tests?\.$/ { close_test(); ran = 1; next }
	{
		if (cur != "") {
			buf[nbuf++] = $0
			if ($0 ~ /^ASSERT:/ || $0 ~ /shunit2:(ERROR|FATAL)/)
				bad = 1
			if ($0 ~ /^SKIP:/)
				skip = 1
		} else if ($0 ~ /shunit2:(ERROR|FATAL)/ || $0 ~ /^ASSERT:/) {
			setup_err = setup_err "    " $0 "\n"
		}
	}
	END {
		why = rc == 124 || rc == 137 ? "timed out" : "exit status " rc
		if (cur != "" && !ran) {
			bad = 1
			buf[nbuf++] = "(the script died here: " why ")"
		}
		close_test()
		for (i = 0; i < n; i++)
			if (!done[order[i]]) {
				f++
				print "FAIL e2e/" script "/" order[i] " (did not run: " why ")" >> fails
				if (setup_err != "")
					printf "%s", setup_err >> fails
			}
		if (n == 0) {
			f++
			print "FAIL e2e/" script " (no test functions found)" >> fails
		}
		print p + 0, f + 0, s + 0
	}' "$work/out"
}

run_unit() {
	dir=$AMBER_BUILD/tests/unit
	if [ ! -d "$dir" ]; then
		echo "unit: no $dir; build first (make B=$AMBER_BUILD tests)"
		echo "FAIL unit (no test programs in $dir)" >>"$work/failures"
		failed=$((failed + 1))
		return
	fi
	for prog in "$dir"/*; do
		[ -f "$prog" ] && [ -x "$prog" ] || continue
		name=$(basename "$prog")
		case "$name" in *"$filter"*) ;; *) continue ;; esac
		run_timed "$unit_timeout" "$prog"
		counts=$(parse_unit "$name" "$rc")
		echo "unit $name: $counts" | awk '{ printf "%-28s %d passed, %d failed, %d skipped\n", $1 " " $2, $3, $4, $5 }'
		add_counts "$counts"
	done
}

run_e2e() {
	if ! [ -r /usr/share/shunit2/shunit2 ]; then
		echo "e2e: shunit2 is not installed (make deps)"
		echo "FAIL e2e (shunit2 missing)" >>"$work/failures"
		failed=$((failed + 1))
		return
	fi
	for script in tests/e2e/t*.sh; do
		[ -f "$script" ] || continue
		name=$(basename "$script" .sh)
		case "$name" in *"$filter"*) ;; *) continue ;; esac
		# The same test discovery as shunit2's own.
		grep -E '^[[:space:]]*((function test[A-Za-z0-9_-]*)|(test[A-Za-z0-9_-]* *\(\)))' "$script" |
			sed 's/^[^A-Za-z0-9_-]*//; s/^function //; s/\([A-Za-z0-9_-]*\).*/\1/' >"$work/tests"
		SHUNIT_COLOR=none run_timed "$e2e_timeout" sh "$script"
		counts=$(parse_e2e "$name" "$rc")
		echo "e2e $name: $counts" | awk '{ printf "%-28s %d passed, %d failed, %d skipped\n", $1 " " $2, $3, $4, $5 }'
		add_counts "$counts"
	done
}

# The fuzz targets, as one program of cases (tests/fuzz/run.sh).
run_fuzz() {
	run_timed "$fuzz_timeout" sh tests/fuzz/run.sh check
	counts=$(parse_unit targets "$rc" fuzz)
	echo "fuzz targets: $counts" | awk '{ printf "%-28s %d passed, %d failed, %d skipped\n", $1 " " $2, $3, $4, $5 }'
	# Why they were skipped (no clang), so the summary does not hide it.
	sed -n 's/^# \(.*not installed.*\)/fuzz: skipped: \1/p' "$work/out"
	add_counts "$counts"
}

for what in "$@"; do
	case "$what" in
	unit) run_unit ;;
	e2e) run_e2e ;;
	fuzz) run_fuzz ;;
	all) run_unit; run_e2e; run_fuzz ;;
	esac
done

if [ -s "$work/failures" ]; then
	echo
	echo "failures:"
	cat "$work/failures"
	echo
fi
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
