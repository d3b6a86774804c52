#!/bin/sh
# t061-inet: TCP listeners and UDP sockets, IPv4 and IPv6 (tests/workloads/
# inet.c: addresses, options, datagrams waiting with their senders); a dump
# with --leave-running keeps every queue; established TCP connections with
# both ends in the tree (tests/workloads/tcpconn.c: data in flight both
# ways, unread and unsent) with --tcp-established, left running, after a
# failed dump, and restored closed with --tcp-close; what cannot be
# restored is refused by name (a listener with connections waiting to be
# accepted, an established connection without --tcp-established or, when
# no network lock can be had, with its other end outside the tree, a
# packet socket); and real servers,
# python3 -m http.server and redis-server, answer after a restore. All
# traffic is on loopback, to ports the kernel picked.

. "$(dirname "$0")/lib.sh"

testInetRoundtrip() {
	e2e_roundtrip inet
}

testInetLeaveRunning() {
	e2e_leave_running inet
}

# Starts python3 running $1 (a script that writes "ok" to argv[1] once set
# up, then sleeps); sets pid.
start_py() {
	[ -n "$E2E_PYTHON" ] || { e2e_skip "no python3"; return 1; }
	e2e_start "$E2E_PYTHON" -c "$1" "$T/ready"
	pid=$E2E_PID
	e2e_poll 10 test -s "$T/ready" || { fail "python3 did not get ready: $(cat "$T/wl.err")"; return 1; }
}

testAcceptQueueRefused() {
	e2e_need_amber || return 0
	start_py 'import socket, sys, time
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(4)
c1 = socket.create_connection(l.getsockname()); c2 = socket.create_connection(l.getsockname())
open(sys.argv[1], "w").write("ok")
time.sleep(1000)' || return 0
	e2e_amber_fails "2 connections waiting to be accepted" dump -t "$pid" -D "$T/img"
	assertContains "the refusal names the process and fd" "$E2E_OUT" "pid $pid fd 3"
	assertContains "the refusal names the address" "$E2E_OUT" "127.0.0.1:"
	assertTrue "the refused process carries on" "e2e_alive $pid"
}

testEstablishedRefused() {
	e2e_need_amber || return 0
	start_py 'import socket, sys, time
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(4)
c = socket.create_connection(l.getsockname()); s, _ = l.accept(); l.close()
open(sys.argv[1], "w").write("ok")
time.sleep(1000)' || return 0
	e2e_amber_fails "--tcp-established" dump -t "$pid" -D "$T/img"
	assertContains "the refusal names the connection" "$E2E_OUT" "established TCP connection 127.0.0.1:"
	assertTrue "the refused process carries on" "e2e_alive $pid"
}

# Dumps workload tcpconn (with arguments $@) with --tcp-established,
# restores it and asserts its check.
tcpconn_roundtrip() {
	e2e_need_amber || return 0
	e2e_start_wl tcpconn "$@" || return 0
	pid=$E2E_PID
	e2e_amber_ok dump -t "$pid" -D "$T/img" --tcp-established || return 0
	e2e_wait_dead "$pid" || { fail "pid $pid still runs after the dump"; return 0; }
	e2e_reap "$pid"
	e2e_restore_detached "$T/img" || return 0
	assertEquals "the restored pid" "$pid" "$E2E_PID"
	assertEquals "tcpconn's check after restore" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

testTcpEstablished() {
	tcpconn_roundtrip
}

testTcpEstablishedV6() {
	tcpconn_roundtrip 6
}

# Read and left running: the connection leaves repair mode and carries on.
testTcpEstablishedLeaveRunning() {
	e2e_need_amber || return 0
	e2e_start_wl tcpconn || return 0
	e2e_amber_ok dump -t "$E2E_PID" -D "$T/img" --tcp-established --leave-running || return 0
	assertEquals "tcpconn's check, left running" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

# A dump that fails after dump-files left the connections in repair mode
# (the tree was to be killed) takes them out of it before the tree goes
# on: dump-mounts is killed (AMBER_TEST_FAIL_STAGE, a driver test hook).
testTcpEstablishedFailedDumpResumes() {
	e2e_need_amber || return 0
	e2e_start_wl tcpconn || return 0
	export AMBER_TEST_FAIL_STAGE=dump-mounts
	e2e_amber_fails "dump-mounts" dump -t "$E2E_PID" -D "$T/img" --tcp-established
	unset AMBER_TEST_FAIL_STAGE
	assertTrue "the tree carries on" "e2e_alive $E2E_PID"
	assertEquals "tcpconn's check after the failed dump" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

# restore --tcp-close: the connection comes back closed, and says so.
testTcpClose() {
	e2e_need_amber || return 0
	start_py 'import errno, os, socket, sys, time
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(4)
c = socket.create_connection(l.getsockname()); s, _ = l.accept()
c.sendall(b"unread")
open(sys.argv[1], "w").write("ok")
while not os.path.exists(sys.argv[1] + ".go"):
    time.sleep(0.05)
try:
    c.recv(10); ok = False
except OSError as e:
    ok = e.errno in (errno.ECONNABORTED, errno.ENOTCONN)
open(sys.argv[1] + ".result", "w").write("PASS\n" if ok else "FAIL\n")
time.sleep(1000)' || return 0
	e2e_amber_ok dump -t "$pid" -D "$T/img" --tcp-established || return 0
	e2e_wait_dead "$pid" || { fail "pid $pid still runs after the dump"; return 0; }
	e2e_reap "$pid"
	e2e_amber_ok restore -D "$T/img" -d --tcp-close || return 0
	e2e_track "$pid"
	touch "$T/ready.go"
	e2e_poll 10 test -s "$T/ready.result"
	assertEquals "the connection reads as closed" PASS "$(cat "$T/ready.result" 2>/dev/null)"
}

# A connection whose other end is outside the tree needs the network lock
# (t065): without nft to make it, the dump is refused, naming what to do.
testTcpPeerOutsideNeedsLock() {
	e2e_need_amber || return 0
	[ -n "$E2E_PYTHON" ] || { e2e_skip "no python3"; return 0; }
	"$E2E_PYTHON" -c 'import socket, sys, time
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(4)
open(sys.argv[1], "w").write(str(l.getsockname()[1]))
s, _ = l.accept(); time.sleep(30)' "$T/ready.port" </dev/null >/dev/null 2>&1 &
	srv=$!
	e2e_track "$srv"
	e2e_poll 10 test -s "$T/ready.port" || { fail "the outside server did not start"; return 0; }
	start_py 'import socket, sys, time
c = socket.create_connection(("127.0.0.1", int(open(sys.argv[1] + ".port").read())))
open(sys.argv[1], "w").write("ok")
time.sleep(1000)' || return 0
	# nft hidden (a private mount namespace, /dev/null over it).
	for nft in /usr/sbin/nft /sbin/nft /usr/bin/nft; do [ -e "$nft" ] && hide="$hide mount --bind /dev/null $nft;"; done
	E2E_OUT=$(timeout 60 unshare -m --propagation private sh -c "$hide exec \"\$0\" \"\$@\"" "$AMBER" \
		dump -t "$pid" -D "$T/img" --tcp-established 2>&1)
	assertNotEquals "the dump fails: $E2E_OUT" 0 $?
	assertContains "it says what is missing" "$E2E_OUT" "the nft program is not installed"
	assertContains "and the way out" "$E2E_OUT" "--network-lock skip"
	assertTrue "the refused process carries on" "e2e_alive $pid"
}

testPacketSocketRefused() {
	e2e_need_amber || return 0
	start_py 'import socket, sys, time
n = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, 0)
open(sys.argv[1], "w").write("ok")
time.sleep(1000)' || return 0
	e2e_amber_fails "a packet socket" dump -t "$pid" -D "$T/img"
	assertContains "the refusal names the process and fd" "$E2E_OUT" "pid $pid fd 3"
}

# GET / from 127.0.0.1:$1, at most 5 s: prints the first line of the page.
http_get() {
	curl -s -m 5 "http://127.0.0.1:$1/" 2>/dev/null | head -1
}

# python3 -m http.server on a port the kernel picks (it prints it),
# dumped, killed, restored: it answers the same page.
testHttpServer() {
	e2e_need_amber || return 0
	[ -n "$E2E_PYTHON" ] || { e2e_skip "no python3"; return 0; }
	command -v curl >/dev/null || { e2e_skip "no curl"; return 0; }
	mkdir -p "$T/www" && echo "amber-page" >"$T/www/index.html"
	e2e_start "$E2E_PYTHON" -u -m http.server --bind 127.0.0.1 --directory "$T/www" 0
	pid=$E2E_PID
	e2e_poll 10 grep -q 'port [0-9]' "$T/wl.out" || { fail "http.server did not start: $(cat "$T/wl.err")"; return 0; }
	port=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$T/wl.out")
	assertEquals "before the dump" "amber-page" "$(http_get "$port")"
	# The server closes each connection: its end lingers in TIME_WAIT, not in the tree.
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	assertEquals "nothing answers while it is dumped" "" "$(http_get "$port")"
	e2e_restore_detached "$T/img" || return 0
	assertEquals "the restored pid" "$pid" "$E2E_PID"
	assertEquals "after the restore" "amber-page" "$(http_get "$port")"
	assertEquals "and again" "amber-page" "$(http_get "$port")"
}

# redis-server with 1000 keys (set by redis-cli, whose connections are
# closed), dumped, killed, restored: every key is there and it takes more.
testRedis() {
	e2e_need_amber || return 0
	command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
		{ e2e_skip "no redis-server (Debian's redis-server package; sh tests/deps.sh installs it)"; return 0; }
	[ -n "$E2E_PYTHON" ] || { e2e_skip "no python3"; return 0; }
	# A port the kernel picked just now (redis-server cannot be told port 0).
	port=$("$E2E_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	e2e_start redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$T"
	pid=$E2E_PID
	e2e_poll 10 sh -c "timeout 2 redis-cli -p $port PING 2>/dev/null | grep -q PONG" ||
		{ fail "redis-server did not start: $(cat "$T/wl.out")"; return 0; }
	seq 1 1000 | sed 's/.*/SET key& value&/' | timeout 10 redis-cli -p "$port" >/dev/null
	assertEquals "keys before the dump" 1000 "$(timeout 5 redis-cli -p "$port" DBSIZE)"
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	e2e_restore_detached "$T/img" || return 0
	assertEquals "the restored pid" "$pid" "$E2E_PID"
	assertEquals "keys after the restore" 1000 "$(timeout 5 redis-cli -p "$port" DBSIZE)"
	assertEquals "a key's value" value777 "$(timeout 5 redis-cli -p "$port" GET key777)"
	timeout 5 redis-cli -p "$port" SET after restored >/dev/null
	assertEquals "a new key" restored "$(timeout 5 redis-cli -p "$port" GET after)"
}

. /usr/share/shunit2/shunit2
