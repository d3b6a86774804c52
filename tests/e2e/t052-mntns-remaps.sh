#!/bin/sh
# t052-mntns-remaps: a file unlinked while open on a tmpfs of the tree's
# own mount namespace (an O_TMPFILE file, tests/workloads/mntns remap): the
# dump links it back inside that namespace (a link remap), the restore
# reopens it there and removes the link there; amber gc builds the
# namespace (build-mntns) and removes the link inside it, naming it.

. "$(dirname "$0")/lib.sh"

remap_start() {
	e2e_need_amber || return 1
	mkdir "$T/mnt"
	e2e_start_wl mntns "$T/mnt" remap
}

testRemapInNamespaceRestored() {
	remap_start || return 0
	_pid=$E2E_PID
	e2e_dump_and_reap "$_pid" "$T/img" || return 0
	e2e_amber_ok show "$T/img/remaps.img" || return 0
	assertContains "a link remap, not a ghost" "$E2E_OUT" "REMAP_LINK"
	e2e_restore_detached "$T/img" || return 0
	assertEquals "mntns's check after restore (the remap gone)" PASS "$(e2e_spine_result "$_pid" "$T/result")"
}

testGcInNamespace() {
	remap_start || return 0
	_pid=$E2E_PID
	e2e_dump_and_reap "$_pid" "$T/img" || return 0
	e2e_amber_ok gc -D "$T/img" --show || return 0
	assertContains "gc --show names the namespace" "$E2E_OUT" "in mount namespace 1"
	assertContains "$E2E_OUT" "would be removed"
	e2e_amber_ok gc -D "$T/img" || return 0
	assertContains "gc removes it in its namespace" "$E2E_OUT" "removed $T/mnt/files/.amber-remap."
	assertContains "$E2E_OUT" "in mount namespace 1"
	assertEquals "mounts left under $T" 0 "$(grep -c "$T" /proc/self/mountinfo)"
	assertEquals "the pins are gone" "" "$(ls "$T/img/gc.run/ns" 2>/dev/null)"
}

# --leave-running: the tree runs on with its files; the link made inside
# its namespace goes again (the workload finds none left).
testLeaveRunningRemovesRemap() {
	remap_start || return 0
	e2e_amber_ok dump -t "$E2E_PID" -D "$T/img" --leave-running || return 0
	assertEquals "mntns's check after a --leave-running dump" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

. /usr/share/shunit2/shunit2
