#!/bin/sh
# t036-memflags: memory locked with mlock or mlock2(MLOCK_ONFAULT) comes
# back locked the same way, and a MAP_DROPPABLE mapping comes back
# droppable (tests/workloads/memflags.c checks its own smaps).
# Run: sh tests/e2e/t036-memflags.sh (AMBER_BUILD=DIR for another build dir).

. "$(dirname "$0")/lib.sh"

testMemFlagsDumpRestore() {
	e2e_roundtrip memflags
}

testMemFlagsLeaveRunning() {
	e2e_leave_running memflags
}

. /usr/share/shunit2/shunit2
