#!/bin/sh
# t076-terminals: terminals past t062's pairs of the host's devpts: pairs
# of a devpts instance mounted in the tree's own mount namespace (made
# again with its options, the pairs on their indexes); refusals that
# leave a pty's queues as they were.

. "$(dirname "$0")/lib.sh"

testDevptsNewinstance() {
	e2e_need_amber || return 0
	mkdir "$T/ctr"
	e2e_start_wl devpts "$T/ctr" || return 0
	_pid=$E2E_PID
	e2e_dump_and_reap "$_pid" "$T/img" || return 0
	e2e_amber_ok show "$T/img/files.img" || return 0
	assertContains "the pairs name their devpts" "$E2E_OUT" '"devpts"'
	e2e_amber_ok restore -D "$T/img" -d --pidfile "$T/restored.pid" -v3 -o "$T/restore.log" || return 0
	E2E_PID=$(cat "$T/restored.pid")
	e2e_track "$E2E_PID"
	assertTrue "verify found no difference: $(grep 'verify: [EW]:' "$T/restore.log" | head -5)" \
		"grep -q 'verify: I: [0-9]* fields of [0-9]* processes compared, 0 differ' '$T/restore.log'"
	assertTrue "restore says pair 2 is on index 2 of the tree's devpts: $(grep 'of the dump' "$T/restore.log")" \
		"grep -q 'pty /dev/pts/2 of the dump (on the tree.s own devpts, made again) is now /dev/pts/2' '$T/restore.log'"
	assertEquals "devpts' check after restore" PASS "$(e2e_spine_result "$_pid" "$T/result")"
	assertEquals "mounts left under $T" 0 "$(grep -c "$T" /proc/self/mountinfo)"
}

# A container's /dev/console: a bind of slave 0 of its devpts, held open.
# Not made again yet (build-mntns binds before restore-files makes the
# pair): refused by name, and the tree runs on.
testDevptsConsoleBindRefused() {
	e2e_need_amber || return 0
	mkdir "$T/ctr"
	e2e_start_wl devpts "$T/ctr" console || return 0
	e2e_amber_fails "is a bind of the pty slave /dev/pts/0 of a devpts instance" dump -t "$E2E_PID" -D "$T/img"
	assertContains "it names the mount point" "$E2E_OUT" "$T/ctr/console"
	assertEquals "devpts' check after the refused dump" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

# A devpts instance that is mounted nowhere any more is refused by name,
# and the tree runs on.
testDevptsUnmountedRefused() {
	e2e_need_amber || return 0
	mkdir "$T/ctr"
	e2e_start_wl devpts "$T/ctr" umount || return 0
	e2e_amber_fails "mounted nowhere in the tree's mount namespace" dump -t "$E2E_PID" -D "$T/img"
	assertTrue "the workload runs on" "e2e_alive $E2E_PID"
}

# A refused dump puts back what it read: an unfinished canonical line
# stays unfinished.
testUnfinishedLineKept() {
	e2e_need_amber || return 0
	e2e_start_wl ptyrefuse line || return 0
	e2e_amber_fails "holds an unfinished line of 10 bytes" dump -t "$E2E_PID" -D "$T/img"
	assertEquals "ptyrefuse's check after the refused dump" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

# ... and more than 4095 queued bytes are all there, in order.
testBigQueueKept() {
	e2e_need_amber || return 0
	e2e_start_wl ptyrefuse big || return 0
	e2e_amber_fails "holds 6000 bytes written to the master" dump -t "$E2E_PID" -D "$T/img"
	assertEquals "ptyrefuse's check after the refused dump" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

# A real program: script(1) around a shell loop that counts, the whole
# tree dumped (script holds the master; the shell's terminal is the
# slave, its controlling terminal). After restore the count goes on in the
# typescript from where it was, not from 1 again.
testScriptAroundProgram() {
	e2e_need_amber || return 0
	command -v script >/dev/null || { e2e_skip "no script(1)"; return 0; }
	e2e_start_tree script -qfc "sh -c 'i=0; while :; do i=\$((i+1)); echo tick \$i; sleep 0.1; done'" \
		"$T/typescript" || return 0
	pid=$E2E_PID
	e2e_poll 10 grep -q "tick 5" "$T/typescript" || { fail "script shows no ticks: $(cat "$T/typescript")"; return 0; }
	e2e_amber_ok dump -t "$pid" -D "$T/img" || return 0
	e2e_wait_tree_gone 10 || return 0
	last=$(grep -o 'tick [0-9]*' "$T/typescript" | tail -n 1 | cut -d' ' -f2)
	e2e_amber_ok restore -D "$T/img" -d --pidfile "$T/restored.pid" || return 0
	E2E_PID=$(cat "$T/restored.pid")
	e2e_track_tree "$E2E_PID"
	assertEquals "script is back with its pid" "$pid" "$E2E_PID"
	e2e_poll 10 sh -c "tr -d '\\r' <'$T/typescript' | grep -qx 'tick $((last + 5))'" ||
		fail "the count did not go on after tick $last: $(tail -n 3 "$T/typescript")"
	assertEquals "the count did not start again" 1 "$(tr -d '\r' <"$T/typescript" | grep -cx 'tick 1')"
	assertEquals "no tick was lost or repeated" "$(tr -d '\r' <"$T/typescript" | grep -c '^tick ')" \
		"$(tr -d '\r' <"$T/typescript" | grep '^tick ' | tail -n 1 | cut -d' ' -f2)"
}

# vim with unsaved edits in a tmux pane (a server of its own -L name):
# after restore the buffer is there, typing reaches vim, and :w writes
# the buffer with what was typed before the dump and after the restore.
testVimInTmux() {
	e2e_need_amber || return 0
	command -v tmux >/dev/null && command -v vim >/dev/null || { e2e_skip "no tmux or vim"; return 0; }
	sock=amber-t076-$$
	"$E2E_WL/closefds" tmux -L "$sock" -f /dev/null new-session -d -x 80 -y 24 \
		"vim -u NONE -N -n -i NONE '$T/edit.txt'" </dev/null >/dev/null 2>&1 || { fail "tmux did not start"; return 0; }
	server=$(tmux -L "$sock" display -p '#{pid}')
	vimpid=$(tmux -L "$sock" display -p '#{pane_pid}')
	e2e_track "$server"
	e2e_track "$vimpid"
	e2e_poll 10 sh -c "tmux -L '$sock' capture-pane -p | grep -q 'edit.txt'" || { fail "vim did not start"; return 0; }
	tmux -L "$sock" send-keys "ibefore the dump" Escape
	e2e_poll 10 sh -c "tmux -L '$sock' capture-pane -p | grep -q '^before the dump'" ||
		{ fail "vim did not take the text: $(tmux -L "$sock" capture-pane -p | head -3)"; return 0; }
	sleep 0.3
	e2e_amber_ok dump -t "$server" -D "$T/img" || return 0
	e2e_poll 20 test ! -e "/proc/$server" && e2e_poll 20 test ! -e "/proc/$vimpid" ||
		{ fail "tmux's pids are still taken after the dump"; return 0; }
	assertFalse "nothing was saved before the restore" "test -e '$T/edit.txt'"
	# --verify=warn: vim catches SIGTRAP, whose handler restore-tasks loses
	# today (verify names it: caught signals differ at bit 4, signal 5).
	e2e_amber_ok restore -D "$T/img" -d --pidfile "$T/restored.pid" --verify=warn || return 0
	e2e_track_tree "$server"
	assertTrue "the unsaved buffer is there" "tmux -L '$sock' capture-pane -p | grep -q '^before the dump'"
	tmux -L "$sock" send-keys "oafter the restore" Escape ":w" Enter
	e2e_poll 10 test -s "$T/edit.txt" || fail "vim did not write: $(tmux -L "$sock" capture-pane -p | tail -n 2)"
	assertEquals "what vim wrote" "before the dump
after the restore" "$(cat "$T/edit.txt" 2>/dev/null)"
	tmux -L "$sock" kill-server 2>/dev/null
	rm -f "/tmp/tmux-$(id -u)/$sock"
}

# A terminal whose master is held outside the tree (script(1) standing
# for a container runtime): dumped with --external tty[...], restored
# with --console-socket onto a new pair whose master goes over the socket
# to a receiver (runc's protocol); the tree's termios and window size are
# on the new pair and what the tree writes reaches the receiver.
testConsoleSocket() {
	e2e_need_amber || return 0
	command -v script >/dev/null || { e2e_skip "no script(1)"; return 0; }
	rm -f "$T/ready" "$T/result"
	script -qfec "$E2E_WL/closefds $E2E_WL/ttyjob $T/ready $T/result raw" "$T/ts1" </dev/null >/dev/null 2>&1 &
	e2e_track $!
	e2e_poll 10 test -s "$T/ready" || { fail "ttyjob did not get ready: $(cat "$T/ts1")"; return 0; }
	pid=$(cut -d' ' -f2 "$T/ready")
	e2e_track "$pid"
	e2e_amber_fails "or with --external tty[" dump -t "$pid" -D "$T/img"
	key=$(echo "$E2E_OUT" | sed -n 's/.*or with --external \(tty\[[0-9a-fx:]*\]\).*/\1/p' | head -n 1)
	[ -n "$key" ] || { fail "no tty key in: $E2E_OUT"; return 0; }
	e2e_amber_ok dump -t "$pid" -D "$T/img" --external "$key" || return 0
	e2e_wait_dead "$pid" || { fail "ttyjob still runs after the dump"; return 0; }
	e2e_amber_fails "or with --console-socket PATH" restore -D "$T/img" -d
	e2e_amber_fails "connect to '$T/nosock'" restore -D "$T/img" -d --console-socket "$T/nosock"
	e2e_poll 10 test ! -e "/proc/$pid" || { fail "a failed restore left pid $pid"; return 0; }
	python3 "$(dirname "$0")/console-recv.py" "$T/console.sock" "$T/console.out" 2>"$T/recv.err" &
	e2e_track $!
	e2e_poll 10 test -e "$T/console.out.listening" || { fail "the receiver did not listen: $(cat "$T/recv.err")"; return 0; }
	e2e_amber_ok restore -D "$T/img" -d --console-socket "$T/console.sock" -v3 -o "$T/restore.log" || return 0
	e2e_track "$pid"
	e2e_poll 10 test -s "$T/console.out.names" || { fail "no master received: $(cat "$T/recv.err")"; return 0; }
	assertContains "runc's protocol: the name and one fd" "$(cat "$T/console.out.names")" "name /dev/ptmx index "
	assertContains "one fd" "$(cat "$T/console.out.names")" " fds 1"
	now=$(sed -n 's/.*index \([0-9]*\).*/\1/p' "$T/console.out.names")
	assertTrue "restore says where the terminal is: $(grep -i 'terminal' "$T/restore.log")" \
		"grep -q \"the tree's terminal (/dev/pts/[0-9]* at dump, outside the tree) is now /dev/pts/$now; its master was sent\" '$T/restore.log'"
	assertEquals "ttyjob's check after restore (raw mode, window size)" PASS "$(e2e_spine_result "$pid" "$T/result")"
	e2e_poll 10 grep -q "carrying on after restore" "$T/console.out" ||
		fail "the receiver did not get the tree's output: $(cat "$T/console.out")"
}

tearDown() { e2e_teardown_trees; e2e_teardown; }

. /usr/share/shunit2/shunit2
