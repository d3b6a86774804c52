#!/bin/sh
# t067-mcast: multicast memberships of UDP sockets (tests/workloads/mcast.c):
# groups joined on loopback, IPv4 and IPv6, with include and exclude source
# filters, IP_MULTICAST_IF and IP_MULTICAST_ALL; after a restore each socket
# is a member of the same groups with the same filters and receives what is
# sent to them; with --leave-running nothing changes.

. "$(dirname "$0")/lib.sh"

testMcastRoundtrip() {
	e2e_roundtrip mcast
}

testMcastLeaveRunning() {
	e2e_leave_running mcast
}

# The dump says what it found, so an operator can see the memberships.
testMcastShown() {
	e2e_need_amber || return 0
	e2e_start_wl mcast || return 0
	e2e_amber_ok dump -t "$E2E_PID" -D "$T/img" --leave-running || return 0
	out=$("$AMBER" show "$T/img/files.img" 2>&1)
	assertContains "files.img lists the group" "$out" '"mcast"'
	assertContains "with its device" "$out" '"ifname": "lo"'
}

. /usr/share/shunit2/shunit2
