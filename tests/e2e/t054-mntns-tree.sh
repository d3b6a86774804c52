#!/bin/sh
# t054-mntns-tree: a tree whose root stays in our mount namespace and whose
# child made one of its own (unshare -m) with a tmpfs, holding a file on it
# open. The root is restored in ours, the child in its namespace made
# again, and each one's files are opened in its own namespace.

. "$(dirname "$0")/lib.sh"

tearDown() { e2e_teardown_trees; e2e_teardown; }

testRootOutsideChildInside() {
	e2e_need_amber || return 0
	mkdir "$T/mnt"
	e2e_start_tree sh -c "unshare -m --propagation private sh -c \
		'mount -t tmpfs amber-child $T/mnt && echo inside >$T/mnt/f && exec 3<$T/mnt/f && echo ready >$T/ready && exec sleep 600' &
		exec sleep 600" || return 0
	e2e_poll 10 test -s "$T/ready" || { fail "the child did not get ready: $(cat "$T/wl.err")"; return 0; }
	_root=$E2E_PID
	e2e_poll 10 test -n "$(cat /proc/"$_root"/task/*/children 2>/dev/null)" || { fail "no child"; return 0; }
	_child=$(cat /proc/"$_root"/task/*/children | tr -d ' ')
	e2e_poll 10 grep -q sleep "/proc/$_child/comm" || { fail "the child is not sleeping"; return 0; }
	e2e_amber_ok dump -t "$_root" -D "$T/img" || return 0
	e2e_wait_tree_gone 10 || return 0
	e2e_amber_ok show "$T/img/mntns.img" || return 0
	assertContains "only the child is in the tree's namespace" "$E2E_OUT" "\"pids\": [$_child]"
	e2e_restore_detached "$T/img" || return 0
	e2e_track_tree "$E2E_PID"
	assertEquals "the restored root" "$_root" "$E2E_PID"
	assertEquals "the root is in our mount namespace" "$(readlink /proc/self/ns/mnt)" "$(readlink "/proc/$_root/ns/mnt")"
	assertNotEquals "the child is not" "$(readlink /proc/self/ns/mnt)" "$(readlink "/proc/$_child/ns/mnt")"
	assertEquals "the child's file on its tmpfs" inside "$(cat "/proc/$_child/fd/3")"
	assertContains "its tmpfs" "$(cat "/proc/$_child/mountinfo")" "amber-child"
	assertEquals "mounts left under $T" 0 "$(grep -c "$T" /proc/self/mountinfo)"
}

# Two children, each in a mount namespace of its own with its own tmpfs at
# the same path: two namespaces are made, each child back in its own.
testTwoNamespaces() {
	e2e_need_amber || return 0
	mkdir "$T/mnt"
	e2e_start_tree sh -c "
		unshare -m --propagation private sh -c 'mount -t tmpfs amber-one $T/mnt && echo one >$T/mnt/f && exec 3<$T/mnt/f && echo 1 >$T/r1 && exec sleep 600' &
		unshare -m --propagation private sh -c 'mount -t tmpfs amber-two $T/mnt && echo two >$T/mnt/f && exec 3<$T/mnt/f && echo 2 >$T/r2 && exec sleep 600' &
		exec sleep 600" || return 0
	e2e_poll 10 test -s "$T/r1" && e2e_poll 10 test -s "$T/r2" || { fail "the children did not get ready: $(cat "$T/wl.err")"; return 0; }
	_root=$E2E_PID
	sleep 0.3
	_kids=$(cat /proc/"$_root"/task/*/children)
	e2e_amber_ok dump -t "$_root" -D "$T/img" || return 0
	e2e_wait_tree_gone 10 || return 0
	assertTrue "two namespaces" "[ -s '$T/img/mountpoints-2.img' ]"
	e2e_restore_detached "$T/img" || return 0
	e2e_track_tree "$E2E_PID"
	_seen=
	for _k in $_kids; do
		_seen="$_seen $(cat "/proc/$_k/fd/3")"
		assertContains "child $_k's tmpfs" "$(cat "/proc/$_k/mountinfo")" "amber-$(cat "/proc/$_k/fd/3")"
	done
	assertEquals "each child its own file" " one two" "$(echo $_seen | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/^/ /; s/ $//')"
}

. /usr/share/shunit2/shunit2
