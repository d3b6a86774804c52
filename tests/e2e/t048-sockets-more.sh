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
	e2e_need_amber || return 0
	e2e_start_wl dgramfrom "$T/d" || return 0
	e2e_amber_ok dump -t "$E2E_PID" -D "$T/img" --leave-running || return 0
	assertEquals "dgramfrom's check, left running" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

testBacklog() {
	mkdir -p "$T/d"
	e2e_roundtrip backlog "$T/d"
}

# Waiting connections with nothing sent yet are dumped without being
# taken: with --leave-running the process accepts them all afterwards.
testBacklogQuietLeaveRunning() {
	mkdir -p "$T/d"
	e2e_need_amber || return 0
	e2e_start_wl backlog "$T/d" quiet || return 0
	e2e_amber_ok dump -t "$E2E_PID" -D "$T/img" --leave-running || return 0
	assertEquals "backlog's check, left running" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
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
	e2e_need_amber || return 0
	e2e_start_wl scmrights "$T/d" || return 0
	e2e_amber_ok dump -t "$E2E_PID" -D "$T/img" --leave-running || return 0
	assertEquals "scmrights's check, left running" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

. /usr/share/shunit2/shunit2
