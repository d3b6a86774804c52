#!/bin/sh
# t072-delayed: delayed mounts. A loop-mounted ext4 image stands in for
# storage attached late (an NFS server, a disk of a migration): the tree
# of tests/workloads/delayed holds files on it (one it reads, one it
# appends to, one it maps, its cwd) in a mount namespace of its own. It is
# dumped, the image detached, and the tree restored with --delay-mount:
# it runs on a FUSE stub (amber-stubfs) while its counter carries on and a
# read on the stub blocks; once the image is attached again, 'amber
# mount-delayed --mount' (amber-mountd) makes the real mount and moves the
# tree onto it. Also: a restore without --delay-mount names it, a file
# missing on the real mount refuses the swap and leaves the tree on the
# stub, killing the tree while it waits leaves nothing behind, and a bind
# mount of the delayed mount is stubbed and swapped too.

. "$(dirname "$0")/lib.sh"

DL_LOOP=

tearDown() {
	[ -S "$T/img/restore.run/mountd.sock" ] && "$AMBER" mount-delayed -D "$T/img" --stop >/dev/null 2>&1
	e2e_teardown_trees
	mountpoint -q "$T/disk" 2>/dev/null && umount "$T/disk"
	[ -n "$DL_LOOP" ] && losetup -d "$DL_LOOP" 2>/dev/null
	DL_LOOP=
	e2e_teardown
}

# An ext4 image $T/disk.img with the workload's files, attached (DL_LOOP)
# and mounted on $T/disk.
dl_disk() {
	e2e_need_amber || return 1
	if ! command -v mkfs.ext4 >/dev/null || ! command -v losetup >/dev/null || ! [ -e /dev/fuse ]; then
		startSkipping
		return 1
	fi
	mkdir -p "$T/disk" "$T/bindmp"
	truncate -s 16M "$T/disk.img" && mkfs.ext4 -q -F "$T/disk.img" >/dev/null 2>&1 ||
		{ fail "mkfs.ext4 $T/disk.img failed"; return 1; }
	DL_LOOP=$(losetup -f --show "$T/disk.img") || { fail "losetup of $T/disk.img failed"; return 1; }
	mount "$DL_LOOP" "$T/disk" || { fail "mount $DL_LOOP failed"; return 1; }
	printf 'real data for the reader\n' >"$T/disk/read.txt"
	printf 'line0\n' >"$T/disk/log.txt"
	"$E2E_PYTHON" -c "open('$T/disk/map.bin','wb').write(bytes(i % 251 for i in range(8192)))"
	mkdir "$T/disk/sub"
}

# The disk goes away: unmounted, its loop device detached.
dl_detach() {
	umount "$T/disk" && losetup -d "$DL_LOOP" || { fail "could not detach $T/disk.img"; return 1; }
	DL_LOOP=
}

# The disk comes back, on whatever loop device is free.
dl_attach() {
	DL_LOOP=$(losetup -f --show "$T/disk.img") || { fail "could not attach $T/disk.img again"; return 1; }
}

# Starts the workload (any arguments: bind BINDMP) and dumps it; the disk
# is then detached.
dl_start_dump() {
	dl_disk || return 1
	e2e_start_tree "$E2E_WL/delayed" "$T/ready" "$T/result" "$T/disk" "$T/counter" "$@" || return 1
	e2e_poll 10 test -s "$T/ready" || { fail "delayed did not get ready: $(cat "$T/wl.err")"; return 1; }
	DL_PID=$E2E_PID
	e2e_amber_ok dump -t "$DL_PID" -D "$T/img" || return 1
	e2e_wait_tree_gone 10 || return 1
}

# Restores with the disk delayed.
dl_restore() {
	e2e_amber_ok restore -D "$T/img" -d --pidfile "$T/restored.pid" --delay-mount "mnt[$T/disk]" || return 1
	E2E_PID=$(cat "$T/restored.pid")
	e2e_track_tree "$E2E_PID"
	assertEquals "the restored pid" "$DL_PID" "$E2E_PID"
}

# The counter moves on.
dl_counter_moves() {
	_c1=$(cat "$T/counter")
	sleep 0.3
	_c2=$(cat "$T/counter")
	assertTrue "the counter carries on ($1): $_c1 then $_c2" "[ '$_c2' -gt '$_c1' ]"
}

dl_held() { grep -q "on 'read.txt' waits for the real mount" "$T/img/restore.run/stubfs.log" 2>/dev/null; }

# Says go: the reader reads read.txt, which blocks on the stub.
dl_read_blocks() {
	kill -USR1 "$DL_PID"
	e2e_poll 10 dl_held || { fail "no read of read.txt waits on the stub: $(cat "$T/img/restore.run/stubfs.log")"; return 1; }
	_reader=$(cat /proc/"$DL_PID"/task/*/children | tr -d ' \n')
	assertTrue "the reader waits for the page the stub holds back (in $(cat /proc/"$_reader"/wchan))" dl_reader_waits
}

# The reader waits in the read: in the FUSE request, or (the page cache's
# readahead sent it) for the page it brings.
dl_reader_waits() {
	case $(cat /proc/"$_reader"/wchan 2>/dev/null) in
	request_wait_answer | folio_wait_bit_common | fuse_*) return 0 ;;
	esac
	return 1
}

dl_no_daemons() {
	! [ -S "$T/img/restore.run/mountd.sock" ] &&
		! grep -qs -- "$T/img/restore.run" /proc/[0-9]*/cmdline
}

testDelayedMountSwap() {
	dl_start_dump || return 0
	dl_detach || return 0
	e2e_amber_fails "--delay-mount mnt[$T/disk]" restore -D "$T/img" -d
	dl_restore || return 0
	e2e_amber_ok mount-delayed -D "$T/img" --list || return 0
	assertContains "the list names the delayed mount" "$E2E_OUT" "delayed  $T/disk ext4 from '/dev/loop"
	assertEquals "a stub is mounted at $T/disk" 1 "$(grep -c " $T/disk .* - fuse.amber-stub " /proc/"$DL_PID"/mountinfo)"
	dl_counter_moves "on the stub"
	dl_read_blocks || return 0
	sleep 0.5
	assertFalse "no verdict while the read waits" "[ -s '$T/result' ]"
	# The image is not attached: the real mount fails, the stub stays.
	e2e_amber_fails "make the real mount of '$T/disk'" mount-delayed -D "$T/img" --mount "$T/disk" \
		--source "$T/disk.img.absent"
	assertEquals "the stub stays when the real mount fails" 1 \
		"$(grep -c " $T/disk .* - fuse.amber-stub " /proc/"$DL_PID"/mountinfo)"
	assertTrue "the read still waits" dl_reader_waits
	dl_attach || return 0
	e2e_amber_ok mount-delayed -D "$T/img" --mount "$T/disk" --source "$DL_LOOP" || return 0
	assertContains "$E2E_OUT" "'$T/disk' is the real mount now: 2 fds, 1 mappings, 1 working directories moved"
	assertEquals "delayed's check after the swap" PASS "$(e2e_spine_result "$DL_PID" "$T/result")"
	assertEquals "the append landed in the real file" "line0 line1" \
		"$(nsenter -t "$DL_PID" -m cat "$T/disk/log.txt" | tr '\n' ' ' | sed 's/ $//')"
	assertEquals "no stub is left in the tree's mounts" 0 "$(grep -c fuse /proc/"$DL_PID"/mountinfo)"
	assertEquals "the real mount is at $T/disk" 1 "$(grep -c " $T/disk .* - ext4 $DL_LOOP " /proc/"$DL_PID"/mountinfo)"
	e2e_poll 10 dl_no_daemons || fail "amber-mountd or amber-stubfs is still there with nothing delayed"
	dl_counter_moves "on the real mount"
}

# A file the tree holds is not on the real mount: the swap is refused,
# naming pid, fd and path, and the tree stays on the stub, blocked read
# and all.
testMissingFileRefused() {
	dl_start_dump || return 0
	rm "$T/disk/read.txt"
	dl_detach || return 0
	dl_restore || return 0
	dl_read_blocks || return 0
	dl_attach || return 0
	e2e_amber_fails "is missing on the real mount" mount-delayed -D "$T/img" --mount "$T/disk" --source "$DL_LOOP"
	assertContains "the refusal names pid and fd" "$E2E_OUT" "pid $_reader fd "
	assertContains "and the path" "$E2E_OUT" "'$T/disk/read.txt'"
	assertEquals "the stub is still there" 1 "$(grep -c " $T/disk .* - fuse.amber-stub " /proc/"$DL_PID"/mountinfo)"
	assertTrue "the read still waits" dl_reader_waits
	assertFalse "no verdict" "[ -s '$T/result' ]"
	dl_counter_moves "after the refusal"
	e2e_amber_ok mount-delayed -D "$T/img" --list || return 0
	assertContains "still delayed" "$E2E_OUT" "delayed  $T/disk"
}

# The tree is killed while its mount is delayed (a task blocked on the
# stub among it): amber-mountd and amber-stubfs go, nothing stays mounted.
testStopWhileDelayed() {
	dl_start_dump || return 0
	dl_detach || return 0
	dl_restore || return 0
	dl_read_blocks || return 0
	e2e_kill_tree "$DL_PID"
	e2e_poll 10 dl_no_daemons || fail "amber-mountd or amber-stubfs outlived the tree"
	e2e_poll 10 e2e_dead "$_reader" || fail "the reader blocked on the stub did not die"
	assertEquals "no mount of the test is left" 0 "$(grep -c "$T" /proc/self/mountinfo)"
}

# A bind mount of the delayed mount (the reader reaches read.txt and its
# cwd through it) gets a bind of the stub, then a bind of the real mount.
testBindOfDelayedMount() {
	dl_start_dump bind "$T/bindmp" || return 0
	dl_detach || return 0
	dl_restore || return 0
	e2e_amber_ok mount-delayed -D "$T/img" --list || return 0
	assertContains "the list names the bind" "$E2E_OUT" "binds: $T/bindmp"
	assertEquals "stubs at the mount and its bind" 2 "$(grep -c " - fuse.amber-stub " /proc/"$DL_PID"/mountinfo)"
	dl_read_blocks || return 0
	dl_attach || return 0
	e2e_amber_ok mount-delayed -D "$T/img" --mount "$T/disk" --source "$DL_LOOP" || return 0
	assertEquals "delayed's check after the swap" PASS "$(e2e_spine_result "$DL_PID" "$T/result")"
	assertEquals "no stub is left" 0 "$(grep -c fuse /proc/"$DL_PID"/mountinfo)"
	assertEquals "the real mount is bound at $T/bindmp" 1 "$(grep -c " $T/bindmp .* - ext4 " /proc/"$DL_PID"/mountinfo)"
}

. /usr/share/shunit2/shunit2
