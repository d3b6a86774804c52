#!/bin/sh
# t050-mntns: a process in a mount namespace of its own (unshare -m): its
# mounts are dumped (dump-mounts), made again before it exists
# (build-mntns) and it goes on inside them. tests/workloads/mntns checks
# the mount tree, tmpfs contents, bind, shared/slave propagation after the
# restore, private, unbindable, and a mount on top of a mount. Unix
# sockets, their queues and backlogs in such a namespace are made again by
# restore-files in a child inside it (backlog, dgramfrom, sockets).

. "$(dirname "$0")/lib.sh"

tearDown() { e2e_teardown_trees; e2e_teardown; }

# Starts the mntns workload on a fresh $T/mnt with any extra arguments.
mntns_start() {
	e2e_need_amber || return 1
	[ -x "$E2E_WL/mntns" ] || { fail "$E2E_WL/mntns is not built"; return 1; }
	mkdir "$T/mnt"
	e2e_start_wl mntns "$T/mnt" "$@"
}

# No mount of this test is left in our own namespace.
assert_no_mounts_left() {
	assertEquals "mounts left under $T: $(grep "$T" /proc/self/mountinfo)" 0 "$(grep -c "$T" /proc/self/mountinfo)"
}

testMountNamespaceRoundTrip() {
	mntns_start || return 0
	_pid=$E2E_PID
	e2e_dump_and_reap "$_pid" "$T/img" || return 0
	for _f in mntns.img mountpoints-1.img; do
		[ -s "$T/img/$_f" ] || fail "the dump has no $_f: $(ls "$T/img")"
	done
	assertContains "the tmpfs is saved" "$(ls "$T/img")" "tmpfs-"
	e2e_restore_detached "$T/img" || return 0
	assertEquals "the restored pid" "$_pid" "$E2E_PID"
	assertEquals "mntns's check after restore" PASS "$(e2e_spine_result "$_pid" "$T/result")"
	assert_no_mounts_left
	assertEquals "the pins are gone" "" "$(ls "$T/img/restore.run/ns" 2>/dev/null)"
}

# A file held open in a directory that a tmpfs was then mounted over: it
# is opened again under the overmount, which still covers it after.
testFileOpenUnderOvermount() {
	mntns_start overmount || return 0
	_pid=$E2E_PID
	e2e_dump_and_reap "$_pid" "$T/img" || return 0
	e2e_restore_detached "$T/img" || return 0
	assertEquals "mntns's check after restore" PASS "$(e2e_spine_result "$_pid" "$T/result")"
	assert_no_mounts_left
}

# A working directory under a tmpfs mounted on its parent, and a directory
# held open under a tmpfs mounted on it: both come back as the covered
# directories (build-mntns passes them on as O_PATH fds), still covered.
testCwdUnderOvermount() {
	mntns_start cwdover || return 0
	_pid=$E2E_PID
	e2e_dump_and_reap "$_pid" "$T/img" || return 0
	e2e_restore_detached "$T/img" || return 0
	assertEquals "mntns's check after restore" PASS "$(e2e_spine_result "$_pid" "$T/result")"
	assert_no_mounts_left
}

# The images say how each mount is made again.
testMountKinds() {
	mntns_start || return 0
	e2e_amber_ok dump -t "$E2E_PID" -D "$T/img" --leave-running || return 0
	e2e_amber_ok show "$T/img/mountpoints-1.img" || return 0
	assertContains "$E2E_OUT" '"kind": "MNT_TMPFS"'
	assertContains "$E2E_OUT" '"kind": "MNT_TREE_BIND"'
	assertContains "$E2E_OUT" '"kind": "MNT_HOST_BIND"'
	assertContains "$E2E_OUT" '"unbindable": true'
	e2e_amber_ok show "$T/img" || return 0
	assertContains "show DIR lists the namespace" "$E2E_OUT" "mount namespaces of the tree's own:"
	assertContains "and its tmpfs" "$E2E_OUT" "tmpfs      tmpfs $T/mnt/shared shared:"
	assertContains "show DIR names the unbindable mount" "$E2E_OUT" "$T/mnt/unbind unbindable"
	assertEquals "the original's check after a --leave-running dump" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

# A tree in our own namespace has no mount images, as before.
testHostNamespaceUnchanged() {
	e2e_need_amber || return 0
	e2e_start_spine || return 0
	e2e_amber_ok dump -t "$E2E_PID" -D "$T/img" --leave-running || return 0
	assertFalse "no mntns.img for a tree in our namespace" "[ -e '$T/img/mntns.img' ]"
}

# A failed restore (a task's pid taken) leaves no mount and no pin behind.
testFailedRestoreLeavesNoMounts() {
	mntns_start || return 0
	_pid=$E2E_PID
	e2e_dump_and_reap "$_pid" "$T/img" || return 0
	e2e_occupy_pid "$_pid" || { e2e_skip "pid $_pid was taken before the test could take it"; return 0; }
	e2e_amber_fails "pid" restore -D "$T/img" -d
	assert_no_mounts_left
	assertEquals "the pins are gone" "" "$(ls "$T/img/restore.run/ns" 2>/dev/null)"
}

# Whichever restore stage dies, no mount and no pin is left, and the
# images can be restored after. (restore-tasks is left out: killed after
# it made a task, that task may stay a zombie holding the pid where pid 1
# does not reap orphans; the failed-restore test above covers it.)
testKilledStagesLeaveNoMounts() {
	mntns_start || return 0
	_pid=$E2E_PID
	e2e_dump_and_reap "$_pid" "$T/img" || return 0
	for _s in build-mntns restore-files; do
		AMBER_TEST_FAIL_STAGE=$_s e2e_amber restore -D "$T/img" -d
		assertNotEquals "restore with $_s killed fails" 0 $?
		assert_no_mounts_left
		assertEquals "pins after $_s was killed" "" "$(ls "$T/img/restore.run/ns" 2>/dev/null)"
		e2e_alive "$_pid" && fail "pid $_pid lives on after a failed restore"
	done
	e2e_restore_detached "$T/img" || return 0
	assertEquals "mntns's check after restore" PASS "$(e2e_spine_result "$_pid" "$T/result")"
}

# Runs workload $1 (DIR: $T/d) in a mount namespace of its own: its unix
# sockets are made again in a child of restore-files inside that namespace,
# which sends them back with the rest of its changes (listeners, clients,
# stand-ins for closed peers), and their queues are put back there too.
# (The directory is the host's: dump-files looks a socket's path up in the
# dumper's namespace, so a name on a mount only the tree has is refused.)
mntns_sockets_roundtrip() {
	e2e_need_amber || return 0
	command -v unshare >/dev/null || { e2e_skip "no unshare(1)"; return 0; }
	mkdir -p "$T/d"
	rm -f "$T/ready" "$T/result"
	e2e_start unshare -m --propagation private "$E2E_WL/$1" "$T/ready" "$T/result" "$T/d"
	e2e_poll 10 test -s "$T/ready" || { fail "$1 did not get ready: $(cat "$T/wl.err")"; return 0; }
	_pid=$E2E_PID
	e2e_dump_and_reap "$_pid" "$T/img" || return 0
	[ -s "$T/img/mntns.img" ] || { fail "the dump has no mntns.img: $(ls "$T/img")"; return 0; }
	e2e_restore_detached "$T/img" || return 0
	assertEquals "$1's check after restore" PASS "$(e2e_spine_result "$_pid" "$T/result")"
	assert_no_mounts_left
}

# A listener with connections waiting in its backlog.
testUnixListenerInMountNamespace() {
	mntns_sockets_roundtrip backlog
}

# Datagrams waiting from bound senders, gone ones sent again from their
# names bound for a moment.
testDatagramSendersInMountNamespace() {
	mntns_sockets_roundtrip dgramfrom
}

# Pairs, a listener and its accepted connection, pipes and a closed peer's
# queue (the sockets workload is a tree: it runs under the reaper).
testSocketTreeInMountNamespace() {
	e2e_need_amber || return 0
	command -v unshare >/dev/null || { e2e_skip "no unshare(1)"; return 0; }
	rm -f "$T/ready" "$T/result"
	e2e_start_tree unshare -m --propagation private "$E2E_WL/sockets" "$T/ready" "$T/result" || return 0
	e2e_poll 10 test -s "$T/ready" || { fail "sockets did not get ready: $(cat "$T/wl.err")"; return 0; }
	_pid=$E2E_PID
	e2e_amber_ok dump -t "$_pid" -D "$T/img" || return 0
	e2e_wait_tree_gone 10 || return 0
	[ -s "$T/img/mntns.img" ] || { fail "the dump has no mntns.img: $(ls "$T/img")"; return 0; }
	e2e_restore_detached "$T/img" || return 0
	assertEquals "sockets' check after restore" PASS "$(e2e_spine_result "$_pid" "$T/result")"
	assert_no_mounts_left
}

. /usr/share/shunit2/shunit2
