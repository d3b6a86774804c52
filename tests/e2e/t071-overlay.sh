#!/bin/sh
# t071-overlay: trees whose files live on overlayfs (tests/workloads/overlay):
# in the host's namespace on an overlay the test mounted (its layers on one
# file system, or the lowest on a tmpfs with xino=off), and in a mount
# namespace of their own with an overlay root (two lowers and an upper,
# redirect_dir, index, metacopy; or xino=on and volatile) that they
# pivot_root or chroot into, which build-mntns mounts again from the same
# layers. Refused: an upper layer
# changed since the dump, layers that are missing or only a relative path
# names without --external. --union-root rewrites a branch's paths to the
# union's (a bind mount stands in for an AUFS-like union).

. "$(dirname "$0")/lib.sh"

OVL_OPTS=redirect_dir=on,index=on,metacopy=on

# The layers: $T/l1 (lowest), $T/l2, $T/up (upper), $T/work; the workload
# copied into l1/bin.
ovl_layers() {
	mkdir -p "$T/l1/lib" "$T/l1/etc" "$T/l1/old" "$T/l1/opq" "$T/l1/bin" "$T/l1/data" "$T/l2/etc" \
		"$T/up/data" "$T/work" "$T/m" || return 1
	head -c 8192 /dev/urandom >"$T/l1/lib/libovl.so"
	printf conf-lower1 >"$T/l1/etc/conf"
	printf gone >"$T/l1/etc/gone"
	printf in-old >"$T/l1/old/f"
	printf x >"$T/l1/opq/x"
	printf motd-lower2 >"$T/l2/etc/motd"
	printf old-lower2 >"$T/l2/etc/old"
	printf upper >"$T/up/data/upfile"
	cp "$E2E_WL/overlay" "$T/l1/bin/overlay"
}

ovl_mount_opts() {
	echo "lowerdir=$T/l2:$T/l1,upperdir=$T/up,workdir=$T/work,$OVL_OPTS"
}

# What the workload wrote after restore landed in the upper layer.
ovl_check_upper() {
	assertEquals "etc/conf in the upper layer" "conf-lower1+written+after" "$(cat "$T/up/etc/conf")"
	assertEquals "data/upfile in the upper layer" "upper+after" "$(cat "$T/up/data/upfile")"
}

# The workload on an overlay mounted in the host's namespace with options
# $1, dumped and restored there.
ovl_host_roundtrip() {
	mount -t overlay overlay -o "$(ovl_mount_opts),$1" "$T/m" || { fail "mount the overlay"; return 0; }
	rm -f "$T/ready" "$T/result"
	e2e_start "$T/m/bin/overlay" "$T/ready" "$T/result" host "$T/m"
	e2e_poll 10 test -s "$T/ready" || { fail "overlay did not get ready: $(cat "$T/wl.err")"; umount "$T/m"; return 0; }
	_pid=$E2E_PID
	e2e_dump_and_reap "$_pid" "$T/img" || { umount "$T/m"; return 0; }
	e2e_restore_detached "$T/img" || { umount "$T/m"; return 0; }
	assertEquals "the restored pid" "$_pid" "$E2E_PID"
	assertEquals "overlay's check after restore" PASS "$(e2e_spine_result "$_pid" "$T/result")"
	ovl_check_upper
	e2e_kill_tree "$_pid"
	e2e_wait_dead "$_pid"
	umount "$T/m"
}

testHostOverlay() {
	e2e_need_amber || return 0
	ovl_layers || { fail "make the layers"; return 0; }
	ovl_host_roundtrip ""
}

# The lowest layer on a tmpfs and xino=off: fstat shows each layer's own
# device for the files of that layer (not the overlay's, which maps shows);
# the same mount gives the same devices back, which verify compares.
testHostOverlayLayerDevices() {
	e2e_need_amber || return 0
	mkdir -p "$T/l1" && mount -t tmpfs -o size=16m ovl-l1 "$T/l1" || { fail "mount a tmpfs for l1"; return 0; }
	ovl_layers || { fail "make the layers"; umount "$T/l1"; return 0; }
	OVL_OPTS=redirect_dir=on
	ovl_host_roundtrip xino=off
	umount "$T/l1"
}

# Starts the workload in a namespace of its own with the overlay as its
# root ($1: pivot or chroot); sets _pid.
ovl_start_ns() {
	e2e_need_amber || return 1
	ovl_layers || { fail "make the layers"; return 1; }
	e2e_start_wl overlay "$1" "$T/m" "$(ovl_mount_opts)" || return 1
	_pid=$E2E_PID
}

testPivotedOverlayRoot() {
	ovl_start_ns pivot || return 0
	e2e_dump_and_reap "$_pid" "$T/img" || return 0
	e2e_amber_ok show "$T/img/mountpoints-1.img" || return 0
	assertContains "the overlay is made again" "$E2E_OUT" '"kind": "MNT_OVERLAY"'
	e2e_restore_detached "$T/img" || return 0
	assertEquals "the restored pid" "$_pid" "$E2E_PID"
	assertEquals "overlay's check after restore" PASS "$(e2e_spine_result "$_pid" "$T/result")"
	ovl_check_upper
	assertEquals "mounts left under $T" 0 "$(grep -c "$T" /proc/self/mountinfo)"
}

testChrootedOverlayRoot() {
	ovl_start_ns chroot || return 0
	e2e_dump_and_reap "$_pid" "$T/img" || return 0
	e2e_restore_detached "$T/img" || return 0
	assertEquals "overlay's check after restore" PASS "$(e2e_spine_result "$_pid" "$T/result")"
	ovl_check_upper
}

# A layer changed since the dump: restore refuses it (nothing is left
# mounted or running), --allow-changed-files restores onto it.
testChangedUpperRefused() {
	ovl_start_ns pivot || return 0
	e2e_dump_and_reap "$_pid" "$T/img" || return 0
	printf changed >"$T/up/data/upfile"
	e2e_amber_fails "its upper layer '$T/up' changed since the dump" restore -D "$T/img" -d
	assertContains "the refusal names the fix" "$E2E_OUT" "--allow-changed-files"
	assertEquals "mounts left under $T" 0 "$(grep -c "$T" /proc/self/mountinfo)"
	assertFalse "nothing runs as pid $_pid" "e2e_alive $_pid"
	printf upper >"$T/up/data/upfile"
	e2e_amber_fails "changed since the dump" restore -D "$T/img" -d
	e2e_amber_ok restore -D "$T/img" -d --allow-changed-files --pidfile "$T/restored.pid" || return 0
	E2E_PID=$(cat "$T/restored.pid")
	e2e_track "$E2E_PID"
	assertContains "the warning" "$E2E_OUT" "mounted anyway"
	assertEquals "overlay's check after restore" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

# A lower layer gone since the dump: refused naming the layer and
# --external; back in place, the restore works.
testMissingLayerRefused() {
	ovl_start_ns pivot || return 0
	e2e_dump_and_reap "$_pid" "$T/img" || return 0
	mv "$T/l1" "$T/l1.away"
	e2e_amber_fails "its lower layer '$T/l1' is missing" restore -D "$T/img" -d
	assertContains "the refusal names the fix" "$E2E_OUT" "--external mnt[/]:NAME"
	assertEquals "mounts left under $T" 0 "$(grep -c "$T" /proc/self/mountinfo)"
	mv "$T/l1.away" "$T/l1"
	e2e_restore_detached "$T/img" || return 0
	assertEquals "overlay's check after restore" PASS "$(e2e_spine_result "$_pid" "$T/result")"
}

# Layers named by relative paths (relative to the mounter's cwd then) cannot
# be found again: the dump refuses, naming --external, and the tree runs on.
testRelativeLayersRefused() {
	e2e_need_amber || return 0
	ovl_layers || { fail "make the layers"; return 0; }
	e2e_start_wl overlay pivot "$T/m" "lowerdir=l2:l1,upperdir=up,workdir=work,$OVL_OPTS" || return 0
	e2e_amber_fails "is a relative path" dump -t "$E2E_PID" -D "$T/img"
	assertContains "the refusal names the fix" "$E2E_OUT" "--external mnt[/]:NAME"
	assertEquals "overlay's check, left running" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

# The lowest layer on a tmpfs of its own (so xino=on shows and inode
# numbers carry the layer in their high bits), volatile (its marker in the
# work directory, which the kernel leaves at unmount, is removed before the
# overlay is mounted again): the options come back as they were.
testXinoVolatile() {
	e2e_need_amber || return 0
	mkdir -p "$T/l1" && mount -t tmpfs -o size=16m ovl-l1 "$T/l1" || { fail "mount a tmpfs for l1"; return 0; }
	ovl_layers || { fail "make the layers"; umount "$T/l1"; return 0; }
	OVL_OPTS=redirect_dir=on,xino=on,volatile
	e2e_start_wl overlay pivot "$T/m" "$(ovl_mount_opts)" || { umount "$T/l1"; return 0; }
	_pid=$E2E_PID
	e2e_dump_and_reap "$_pid" "$T/img" || { umount "$T/l1"; return 0; }
	e2e_amber_ok show "$T/img/mountpoints-1.img"
	assertContains "xino recorded" "$E2E_OUT" '"xino=on"'
	assertContains "volatile recorded" "$E2E_OUT" '"fsync=volatile"'
	e2e_restore_detached "$T/img" || { umount "$T/l1"; return 0; }
	assertEquals "overlay's check after restore" PASS "$(e2e_spine_result "$_pid" "$T/result")"
	ovl_check_upper
	e2e_kill_tree "$_pid"
	e2e_wait_dead "$_pid"
	e2e_poll 10 sh -c "! grep -q ' $T/m ' /proc/$_pid/mountinfo 2>/dev/null"
	umount "$T/l1" || umount -l "$T/l1"
}

# --union-root: a plain directory tree stands in for a branch of a union
# file system and a bind mount of it for the union. The tree works under
# the branch; dumped with --union-root BRANCH=UNION, every path (fds,
# mappings, executable, cwd) is recorded under the union, where it comes
# back.
union_start() {
	e2e_need_amber || return 1
	ovl_layers || { fail "make the layers"; return 1; }
	mkdir "$T/branch" "$T/union" && cp -a "$T/l1/." "$T/l2/." "$T/up/." "$T/branch/" &&
		mount --bind "$T/branch" "$T/union" || { fail "make the branch and the union"; return 1; }
	rm -f "$T/ready" "$T/result"
	e2e_start "$T/branch/bin/overlay" "$T/ready" "$T/result" union "$T/branch" "$T/union"
	e2e_poll 10 test -s "$T/ready" || { fail "overlay did not get ready: $(cat "$T/wl.err")"; return 1; }
	_pid=$E2E_PID
}

testUnionRoot() {
	union_start || { umount "$T/union" 2>/dev/null; return 0; }
	e2e_amber_ok dump -t "$_pid" -D "$T/img" --union-root "$T/branch=$T/union" || { umount "$T/union"; return 0; }
	e2e_wait_dead "$_pid" || { fail "pid $_pid still runs after the dump"; umount "$T/union"; return 0; }
	e2e_reap "$_pid"
	e2e_amber_ok show "$T/img/files.img"
	assertContains "a file under the union" "$E2E_OUT" "\"$T/union/etc/motd\""
	assertNotContains "no file under the branch" "$E2E_OUT" "$T/branch/"
	e2e_amber_ok show "$T/img/mm-$_pid.img"
	assertContains "the library under the union" "$E2E_OUT" "\"$T/union/lib/libovl.so\""
	assertNotContains "no mapping under the branch" "$E2E_OUT" "$T/branch/"
	e2e_restore_detached "$T/img" || { umount "$T/union"; return 0; }
	assertEquals "overlay's check after restore" PASS "$(e2e_spine_result "$_pid" "$T/result")"
	assertEquals "written through the union" "conf-lower1+written+after" "$(cat "$T/branch/etc/conf")"
	e2e_kill_tree "$_pid"
	e2e_wait_dead "$_pid"
	umount "$T/union"
}

# A union that does not hold the branch's files is refused, naming both
# paths (by dump-memory for the executable or dump-files for a descriptor,
# whichever stage comes first); the tree runs on.
testUnionRootMismatchRefused() {
	union_start || { umount "$T/union" 2>/dev/null; return 0; }
	mkdir "$T/empty"
	e2e_amber_fails "check the BRANCH=UNION pair" dump -t "$_pid" -D "$T/img" \
		--union-root "$T/branch=$T/empty"
	assertContains "the refusal names the branch's path" "$E2E_OUT" "$T/branch/"
	assertContains "the refusal names the union's path" "$E2E_OUT" "$T/empty/"
	assertTrue "the tree runs on" "e2e_alive $_pid"
	umount "$T/union"
}

. /usr/share/shunit2/shunit2
