#!/bin/sh
# t040-pipes: pipes with data in them, their capacity, flags, ends shared
# within and across processes and a pipe whose writer is gone; real
# programs joined by a pipe (a bash pipeline) going on after a restore; and
# memory shared between processes (MAP_SHARED|MAP_ANONYMOUS across fork, and
# a file mapped MAP_SHARED);
# named pipes (FIFOs) with their data, and one removed before the restore.

. "$(dirname "$0")/lib.sh"

testPipes() {
	e2e_roundtrip_tree pipes
	assertTrue "the dump saved what the pipes held" "[ -s '$T/img/pipedata.img' ]"
}

# A file mapped MAP_SHARED by a parent and its child is mapped from the
# file again: writes through the mapping reach the file and the child.
testFileSharedMapping() {
	mkdir -p "$T/fm"
	e2e_roundtrip_tree filemap "$T/fm"
}

# Memory shared across fork stays shared, with pages only one side touched.
testSharedAnonymousMemory() {
	e2e_roundtrip_tree shmem
}

# A pipe whose other end is held outside the tree cannot be restored joined
# to its peer yet: the dump refuses it, naming both ends, and leaves the
# tree running.
testPipeToOutsideRefused() {
	e2e_need_amber || return 0
	(setsid "$E2E_WL/closefds" sh -c 'echo $$ >"$0"; while :; do echo hi; sleep 0.1; done' "$T/writer.pid" | cat >/dev/null) &
	e2e_poll 10 test -s "$T/writer.pid" || { fail "the writer did not start"; return 0; }
	pid=$(cat "$T/writer.pid")
	e2e_track "$pid"
	e2e_amber_fails "outside the dumped tree" dump -t "$pid" -D "$T/img"
	assertContains "the refusal names the tree's descriptor" "$E2E_OUT" "pid $pid fd 1"
	assertTrue "the writer still runs" "e2e_alive $pid"
	kill -9 "$pid"
}

# Thousands of descriptors: more files than the files socket can hold at
# once (restore-files and restore-tasks must run side by side), and more
# than half of RLIMIT_NOFILE (the fds are moved into place, not copied).
testManyDescriptors() {
	e2e_need_amber || return 0
	e2e_start "$E2E_WL/manyfds" "$T/ready" "$T/result" 6000 500
	pid=$E2E_PID
	e2e_poll 20 test -s "$T/ready" || { fail "manyfds did not get ready: $(cat "$T/wl.err")"; return 0; }
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	e2e_restore_detached "$T/img" || return 0
	assertEquals "7000 descriptors and stdio are back" 7003 "$(ls /proc/$pid/fd | wc -l)"
	assertEquals "manyfds's check after restore" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

count_lines() { wc -l <"$T/ticks" 2>/dev/null || echo 0; }
lines_above() { [ "$(count_lines)" -gt "$1" ]; }

# bash with a pipeline of two real programs: a loop writing through a pipe
# into cat, which appends to a file. After the restore the same cat goes on
# appending what the same loop writes, numbered on from where it was.
testBashPipeline() {
	e2e_need_amber || return 0
	e2e_start_tree bash -c 'i=0; while :; do echo "tick $i"; i=$((i + 1)); sleep 0.1; done | cat >>"$0"' "$T/ticks" || return 0
	pid=$E2E_PID
	e2e_poll 10 lines_above 5 || { fail "the pipeline wrote nothing"; return 0; }
	e2e_amber_ok dump -t "$pid" -D "$T/img" || return 0
	e2e_wait_tree_gone 10 || return 0
	last=$(tail -n 1 "$T/ticks" | awk '{ print $2 }')
	e2e_restore_detached "$T/img" || return 0
	e2e_poll 10 lines_above $((last + 5)) || { fail "the pipeline did not go on after the restore"; return 0; }
	# Every tick once, in order: nothing lost in the pipe or written twice.
	assertEquals "ticks 0..N each once, in order" "" "$(awk '$2 != NR - 1 { print "line " NR ": " $0; exit }' "$T/ticks")"
	e2e_kill_tree "$pid"
}

start_fifos() {
	mkdir -p "$T/ff"
	e2e_start_wl fifos "$T/ff" || return 1
	pid=$E2E_PID
}

testFifos() {
	mkdir -p "$T/ff"
	e2e_roundtrip fifos "$T/ff"
}

# A FIFO removed between dump and restore: the restore names it and how to
# fix it, and leaves nothing behind; made again, the restore goes through.
testFifoMissingAtRestore() {
	e2e_need_amber || return 0
	start_fifos || return 0
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	rm "$T/ff/f2"
	e2e_amber_fails "mkfifo" restore -D "$T/img" -d
	assertContains "the refusal names the FIFO" "$E2E_OUT" "$T/ff/f2"
	assertFalse "nothing was left running" "e2e_alive $pid"
	mkfifo "$T/ff/f2"
	e2e_restore_detached "$T/img" || return 0
	kill -9 "$pid"
}

. /usr/share/shunit2/shunit2
