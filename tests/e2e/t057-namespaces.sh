#!/bin/sh
# t057-namespaces: a tree in UTS, IPC and network namespaces of its own
# comes back in new ones, with its hostname and domainname, an empty IPC
# namespace, a network namespace with lo up or down (seize writes
# utsns.img, ipcns.img and netns.img, restore-tasks makes them again);
# what amber cannot restore (a network namespace with sockets (its
# devices are t064-netns's), a user namespace, an IPC namespace holding objects)
# refuses the dump, naming the pid and the namespace, and the tree carries
# on. tests/workloads/utsns checks names, sharing and separateness after
# the restore.

. "$(dirname "$0")/lib.sh"

tearDown() { e2e_teardown_trees; e2e_teardown; }

# Two UTS namespaces (the root's, shared by child A, and child B's own).
testUtsNamespaces() {
	e2e_roundtrip_tree utsns
	[ -s "$T/img/utsns.img" ] || { fail "the dump has no utsns.img: $(ls "$T/img")"; return 0; }
	e2e_amber_ok show "$T/img/utsns.img" || return 0
	assertContains "$E2E_OUT" '"hostname": "amber-uts-a"'
	assertContains "$E2E_OUT" '"hostname": "amber-uts-b"'
	assertContains "$E2E_OUT" '"domainname": "amber.example"'
	assertFalse "no ipcns.img for the host's IPC namespace" "[ -e '$T/img/ipcns.img' ]"
}

# The same in an empty IPC namespace of its own, made again empty.
testEmptyIpcNamespace() {
	e2e_roundtrip_tree utsns ipc
	assertTrue "the dump has ipcns.img" "[ -s '$T/img/ipcns.img' ]"
}

# A tree in the host's namespaces has no namespace images, as before.
testHostNamespacesUnchanged() {
	e2e_need_amber || return 0
	e2e_start_spine || return 0
	e2e_amber_ok dump -t "$E2E_PID" -D "$T/img" --leave-running || return 0
	assertFalse "no utsns.img" "[ -e '$T/img/utsns.img' ]"
	assertFalse "no ipcns.img" "[ -e '$T/img/ipcns.img' ]"
}

# A network namespace with nothing but lo, up, shared by the root and
# child A: made again with lo up (the workload connects over 127.0.0.1).
testLoopbackNetworkNamespace() {
	e2e_roundtrip_tree utsns ipc net
	assertTrue "the dump has netns.img" "[ -s '$T/img/netns.img' ]"
	e2e_amber_ok show "$T/img/netns.img" || return 0
	assertContains "$E2E_OUT" '"lo_up": true'
}

# The same with lo left down: it stays down.
testLoopbackDownNetworkNamespace() {
	e2e_roundtrip_tree utsns netdown
	e2e_amber_ok show "$T/img/netns.img" || return 0
	assertContains "$E2E_OUT" '"lo_up": false'
}

# A socket in a network namespace of the tree's own is refused naming pid
# and fd (restore would make it in the restorer's namespace).
testNetworkNamespaceSocketRefused() {
	e2e_need_amber || return 0
	[ -n "$E2E_PYTHON" ] || { e2e_skip "no python3"; return 0; }
	e2e_start unshare -n "$E2E_PYTHON" -c "
import socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
open('$T/ready', 'w').write('up')
time.sleep(600)"
	e2e_poll 10 test -s "$T/ready" || { fail "the namespace did not get ready: $(cat "$T/wl.err")"; return 0; }
	e2e_amber_fails "pid $E2E_PID fd" dump -t "$E2E_PID" -D "$T/img"
	assertContains "says why" "$E2E_OUT" "sockets in a network namespace of the tree's own are not supported"
	assertTrue "pid $E2E_PID still runs" "e2e_alive $E2E_PID"
}

# A user namespace is refused; the workload in it goes on and still passes
# its own check.
testUserNamespaceRefused() {
	e2e_need_amber || return 0
	unshare -U -r true 2>/dev/null || { e2e_skip "no user namespaces here"; return 0; }
	rm -f "$T/ready" "$T/result"
	e2e_start unshare -U -r "$E2E_WL/utsns" "$T/ready" "$T/result"
	e2e_poll 10 test -s "$T/ready" || { fail "utsns did not get ready: $(cat "$T/wl.err")"; return 0; }
	_ns=$(readlink "/proc/$E2E_PID/ns/user")
	e2e_amber_fails "pid $E2E_PID is in user namespace $_ns" dump -t "$E2E_PID" -D "$T/img"
	assertContains "names what is not supported" "$E2E_OUT" "user namespaces are not supported"
	assertEquals "utsns's check after the refused dump" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

# An IPC namespace that holds a System V object is refused naming it.
testIpcObjectsRefused() {
	e2e_need_amber || return 0
	command -v ipcmk >/dev/null || { e2e_skip "no ipcmk"; return 0; }
	e2e_start unshare -i sh -c "ipcmk -M 4096 >/dev/null && echo up >$T/ready; exec sleep 600"
	e2e_poll 10 test -s "$T/ready" || { fail "the namespace did not get ready: $(cat "$T/wl.err")"; return 0; }
	_ns=$(readlink "/proc/$E2E_PID/ns/ipc")
	e2e_amber_fails "pid $E2E_PID is in IPC namespace $_ns, which holds 1 object (SysV shm key" dump -t "$E2E_PID" -D "$T/img"
	assertContains "says what is not supported" "$E2E_OUT" "restoring System V objects and message queues is not"
	assertTrue "pid $E2E_PID still runs" "e2e_alive $E2E_PID"
}

. /usr/share/shunit2/shunit2
