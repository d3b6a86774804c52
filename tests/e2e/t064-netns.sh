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

# --empty-ns net: the namespace is the caller's (a container runtime's):
# a device amber would refuse is not even looked at, and the restored tree
# is in a new network namespace with nothing in it, for the caller to set
# up.
testEmptyNetns() {
	e2e_need_amber || return 0
	# Its stdio away from the test's files, which change after the kill.
	e2e_start sh -c "unshare -n sh -c 'ip link add ambbr1 type bridge || exit 1; echo up >$T/ready; exec sleep 600 </dev/null >/dev/null 2>&1'"
	e2e_poll 10 test -s "$T/ready" || { e2e_skip "no bridge devices here: $(cat "$T/wl.err")"; return 0; }
	_pid=$(cat /proc/"$E2E_PID"/task/*/children | tr -d ' ')
	e2e_amber_ok dump -t "$_pid" -D "$T/img" --empty-ns net || return 0
	e2e_wait_dead "$_pid" || { fail "pid $_pid still runs after the dump"; return 0; }
	e2e_amber_ok restore -D "$T/img" -d --pidfile "$T/restored.pid" || return 0
	_r=$(cat "$T/restored.pid")
	e2e_track "$_r"
	assertEquals "the restored pid" "$_pid" "$_r"
	assertContains "restore-tasks says the namespace is left empty" "$(cat "$T"/img/restore.run/*restore-tasks.log)" \
		"is left empty for the caller to set up"
	assertNotEquals "a network namespace of its own" "$(readlink /proc/self/ns/net)" "$(readlink "/proc/$_r/ns/net")"
	assertEquals "only loopback, down" "lo DOWN" "$(nsenter -t "$_r" -n ip -br link | awk '{print $1, $2}' | tr '\n' ' ' | sed 's/ $//')"
	e2e_amber dump -t "$_pid" -D "$T/img2" --empty-ns uts
	assertEquals "only net can be left empty" 2 $?
}

# An ifb is refused the same way.
testIfbRefused() {
	e2e_need_amber || return 0
	start_with_device ifb "ambifb0 type ifb" || return 0
	e2e_amber_fails "has device 'ambifb0'" dump -t "$_pid" -D "$T/img"
	assertContains "names the kind" "$E2E_OUT" "of kind 'ifb'"
	assertTrue "pid $_pid still runs" "e2e_alive $_pid"
}

# Starts a process in a network namespace of its own holding veth ambin0,
# whose peer $_peer is in amber's namespace, with address $_net.2/30, up.
start_outside_veth() {
	_peer=ambo$$
	_net=10.213.$(($$ % 250))
	e2e_start sh -c "unshare -n sh -c 'echo up >$T/ready; exec sleep 600 </dev/null >/dev/null 2>&1'"
	e2e_poll 10 test -s "$T/ready" || { fail "the namespace did not get ready"; return 1; }
	_pid=$(cat /proc/"$E2E_PID"/task/*/children | tr -d ' ')
	ip link add "$_peer" type veth peer name ambin0 netns "/proc/$_pid/ns/net" || { e2e_skip "no veth"; return 1; }
	nsenter -t "$_pid" -n sh -c "ip link set lo up && ip link set ambin0 up && ip addr add $_net.2/30 dev ambin0" ||
		{ fail "could not set up ambin0"; return 1; }
}

# Without --external veth[ambin0], the dump is refused naming the device
# and the option.
testOutsideVethRefused() {
	e2e_need_amber || return 0
	start_outside_veth || return 0
	e2e_amber_fails "has veth 'ambin0'" dump -t "$_pid" -D "$T/img"
	assertContains "says why" "$E2E_OUT" "is in a network namespace outside the tree"
	assertContains "names the option" "$E2E_OUT" "--external veth[ambin0]"
	ip link del "$_peer" 2>/dev/null
	assertTrue "pid $_pid still runs" "e2e_alive $_pid"
}

# With it, the veth comes back with its peer outside named at restore;
# restore without the name is refused; once the outside end has an address
# a TCP connection from amber's namespace across it works.
testOutsideVethExternal() {
	e2e_need_amber || return 0
	start_outside_veth || return 0
	e2e_amber_ok dump -t "$_pid" -D "$T/img" --external "veth[ambin0]" || { ip link del "$_peer"; return 0; }
	e2e_wait_dead "$_pid" 10
	e2e_amber_fails "--external veth[ambin0]:NAME" restore -D "$T/img" -d
	e2e_amber_ok restore -D "$T/img" -d --external "veth[ambin0]:$_peer" || return 0
	e2e_track "$_pid"
	ip link set "$_peer" up && ip addr add "$_net.1/30" dev "$_peer" || fail "could not set up $_peer"
	# A listener in the restored namespace (port 0), and a connection to it
	# from amber's namespace across the veth.
	if [ -n "$E2E_PYTHON" ]; then
		nsenter -t "$_pid" -n "$E2E_PYTHON" -c "
import socket
l = socket.socket(); l.settimeout(10); l.bind(('$_net.2', 0)); l.listen(1)
open('$T/port.tmp', 'w').write(str(l.getsockname()[1])); __import__('os').rename('$T/port.tmp', '$T/port')
c, _ = l.accept(); c.settimeout(5); c.sendall(c.recv(64))" &
		e2e_poll 10 test -s "$T/port" || { fail "no listener in the namespace"; return 0; }
		assertEquals "TCP across the restored veth" "hello" "$("$E2E_PYTHON" -c "
import socket
s = socket.create_connection(('$_net.2', $(cat "$T/port")), timeout=5); s.sendall(b'hello'); print(s.recv(64).decode())")"
		wait
	fi
	assertContains "the address came back" "$(nsenter -t "$_pid" -n ip -o addr show dev ambin0)" "$_net.2/30"
	ip link del "$_peer" 2>/dev/null
}

. /usr/share/shunit2/shunit2
