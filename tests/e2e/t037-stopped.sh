#!/bin/sh
# t037-stopped: a process stopped by job control (SIGSTOP) is
# dumped as stopped and comes back stopped; SIGCONT lets it carry on with
# its state intact. With --leave-running the original stays stopped. A
# stopped process with threads: every thread stops and runs on again.
# Workloads: tests/workloads/spine.c, threads.c.
# Run: sh tests/e2e/t037-stopped.sh (AMBER_BUILD=DIR for another build dir).

. "$(dirname "$0")/lib.sh"

# The state letter of pid $1 (T: stopped by a signal).
stopped_state() {
	awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# Whether pid $1 is stopped (for e2e_poll, which reruns it).
is_stopped() {
	[ "$(stopped_state "$1")" = T ]
}

testStoppedComesBackStopped() {
	e2e_need_amber || return 0
	e2e_start_spine || return 0
	pid=$E2E_PID
	kill -STOP "$pid"
	e2e_poll 10 is_stopped "$pid" || { fail "spine did not stop"; return 0; }
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	e2e_restore_detached "$T/img" || return 0
	assertEquals "the restored pid" "$pid" "$E2E_PID"
	assertEquals "it comes back stopped" T "$(stopped_state "$pid")"
	# Stopped, it does not answer; continued, it does, with its state.
	kill -USR1 "$pid"
	sleep 0.3
	assertFalse "no result while stopped" "[ -s '$T/result' ]"
	kill -CONT "$pid"
	assertEquals "spine PASS once continued" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

testStoppedLeaveRunning() {
	e2e_need_amber || return 0
	e2e_start_spine || return 0
	pid=$E2E_PID
	# SIGSTOP: the workload's group is orphaned (setsid), where SIGTSTP is
	# discarded by the kernel.
	kill -STOP "$pid"
	e2e_poll 10 is_stopped "$pid" || { fail "spine did not stop"; return 0; }
	e2e_amber_ok dump -t "$pid" -D "$T/img" --leave-running || return 0
	assertEquals "the original is still stopped after the dump" T "$(stopped_state "$pid")"
	kill -CONT "$pid"
	assertEquals "spine PASS once continued" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

testStoppedWithThreads() {
	e2e_need_amber || return 0
	rm -f "$T/ready" "$T/result"
	e2e_start "$E2E_WL/threads" "$T/ready" "$T/result" 8
	pid=$E2E_PID
	e2e_poll 20 test -s "$T/ready" || { fail "threads did not get ready"; return 0; }
	kill -STOP "$pid"
	e2e_poll 10 is_stopped "$pid" || { fail "threads did not stop"; return 0; }
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	e2e_restore_detached "$T/img" || return 0
	for t in /proc/"$pid"/task/*; do
		assertEquals "thread ${t##*/} comes back stopped" T "$(awk '/^State:/ { print $2 }' "$t/status")"
	done
	kill -CONT "$pid"
	assertEquals "the threads' check once continued" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

. /usr/share/shunit2/shunit2
