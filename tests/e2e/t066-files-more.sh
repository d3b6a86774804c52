#!/bin/sh
# t066-files-more: deleted files that are mapped (shared with an fd,
# private, alone, the executable itself), and the refusal of one over the
# ghost-limit. epoll registrations whose fd moved. pidfds of the tree's
# processes; pidfds of others, AIO contexts, io_uring and fanotify refused.
# Unix sockets never connected (bound or not), whose peer has gone; one
# bound to a relative path refused. Files under /proc of the tree's own
# processes; of another process refused. File mappings past the end of
# their file.

. "$(dirname "$0")/lib.sh"

tearDown() {
	e2e_teardown_trees
	e2e_teardown
}

# Mapped deleted files come back from their ghost, shared with the fd.
testDeletedMapped() {
	mkdir -p "$T/d"
	e2e_roundtrip delmap "$T/d" maps
	assertEquals "nothing is left in $T/d" "" "$(ls -A "$T/d")"
}

# A process whose executable was deleted.
testDeletedExecutable() {
	mkdir -p "$T/d"
	e2e_roundtrip delmap "$T/d" exe
	assertEquals "nothing is left in $T/d" "" "$(ls -A "$T/d")"
}

# A mapped deleted file with more data than --ghost-limit: refused by name.
testDeletedMappedOverLimit() {
	e2e_need_amber || return 0
	mkdir -p "$T/d"
	e2e_start_wl delmap "$T/d" big || return 0
	pid=$E2E_PID
	e2e_amber_fails "pid $pid maps the deleted file '$T/d/big.bin': its 2097152 bytes of data" dump -t "$pid" -D "$T/img"
	assertTrue "the tree still runs after the refused dump" "e2e_alive $pid"
}

# epoll registrations whose fd was closed or dup'ed since: found by kcmp.
testEpollMovedFds() {
	e2e_roundtrip epollmv moved
}

# A registration whose file no fd of the epoll's holder has: refused by name.
testEpollOrphanRefused() {
	e2e_need_amber || return 0
	e2e_start_wl epollmv orphan || return 0
	pid=$E2E_PID
	e2e_amber_fails "its registration of fd 3 (data 0x1) is of a file that fd 3 no longer holds" dump -t "$pid" -D "$T/img"
	assertTrue "the tree still runs after the refused dump" "e2e_alive $pid"
	kill "$pid"
}

# pidfds of a child and of itself refer to the restored processes.
testPidfds() {
	e2e_roundtrip_tree pidfds tree
}

# What cannot come back is refused at dump, naming pid, fd and what it is.
testPidfdOutsideAioUringFanotifyRefused() {
	e2e_need_amber || return 0
	for c in outside aio uring fanotify epoll; do
		rm -f "$T/ready"
		e2e_start_wl pidfds "$c" || return 0
		pid=$E2E_PID
		case $c in
		outside) want="pid $pid fd 3 is 'anon_inode:[pidfd]': it is a pidfd of pid " ;;
		aio) want="pid $pid has an AIO context (io_setup) whose ring is mapped at" ;;
		uring) want="pid $pid fd 3 is 'anon_inode:[io_uring]': it is an io_uring instance" ;;
		fanotify) want="pid $pid fd 3 is 'anon_inode:[fanotify]': it is a fanotify group" ;;
		epoll) want="pid $pid fd 4 is 'anon_inode:[eventpoll]': its registration of fd 3 (data 0x5) is of 'anon_inode:[pidfd]'" ;;
		esac
		e2e_amber_fails "$want" dump -t "$pid" -D "$T/img"
		assertTrue "the tree still runs after the refused dump ($c)" "e2e_alive $pid"
		kill "$pid"
	done
}

# Unix sockets in the states between a pair and a listener.
testUnixSocketStates() {
	mkdir -p "$T/d"
	e2e_roundtrip unixmore "$T/d" states
}

# A socket bound to a relative path is refused by name.
testUnixRelativeRefused() {
	e2e_need_amber || return 0
	mkdir -p "$T/d"
	e2e_start_wl unixmore "$T/d" relative || return 0
	pid=$E2E_PID
	e2e_amber_fails "it is bound (or was accepted from a listener bound) to a relative path" dump -t "$pid" -D "$T/img"
	assertTrue "the tree still runs after the refused dump" "e2e_alive $pid"
	kill "$pid"
}

# /proc/PID files and directories of the tree point at the restored tasks.
testProcFiles() {
	e2e_roundtrip_tree procfiles tree
}

# A /proc file of a process outside the tree is refused by name.
testProcFileOutsideRefused() {
	e2e_need_amber || return 0
	e2e_start_wl procfiles outside || return 0
	pid=$E2E_PID
	e2e_amber_fails "pid $pid fd 3 is '/proc/" dump -t "$pid" -D "$T/img"
	assertContains "the refusal says why: $E2E_OUT" "$E2E_OUT" "under /proc, and that is not a live process of the tree"
	assertTrue "the tree still runs after the refused dump" "e2e_alive $pid"
	kill "$pid"
}

# Mappings whose pages past the end of the file raise SIGBUS.
testMappingPastEof() {
	mkdir -p "$T/d"
	e2e_roundtrip pasteof "$T/d"
}

. /usr/share/shunit2/shunit2
