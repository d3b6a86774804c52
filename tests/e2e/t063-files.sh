#!/bin/sh
# t063-files: files deleted while open keep their mode and owner (a ghost
# and a link remap); a sparse ghost keeps its size and holes, and
# --ghost-limit counts its data, not its size. O_PATH descriptors. A FIFO
# removed while open; a removed directory as cwd and fds. Empty datagrams and
# options of unix sockets. (The plain unlinked files,
# link remaps and gc: t042-unlinked.)

. "$(dirname "$0")/lib.sh"

testDeletedKeepsModeAndOwner() {
	mkdir -p "$T/d"
	e2e_roundtrip deleted "$T/d" mode
	assertEquals "nothing is left in $T/d" "" "$(ls -A "$T/d")"
}

# A 2 GiB file with 1.5625 MiB of data: over the default ghost-limit of
# 1 MiB by its data (refused, naming pid and fd), saved with a limit of
# 4 MiB, which its 2 GiB size is far over; its holes come back.
testSparseGhost() {
	e2e_need_amber || return 0
	mkdir -p "$T/d"
	e2e_start_wl deleted "$T/d" sparse || return 0
	pid=$E2E_PID
	e2e_amber_fails "ghost-limit" dump -t "$pid" -D "$T/img1"
	assertContains "the refusal names pid and the data bytes: $E2E_OUT" "$E2E_OUT" "pid $pid fd"
	assertContains "the refusal counts the data, not the size: $E2E_OUT" "$E2E_OUT" "1638400 bytes of data"
	assertTrue "the tree still runs after the refused dump" "e2e_alive $pid"
	e2e_amber_ok dump -t "$pid" -D "$T/img" --ghost-limit 4194304 || return 0
	e2e_wait_dead "$pid" || { fail "pid $pid still runs after the dump"; return 0; }
	e2e_reap "$pid"
	assertTrue "the images hold the data, not the holes: $(du -sk "$T/img")" "[ $(du -sk "$T/img" | cut -f1) -lt 8192 ]"
	e2e_restore_detached "$T/img" || return 0
	assertEquals "the restored pid" "$pid" "$E2E_PID"
	assertEquals "deleted's check after restore" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

# A FIFO removed while open, held at both ends with bytes in it.
testDeletedFifo() {
	mkdir -p "$T/d"
	e2e_roundtrip deleted "$T/d" fifo
	assertEquals "nothing is left in $T/d" "" "$(ls -A "$T/d")"
}

# A removed directory as cwd and open fds: made again empty, removed.
testDeletedDir() {
	mkdir -p "$T/d"
	e2e_roundtrip deleted "$T/d" dir
	assertEquals "nothing is left in $T/d" "" "$(ls -A "$T/d")"
}

# A removed directory held only by an fd.
testDeletedDirFd() {
	mkdir -p "$T/d"
	e2e_roundtrip deleted "$T/d" dirfd
	assertEquals "nothing is left in $T/d" "" "$(ls -A "$T/d")"
}

# O_PATH fds of a file, a directory, a symlink (O_NOFOLLOW) and a file
# through a symlink.
testOpathDescriptors() {
	mkdir -p "$T/d"
	e2e_roundtrip opath "$T/d"
}

# Empty datagrams queued at a unix socket, and the options a program set
# on unix sockets (SO_PEEK_OFF after a peek, SO_RCVLOWAT, SO_RCVTIMEO,
# SO_SNDTIMEO, SO_PASSSEC, SO_PRIORITY).
testUnixEmptyDatagramsAndOptions() {
	e2e_roundtrip sockopts
}

. /usr/share/shunit2/shunit2
