#!/bin/sh
# t031-timers: itimers and POSIX timers (ids, clocks, notification, times)
# keep firing at their intervals after dump and restore.
#
# Workload: tests/workloads/timers.c (checks its timers and counts
# their firings after SIGUSR1 and writes PASS).
# Run: sh tests/e2e/t031-timers.sh (AMBER_BUILD=DIR for another build dir).

. "$(dirname "$0")/lib.sh"

# Starts workload $1 (READYFILE RESULTFILE arguments) and waits for READY.
ts_start() {
	rm -f "$T/ready" "$T/result"
	e2e_start "$E2E_WL/$1" "$T/ready" "$T/result"
	if ! e2e_poll 10 test -s "$T/ready"; then
		fail "$1 did not get ready within 10 s: $(cat "$T/wl.err" 2>/dev/null)"
		return 1
	fi
	assertEquals "$1's own pid" "READY $E2E_PID" "$(cat "$T/ready")"
}

testTimersDumpRestore() {
	e2e_need_amber || return 0
	ts_start timers || return 0
	pid=$E2E_PID
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	e2e_restore_detached "$T/img" || return 0
	assertEquals "the restored pid" "$pid" "$E2E_PID"
	assertEquals "timers. check after restore" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

# --leave-running leaves every timer as it was.
testTimersLeaveRunning() {
	e2e_need_amber || return 0
	ts_start timers || return 0
	pid=$E2E_PID
	e2e_amber_ok dump -t "$pid" -D "$T/img" --leave-running || return 0
	assertEquals "the original's check after the dump" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

. /usr/share/shunit2/shunit2
