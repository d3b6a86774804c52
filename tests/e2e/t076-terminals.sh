#!/bin/sh
# t076-terminals: terminals past t062's pairs of the host's devpts: pairs
# of a devpts instance mounted in the tree's own mount namespace (made
# again with its options, the pairs on their indexes); refusals that
# leave a pty's queues as they were.

. "$(dirname "$0")/lib.sh"

testDevptsNewinstance() {
	e2e_need_amber || return 0
	mkdir "$T/ctr"
	e2e_start_wl devpts "$T/ctr" || return 0
	_pid=$E2E_PID
	e2e_dump_and_reap "$_pid" "$T/img" || return 0
	e2e_amber_ok show "$T/img/files.img" || return 0
	assertContains "the pairs name their devpts" "$E2E_OUT" '"devpts"'
	e2e_amber_ok restore -D "$T/img" -d --pidfile "$T/restored.pid" -v3 -o "$T/restore.log" || return 0
	E2E_PID=$(cat "$T/restored.pid")
	e2e_track "$E2E_PID"
	assertTrue "verify found no difference: $(grep 'verify: [EW]:' "$T/restore.log" | head -5)" \
		"grep -q 'verify: I: [0-9]* fields of [0-9]* processes compared, 0 differ' '$T/restore.log'"
	assertTrue "restore says pair 2 is on index 2 of the tree's devpts: $(grep 'of the dump' "$T/restore.log")" \
		"grep -q 'pty /dev/pts/2 of the dump (on the tree.s own devpts, made again) is now /dev/pts/2' '$T/restore.log'"
	assertEquals "devpts' check after restore" PASS "$(e2e_spine_result "$_pid" "$T/result")"
	assertEquals "mounts left under $T" 0 "$(grep -c "$T" /proc/self/mountinfo)"
}

# A devpts instance that is mounted nowhere any more is refused by name,
# and the tree runs on.
testDevptsUnmountedRefused() {
	e2e_need_amber || return 0
	mkdir "$T/ctr"
	e2e_start_wl devpts "$T/ctr" umount || return 0
	e2e_amber_fails "mounted nowhere in the tree's mount namespace" dump -t "$E2E_PID" -D "$T/img"
	assertTrue "the workload runs on" "e2e_alive $E2E_PID"
}

# A refused dump puts back what it read: an unfinished canonical line
# stays unfinished.
testUnfinishedLineKept() {
	e2e_need_amber || return 0
	e2e_start_wl ptyrefuse line || return 0
	e2e_amber_fails "holds an unfinished line of 10 bytes" dump -t "$E2E_PID" -D "$T/img"
	assertEquals "ptyrefuse's check after the refused dump" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

# ... and more than 4095 queued bytes are all there, in order.
testBigQueueKept() {
	e2e_need_amber || return 0
	e2e_start_wl ptyrefuse big || return 0
	e2e_amber_fails "holds 6000 bytes written to the master" dump -t "$E2E_PID" -D "$T/img"
	assertEquals "ptyrefuse's check after the refused dump" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

. /usr/share/shunit2/shunit2
