#!/bin/sh
# t032-creds: an unprivileged process (uids, gids, groups, reduced capability
# sets with an ambient cap, securebits, no_new_privs with a seccomp filter,
# dumpable, subreaper, personality, lowered rlimits) is restored with all of
# it; a restore that cannot raise a hard rlimit fails verification, naming
# the limit, and with --verify=warn warns and carries on.
#
# Workload: tests/workloads/creds.c (checks its own credentials after
# SIGUSR1 and writes PASS).
# Run: sh tests/e2e/t032-creds.sh (AMBER_BUILD=DIR for another build dir).

. "$(dirname "$0")/lib.sh"

testCredsDumpRestore() {
	e2e_need_amber || return 0
	e2e_start_wl creds || return 0
	pid=$E2E_PID
	assertEquals "uids before the dump" "1001 1002 1003 1002" \
		"$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status")"
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	e2e_restore_detached "$T/img" || return 0
	assertEquals "the restored pid" "$pid" "$E2E_PID"
	assertEquals "uids after restore" "1001 1002 1003 1002" \
		"$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status")"
	assertEquals "creds' check after restore" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

# amber has no CAP_SYS_RESOURCE here, so a hard limit above amber's own
# cannot come back: the verify stage fails the restore naming it, and
# nothing is left running; with --verify=warn the restore says so, keeps
# what it can and succeeds.
testCredsHardLimitAboveAmbers() {
	e2e_need_amber || return 0
	e2e_start_wl creds || return 0
	pid=$E2E_PID
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	# Restore from a shell whose hard NOFILE limit is below the image's 800.
	( ulimit -n 600 && e2e_amber restore -D "$T/img" -d --pidfile "$T/restored.pid" ) >/dev/null 2>&1
	E2E_OUT=$(cat "$T/amber.out")
	assertContains "verify names the limit: $E2E_OUT" "$E2E_OUT" "pid $pid: rlimit 7 hard: dumped 800, restored 600"
	e2e_poll 10 e2e_dead "$pid" || fail "pid $pid runs after a restore that failed verification"
	( ulimit -n 600 && e2e_amber restore -D "$T/img" -d --pidfile "$T/restored.pid" --verify=warn ) >/dev/null 2>&1
	E2E_OUT=$(cat "$T/amber.out")
	E2E_PID=$(cat "$T/restored.pid" 2>/dev/null)
	[ -n "$E2E_PID" ] && e2e_track "$E2E_PID"
	assertEquals "restore under a lower hard limit: $E2E_OUT" "$pid" "$E2E_PID"
	assertContains "the restore warns about the limit" "$E2E_OUT" "rlimit 7"
	assertEquals "the hard NOFILE limit kept" 600 "$(awk '/^Max open files/ { print $5 }' "/proc/$pid/limits")"
	assertEquals "the soft NOFILE limit kept" 512 "$(awk '/^Max open files/ { print $4 }' "/proc/$pid/limits")"
}

. /usr/share/shunit2/shunit2
