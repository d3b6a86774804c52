#!/bin/sh
# t030-signals: pending signals (process-wide and thread-directed, real-time
# ones with values, in order) and sigaltstack survive dump and restore.
#
# Workload: tests/workloads/signals.c (checks its own pending signals and
# their delivery after SIGUSR1 and writes PASS).
# Run: sh tests/e2e/t030-signals.sh (AMBER_BUILD=DIR for another build dir).

. "$(dirname "$0")/lib.sh"

testSignalsDumpRestore() {
	e2e_roundtrip signals
}

# --leave-running reads the queues without taking a signal off them.
testSignalsLeaveRunning() {
	e2e_leave_running signals
}

# A blocked SIGTRAP pending for a thread (what amber's restore trampoline
# stops on) and SIGUSR2: the dump refuses the thread by name (its restore
# would lose the SIGTRAP), and the refused dump leaves both pending.
testPendingTrapRefused() {
	e2e_need_amber || return 0
	e2e_start_wl pendtrap || return 0
	e2e_amber_fails "has a SIGTRAP pending" dump -t "$E2E_PID" -D "$T/img"
	assertEquals "refused: bad input" 3 "$_rc"
	assertContains "names the thread" "$E2E_OUT" "pid $E2E_PID thread $E2E_PID"
	assertEquals "the refused dump left both signals pending" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}


. /usr/share/shunit2/shunit2
