#!/bin/sh
# t051-container: a process that pivoted into a small root made from a
# directory tree (tests/workloads/container): binds of host directories,
# a new proc, a tmpfs; dumped and restored into the same root, or with
# --root into a copy of it.

. "$(dirname "$0")/lib.sh"

testPivotedRoot() {
	e2e_need_amber || return 0
	[ -x "$E2E_WL/container" ] || { fail "$E2E_WL/container is not built"; return 0; }
	mkdir "$T/ctr"
	e2e_start_wl container "$T/ctr" || return 0
	_pid=$E2E_PID
	e2e_dump_and_reap "$_pid" "$T/img" || return 0
	e2e_amber_ok show "$T/img/mountpoints-1.img" || return 0
	assertContains "a new proc" "$E2E_OUT" '"kind": "MNT_FRESH"'
	e2e_restore_detached "$T/img" || return 0
	assertEquals "the restored pid" "$_pid" "$E2E_PID"
	assertEquals "container's check after restore" PASS "$(e2e_spine_result "$_pid" "$T/result")"
	assertEquals "mounts left under $T" 0 "$(grep -c "$T" /proc/self/mountinfo)"
}

# restore --pidns: the container's new proc is mounted again from inside
# the new pid namespace, so /proc/self is the process's own pid there.
testPivotedRootNewPidns() {
	e2e_need_amber || return 0
	mkdir "$T/ctr"
	e2e_start_wl container "$T/ctr" || return 0
	_pid=$E2E_PID
	e2e_dump_and_reap "$_pid" "$T/img" || return 0
	# Taken here, so the host pid differs from the one inside and a proc
	# of the wrong namespace would show.
	e2e_occupy_pid "$_pid" >/dev/null 2>&1
	e2e_amber_ok restore -D "$T/img" -d --pidns --pidfile "$T/restored.pid" || return 0
	E2E_PID=$(cat "$T/restored.pid")
	e2e_track "$E2E_PID"
	assertNotEquals "the host pid differs" "$_pid" "$E2E_PID"
	assertEquals "container's check after restore --pidns" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
	assertEquals "mounts left under $T" 0 "$(grep -c "$T" /proc/self/mountinfo)"
}

# A container that is pid 1 of its own pid namespace (unshare -p -f) and
# mounted its own proc there: dumped (its tmpfs read without its /proc,
# which does not show the dumper) and restored into a new pid namespace
# whose proc is mounted again from inside it.
testContainerInOwnPidns() {
	e2e_need_amber || return 0
	command -v unshare >/dev/null || { e2e_skip "no unshare(1)"; return 0; }
	mkdir "$T/ctr"
	rm -f "$T/ready" "$T/result"
	setsid "$E2E_WL/closefds" sh -c 'exec unshare -p -f "$@" 2>/dev/null' unshare \
		"$E2E_WL/container" "$T/ready" "$T/result" "$T/ctr" </dev/null >"$T/wl.out" 2>"$T/wl.err" &
	e2e_poll 10 test -s "$T/ready" || { fail "container in a new pid namespace did not get ready: $(cat "$T/wl.err")"; return 0; }
	_pid=
	for _p in $(pgrep -f "$E2E_WL/container $T/ready"); do
		[ "$(awk '/^NSpid:/ { print $NF }' "/proc/$_p/status")" = 1 ] && _pid=$_p
	done
	[ -n "$_pid" ] || { fail "no container with NSpid 1"; return 0; }
	e2e_track "$_pid"
	e2e_dump_and_reap "$_pid" "$T/img" || return 0
	e2e_restore_detached "$T/img" || return 0
	assertEquals "the restored root is pid 1 in its namespace" 1 "$(awk '/^NSpid:/ { print $NF }' "/proc/$E2E_PID/status")"
	assertEquals "container's check after restore" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
	assertEquals "mounts left under $T" 0 "$(grep -c "$T" /proc/self/mountinfo)"
}

# restore --root: the container's root file system copied elsewhere.
testRestoreWithRoot() {
	e2e_need_amber || return 0
	mkdir "$T/ctr"
	e2e_start_wl container "$T/ctr" || return 0
	_pid=$E2E_PID
	e2e_dump_and_reap "$_pid" "$T/img" || return 0
	cp -a "$T/ctr/root" "$T/root2" && echo copy >"$T/root2/marker" || { fail "copy the root"; return 0; }
	e2e_amber_fails "--root '$T/nowhere' (the root of mount namespace 1) does not exist" \
		restore -D "$T/img" -d --root "$T/nowhere"
	assertEquals "mounts left under $T" 0 "$(grep -c "$T" /proc/self/mountinfo)"
	e2e_amber_ok restore -D "$T/img" -d --pidfile "$T/restored.pid" --root "$T/root2" || return 0
	E2E_PID=$(cat "$T/restored.pid")
	e2e_track "$E2E_PID"
	assertEquals "the restored root is --root's" copy "$(cat "/proc/$E2E_PID/root/marker")"
	assertEquals "its tmpfs came along" inside "$(cat "/proc/$E2E_PID/root/run/hello")"
}

. /usr/share/shunit2/shunit2
