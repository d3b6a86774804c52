#!/bin/sh
# t064-netns: a tree in two network namespaces of its own, joined by a veth
# pair, with a second pair inside one of them, addresses, routes and
# sysctls, comes back with all of them (seize reads them into netns.img,
# restore-tasks makes them again) and TCP flows across the veth and
# through the routed namespace (tests/workloads/netns checks every line of
# ip link/addr/route and the sysctls). Devices amber cannot make again
# refuse the dump, naming the namespace, the device and its kind, and the
# tree carries on.

. "$(dirname "$0")/lib.sh"

tearDown() { e2e_teardown_trees; e2e_teardown; }

testVethPairsAddressesRoutes() {
	e2e_roundtrip_tree netns
	e2e_amber_ok show "$T/img/netns.img" || return 0
	assertContains "$E2E_OUT" '"name": "amb-a"'
	assertContains "$E2E_OUT" '"name": "amb-d"'
	assertContains "$E2E_OUT" '"kind": "veth"'
	assertContains "$E2E_OUT" '"name": "net/ipv4/ip_forward"'
}

# Starts 'unshare -n' with a device of kind $1 made by 'ip link add $2';
# sets _pid to the process in the namespace, or returns 1 (skipped).
start_with_device() {
	e2e_start sh -c "unshare -n sh -c 'ip link add $2 || exit 1; echo up >$T/ready; exec sleep 600'"
	e2e_poll 10 test -s "$T/ready" || { e2e_skip "no $1 devices here: $(cat "$T/wl.err")"; return 1; }
	_pid=$(cat /proc/"$E2E_PID"/task/*/children | tr -d ' ')
	[ -n "$_pid" ] || { fail "no process in the network namespace"; return 1; }
}

# A bridge (a kind amber does not make) is refused by name; the process
# is left running, not stopped.
testBridgeRefused() {
	e2e_need_amber || return 0
	start_with_device bridge "ambbr0 type bridge" || return 0
	_ns=$(readlink "/proc/$_pid/ns/net")
	e2e_amber_fails "network namespace $_ns of pid $_pid has device 'ambbr0'" dump -t "$_pid" -D "$T/img"
	assertContains "names the kind" "$E2E_OUT" "of kind 'bridge'"
	assertContains "says what is supported" "$E2E_OUT" "only loopback and veth devices can be restored"
	assertTrue "pid $_pid still runs" "e2e_alive $_pid"
	assertEquals "not stopped" "" "$(grep -E '^State:.*[tT]' "/proc/$_pid/status")"
}

# An ifb is refused the same way.
testIfbRefused() {
	e2e_need_amber || return 0
	start_with_device ifb "ambifb0 type ifb" || return 0
	e2e_amber_fails "has device 'ambifb0'" dump -t "$_pid" -D "$T/img"
	assertContains "names the kind" "$E2E_OUT" "of kind 'ifb'"
	assertTrue "pid $_pid still runs" "e2e_alive $_pid"
}

# A veth whose peer is outside the tree (here in amber's own namespace)
# is refused, naming the device.
testOutsideVethRefused() {
	e2e_need_amber || return 0
	_peer=ambo$$
	e2e_start sh -c "unshare -n sh -c 'echo up >$T/ready; exec sleep 600'"
	e2e_poll 10 test -s "$T/ready" || { fail "the namespace did not get ready"; return 0; }
	_pid=$(cat /proc/"$E2E_PID"/task/*/children | tr -d ' ')
	ip link add "$_peer" type veth peer name ambin0 netns "/proc/$_pid/ns/net" || { e2e_skip "no veth"; return 0; }
	e2e_amber_fails "has veth 'ambin0'" dump -t "$_pid" -D "$T/img"
	assertContains "says why" "$E2E_OUT" "is in a network namespace outside the tree"
	ip link del "$_peer" 2>/dev/null
	assertTrue "pid $_pid still runs" "e2e_alive $_pid"
}

. /usr/share/shunit2/shunit2
