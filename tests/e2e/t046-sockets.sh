#!/bin/sh
# t046-sockets: unix socket pairs (stream, datagram, seqpacket) with data
# waiting in both directions, shared with a child, shut down, or with a
# closed peer; listening sockets bound to a path or an abstract name; a
# bound datagram sockets with their queues and connected clients; a pair
# joined to the outside is refused by name; a python3 process with an
# unlinked temporary file, a pipe to a child and a socketpair carries on.
# (Datagrams from bound senders, connections waiting in a backlog and
# files in flight: t048-sockets-more.)

. "$(dirname "$0")/lib.sh"

testSocketPairs() {
	e2e_roundtrip_tree sockets
}

# The dump only peeks: with --leave-running every queue is still there.
testLeaveRunningKeepsQueues() {
	e2e_need_amber || return 0
	e2e_start_tree "$E2E_WL/sockets" "$T/ready" "$T/result" || return 0
	e2e_poll 10 test -s "$T/ready" || { fail "sockets did not get ready: $(cat "$T/wl.err")"; return 0; }
	pid=$E2E_PID
	e2e_amber_ok dump -t "$pid" -D "$T/img" --leave-running || return 0
	assertEquals "sockets's check, left running" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

start_listener() {
	mkdir -p "$T/d"
	e2e_start_wl listener "$T/d" || return 1
	pid=$E2E_PID
}

testListeningSockets() {
	e2e_need_amber || return 0
	start_listener || return 0
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	assertTrue "the killed listener left its socket file" "[ -S '$T/d/sock' ]"
	e2e_restore_detached "$T/img" || return 0
	assertEquals "listener's check after restore" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

# Restoring a listener whose name a live process holds (the original, left
# running) is refused; the live one keeps its socket file.
testListenerNameInUse() {
	e2e_need_amber || return 0
	start_listener || return 0
	e2e_amber_ok dump -t "$pid" -D "$T/img" --leave-running || return 0
	e2e_amber_fails "in use by a live listener" restore -D "$T/img" -d --pidns
	assertTrue "the socket file is still there" "[ -S '$T/d/sock' ]"
	assertEquals "the original still works" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

testBoundDatagramSockets() {
	mkdir -p "$T/d"
	e2e_roundtrip dgram "$T/d"
}

# The child of a python3 process holds one end of a pair, the parent the
# other: dumping the child alone is refused, naming the socket.
testPeerOutsideTheTreeRefused() {
	e2e_need_amber || return 0
	[ -n "$E2E_PYTHON" ] || { e2e_skip "no python3"; return 0; }
	e2e_start "$E2E_PYTHON" -c 'import os, socket, sys, time
a, b = socket.socketpair()
kid = os.fork()
if kid == 0:
    a.close(); time.sleep(1000); os._exit(0)
b.close()
open(sys.argv[1], "w").write(str(kid))
time.sleep(1000)' "$T/kid"
	e2e_poll 10 test -s "$T/kid" || { fail "python did not fork: $(cat "$T/wl.err")"; return 0; }
	kid=$(cat "$T/kid")
	e2e_track "$kid"
	e2e_amber_fails "outside the dumped tree" dump -t "$kid" -D "$T/img"
	assertContains "the refusal names the socket" "$E2E_OUT" "socket:["
	assertTrue "the child keeps running" "e2e_alive $kid"
	kill -9 "$kid" "$E2E_PID"
}

# A real program: python3 with an unlinked temporary file, a pipe to a
# child and a socketpair; after restore it goes on using all three.
testPythonFilesPipeSocketpair() {
	e2e_need_amber || return 0
	[ -n "$E2E_PYTHON" ] || { e2e_skip "no python3"; return 0; }
	cat >"$T/prog.py" <<'PY'
import os, signal, socket, sys, tempfile, time
out = sys.argv[1]
tmp = tempfile.TemporaryFile(dir=os.path.dirname(out))   # unlinked at once
tmp.write(b"kept in an unlinked file"); tmp.flush()
a, b = socket.socketpair()
a.sendall(b"waiting in the pair")
rd, wr = os.pipe()
kid = os.fork()
if kid == 0:
    os.close(rd)
    n = 0
    while True:
        os.write(wr, b"tick %d\n" % n); n += 1
        time.sleep(0.05)
os.close(wr)
go = []
signal.signal(signal.SIGUSR1, lambda *x: go.append(1))
open(out + ".ready", "w").write("ready")
pipe = os.fdopen(rd, "rb")
while not go:
    pipe.readline()
tmp.seek(0)
lines = [pipe.readline() for _ in range(3)]
ok = (tmp.read() == b"kept in an unlinked file" and b.recv(100) == b"waiting in the pair"
      and all(l.startswith(b"tick ") for l in lines))
b.sendall(b"x"); ok = ok and a.recv(1) == b"x"
os.kill(kid, signal.SIGKILL); os.waitpid(kid, 0)
open(out, "w").write("PASS\n" if ok else "FAIL: %r\n" % lines)
PY
	e2e_start_tree "$E2E_PYTHON" "$T/prog.py" "$T/pyresult" || return 0
	pid=$E2E_PID
	e2e_poll 10 test -s "$T/pyresult.ready" || { fail "python did not get ready: $(cat "$T/wl.err")"; return 0; }
	e2e_amber_ok dump -t "$pid" -D "$T/img" || return 0
	e2e_wait_tree_gone 10 || return 0
	e2e_restore_detached "$T/img" || return 0
	assertEquals "python's check after restore" PASS "$(e2e_spine_result "$pid" "$T/pyresult")"
}

. /usr/share/shunit2/shunit2
