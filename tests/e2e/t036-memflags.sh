#!/bin/sh
# t036-memflags: memory locked with mlock or mlock2(MLOCK_ONFAULT) comes
# back locked the same way, and a MAP_DROPPABLE mapping comes back
# droppable (tests/workloads/memflags.c checks its own smaps); and two
# adjacent anonymous VMAs that the kernel kept apart (their anon_vmas
# differ, after a fork) come back as two VMAs, not one
# (tests/workloads/vmaapart.c; the verify stage would name the difference).
# Run: sh tests/e2e/t036-memflags.sh (AMBER_BUILD=DIR for another build dir).

. "$(dirname "$0")/lib.sh"

testMemFlagsDumpRestore() {
	e2e_roundtrip memflags
}

testMemFlagsLeaveRunning() {
	e2e_leave_running memflags
}

testAdjacentVmasStayApart() {
	e2e_roundtrip_tree vmaapart
}

. /usr/share/shunit2/shunit2
