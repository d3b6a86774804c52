#!/bin/sh
# t069-raw: raw sockets (tests/workloads/rawsock.c): an ICMP one with its
# filter, one of an unused protocol bound and connected, an IPv6 one with
# IPV6_CHECKSUM; after a restore their addresses and options are back, a
# ping goes through the ICMP one and a packet reaches the connected one;
# with --leave-running nothing changes; a raw socket with packets waiting
# is refused by name (they cannot be put back as they came).

. "$(dirname "$0")/lib.sh"

testRawRoundtrip() {
	e2e_roundtrip rawsock
}

testRawLeaveRunning() {
	e2e_leave_running rawsock
}

testRawQueueRefused() {
	e2e_need_amber || return 0
	[ -n "$E2E_PYTHON" ] || { e2e_skip "no python3"; return 0; }
	# A packet of protocol 253 to itself, never read.
	e2e_start "$E2E_PYTHON" -c 'import socket, sys, time
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, 253)
r.bind(("127.0.0.1", 0))
r.sendto(b"waiting", ("127.0.0.1", 0))
time.sleep(0.2)
open(sys.argv[1], "w").write("ok")
time.sleep(1000)' "$T/ready"
	pid=$E2E_PID
	e2e_poll 10 test -s "$T/ready" || { fail "python3 did not get ready: $(cat "$T/wl.err")"; return 0; }
	e2e_amber_fails "packets wait to be read in the raw socket (protocol 253)" dump -t "$pid" -D "$T/img"
	assertContains "the refusal names the process and fd" "$E2E_OUT" "pid $pid fd 3"
	assertTrue "the refused process carries on" "e2e_alive $pid"
}

. /usr/share/shunit2/shunit2
