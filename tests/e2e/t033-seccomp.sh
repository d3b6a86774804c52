#!/bin/sh
# t033-seccomp: a process with two seccomp filters keeps them, in their order,
# after dump and restore.
#
# Workload: tests/workloads/seccomp.c (checks what its filters do
# after SIGUSR1 and writes PASS).
# Run: sh tests/e2e/t033-seccomp.sh (AMBER_BUILD=DIR for another build dir).

. "$(dirname "$0")/lib.sh"

testSeccompDumpRestore() {
	e2e_roundtrip seccomp
}

# --leave-running leaves the filters alone.
testSeccompLeaveRunning() {
	e2e_leave_running seccomp
}

# One filter given to all threads at once (TSYNC): after restore every
# thread has it, and the process runs to its end and exits normally.
testSeccompTsyncThreads() {
	e2e_roundtrip seccomptsync
	e2e_poll 10 e2e_dead "$_pid" || fail "seccomptsync did not exit after its check (state $(e2e_state "$_pid"))"
}

. /usr/share/shunit2/shunit2
