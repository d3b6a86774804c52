#!/bin/sh
# t022-pidns: a tree that is the init of its own pid namespace (started with
# unshare -p -f) is dumped with its namespace-local pids and restored into a
# fresh pid namespace; and a tree of the host's namespace restored with
# --pidns keeps its pids inside a new namespace.

. "$(dirname "$0")/lib.sh"

# Starts the spine as pid 1 of a new pid namespace; sets E2E_PID to its pid
# as this shell sees it. unshare's own stderr goes to /dev/null: it writes
# there when its child dies, and the spine holds wl.err open.
start_spine_in_pidns() {
	command -v unshare >/dev/null || { e2e_skip "no unshare(1)"; return 1; }
	rm -f "$T/ready" "$T/result"
	setsid "$E2E_WL/closefds" sh -c 'exec unshare -p -f "$@" 2>/dev/null' unshare \
		"$E2E_WL/spine" "$T/ready" "$T/result" </dev/null >"$T/wl.out" 2>"$T/wl.err" &
	e2e_poll 10 test -s "$T/ready" || { fail "spine in a new pid namespace did not get ready: $(cat "$T/wl.err")"; return 1; }
	E2E_PID=
	for p in $(pgrep -f "$E2E_WL/spine $T/ready"); do
		[ "$(awk '/^NSpid:/ { print $NF }' "/proc/$p/status")" = 1 ] && E2E_PID=$p
	done
	[ -n "$E2E_PID" ] || { fail "no spine with NSpid 1"; return 1; }
	e2e_track "$E2E_PID"
	e2e_poll 10 e2e_in_syscall "$E2E_PID" 34 || fail "spine is not waiting in pause(2)"
}

testInitOfOwnPidNamespace() {
	e2e_need_amber || return 0
	start_spine_in_pidns || return 0
	pid=$E2E_PID
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	assertTrue "the images use the namespace-local pid: core-1.img" "[ -s '$T/img/core-1.img' ]"
	assertFalse "no image is named after the host pid $pid" "[ -e '$T/img/core-$pid.img' ]"
	e2e_restore_detached "$T/img" || return 0
	np=$E2E_PID
	assertNotNull "restore wrote the root's pid" "$np"
	[ -n "$np" ] || return 0
	assertEquals "the restored root is pid 1 in its namespace" 1 "$(awk '/^NSpid:/ { print $NF }' "/proc/$np/status")"
	assertNotEquals "it has a pid namespace of its own" "$(readlink /proc/self/ns/pid)" "$(readlink "/proc/$np/ns/pid")"
	assertEquals "spine's check after restore" PASS "$(e2e_spine_result "$np" "$T/result")"
	assertTrue "the spine exits after its check" "e2e_wait_dead $np"
}

# A container's shape: pid 1 of its namespace with live children. Killing
# the dumped tree must not hang: the init is reported gone only once every
# task of its namespace is reaped, by seize first for the traced ones.
testInitWithChildren() {
	e2e_need_amber || return 0
	command -v unshare >/dev/null || { e2e_skip "no unshare(1)"; return 0; }
	rm -f "$T/ready" "$T/result"
	setsid "$E2E_WL/closefds" sh -c 'exec unshare -p -f "$@" 2>/dev/null' unshare \
		"$E2E_WL/forest" "$T/ready" "$T/result" 4 </dev/null >"$T/wl.out" 2>"$T/wl.err" &
	e2e_poll 10 test -s "$T/ready" || { fail "forest in a new pid namespace did not get ready"; return 0; }
	pid=
	for p in $(pgrep -f "$E2E_WL/forest $T/ready"); do
		[ "$(awk '/^NSpid:/ { print $NF }' "/proc/$p/status")" = 1 ] && pid=$p
	done
	[ -n "$pid" ] || { fail "no forest with NSpid 1"; return 0; }
	e2e_track "$pid"
	kids=$(e2e_descendants "$pid" | wc -l)
	assertEquals "the init has its 3 children" 3 "$kids"
	e2e_amber_ok dump -t "$pid" -D "$T/img" || return 0
	assertTrue "the init and its children are gone after the dump" "e2e_wait_dead $pid"
	e2e_restore_detached "$T/img" || return 0
	np=$E2E_PID
	assertEquals "the restored root is pid 1 in its namespace" 1 "$(awk '/^NSpid:/ { print $NF }' "/proc/$np/status")"
	assertEquals "with its 3 children" 3 "$(e2e_descendants "$np" | wc -l)"
	assertEquals "forest's check after restore" PASS "$(e2e_spine_result "$np" "$T/result")"
}

testHostTreeIntoNewPidNamespace() {
	e2e_need_amber || return 0
	e2e_start_spine || return 0
	pid=$E2E_PID
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	# The pid is taken here on purpose: inside the new namespace it is free.
	e2e_occupy_pid "$pid" >/dev/null 2>&1
	e2e_amber_ok restore -D "$T/img" -d --pidns --pidfile "$T/restored.pid" || return 0
	np=$(cat "$T/restored.pid")
	e2e_track "$np"
	assertEquals "the restored spine keeps pid $pid in its namespace" "$pid" "$(awk '/^NSpid:/ { print $NF }' "/proc/$np/status")"
	assertEquals "spine's check after restore" PASS "$(e2e_spine_result "$np" "$T/result")"
}

. /usr/share/shunit2/shunit2
