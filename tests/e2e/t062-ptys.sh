#!/bin/sh
# t062-ptys: pseudo-terminal pairs held inside the tree: termios, window
# size, packet mode, lock, exclusive mode, a slave opened twice, a master
# whose slave is closed, and the bytes queued both ways, restored on a new
# index; a session whose controlling terminal is one of them, with its
# foreground group (^C reaches it); with --leave-running the queues are
# still there.

. "$(dirname "$0")/lib.sh"

testPtyPairs() {
	e2e_roundtrip_tree ptys
}

testLeaveRunningKeepsPtyQueues() {
	e2e_leave_running ptys
}

tearDown() { e2e_teardown_trees; e2e_teardown; }

. /usr/share/shunit2/shunit2
