#!/bin/sh
# t031-timers: itimers and POSIX timers (ids, clocks, notification, times)
# keep firing at their intervals after dump and restore.
#
# Workload: tests/workloads/timers.c (checks its timers and counts
# their firings after SIGUSR1 and writes PASS).
# Run: sh tests/e2e/t031-timers.sh (AMBER_BUILD=DIR for another build dir).

. "$(dirname "$0")/lib.sh"

testTimersDumpRestore() {
	e2e_roundtrip timers
}

# A periodic ITIMER_REAL that fired while the tree was frozen (its SIGALRM
# pending, no time left) keeps its interval and goes on firing.
testItimerFiredWhileFrozen() {
	e2e_roundtrip itimerfired
}

# --leave-running leaves every timer as it was.
testTimersLeaveRunning() {
	e2e_leave_running timers
}

. /usr/share/shunit2/shunit2
