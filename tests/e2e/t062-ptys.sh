#!/bin/sh
# t062-ptys: pseudo-terminal pairs held inside the tree: termios, window
# size, packet mode, lock, exclusive mode, a slave opened twice, a master
# whose slave is closed, and the bytes queued both ways, restored on a new
# index; a session whose controlling terminal is one of them, with its
# foreground group (^C reaches it); with --leave-running the queues are
# still there. Each restore is verified (the verify stage): no field of
# the made tree differs from the images, and every dumped pair is on the
# new index restore-files reported for it.

. "$(dirname "$0")/lib.sh"

# Restores $T/img detached with a log ($T/restore.log) and asserts that
# verify compared the tree and found no difference, and that each pair it
# found is where the restore said the pair went.
ptys_restore_verified() {
	e2e_amber_ok restore -D "$T/img" -d --pidfile "$T/restored.pid" -v3 -o "$T/restore.log" || return 1
	E2E_PID=$(cat "$T/restored.pid" 2>/dev/null)
	[ -n "$E2E_PID" ] && e2e_track "$E2E_PID"
	assertTrue "verify found no difference: $(grep 'verify: [EW]:' "$T/restore.log" | head -5)" \
		"grep -q 'verify: I: [0-9]* fields of [0-9]* processes compared, 0 differ' '$T/restore.log'"
	assertFalse "no verify difference in the log" "grep -q 'verify: E:' '$T/restore.log'"
	assertTrue "verify checked the pty pairs" "grep -q 'verify: I: pty /dev/pts/[0-9]* of the dump is on' '$T/restore.log'"
	sed -n 's|.*verify: I: pty /dev/pts/\([0-9]*\) of the dump is on /dev/pts/\([0-9]*\) .*|\1 \2|p' "$T/restore.log" |
	while read -r dumped now; do
		grep -q "pty /dev/pts/$dumped of the dump is now /dev/pts/$now\$" "$T/restore.log" ||
			fail "verify found dumped pty $dumped on /dev/pts/$now, which restore did not report: $(grep 'of the dump is now' "$T/restore.log")"
	done
	return 0
}

testPtyPairs() {
	e2e_need_amber || return 0
	rm -f "$T/ready" "$T/result"
	e2e_start_tree "$E2E_WL/ptys" "$T/ready" "$T/result" || return 0
	e2e_poll 10 test -s "$T/ready" || { fail "ptys did not get ready: $(cat "$T/wl.err")"; return 0; }
	pid=$E2E_PID
	e2e_amber_ok dump -t "$pid" -D "$T/img" || return 0
	e2e_wait_tree_gone 10 || return 0
	ptys_restore_verified || return 0
	assertEquals "the restored pid" "$pid" "$E2E_PID"
	assertEquals "ptys' check after restore" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

testLeaveRunningKeepsPtyQueues() {
	e2e_leave_running ptys
}

# --shell-job makes only terminals outside the tree external: the pairs
# whose master the tree holds are still recorded as its own.
testShellJobKeepsTreePtys() {
	e2e_need_amber || return 0
	e2e_start_wl ptys || return 0
	e2e_amber_ok dump -t "$E2E_PID" -D "$T/img" --leave-running --shell-job || return 0
	e2e_amber_ok show "$T/img/files.img" || return 0
	assertNotContains "no pty end is external" "$E2E_OUT" '"external"'
	assertContains "the master is recorded" "$E2E_OUT" '"master": true'
	assertEquals "the original's check after the dump" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

# A slave whose master is outside the tree is a terminal of the outside:
# refused with the --shell-job hint, which a master never gets.
testSlaveOfOutsideMasterRefused() {
	e2e_need_amber || return 0
	[ -n "$E2E_PYTHON" ] || { e2e_skip "no python3"; return 0; }
	e2e_start "$E2E_PYTHON" -c 'import os, pty, sys, time
m, s = pty.openpty()
kid = os.fork()
if kid == 0:
    os.close(m); time.sleep(1000); os._exit(0)
open(sys.argv[1], "w").write(str(kid))
time.sleep(1000)' "$T/kid"
	e2e_poll 10 test -s "$T/kid" || { fail "python did not fork: $(cat "$T/wl.err")"; return 0; }
	kid=$(cat "$T/kid")
	e2e_track "$kid"
	e2e_amber_fails "it is a terminal; dump with --shell-job" dump -t "$kid" -D "$T/img"
	assertContains "the refusal names the slave" "$E2E_OUT" "/dev/pts/"
	e2e_amber_ok dump -t "$E2E_PID" -D "$T/img2" --leave-running
	kill -9 "$kid" "$E2E_PID"
}

# Input typed in canonical mode and not read yet cannot be put back
# exactly: refused naming the pty and the byte count.
testCanonicalInputRefused() {
	e2e_need_amber || return 0
	[ -n "$E2E_PYTHON" ] || { e2e_skip "no python3"; return 0; }
	e2e_start "$E2E_PYTHON" -c 'import os, pty, sys, time
m, s = pty.openpty()
os.write(m, b"half a line")
time.sleep(0.2)
open(sys.argv[1], "w").write("ok")
time.sleep(1000)' "$T/ok"
	e2e_poll 10 test -s "$T/ok" || { fail "python did not start: $(cat "$T/wl.err")"; return 0; }
	e2e_amber_fails "holds an unfinished line of 11 bytes of input in canonical mode" dump -t "$E2E_PID" -D "$T/img"
	assertTrue "python keeps running" "e2e_alive $E2E_PID"
}

# A real program: a tmux server (its own socket) with a shell in a pane,
# whose variable and working directory were set by typed commands; after
# restore send-keys still reaches the shell and capture-pane shows its
# answer.
testTmux() {
	e2e_need_amber || return 0
	command -v tmux >/dev/null || { e2e_skip "no tmux"; return 0; }
	sock=$T/tmux.sock
	mkdir -p "$T/wd"
	"$E2E_WL/closefds" tmux -S "$sock" -f /dev/null new-session -d -x 80 -y 24 sh </dev/null >/dev/null 2>&1 ||
		{ fail "tmux did not start"; return 0; }
	server=$(tmux -S "$sock" display -p '#{pid}')
	shell=$(tmux -S "$sock" display -p '#{pane_pid}')
	e2e_track "$server"
	e2e_track "$shell"
	tmux -S "$sock" send-keys "AMBERVAR=kept; cd '$T/wd'" Enter
	e2e_poll 10 sh -c "tmux -S '$sock' capture-pane -p | grep -q 'cd '" || { fail "the shell did not echo"; return 0; }
	sleep 0.3
	e2e_amber_ok dump -t "$server" -D "$T/img" || return 0
	# Orphans: pid 1 reaps them, a little late; their pids must be free.
	e2e_poll 20 test ! -e "/proc/$server" && e2e_poll 20 test ! -e "/proc/$shell" ||
		{ fail "tmux's pids are still taken after the dump"; return 0; }
	ptys_restore_verified || return 0
	assertTrue "restore says where the pty is now" "grep -q 'is now /dev/pts/' '$T/restore.log'"
	tmux -S "$sock" send-keys 'echo "var=$AMBERVAR dir=$(pwd)"' Enter
	e2e_poll 10 sh -c "tmux -S '$sock' capture-pane -p | grep -q '^var=kept dir=$T/wd'" ||
		fail "the shell did not answer after restore: $(tmux -S "$sock" capture-pane -p | grep -v '^$' | tail -5)"
	tmux -S "$sock" kill-server 2>/dev/null
}

tearDown() { e2e_teardown_trees; e2e_teardown; }

. /usr/share/shunit2/shunit2
