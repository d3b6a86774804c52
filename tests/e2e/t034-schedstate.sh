#!/bin/sh
# t034-schedstate: per-thread scheduling policy, priority, nice and
# reset-on-fork, and the process's oom_score_adj, THP disable and audit
# login uid come back as they were (tests/workloads/schedstate.c checks
# them itself after SIGUSR1 and writes PASS).
# Run: sh tests/e2e/t034-schedstate.sh (AMBER_BUILD=DIR for another build dir).

. "$(dirname "$0")/lib.sh"

testSchedStateDumpRestore() {
	e2e_roundtrip schedstate
}

# --leave-running leaves them as they were too.
testSchedStateLeaveRunning() {
	e2e_leave_running schedstate
}

. /usr/share/shunit2/shunit2
