#!/bin/sh
# t045-fown: file owners across a restore: F_SETOWN to the process itself,
# to its child and to its group, F_SETSIG, and O_ASYNC still delivering the
# signal with the right si_fd; an owner outside the tree refuses the dump.

. "$(dirname "$0")/lib.sh"

start_fown() {
	mkdir -p "$T/d"
	rm -f "$T/ready" "$T/result"
	e2e_start_tree "$E2E_WL/fown" "$T/ready" "$T/result" "$T/d" "$@" || return 1
	pid=$E2E_PID
	e2e_poll 10 test -s "$T/ready" || { fail "fown did not get ready: $(cat "$T/wl.err")"; return 1; }
}

testFileOwners() {
	mkdir -p "$T/d"
	e2e_roundtrip_tree fown "$T/d"
}

testOwnerOutsideTheTreeRefused() {
	e2e_need_amber || return 0
	start_fown outside || return 0
	e2e_amber_fails "outside the dumped tree" dump -t "$pid" -D "$T/img"
	assertContains "the refusal names F_SETOWN" "$E2E_OUT" "F_SETOWN"
	assertTrue "the tree keeps running" "e2e_alive $pid"
}

. /usr/share/shunit2/shunit2
