#!/bin/sh
# t065-netlock: the network lock (--network-lock, driver/netlock.c). A
# redis-server in the tree has a subscriber outside it (a python3 client on
# loopback). The dump (--tcp-established) kills the server; while it is
# away the subscriber sends a PING on its connection. With the lock, that
# segment is dropped rather than answered with a reset, the restore removes
# the lock, the client's TCP sends it again, and the subscriber gets both
# its PONG and a message PUBLISHed after the restore, on the same
# connection. With --network-lock skip the same PING meets a reset (so the
# lock is what keeps the connection). A dump that fails, or one that
# leaves the tree running, leaves no lock behind.

. "$(dirname "$0")/lib.sh"

# The subscriber: connects, SUBSCRIBEs to "news", says ready, waits until
# the file GAP exists, sends a PING, then reads until it has the PONG and a
# message with "hello" (40 s at most) and writes what happened to OUT:
# "pong message", or "reset" / "timeout" / "closed".
SUBSCRIBER='import os, socket, sys, time
port, gap, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nnews\r\n")
buf = b""
while not buf.endswith(b":1\r\n"):
    buf += s.recv(4096)
open(out + ".ready", "w").write("ok")
while not os.path.exists(gap):
    time.sleep(0.05)
s.sendall(b"*1\r\n$4\r\nPING\r\n")
s.settimeout(40)
got, why = b"", ""
try:
    while not (b"pong" in got and b"hello" in got):
        d = s.recv(4096)
        if not d:
            why = "closed"
            break
        got += d
except ConnectionResetError:
    why = "reset"
except socket.timeout:
    why = "timeout"
res = " ".join(w for w, k in (("pong", b"pong"), ("message", b"hello")) if k in got)
open(out, "w").write(why or res)'

# Starts redis-server (pid) on a free port (port) and the subscriber (sub).
start_pair() {
	e2e_need_amber || return 1
	command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
		{ e2e_skip "no redis-server (Debian's redis-server package; sh tests/deps.sh installs it)"; return 1; }
	[ -n "$E2E_PYTHON" ] || { e2e_skip "no python3"; return 1; }
	command -v nft >/dev/null || [ -x /usr/sbin/nft ] ||
		{ e2e_skip "no nft (Debian's nftables package; sh tests/deps.sh installs it)"; return 1; }
	port=$("$E2E_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	e2e_start redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$T"
	pid=$E2E_PID
	e2e_poll 10 sh -c "timeout 2 redis-cli -p $port PING 2>/dev/null | grep -q PONG" ||
		{ fail "redis-server did not start: $(cat "$T/wl.out")"; return 1; }
	"$E2E_PYTHON" -c "$SUBSCRIBER" "$port" "$T/gap" "$T/sub" </dev/null >"$T/sub.err" 2>&1 &
	sub=$!
	e2e_track "$sub"
	e2e_poll 10 test -s "$T/sub.ready" || { fail "the subscriber did not subscribe: $(cat "$T/sub.err")"; return 1; }
}

# The lock tables amber has in place now.
lock_tables() {
	nft list tables 2>/dev/null | grep -o 'amber-lock-[0-9a-f]*'
}

# Dumps the server with $@, lets the subscriber PING while it is away,
# restores it; leaves the subscriber's verdict in $T/sub.
dump_gap_restore() {
	e2e_amber_ok dump -t "$pid" -D "$T/img" --tcp-established "$@" || return 1
	e2e_wait_dead "$pid" || { fail "redis-server still runs after the dump"; return 1; }
	e2e_reap "$pid"
	touch "$T/gap"
	sleep 1	# the PING goes out and meets the lock (or a reset)
	e2e_restore_detached "$T/img" || return 1
	assertEquals "the restored pid" "$pid" "$E2E_PID"
}

testLockKeepsSubscriber() {
	start_pair || return 0
	before=$(lock_tables)
	e2e_amber_ok dump -t "$pid" -D "$T/img" --tcp-established || return 0
	assertContains "the dump says it locked the connections" "$E2E_OUT" "TCP sockets locked"
	table=$(lock_tables | grep -v -x -F "${before:-none}" | head -n 1)
	assertNotEquals "a lock table is in place between dump and restore" "" "$table"
	e2e_wait_dead "$pid" && e2e_reap "$pid"
	touch "$T/gap"
	sleep 1
	e2e_restore_detached "$T/img" || return 0
	assertContains "the restore removes the lock" "$E2E_OUT" "network lock removed"
	assertNotContains "the table is gone" "$(lock_tables)" "$table"
	assertEquals "PUBLISH reaches the one subscriber" 1 "$(timeout 5 redis-cli -p "$port" PUBLISH news hello)"
	e2e_poll 40 test -s "$T/sub"
	assertEquals "the subscriber's connection carried on: PONG, then the message" "pong message" "$(cat "$T/sub")"
}

# Without the lock the PING sent while the server is away meets a reset:
# what the lock is for.
testSkipMeetsReset() {
	start_pair || return 0
	dump_gap_restore --network-lock skip || return 0
	timeout 5 redis-cli -p "$port" PUBLISH news hello >/dev/null
	e2e_poll 40 test -s "$T/sub"
	assertEquals "without the lock the subscriber's connection is reset" reset "$(cat "$T/sub")"
}

testFailedDumpUnlocks() {
	start_pair || return 0
	before=$(lock_tables)
	AMBER_TEST_FAIL_STAGE=dump-mounts e2e_amber dump -t "$pid" -D "$T/img" --tcp-established
	assertNotEquals "the dump fails: $E2E_OUT" 0 $?
	assertContains "it had locked the connections" "$E2E_OUT" "TCP sockets locked"
	assertEquals "no lock is left" "$before" "$(lock_tables)"
	assertTrue "the server carries on" "e2e_alive $pid"
	touch "$T/gap"
	assertEquals "PUBLISH reaches the subscriber" 1 "$(timeout 5 redis-cli -p "$port" PUBLISH news hello)"
	e2e_poll 40 test -s "$T/sub"
	assertEquals "the subscriber's connection carried on" "pong message" "$(cat "$T/sub")"
}

testLeaveRunningUnlocks() {
	start_pair || return 0
	before=$(lock_tables)
	e2e_amber_ok dump -t "$pid" -D "$T/img" --tcp-established --leave-running || return 0
	assertEquals "no lock is left" "$before" "$(lock_tables)"
	touch "$T/gap"
	assertEquals "PUBLISH reaches the subscriber" 1 "$(timeout 5 redis-cli -p "$port" PUBLISH news hello)"
	e2e_poll 40 test -s "$T/sub"
	assertEquals "the subscriber's connection carried on" "pong message" "$(cat "$T/sub")"
}

testBadMode() {
	e2e_need_amber || return 0
	e2e_amber dump -t 1 -D "$T/img" --network-lock iptables-legacy
	assertEquals "an unknown lock is a usage error" 2 $?
	assertContains "it names the choices" "$E2E_OUT" "want nftables (the default) or skip"
}

. /usr/share/shunit2/shunit2
