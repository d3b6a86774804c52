#!/bin/sh
# t048-sockets-more: the unix socket cases t046 does not cover: datagrams
# waiting from bound senders (kept, gone, connected) and unbound,
# unconnected datagram sockets; connections waiting in a listener's
# backlog, with and without data; files in flight (SCM_RIGHTS) in socket
# queues. Each round trip is checked by the workload itself; a dump with
# --leave-running keeps every queue; what cannot be done is refused by name.

. "$(dirname "$0")/lib.sh"

tearDown() { e2e_teardown_trees; e2e_teardown; }

testDatagramSenders() {
	mkdir -p "$T/d"
	e2e_roundtrip dgramfrom "$T/d"
}

testDatagramSendersLeaveRunning() {
	mkdir -p "$T/d"
	e2e_leave_running dgramfrom "$T/d"
}

testBacklog() {
	mkdir -p "$T/d"
	e2e_roundtrip backlog "$T/d"
}

# Waiting connections with nothing sent yet are dumped without being
# taken: with --leave-running the process accepts them all afterwards.
testBacklogQuietLeaveRunning() {
	mkdir -p "$T/d"
	e2e_leave_running backlog "$T/d" quiet
}

testBacklogQuiet() {
	mkdir -p "$T/d"
	e2e_roundtrip backlog "$T/d" quiet
}

# What a waiting connection's client sent can only be read by accepting
# it: with --leave-running that is refused, naming the listener, and the
# process keeps every connection.
testBacklogDataLeaveRunningRefused() {
	mkdir -p "$T/d"
	e2e_need_amber || return 0
	e2e_start_wl backlog "$T/d" || return 0
	e2e_amber_fails "waits to be accepted with data" dump -t "$E2E_PID" -D "$T/img" --leave-running
	assertContains "the refusal names the listener" "$E2E_OUT" "pid $E2E_PID fd "
	assertContains "the refusal names the socket" "$E2E_OUT" "socket:["
	assertEquals "backlog's check after the refusal" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

testFilesInFlight() {
	mkdir -p "$T/d"
	e2e_roundtrip scmrights "$T/d"
}

# Peeking takes nothing: the files stay in flight in the running process.
testFilesInFlightLeaveRunning() {
	mkdir -p "$T/d"
	e2e_leave_running scmrights "$T/d"
}

# An eventfd in flight is not among what amber restores in flight: the
# dump is refused naming the process, the socket whose queue holds it and
# what it is, and the process keeps it in flight.
testEventfdInFlightRefused() {
	e2e_need_amber || return 0
	[ -n "$E2E_PYTHON" ] || { e2e_skip "no python3"; return 0; }
	e2e_start "$E2E_PYTHON" -c 'import os, socket, sys, time
a, b = socket.socketpair()
ev = os.eventfd(5)
socket.send_fds(a, [b"e"], [ev]); os.close(ev)
open(sys.argv[1], "w").write("ok")
while not os.path.exists(sys.argv[1] + ".go"):
    time.sleep(0.05)
msg, fds, _, _ = socket.recv_fds(b, 10, 4)
ok = msg == b"e" and len(fds) == 1 and os.eventfd_read(fds[0]) == 5
open(sys.argv[2], "w").write("PASS\n" if ok else "FAIL\n")
time.sleep(1000)' "$T/ready" "$T/result"
	pid=$E2E_PID
	e2e_poll 10 test -s "$T/ready" || { fail "python did not get ready: $(cat "$T/wl.err")"; return 0; }
	e2e_amber_fails "anon_inode:[eventfd]" dump -t "$pid" -D "$T/img"
	assertContains "the refusal names the process" "$E2E_OUT" "pid $pid fd "
	assertContains "the refusal says it is in flight" "$E2E_OUT" "in flight"
	assertTrue "the process keeps running" "e2e_alive $pid"
	touch "$T/ready.go"
	e2e_poll 10 test -s "$T/result"
	assertEquals "the eventfd is still in flight" PASS "$(cat "$T/result" 2>/dev/null)"
}

# A client waiting in the backlog of a listener outside the tree would be
# cut from it: refused like a pair joined to the outside.
testWaitingAtListenerOutsideRefused() {
	e2e_need_amber || return 0
	[ -n "$E2E_PYTHON" ] || { e2e_skip "no python3"; return 0; }
	e2e_start "$E2E_PYTHON" -c 'import os, socket, sys, time
l = socket.socket(socket.AF_UNIX); l.bind(sys.argv[1]); l.listen(4)
kid = os.fork()
if kid == 0:
    l.close(); c = socket.socket(socket.AF_UNIX); c.connect(sys.argv[1]); time.sleep(1000); os._exit(0)
time.sleep(0.3)
open(sys.argv[2], "w").write(str(kid))
time.sleep(1000)' "$T/lsock" "$T/kid"
	e2e_poll 10 test -s "$T/kid" || { fail "python did not fork: $(cat "$T/wl.err")"; return 0; }
	kid=$(cat "$T/kid")
	e2e_track "$kid"
	e2e_amber_fails "outside the dumped tree" dump -t "$kid" -D "$T/img"
	assertContains "the refusal names the socket" "$E2E_OUT" "socket:["
	assertTrue "the child keeps running" "e2e_alive $kid"
	kill -9 "$kid" "$E2E_PID"
}

# The other way round: the listener is in the tree, a client waiting in
# its backlog is not.
testClientOutsideWaitingRefused() {
	e2e_need_amber || return 0
	[ -n "$E2E_PYTHON" ] || { e2e_skip "no python3"; return 0; }
	e2e_start "$E2E_PYTHON" -c 'import os, socket, sys, time
kid = os.fork()
if kid == 0:
    l = socket.socket(socket.AF_UNIX); l.bind(sys.argv[1]); l.listen(4); time.sleep(1000); os._exit(0)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
c = socket.socket(socket.AF_UNIX); c.connect(sys.argv[1])
open(sys.argv[2], "w").write(str(kid))
time.sleep(1000)' "$T/lsock" "$T/kid"
	e2e_poll 10 test -s "$T/kid" || { fail "python did not fork: $(cat "$T/wl.err")"; return 0; }
	kid=$(cat "$T/kid")
	e2e_track "$kid"
	e2e_amber_fails "outside the dumped tree" dump -t "$kid" -D "$T/img"
	assertContains "the refusal names the process" "$E2E_OUT" "pid $kid fd "
	assertTrue "the child keeps running" "e2e_alive $kid"
	kill -9 "$kid" "$E2E_PID"
}

. /usr/share/shunit2/shunit2
