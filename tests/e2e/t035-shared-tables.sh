#!/bin/sh
# t035-shared-tables: processes sharing a descriptor table (CLONE_FILES) or
# a cwd, root and umask (CLONE_FS) without being threads of one process are
# refused at dump, naming both pids, and go on unharmed (nothing is lost
# without a word: amber restores each process with its own).
# Run: sh tests/e2e/t035-shared-tables.sh (AMBER_BUILD=DIR for another build dir).

. "$(dirname "$0")/lib.sh"

shared_refused() {
	e2e_need_amber || return 0
	e2e_start_wl sharedfdt "$1" || return 0
	pid=$E2E_PID
	e2e_amber dump -t "$pid" -D "$T/img"
	assertEquals "a tree sharing its $2 is refused as bad input: $E2E_OUT" 3 $?
	assertContains "naming the pid" "$E2E_OUT" "pid $pid"
	assertContains "and what is shared" "$E2E_OUT" "$3"
	assertFalse "no dump was left" "[ -e '$T/img/inventory.img' ]"
	assertEquals "both processes go on, still sharing" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

testSharedDescriptorTableRefused() {
	shared_refused files "descriptor table" "CLONE_FILES"
}

testSharedFsRefused() {
	shared_refused fs "cwd, root and umask" "CLONE_FS"
}

. /usr/share/shunit2/shunit2
