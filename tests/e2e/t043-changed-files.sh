#!/bin/sh
# t043-changed-files: file locks (--file-locks); a regular file that changed size between dump and
# restore is refused, clearly and leaving nothing behind, unless
# --allow-changed-files; a file opened by a name that was unlinked while
# another hard link keeps it comes back on the same inode.

. "$(dirname "$0")/lib.sh"

testChangedFileRefusedThenAllowed() {
	e2e_need_amber || return 0
	e2e_start "$E2E_WL/ticker" "$T/ticks"
	pid=$E2E_PID
	e2e_poll 10 test -s "$T/ticks" || { fail "the ticker wrote nothing"; return 0; }
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	echo "written after the dump" >>"$T/ticks"
	e2e_amber_fails "bytes at dump" restore -D "$T/img" -d
	assertContains "the refusal names the file" "$E2E_OUT" "$T/ticks"
	assertContains "and says how to accept it" "$E2E_OUT" "--allow-changed-files"
	assertFalse "nothing was left running" "e2e_alive $pid"
	e2e_amber_ok restore -D "$T/img" -d --allow-changed-files || return 0
	e2e_track "$pid"
	n=$(wc -l <"$T/ticks")
	e2e_poll 10 sh -c "[ \$(wc -l <'$T/ticks') -gt $((n + 2)) ]" || fail "the ticker did not carry on"
	kill -9 "$pid"
}

testNameUnlinkedOtherLinkKept() {
	e2e_need_amber || return 0
	echo "the contents" >"$T/f.txt"
	ln "$T/f.txt" "$T/other.txt"
	e2e_start sh -c 'exec 3<"$0"; read -r l <&3; exec sleep 1000' "$T/f.txt"
	pid=$E2E_PID
	e2e_poll 10 sh -c "[ \$(awk '/^pos:/ {print \$2}' /proc/$pid/fdinfo/3 2>/dev/null) = 13 ] && [ \$(cat /proc/$pid/comm) = sleep ]" ||
		{ fail "the reader did not get going"; return 0; }
	rm "$T/f.txt"
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	e2e_restore_detached "$T/img" || return 0
	assertEquals "fd 3 is on the same inode" "$(stat -c %i "$T/other.txt")" "$(stat -L -c %i /proc/$pid/fd/3)"
	assertEquals "at the same position" 13 "$(awk '/^pos:/ {print $2}' /proc/$pid/fdinfo/3)"
	assertEquals "no link remap is left" "" "$(ls -A "$T" | grep amber-remap)"
	kill -9 "$pid"
}

# Two descriptions of one file unlinked while open come back on one inode
# (saved once as a ghost), so what one writes the other still reads.
testUnlinkedFileSharedByTwoDescriptions() {
	e2e_need_amber || return 0
	echo "shared" >"$T/g.txt"
	e2e_start sh -c 'exec 3<"$0" 4<>"$0"; exec sleep 1000' "$T/g.txt"
	pid=$E2E_PID
	e2e_poll 10 sh -c "[ \$(cat /proc/$pid/comm) = sleep ]" || { fail "the holder did not start"; return 0; }
	rm "$T/g.txt"
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	assertEquals "one ghost for the one inode" 1 "$(ls "$T/img" | grep -c '^ghost-')"
	e2e_restore_detached "$T/img" || return 0
	assertEquals "fds 3 and 4 are one inode again" "$(stat -L -c %i /proc/$pid/fd/3)" "$(stat -L -c %i /proc/$pid/fd/4)"
	kill -9 "$pid"
}

# File locks: a held lock refuses the dump unless --file-locks; with it,
# flock, POSIX and OFD locks are taken again by the restored process.
start_locks() {
	rm -f "$T/ready" "$T/result"
	mkdir -p "$T/l"
	e2e_start "$E2E_WL/locks" "$T/ready" "$T/result" "$T/l"
	pid=$E2E_PID
	e2e_poll 10 test -s "$T/ready" || { fail "locks did not get ready: $(cat "$T/wl.err")"; return 1; }
}

testFileLocksNeedTheOption() {
	e2e_need_amber || return 0
	start_locks || return 0
	e2e_amber_fails "--file-locks" dump -t "$pid" -D "$T/img"
	assertTrue "the tree keeps running" "e2e_alive $pid"
}

testFileLocks() {
	e2e_need_amber || return 0
	start_locks || return 0
	e2e_amber_ok dump -t "$pid" -D "$T/img" --file-locks || return 0
	e2e_wait_dead "$pid" && e2e_reap "$pid"
	e2e_restore_detached "$T/img" || return 0
	assertEquals "the locks hold after restore" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

. /usr/share/shunit2/shunit2
