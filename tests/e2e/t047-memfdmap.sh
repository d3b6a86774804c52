#!/bin/sh
# t047-memfdmap: memfd mappings. A memfd mapped MAP_SHARED (its descriptor
# kept, so descriptor and mapping must be one inode again), one mapped
# MAP_SHARED from an offset with its descriptor closed, and one mapped both
# MAP_PRIVATE (with private copies of written pages) and MAP_SHARED, and
# one of holes only, shared with a forked child: contents, holes, names, sizes and seals come back,
# and the shared mappings are still shared, also restored into a new pid
# namespace. A --leave-running dump leaves the tree as it was; a mapping
# that could not be made again (writable and shared, of a memfd sealed with
# F_SEAL_FUTURE_WRITE) is refused at dump, the tree running on; a memfd
# image missing or truncated at restore is a clear error naming the image
# and leaves nothing behind.
# Run: sh tests/e2e/t047-memfdmap.sh (AMBER_BUILD=DIR for another build dir).

. "$(dirname "$0")/lib.sh"

tearDown() {
	e2e_teardown_trees
	e2e_teardown
}

testMemfdMappings() {
	e2e_roundtrip_tree memfdmap
	# One memfd image per memfd, whoever maps it: four, none twice.
	assertEquals "memfd images written" 4 "$(ls "$T/img" | grep -c '^memfd-.*\.img$')"
	assertEquals "memfd page images written" 4 "$(ls "$T/img" | grep -c '^pages-memfd-.*\.img$')"
	# amber-map's descriptor is saved with its mapping, not as a ghost.
	assertEquals "ghost images written" 0 "$(ls "$T/img" | grep -c '^ghost-')"
	# The memfd of holes only costs no page data.
	assertContains "amber-empty saved no page" "$("$AMBER" show "$T/img" | grep pages-memfd)" "0 pages"
}

# A dump that leaves the tree running changes nothing it checks.
testLeaveRunning() {
	e2e_need_amber || return 0
	e2e_start_tree "$E2E_WL/memfdmap" "$T/ready" "$T/result" || return 0
	e2e_poll 10 test -s "$T/ready" || { fail "memfdmap did not get ready: $(cat "$T/wl.err")"; return 0; }
	e2e_amber_ok dump -t "$E2E_PID" -D "$T/img" --leave-running || return 0
	assertEquals "the original's check after the dump" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

# A writable shared mapping of a memfd sealed with F_SEAL_FUTURE_WRITE could
# not be mapped again: the dump refuses it, naming pid, memfd and seal, and
# the tree runs on as it was.
testFutureWriteSealRefused() {
	e2e_need_amber || return 0
	e2e_start_tree "$E2E_WL/memfdmap" "$T/ready" "$T/result" future-write || return 0
	e2e_poll 10 test -s "$T/ready" || { fail "memfdmap did not get ready: $(cat "$T/wl.err")"; return 0; }
	e2e_amber_fails "F_SEAL_FUTURE_WRITE" dump -t "$E2E_PID" -D "$T/img"
	assertContains "the refusal names the memfd" "$E2E_OUT" "memfd 'amber-sealed'"
	assertContains "and the pid" "$E2E_OUT" "pid $E2E_PID"
	assertTrue "the tree still runs" "e2e_alive $E2E_PID"
	assertEquals "the original's check after the refused dump" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

# Dumps memfdmap into $T/img and waits until the tree is gone; sets pid.
memfdmap_dumped() {
	e2e_need_amber || return 1
	e2e_start_tree "$E2E_WL/memfdmap" "$T/ready" "$T/result" || return 1
	e2e_poll 10 test -s "$T/ready" || { fail "memfdmap did not get ready: $(cat "$T/wl.err")"; return 1; }
	pid=$E2E_PID
	e2e_amber_ok dump -t "$pid" -D "$T/img" || return 1
	e2e_wait_tree_gone 10
}

# Restored into a new pid namespace: the tasks still reach the stage's
# memfds (through /proc/<stage>/fd/, the stage being outside it).
testIntoNewPidNamespace() {
	memfdmap_dumped || return 0
	e2e_amber_ok restore -D "$T/img" -d --pidns --pidfile "$T/restored.pid" || return 0
	np=$(cat "$T/restored.pid")
	e2e_track "$np"
	assertEquals "the restored root keeps pid $pid in its namespace" "$pid" "$(awk '/^NSpid:/ { print $NF }' "/proc/$np/status")"
	assertEquals "memfdmap's check after restore" PASS "$(e2e_spine_result "$np" "$T/result")"
}

# The memfd whose descriptor was closed is made from its own images; the
# name of its image, from the VMA that maps it.
closed_memfd_image() {
	amber_ino=$("$AMBER" show --json "$T/img/mm-$pid.img" |
		tr -d ' \n' | grep -o '"path":"/memfd:amber-closed"[^}]*"ino":[0-9]*' | head -n 1 | sed 's/.*"ino"://')
	echo "memfd-$amber_ino.img"
}

assert_nothing_restored() {
	sleep 0.2
	assertFalse "no process $pid after a failed restore" "e2e_alive $pid"
	e2e_alive "$pid" && e2e_track "$pid"
	assertEquals "no process of the tree left" "" "$(pgrep -f "$E2E_WL/memfdmap" | tr '\n' ' ')"
}

testMissingMemfdImage() {
	memfdmap_dumped || return 0
	img=$(closed_memfd_image)
	assertTrue "the dump wrote $img" "[ -s '$T/img/$img' ]"
	rm -f "$T/img/$img"
	e2e_amber_fails "$img" restore -D "$T/img" -d
	assertContains "the message names the memfd" "$E2E_OUT" "memfd 'amber-closed'"
	assertContains "and the pid that maps it" "$E2E_OUT" "pid $pid"
	assert_nothing_restored
}

testTruncatedMemfdPages() {
	memfdmap_dumped || return 0
	img=$(closed_memfd_image)
	pages=pages-$img
	assertTrue "the dump wrote $pages" "[ -s '$T/img/$pages' ]"
	truncate -s 8192 "$T/img/$pages"
	e2e_amber_fails "$pages" restore -D "$T/img" -d
	assertContains "the message says it is truncated" "$E2E_OUT" "truncated"
	assertContains "the message names the memfd" "$E2E_OUT" "amber-closed"
	assert_nothing_restored
}

. /usr/share/shunit2/shunit2
