#!/bin/sh
# t053-mntns-external: mounts amber cannot make again. A ramfs in the
# tree's namespace is refused at dump, naming the mount and the
# --external mnt[...] fix; named with --external mnt[MOUNTPOINT]:NAME it is
# left out of the images, and the restore binds what --external
# mnt[NAME]:PATH says, or fails naming the mount and the path (no mounts
# left behind) when the path is missing or not given.

. "$(dirname "$0")/lib.sh"

# Starts 'sleep' in a mount namespace of its own with a ramfs on $T/mnt/r.
ext_start() {
	e2e_need_amber || return 1
	mkdir -p "$T/mnt/r" "$T/ext"
	echo outside >"$T/ext/marker"
	e2e_start unshare -m --propagation private sh -c "mount -t ramfs amber-ram '$T/mnt/r' && echo in-ram >'$T/mnt/r/f' && exec sleep 600"
	e2e_poll 10 grep -q "$T/mnt/r" "/proc/$E2E_PID/mountinfo" 2>/dev/null || { fail "the ramfs was not mounted: $(cat "$T/wl.err")"; return 1; }
	e2e_poll 10 grep -q sleep "/proc/$E2E_PID/comm" || { fail "sleep did not start"; return 1; }
}

assert_clean() {
	assertEquals "mounts left under $T" 0 "$(grep -c "$T" /proc/self/mountinfo)"
	assertEquals "pins left" "" "$(ls "$T/img/restore.run/ns" 2>/dev/null)"
}

testUnknownTypeRefused() {
	ext_start || return 0
	e2e_amber_fails "mnt[$T/mnt/r]:NAME" dump -t "$E2E_PID" -D "$T/img"
	assertContains "names the type" "$E2E_OUT" "ramfs"
	assertContains "names the mountpoint" "$E2E_OUT" "at '$T/mnt/r'"
	e2e_alive "$E2E_PID" || fail "the refused tree is not running on"
}

testExternalMount() {
	ext_start || return 0
	_pid=$E2E_PID
	e2e_amber_ok dump -t "$_pid" -D "$T/img" --external "mnt[$T/mnt/r]:data" || return 0
	e2e_wait_dead "$_pid" || { fail "pid $_pid still runs after the dump"; return 0; }
	e2e_reap "$_pid"
	e2e_amber_ok show "$T/img/mountpoints-1.img" || return 0
	assertContains "$E2E_OUT" '"external": "data"'
	# Not given, then missing: clear errors, nothing left mounted.
	e2e_amber_fails "--external mnt[data]:PATH" restore -D "$T/img" -d
	assert_clean
	e2e_amber_fails "$T/nowhere' (--external mnt[data]:$T/nowhere) does not exist" restore -D "$T/img" -d --external "mnt[data]:$T/nowhere"
	assertContains "names the mount" "$E2E_OUT" "at '$T/mnt/r'"
	assert_clean
	e2e_amber_ok restore -D "$T/img" -d --pidfile "$T/restored.pid" --external "mnt[data]:$T/ext" || return 0
	E2E_PID=$(cat "$T/restored.pid")
	e2e_track "$E2E_PID"
	assertEquals "the restored pid" "$_pid" "$E2E_PID"
	assertEquals "the external mount is bound from --external's path" outside "$(cat "/proc/$E2E_PID/root$T/mnt/r/marker")"
	assert_clean
}

. /usr/share/shunit2/shunit2
