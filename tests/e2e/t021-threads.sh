#!/bin/sh
# t021-threads: dump and restore multi-threaded processes: 64 threads that
# each check their own tid, TLS, name, signal mask and registers (one of them
# busy on the CPU), 64 threads all busy, a python3 program with threading,
# and the error path of threads created while the dump seizes.
#
# Expects of amber: 'dump -t PID -D DIR' seizes every thread (also threads
# created while it seizes) and kills the process; 'restore -D DIR -d
# --pidfile F' brings back every thread with its tid and state.
#
# Workloads: tests/workloads/threads.c, spinners.c, threads.py, churn.c.
# Run: sh tests/e2e/t021-threads.sh (AMBER_BUILD=DIR for another build dir).

. "$(dirname "$0")/lib.sh"

# A dump of 64 threads takes well under a second: do not wait 60 s for a hang.
E2E_CMD_TIMEOUT=${AMBER_E2E_CMD_TIMEOUT:-30}

tearDown() {
	e2e_teardown_trees
	e2e_teardown
}

# "TID COMM" for every thread of pid $1, sorted by tid.
thread_list() {
	for d in /proc/"$1"/task/*; do
		echo "${d##*/} $(cat "$d/comm" 2>/dev/null)"
	done | sort -n
}

# Starts workload $1 (args "$@") whose first two arguments are READY and
# RESULT files and waits until it is ready; sets pid.
threads_start() {
	rm -f "$T/ready" "$T/result"
	e2e_start "$E2E_WL/$1" "$T/ready" "$T/result" "$2" || return 1
	pid=$E2E_PID
	if ! e2e_poll 20 test -s "$T/ready"; then
		fail "$1 did not get ready within 20 s: $(cat "$T/wl.err" 2>/dev/null)"
		return 1
	fi
	assertEquals "$1's own pid" "READY $pid" "$(cat "$T/ready")"
}

# Dumps pid and checks that no thread of it is left; sets before (the thread
# list).
threads_dump() {
	before=$(thread_list "$pid")
	tids=$(echo "$before" | awk '{ print $1 }')
	e2e_dump_and_reap "$pid" "$T/img" || return 1
	for t in $tids; do
		assertFalse "thread $t is gone after the dump" "[ -e /proc/$t ]"
	done
}

# Restores pid and checks that every thread is back with its tid and name.
threads_restore() {
	e2e_restore_detached "$T/img" || return 1
	assertEquals "the restored pid" "$pid" "$E2E_PID"
	assertEquals "the threads (tid and name) after the restore" "$before" "$(thread_list "$pid")"
}

threads_round_trip() {
	threads_dump && threads_restore
}

# 64 threads: each checks its own tid, TLS, name, mask, robust list, rseq,
# x87/SSE control and registers; the last one is spinning at the dump.
testThreads64() {
	e2e_need_amber || return 0
	threads_start threads 64 || return 0
	assertEquals "threads: main and 64 threads" 65 "$(ls "/proc/$pid/task" | wc -l)"
	threads_round_trip || return 0
	assertEquals "the threads' own check after restore" PASS "$(e2e_spine_result "$pid" "$T/result")"
	assertTrue "the process exits after its check" "e2e_wait_dead $pid"
}

# 64 threads all spinning on the CPU when the dump freezes them.
testBusyThreads64() {
	e2e_need_amber || return 0
	threads_start spinners 64 || return 0
	threads_round_trip || return 0
	busy=$(for d in /proc/"$pid"/task/*; do e2e_state "${d##*/}"; done | grep -c R)
	assertTrue "the restored threads spin again ($busy running)" "[ $busy -ge 1 ]"
	assertEquals "the spinners' own check after restore" PASS "$(e2e_spine_result "$pid" "$T/result")"
	assertTrue "the process exits after its check" "e2e_wait_dead $pid"
}

# The value in file $1, 0 while there is none.
file_count() {
	v=$(cat "$1" 2>/dev/null)
	echo "${v:-0}"
}

count_above() { [ "$(file_count "$1")" -gt "$2" ]; }

# python3 threading: four threads count on from where they were dumped, with
# their old native ids.
testPythonThreads() {
	e2e_need_amber || return 0
	[ -n "$E2E_PYTHON" ] || { e2e_skip "no python3"; return 0; }
	mkdir -p "$T/py"
	e2e_start "$E2E_PYTHON" "$E2E_SRC/tests/workloads/threads.py" "$T/py" 4
	pid=$E2E_PID
	e2e_poll 20 test -s "$T/py/ready" || { fail "threads.py did not get ready: $(cat "$T/wl.err")"; return 0; }
	for i in 0 1 2 3; do
		e2e_poll 20 count_above "$T/py/count-$i" 5 || { fail "counter $i did not pass 5: $(cat "$T/wl.err")"; return 0; }
	done
	threads_dump || return 0
	at=
	for i in 0 1 2 3; do
		at="$at $(file_count "$T/py/count-$i")"
	done
	threads_restore || return 0
	for i in 0 1 2 3; do
		tid=$(cat "$T/py/tid-$i")
		assertTrue "python thread $i has its tid $tid" "[ -d /proc/$pid/task/$tid ]"
	done
	set -- $at
	for i in 0 1 2 3; do
		was=$1
		shift
		e2e_poll 10 count_above "$T/py/count-$i" "$was" || { fail "counter $i stuck at $was after restore"; continue; }
		now=$(file_count "$T/py/count-$i")
		assertTrue "counter $i: $now goes on from $was, not from 0" "[ $now -gt $was ] && [ $now -le $((was + 40)) ]"
	done
	assertEquals "threads.py's own check after restore" PASS "$(e2e_spine_result "$pid" "$T/py/result")"
	assertTrue "python exits after its check" "e2e_wait_dead $pid"
}

# A process creating and joining threads without pause while the dump seizes
# it, three times: the dump must succeed (threads found late are seized too)
# and the restored process must go on creating threads and pass its check.
testThreadCreatedDuringSeize() {
	e2e_need_amber || return 0
	for round in 1 2 3; do
		rm -rf "$T/img" "$T/ready" "$T/result"
		e2e_start "$E2E_WL/churn" threads "$T/ready" "$T/result"
		pid=$E2E_PID
		e2e_poll 10 test -s "$T/ready" || { fail "churn did not get ready: $(cat "$T/wl.err")"; return 0; }
		steady=$(sed -n 's/^steady //p' "$T/ready")
		e2e_dump_and_reap "$pid" "$T/img" || return 0
		e2e_restore_detached "$T/img" || return 0
		assertEquals "round $round: the restored pid" "$pid" "$E2E_PID"
		assertTrue "round $round: the steady thread $steady is back" "[ -d /proc/$pid/task/$steady ]"
		sleep 0.5	# the loop must go on for 20 rounds after the restore
		assertEquals "round $round: churn's own check after restore" PASS "$(e2e_spine_result "$pid" "$T/result")"
		assertTrue "round $round: churn exits after its check" "e2e_wait_dead $pid"
	done
}

. /usr/share/shunit2/shunit2
