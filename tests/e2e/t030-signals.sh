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

. /usr/share/shunit2/shunit2
