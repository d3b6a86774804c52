#!/bin/sh
# t057-namespaces: a tree in UTS and IPC namespaces of its own comes back
# in new ones, with its hostname and domainname (seize writes utsns.img
# and ipcns.img, restore-tasks makes them again); the kinds amber cannot
# restore (network, user, an IPC namespace holding objects) refuse the
# dump, naming the pid and the namespace, and the tree carries on.
# tests/workloads/utsns checks names, sharing and separateness after the
# restore.

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

# A network namespace (with an extra dummy interface where the kernel
# allows one) is refused, naming pid, namespace and interface; the process
# is left running.
testNetworkNamespaceRefused() {
	e2e_need_amber || return 0
	e2e_start sh -c "unshare -n sh -c '(ip link add amberdummy0 type dummy 2>/dev/null || true); echo up >$T/ready; exec sleep 600'"
	e2e_poll 10 test -s "$T/ready" || { fail "the namespace did not get ready: $(cat "$T/wl.err")"; return 0; }
	_pid=$(cat /proc/"$E2E_PID"/task/*/children | tr -d ' ')
	[ -n "$_pid" ] || { fail "no process in the network namespace"; return 0; }
	_ns=$(readlink "/proc/$_pid/ns/net")
	e2e_amber_fails "pid $_pid is in network namespace $_ns" dump -t "$_pid" -D "$T/img"
	assertContains "names what is not supported" "$E2E_OUT" "network namespaces are not supported"
	assertContains "names its loopback" "$E2E_OUT" "interfaces: lo"
	if grep -q amberdummy0 "/proc/$_pid/net/dev"; then
		assertContains "names the extra interface" "$E2E_OUT" "amberdummy0"
	fi
	assertTrue "pid $_pid still runs" "e2e_alive $_pid"
	assertEquals "not stopped" "" "$(grep -E '^State:.*[tT]' "/proc/$_pid/status")"
}

# A user namespace is refused; the workload in it goes on and still passes
# its own check.
testUserNamespaceRefused() {
	e2e_need_amber || return 0
	unshare -U -r true 2>/dev/null || { echo "  (skipped: no user namespaces here)"; return 0; }
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
	command -v ipcmk >/dev/null || { echo "  (skipped: no ipcmk)"; return 0; }
	e2e_start unshare -i sh -c "ipcmk -M 4096 >/dev/null && echo up >$T/ready; exec sleep 600"
	e2e_poll 10 test -s "$T/ready" || { fail "the namespace did not get ready: $(cat "$T/wl.err")"; return 0; }
	_ns=$(readlink "/proc/$E2E_PID/ns/ipc")
	e2e_amber_fails "pid $E2E_PID is in IPC namespace $_ns, which holds 1 object (SysV shm key" dump -t "$E2E_PID" -D "$T/img"
	assertContains "says what is not supported" "$E2E_OUT" "restoring System V objects and message queues is not"
	assertTrue "pid $E2E_PID still runs" "e2e_alive $E2E_PID"
}

. /usr/share/shunit2/shunit2
