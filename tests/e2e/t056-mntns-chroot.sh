#!/bin/sh
# t056-mntns-chroot: a process that chroot(2)ed inside a mount namespace of
# its own (tests/workloads/chroot): its root comes back (restore-tasks
# chroots it once its files are mapped), with cwd, files and mounts, and
# the namespace's mounts are dumped whole, not as its chrooted view.

. "$(dirname "$0")/lib.sh"

chroot_start() {
	e2e_need_amber || return 1
	[ -x "$E2E_WL/chroot" ] || { fail "$E2E_WL/chroot is not built"; return 1; }
	mkdir "$T/chr"
	e2e_start_wl chroot "$T/chr" "$@"
}

testChrootRoundTrip() {
	chroot_start || return 0
	_pid=$E2E_PID
	e2e_dump_and_reap "$_pid" "$T/img" || return 0
	e2e_amber_ok show "$T/img/fs-$_pid.img" || return 0
	assertContains "the dumped root" "$E2E_OUT" "\"root\": \"$T/chr/jail\""
	# The mount outside the jail is in the images: the namespace was read
	# from its root, not through the chrooted task.
	e2e_amber_ok show "$T/img/mountpoints-1.img" || return 0
	assertContains "the mount outside the jail" "$E2E_OUT" "\"mountpoint\": \"$T/chr/outside\""
	e2e_restore_detached "$T/img" || return 0
	assertEquals "the restored pid" "$_pid" "$E2E_PID"
	assertEquals "its root" "$T/chr/jail" "$(readlink "/proc/$_pid/root")"
	if command -v nsenter >/dev/null; then
		assertEquals "the namespace's mount outside the jail" outside \
			"$(nsenter -t "$_pid" -m cat "$T/chr/outside/marker")"
	fi
	assertEquals "chroot's check after restore" PASS "$(e2e_spine_result "$_pid" "$T/result")"
	assertEquals "mounts left under $T" 0 "$(grep -c "$T" /proc/self/mountinfo)"
}

# A root (and cwd and open file in it) under a tmpfs mounted on its parent
# after the task chdir'ed into it: build-mntns passes the covered root and
# cwd on as directory fds, restore-tasks chroots into the covered one.
testChrootUnderOvermount() {
	chroot_start overmount || return 0
	_pid=$E2E_PID
	e2e_dump_and_reap "$_pid" "$T/img" || return 0
	e2e_restore_detached "$T/img" || return 0
	assertEquals "the restored pid" "$_pid" "$E2E_PID"
	assertEquals "chroot's check after restore" PASS "$(e2e_spine_result "$_pid" "$T/result")"
	assertEquals "mounts left under $T" 0 "$(grep -c "$T" /proc/self/mountinfo)"
}

# A --leave-running dump of a chrooted task with an O_TMPFILE file on a
# tmpfs only its namespace has: its link remap is made there by the
# namespace's path and removed again after the dump from the namespace's
# root (not through the task's root); the workload checks it is gone.
testChrootLeaveRunningRemap() {
	chroot_start tmpfile || return 0
	e2e_amber_ok dump -t "$E2E_PID" -D "$T/img" --leave-running || return 0
	assertContains "a link remap was made" "$(cat "$T/img/remaps.img" 2>/dev/null | tr -c '[:print:]' ' ')" ".amber"
	assertEquals "the original's check after a --leave-running dump" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

. /usr/share/shunit2/shunit2
