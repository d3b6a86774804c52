#!/bin/sh
# t013-images: images that cannot lie. Every image header names the dump it
# belongs to and its owner (the N of NAME-N.img), and says that its writer
# finished it, how many records (pages) it holds and how long it is
# (doc/image-format.md). For every image kind a dump can hold, a restore
# refuses, as bad input (exit 3) naming the image, and leaves nothing
# behind:
#	truncated	cut at a record boundary (a pages image: a page off)
#	extended	junk appended after the last record
#	swapped		renamed into another image of its kind (another
#			process, thread, memfd, tmpfs or ghost), both ways
#	other dump	the same image from a second dump of the same tree
# and the issue's examples: a pstree.img missing its last process, a short
# pagemap (with its header made to agree: the pages image holds more).
#
# Each tree is dumped twice with --leave-running (two dumps, two ids, the
# same file names), then killed so that its pids are free for the restores.
# Workloads: forest (3 processes), pipes, unlinked, memfd, mntns, utsns.
# Run: sh tests/e2e/t013-images.sh (AMBER_BUILD=DIR for another build dir).

. "$(dirname "$0")/lib.sh"

tearDown() { e2e_teardown_trees; e2e_teardown; }

# Dumps the tree at $E2E_PID twice into $T/a and $T/b (extra dump options
# in "$@"), with the pids of the tree in IMG_PIDS; the caller then kills it.
images_two_dumps() {
	IMG_PIDS="$E2E_PID $(e2e_descendants "$E2E_PID" | tr '\n' ' ')"
	e2e_amber_ok dump -t "$E2E_PID" -D "$T/a" --leave-running "$@" || return 1
	e2e_amber_ok dump -t "$E2E_PID" -D "$T/b" --leave-running "$@" || return 1
	a=$("$AMBER" show --json "$T/a" | sed -n 's/^  "dump_id": "\(.*\)",$/\1/p')
	b=$("$AMBER" show --json "$T/b" | sed -n 's/^  "dump_id": "\(.*\)",$/\1/p')
	assertNotNull "amber show names the dump id" "$a"
	assertNotEquals "two dumps have two ids" "$a" "$b"
}

# Kills a tree started with e2e_start_tree and waits until its pids are free.
images_kill_tree() {
	e2e_kill_tree "$E2E_PID"
	e2e_wait_tree_gone 10
}

# Kills a process started with e2e_start and reaps it.
images_kill_one() {
	kill -9 "$E2E_PID" 2>/dev/null
	e2e_reap "$E2E_PID"
}

# Cuts image $1 short at a record boundary (the last record off; a pages
# image loses its last page), or with $2 = extend appends junk to it.
images_mutate() {
	"$E2E_PYTHON" - "$1" "$2" <<'EOF_PY'
import struct, sys
path, how = sys.argv[1], sys.argv[2]
b = open(path, 'rb').read()
kind, hdr = struct.unpack_from('<I', b, 4)[0], struct.unpack_from('<I', b, 12)[0]
if how == 'extend':
    b += b'\x04\x00\x00\x00junk'
elif kind == 0x50474501:		# pages: the last page, or into the header
    b = b[:len(b) - 4096] if len(b) > hdr else b[:hdr - 1]
else:
    at, last = hdr, None
    while at + 4 <= len(b):
        last = at
        at += 4 + struct.unpack_from('<I', b, at)[0]
    b = b[:last] if last is not None else b[:hdr - 1]
open(path, 'wb').write(b)
EOF_PY
}

# Is no pid of the dumped tree alive?
images_tree_dead() {
	for _p in $IMG_PIDS; do
		e2e_alive "$_p" && return 1
	done
	return 0
}

# Restores the copy $T/w and asserts a clean refusal naming one of "$@"
# (one of the two images of a swap is read first).
images_refused() {
	_what=$1
	shift
	e2e_amber restore -D "$T/w" -d
	_rc=$?
	assertEquals "restore of a dump with $_what is bad input: $E2E_OUT" 3 "$_rc"
	_named=
	for _n in "$@"; do
		case "$E2E_OUT" in *"$_n"*) _named=$_n ;; esac
	done
	assertNotNull "the refusal of $_what names $*: $E2E_OUT" "$_named"
	assertNotContains "no crash with $_what" "$E2E_OUT" "killed by signal"
	# Nothing is left: no process of the tree (a killed one may take a
	# moment to die), no mount.
	e2e_poll 5 images_tree_dead
	_left=
	for _p in $IMG_PIDS; do
		e2e_alive "$_p" && _left="$_left $_p"
	done
	grep -qF "$T/" /proc/self/mountinfo && _left="$_left (mounts under $T)"
	assertEquals "left after the refused restore of $_what" "" "$_left"
}

# A fresh copy of dump a in $T/w.
images_copy() {
	rm -rf "$T/w"
	cp -a "$T/a" "$T/w"
	rm -rf "$T/w/dump.run" "$T/w/restore.run"
}

# The four lies for each image of $T/a whose name matches a glob of "$@":
# for each kind, its first and last image (by name) are the ones used.
images_lie_about() {
	[ -n "$E2E_PYTHON" ] || { e2e_skip "no python3"; return 0; }
	images_copy
	e2e_amber_ok show "$T/w" || return 1
	for glob in "$@"; do
		set -- $(cd "$T/a" && ls -d $glob 2>/dev/null | sort -V)
		[ $# -gt 0 ] || { fail "the dump has no $glob: $(ls "$T/a" | tr '\n' ' ')"; continue; }
		first=$1
		eval "last=\${$#}"

		images_copy
		images_mutate "$T/w/$last" truncate
		images_refused "a truncated $last" "'$last'"

		images_copy
		images_mutate "$T/w/$last" extend
		images_refused "an extended $last" "'$last'"

		images_copy
		cp "$T/b/$last" "$T/w/$last"
		# Another dump's inventory.img disowns every other image.
		images_refused "$last of another dump" "'$last'" "but $last is of dump"

		if [ "$first" != "$last" ]; then
			images_copy
			mv "$T/w/$first" "$T/w/swap"
			mv "$T/w/$last" "$T/w/$first"
			mv "$T/w/swap" "$T/w/$last"
			images_refused "$first and $last swapped" "'$first'" "'$last'"
		fi
	done
}

# A forest of three processes: the images every process has, and the
# tree's own.
testEveryProcessImageLies() {
	e2e_need_amber || return 0
	rm -f "$T/ready" "$T/result"
	e2e_start_tree "$E2E_WL/forest" "$T/ready" "$T/result" 3 || return 0
	e2e_poll 10 test -s "$T/ready" || { fail "forest did not get ready: $(cat "$T/wl.err")"; return 0; }
	images_two_dumps || return 0
	images_kill_tree || return 0
	images_lie_about inventory.img pstree.img files.img 'core-*.img' 'mm-*.img' 'pagemap-*.img' \
		'pages-*.img' 'fs-*.img' 'fdinfo-*.img'
}

# The issue's examples: a pstree.img missing its last process (which used to
# restore two of three processes, exit 0), and a pagemap missing its last
# run, also with its header made to agree (which used to restore the
# process with zeroed memory).
testShortPstreeAndPagemap() {
	e2e_need_amber || return 0
	[ -n "$E2E_PYTHON" ] || { e2e_skip "no python3"; return 0; }
	rm -f "$T/ready" "$T/result"
	e2e_start_tree "$E2E_WL/forest" "$T/ready" "$T/result" 3 || return 0
	e2e_poll 10 test -s "$T/ready" || { fail "forest did not get ready: $(cat "$T/wl.err")"; return 0; }
	images_two_dumps || return 0
	images_kill_tree || return 0
	images_copy
	images_mutate "$T/w/pstree.img" truncate
	images_refused "a pstree.img missing its last process" "'pstree.img' is truncated"
	# The root's pagemap: it has several runs.
	pm=pagemap-$(set -- $IMG_PIDS; echo "$1").img
	images_copy
	images_mutate "$T/w/$pm" truncate
	images_refused "a short $pm" "'$pm' is truncated"
	e2e_image_refinish "$T/w/$pm"
	images_refused "a short $pm whose header agrees" "lists"
	assertContains "the refusal says what does not match" "$E2E_OUT" "$pm lists"
}

testPipeDataLies() {
	e2e_need_amber || return 0
	rm -f "$T/ready" "$T/result"
	e2e_start_tree "$E2E_WL/pipes" "$T/ready" "$T/result" || return 0
	e2e_poll 10 test -s "$T/ready" || { fail "pipes did not get ready: $(cat "$T/wl.err")"; return 0; }
	images_two_dumps || return 0
	images_kill_tree || return 0
	images_lie_about pipedata.img
}

# remaps.img and the ghost images of two files unlinked while open.
testRemapAndGhostLies() {
	e2e_need_amber || return 0
	mkdir "$T/d"
	e2e_start_wl unlinked "$T/d" || return 0
	images_two_dumps --keep-link-remaps || return 0
	images_kill_one
	images_lie_about remaps.img 'ghost-*.img'
}

# Two memfds: memfd-INO.img and pages-memfd-INO.img.
testMemfdLies() {
	e2e_need_amber || return 0
	e2e_start_wl memfd || return 0
	images_two_dumps || return 0
	images_kill_one
	images_lie_about 'memfd-*.img' 'pages-memfd-*.img'
}

# A mount namespace with tmpfs mounts of its own.
testMountNamespaceLies() {
	e2e_need_amber || return 0
	mkdir "$T/mnt"
	e2e_start_wl mntns "$T/mnt" || return 0
	images_two_dumps || return 0
	images_kill_one
	images_lie_about mntns.img 'mountpoints-*.img' 'tmpfs-*.img'
}

# UTS, IPC and network namespaces of the tree's own.
testNamespaceImageLies() {
	e2e_need_amber || return 0
	rm -f "$T/ready" "$T/result"
	e2e_start_tree "$E2E_WL/utsns" "$T/ready" "$T/result" ipc net || return 0
	e2e_poll 10 test -s "$T/ready" || { fail "utsns did not get ready: $(cat "$T/wl.err")"; return 0; }
	images_two_dumps || return 0
	images_kill_tree || return 0
	images_lie_about utsns.img ipcns.img netns.img
}

# Values a dump never writes, in images whose headers agree, that the kernel
# would refuse halfway through the restore: bad input (exit 3) naming the
# image, not a system failure (exit 4, "a rerun may succeed").
testImageValuesRefused() {
	e2e_need_amber || return 0
	[ -n "$E2E_PYTHON" ] || { e2e_skip "no python3"; return 0; }
	e2e_start_spine || return 0
	pid=$E2E_PID
	IMG_PIDS=$pid
	e2e_dump_and_reap "$pid" "$T/a" || return 0
	# InventoryEntry.dump_id (11) other than its header's.
	images_copy
	e2e_image_set "$T/w/inventory.img" 0 11 0x1234 || { fail "could not patch inventory.img"; return 0; }
	images_refused "an inventory.img that records another dump" "inventory.img records dump 0000000000001234"
	# MmEntry.vmas (13), the first VmaEntry: flags (5) MAP_SHARED for a
	# private mapping, end (2) past the user address space.
	images_copy
	e2e_image_set "$T/w/mm-$pid.img" 0 13#0.5 1 || { fail "could not patch mm-$pid.img"; return 0; }
	images_refused "a private VMA with MAP_SHARED" "mm-$pid.img: VMA 0"
	assertContains "it says what" "$E2E_OUT" "mmap flags 0x1"
	images_copy
	e2e_image_set "$T/w/mm-$pid.img" 0 13#0.2 0x800000000000 || { fail "could not patch mm-$pid.img"; return 0; }
	images_refused "a VMA past the user address space" "mm-$pid.img: VMA 0"
	# RegFileEntry: flags (3) O_DIRECTORY for /dev/null; pos (4) beyond
	# what lseek takes for spine's ro.dat (the third file).
	images_copy
	e2e_image_set "$T/w/files.img" 0 3 0x10000 || { fail "could not patch files.img"; return 0; }
	images_refused "a file opened O_DIRECTORY" "cannot be opened with the flags"
	images_copy
	e2e_image_set "$T/w/files.img" 2 4 0x8000000000000000 || { fail "could not patch files.img"; return 0; }
	images_refused "a position lseek refuses" "to 9223372036854775808"
	assertContains "it says the value comes from the images" "$E2E_OUT" "a value from the images"
}

# An empty files.img and fdinfo (a process without descriptors, headers
# that agree): restore-files plans nothing (no null pointer reaches qsort or
# bsearch: tests/asan.sh runs this under UBSan) and the process comes back.
testEmptyFilesAndFdinfo() {
	e2e_need_amber || return 0
	[ -n "$E2E_PYTHON" ] || { e2e_skip "no python3"; return 0; }
	e2e_start_spine || return 0
	pid=$E2E_PID
	e2e_dump_and_reap "$pid" "$T/a" || return 0
	images_copy
	for f in files.img "fdinfo-$pid.img"; do
		head -c 56 "$T/w/$f" >"$T/w/$f.new" && mv "$T/w/$f.new" "$T/w/$f"
		e2e_image_refinish "$T/w/$f"
	done
	e2e_restore_detached "$T/w" || return 0
	assertEquals "the restored pid" "$pid" "$E2E_PID"
	assertEquals "it has no descriptor" "" "$(ls /proc/$pid/fd 2>&1)"
}

# amber show says what is wrong with an image of another dump and with a
# swapped one, for the directory and for the single image.
testShowFlagsLies() {
	e2e_need_amber || return 0
	e2e_start_spine || return 0
	pid=$E2E_PID
	images_two_dumps || return 0
	images_kill_one
	images_copy
	cp "$T/b/core-$pid.img" "$T/w/core-$pid.img"
	e2e_amber show "$T/w"
	assertEquals "amber show of a mixed dump" 3 $?
	assertContains "it names the dump" "$E2E_OUT" "dump id $a"
	assertContains "and the image of the other one" "$E2E_OUT" "'core-$pid.img' is from dump $b, but inventory.img is of dump $a"
	e2e_amber show "$T/w/core-$pid.img"
	assertEquals "amber show of an image of another dump" 3 $?
	assertContains "its header is shown" "$E2E_OUT" "\"dump_id\": \"$b\""
	assertContains "and its records" "$E2E_OUT" '"records"'
	assertContains "and the problem" "$E2E_OUT" '"problems"'
	images_copy
	mv "$T/w/fs-$pid.img" "$T/w/fs-1.img"
	e2e_amber show "$T/w/fs-1.img"
	assertEquals "amber show of a renamed image" 3 $?
	assertContains "it says whose it is" "$E2E_OUT" "belongs to process $pid, but its name says 1"
	images_copy
	images_mutate "$T/w/mm-$pid.img" extend
	e2e_amber show --json "$T/w"
	assertEquals "amber show --json of an extended image" 3 $?
	assertContains "it says so" "$E2E_OUT" "'mm-$pid.img' is longer than written"
}

. /usr/share/shunit2/shunit2
