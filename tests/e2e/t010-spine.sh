#!/bin/sh
# t010-spine: dump and restore one single-threaded process (the spine), and
# the spine's error paths: bad images, a taken pid, a dump stage that dies.
#
# Workloads: tests/workloads/spine.c (checks its own memory, registers,
# signals, files after SIGUSR1 and writes PASS) and tests/workloads/counter.py.
# Run: sh tests/e2e/t010-spine.sh (AMBER_BUILD=DIR for another build dir).

. "$(dirname "$0")/lib.sh"

# dump kills the tree by default; restore -d brings back the same pid, and
# the spine finds everything as it was.
testSpineDumpRestore() {
	e2e_need_amber || return 0
	e2e_start_spine || return 0
	pid=$E2E_PID
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	assertFalse "pid $pid is gone after the dump" "e2e_alive $pid"
	assertTrue "the dump wrote core-$pid.img" "[ -s '$T/img/core-$pid.img' ]"
	e2e_restore_detached "$T/img" || return 0
	assertEquals "the restored pid" "$pid" "$E2E_PID"
	assertTrue "pid $pid runs after the restore" "e2e_alive $pid"
	assertEquals "spine's check after restore" PASS "$(e2e_spine_result "$pid" "$T/result")"
	assertTrue "the spine exits after its check" "e2e_wait_dead $pid"
}

# --leave-running: the original carries on untouched and passes its own check.
testSpineLeaveRunningOriginalPasses() {
	e2e_need_amber || return 0
	e2e_start_spine || return 0
	pid=$E2E_PID
	e2e_amber_ok dump -t "$pid" -D "$T/img" --leave-running || return 0
	assertTrue "pid $pid still runs" "e2e_alive $pid"
	st=$(e2e_state "$pid")
	assertTrue "pid $pid is not left stopped (state $st)" "[ '$st' = S ] || [ '$st' = R ]"
	assertEquals "pid $pid is not left traced" 0 "$(awk '/^TracerPid:/ { print $2 }' "/proc/$pid/status")"
	assertEquals "the original's check after the dump" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

# --leave-running, then kill the original and restore the images.
testSpineLeaveRunningThenRestore() {
	e2e_need_amber || return 0
	e2e_start_spine || return 0
	pid=$E2E_PID
	e2e_amber_ok dump -t "$pid" -D "$T/img" --leave-running || return 0
	assertTrue "pid $pid still runs" "e2e_alive $pid"
	kill -9 "$pid"
	e2e_reap "$pid"
	e2e_restore_detached "$T/img" || return 0
	assertEquals "the restored pid" "$pid" "$E2E_PID"
	assertEquals "spine's check after restore" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

# The read value of the counter file, 0 while there is none.
counter_value() {
	v=$(cat "$T/count" 2>/dev/null)
	echo "${v:-0}"
}

counter_above() { [ "$(counter_value)" -gt "$1" ]; }

# A python3 interpreter carries on counting from where it was dumped.
testCounterKeepsCounting() {
	e2e_need_amber || return 0
	[ -n "$E2E_PYTHON" ] || { e2e_skip "no python3"; return 0; }
	e2e_start "$E2E_PYTHON" "$E2E_SRC/tests/workloads/counter.py" "$T/count"
	pid=$E2E_PID
	e2e_poll 20 counter_above 5 || { fail "counter did not pass 5: $(cat "$T/wl.err")"; return 0; }
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	at_dump=$(counter_value)
	sleep 0.3
	assertEquals "nothing counts while dumped" "$at_dump" "$(counter_value)"
	e2e_restore_detached "$T/img" || return 0
	assertEquals "the restored pid" "$pid" "$E2E_PID"
	e2e_poll 10 counter_above "$at_dump" || { fail "counter stuck at $at_dump after restore"; return 0; }
	first=$(counter_value)
	# It goes on from the dumped value, not from 0 (a few ticks may have passed).
	assertTrue "first value after restore $first follows $at_dump" \
		"[ $first -gt $at_dump ] && [ $first -le $((at_dump + 20)) ]"
	e2e_poll 10 counter_above "$first" || fail "counter stopped at $first"
	assertTrue "pid $pid still runs" "e2e_alive $pid"
}

testDumpMissingPid() {
	e2e_need_amber || return 0
	pid=$(e2e_free_pid)
	e2e_amber_fails "$pid" dump -t "$pid" -D "$T/img"
}

testRestoreMissingDir() {
	e2e_need_amber || return 0
	e2e_amber_fails "$T/no-such-dir" restore -D "$T/no-such-dir" -d
}

# Dumps a fresh spine into $T/img and frees its pid; sets pid.
spine_dumped() {
	e2e_start_spine || return 1
	pid=$E2E_PID
	e2e_dump_and_reap "$pid" "$T/img"
}

# A failed restore leaves no process behind with the dumped pid.
assert_nothing_restored() {
	sleep 0.2
	assertFalse "no process $pid after a failed restore" "e2e_alive $pid"
	if e2e_alive "$pid"; then
		e2e_track "$pid"
	fi
}

testRestoreTruncatedImage() {
	e2e_need_amber || return 0
	spine_dumped || return 0
	truncate -s 10 "$T/img/core-$pid.img"
	e2e_amber_fails "core-$pid.img" restore -D "$T/img" -d
	assert_nothing_restored
}

testRestoreWrongMagic() {
	e2e_need_amber || return 0
	spine_dumped || return 0
	printf 'ELF!' | dd of="$T/img/mm-$pid.img" bs=1 seek=0 count=4 conv=notrunc 2>/dev/null
	e2e_amber_fails "mm-$pid.img" restore -D "$T/img" -d
	assert_nothing_restored
}

# A record length of 0xfffffff0 right after the 16-byte header.
testRestoreOversizeRecord() {
	e2e_need_amber || return 0
	spine_dumped || return 0
	printf '\360\377\377\377' | dd of="$T/img/core-$pid.img" bs=1 seek=16 count=4 conv=notrunc 2>/dev/null
	e2e_amber_fails "core-$pid.img" restore -D "$T/img" -d
	assert_nothing_restored
}

# A second restore of the same images finds the pid taken: it fails naming
# the pid, and the first restored process is not disturbed.
testRestorePidTaken() {
	e2e_need_amber || return 0
	spine_dumped || return 0
	e2e_restore_detached "$T/img" || return 0
	assertTrue "pid $pid runs" "e2e_alive $pid"
	e2e_amber_fails "$pid" restore -D "$T/img" -d
	assertTrue "the first restored pid $pid still runs" "e2e_alive $pid"
	assertEquals "the first restore's check" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

# A dump stage SIGKILLed mid-dump (AMBER_TEST_FAIL_STAGE, a driver test hook):
# the dump fails and the tree runs on as it was, unfrozen and untraced.
testDumpStageKilledLeavesRunning() {
	e2e_need_amber || return 0
	e2e_start_spine || return 0
	pid=$E2E_PID
	export AMBER_TEST_FAIL_STAGE=dump-memory
	e2e_amber_fails dump-memory dump -t "$pid" -D "$T/img"
	unset AMBER_TEST_FAIL_STAGE
	sleep 0.2
	assertTrue "pid $pid still runs after a failed dump" "e2e_alive $pid"
	st=$(e2e_state "$pid")
	assertTrue "pid $pid is not left stopped (state $st)" "[ '$st' = S ] || [ '$st' = R ]"
	assertEquals "pid $pid is not left traced" 0 "$(awk '/^TracerPid:/ { print $2 }' "/proc/$pid/status")"
	assertEquals "the original's check after the failed dump" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

. /usr/share/shunit2/shunit2
