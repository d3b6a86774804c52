#!/bin/sh
# t068-netlink: netlink sockets (tests/workloads/netlinks.c): route,
# uevent and generic sockets with their port ids, groups and options come
# back and answer requests; with --leave-running nothing changes; a socket
# with messages waiting to be read is refused by name (the kernel sent
# them, and nothing can put them back).

. "$(dirname "$0")/lib.sh"

testNetlinkRoundtrip() {
	e2e_roundtrip netlinks
}

testNetlinkLeaveRunning() {
	e2e_leave_running netlinks
}

testUnreadMessagesRefused() {
	e2e_need_amber || return 0
	[ -n "$E2E_PYTHON" ] || { e2e_skip "no python3"; return 0; }
	# RTM_GETLINK of lo (type 18, flags NLM_F_REQUEST), never read.
	e2e_start "$E2E_PYTHON" -c 'import socket, struct, sys, time
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
s.bind((0, 0))
s.send(struct.pack("=LHHLL", 32, 18, 1, 1, 0) + struct.pack("=BxHiII", 0, 0, 1, 0, 0))
time.sleep(0.2)
open(sys.argv[1], "w").write("ok")
time.sleep(1000)' "$T/ready"
	pid=$E2E_PID
	e2e_poll 10 test -s "$T/ready" || { fail "python3 did not get ready: $(cat "$T/wl.err")"; return 0; }
	e2e_amber_fails "wait to be read" dump -t "$pid" -D "$T/img"
	assertContains "the refusal names the process and fd" "$E2E_OUT" "pid $pid fd 3"
	assertContains "and what to do" "$E2E_OUT" "let the process read them"
	assertTrue "the refused process carries on" "e2e_alive $pid"
}

. /usr/share/shunit2/shunit2
