#!/bin/sh
# t055-mntns-outer-slave: a tree whose mount namespace has a slave of a
# shared mount of ours (unshare -m --propagation slave, as container
# runtimes make rslave mounts). After the restore the slave still receives
# what is mounted on our side.

. "$(dirname "$0")/lib.sh"

tearDown() {
	umount -R "$T/host" 2>/dev/null
	e2e_teardown
}

testSlaveOfOurSharedMount() {
	e2e_need_amber || return 0
	mkdir -p "$T/host"
	mount -t tmpfs amber-host "$T/host" && mount --make-shared "$T/host" && mkdir "$T/host/before" "$T/host/after" ||
		{ fail "make a shared tmpfs"; return 0; }
	e2e_start unshare -m --propagation slave sleep 600
	e2e_poll 10 grep -q sleep "/proc/$E2E_PID/comm" || { fail "sleep did not start"; return 0; }
	_pid=$E2E_PID
	assertContains "a slave before the dump" "$(grep "$T/host" "/proc/$_pid/mountinfo")" "master:"
	e2e_dump_and_reap "$_pid" "$T/img" || return 0
	e2e_restore_detached "$T/img" || return 0
	assertContains "a slave after the restore" "$(grep "$T/host" "/proc/$_pid/mountinfo")" "master:"
	mount -t tmpfs amber-after "$T/host/after" || { fail "mount on our side"; return 0; }
	assertContains "what we mount reaches the restored namespace" "$(cat "/proc/$_pid/mountinfo")" "$T/host/after"
	assertEquals "our namespace gained nothing but our own mounts" 2 "$(grep -c "$T" /proc/self/mountinfo)"
}

. /usr/share/shunit2/shunit2
