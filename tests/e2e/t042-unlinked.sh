#!/bin/sh
# t042-unlinked: files deleted while open. An ordinary unlinked file goes
# into the images as a ghost (up to --ghost-limit); an O_TMPFILE file, which
# the kernel lets be linked again, is kept by a link remap (a hard link
# .amber-remap.INODE.N beside it) that the restore removes, 'amber gc'
# removes by hand, and --leave-running removes unless --keep-link-remaps.

. "$(dirname "$0")/lib.sh"

# Starts tests/workloads/unlinked on a fresh $T/d and waits until it is ready;
# sets E2E_PID, and TMP_INO to the inode of its O_TMPFILE file (which
# /proc/PID/fd shows as "$T/d/#INODE (deleted)").
unlinked_start() {
	e2e_need_amber || return 1
	[ -x "$E2E_WL/unlinked" ] || { fail "$E2E_WL/unlinked is not built"; return 1; }
	mkdir "$T/d"
	rm -f "$T/ready" "$T/result"
	e2e_start "$E2E_WL/unlinked" "$T/ready" "$T/result" "$T/d"
	if ! e2e_poll 10 test -s "$T/ready"; then
		fail "unlinked did not get ready within 10 s: $(cat "$T/wl.err" 2>/dev/null)"
		return 1
	fi
	assertEquals "unlinked's own pid" "READY $E2E_PID" "$(cat "$T/ready")"
	TMP_INO=$(for _f in /proc/"$E2E_PID"/fd/*; do readlink "$_f"; done |
		sed -n 's|^.*/#\([0-9]*\) (deleted)$|\1|p')
	[ -n "$TMP_INO" ] || { fail "no O_TMPFILE fd in $(ls -l /proc/"$E2E_PID"/fd)"; return 1; }
	assertEquals "$T/d holds nothing before the dump" "" "$(ls -A "$T/d")"
}

# The link remaps in $T/d, one path a line.
remaps() {
	find "$T/d" -maxdepth 1 -name '.amber-remap.*' | sort
}

# Asserts that $T/d holds exactly one link remap, that of the O_TMPFILE file
# (named for its inode, and a hard link to it); sets REMAP to its path.
assert_one_remap() {
	REMAP=$(remaps)
	assertEquals "link remaps in $T/d ($(ls -A "$T/d" | tr '\n' ' '))" 1 "$(remaps | grep -c .)"
	case "$REMAP" in
	"$T/d/.amber-remap.$TMP_INO."*) ;;
	*) fail "the remap '$REMAP' is not named .amber-remap.$TMP_INO.N" ;;
	esac
	assertEquals "the remap is a link to the O_TMPFILE file" "$TMP_INO" "$(stat -c %i "$REMAP" 2>/dev/null)"
}

# Asserts that $T/d holds no link remap (and, with "empty", nothing at all).
assert_no_remap() {
	assertEquals "$1: link remaps left in $T/d" "" "$(remaps)"
	if [ "${2:-}" = empty ]; then
		assertEquals "$1: files left in $T/d" "" "$(ls -A "$T/d")"
	fi
}

# e2e_amber_fails WANT ARGS..., and the failure is not a usage error (an
# option amber does not know would name it too: "unknown option '--ghost-limit'").
amber_refuses() {
	e2e_amber_fails "$@"
	assertNotContains "a real refusal, not a usage error: $E2E_OUT" "$E2E_OUT" "unknown option"
	assertNotContains "a real refusal, not a usage error: $E2E_OUT" "$E2E_OUT" "unknown command"
}

testUnlinkedFilesRoundTrip() {
	unlinked_start || return 0
	pid=$E2E_PID
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	assertTrue "the dump wrote remaps.img" "[ -s '$T/img/remaps.img' ]"
	assertEquals "ghost images (ghost.txt and keep.txt)" 2 "$(ls "$T/img" | grep -c '^ghost-.*\.img$')"
	assert_one_remap
	e2e_restore_detached "$T/img" || return 0
	assertEquals "the restored pid" "$pid" "$E2E_PID"
	assert_no_remap "after the restore" empty
	assertEquals "unlinked's check after restore" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

testGcRemovesRemaps() {
	unlinked_start || return 0
	pid=$E2E_PID
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	assert_one_remap
	[ -n "$REMAP" ] || return 0
	e2e_amber_ok gc -D "$T/img" --show
	assertContains "gc --show lists the remap" "$E2E_OUT" "$REMAP"
	assertTrue "gc --show leaves the remap" "[ -e '$REMAP' ]"
	e2e_amber_ok gc -D "$T/img"
	assertContains "gc names the remap it removed" "$E2E_OUT" "$REMAP"
	assertContains "gc says the images are spent" "$E2E_OUT" "no longer"
	assertFalse "gc removed the remap" "[ -e '$REMAP' ]"
	assert_no_remap "after gc" empty
	e2e_amber_ok gc -D "$T/img"
	assertContains "a second gc finds nothing" "$E2E_OUT" "nothing"
	# What gc warned about: these images cannot be restored any more.
	amber_refuses "remap" restore -D "$T/img" -d --pidfile "$T/restored.pid"
	e2e_poll 5 test ! -e "/proc/$pid" || fail "pid $pid exists after the failed restore"
}

# Linking an O_TMPFILE file and unlinking it again makes it unlinkable for
# good (the kernel clears I_LINKABLE): after one dump has made and removed a
# remap, a second dump of the same process must save it as a ghost. So each
# dump that should make a remap runs on a fresh workload, and the images'
# ghost count tells a remap made and removed from no remap at all.

testLeaveRunningRemovesRemaps() {
	unlinked_start || return 0
	pid=$E2E_PID
	e2e_amber_ok dump -t "$pid" -D "$T/img" --leave-running || return 0
	assertTrue "the tree still runs after --leave-running" "e2e_alive $pid"
	assertTrue "the dump wrote remaps.img" "[ -s '$T/img/remaps.img' ]"
	assertEquals "ghost images (the O_TMPFILE file got a remap, not a ghost)" 2 \
		"$(ls "$T/img" | grep -c '^ghost-.*\.img$')"
	assert_no_remap "after --leave-running" empty
	assertEquals "the original's check after the dump" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

# --leave-running --keep-link-remaps: the remap stays, and is what a restore
# (once the original is gone) needs.
testKeepLinkRemaps() {
	unlinked_start || return 0
	pid=$E2E_PID
	e2e_amber_ok dump -t "$pid" -D "$T/img" --leave-running --keep-link-remaps || return 0
	assertTrue "the tree still runs after --leave-running" "e2e_alive $pid"
	assert_one_remap
	kill -9 "$pid"
	e2e_reap "$pid"
	e2e_restore_detached "$T/img" || return 0
	assertEquals "the restored pid" "$pid" "$E2E_PID"
	assert_no_remap "after the restore" empty
	assertEquals "unlinked's check after restore" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

testRemapDeletedByHand() {
	unlinked_start || return 0
	pid=$E2E_PID
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	assert_one_remap
	[ -n "$REMAP" ] || return 0
	rm -f "$REMAP"
	amber_refuses "remap" restore -D "$T/img" -d --pidfile "$T/restored.pid"
	assertContains "the failure names the missing remap" "$E2E_OUT" "$REMAP"
	e2e_poll 5 test ! -e "/proc/$pid" || fail "pid $pid exists after the failed restore: $(e2e_proc_ids "$pid")"
	assert_no_remap "after the failed restore" empty
}

testGhostLimit() {
	unlinked_start || return 0
	pid=$E2E_PID
	amber_refuses "ghost-limit" dump -t "$pid" -D "$T/img1" --ghost-limit 1000
	assertTrue "the tree still runs after the refused dump" "e2e_alive $pid"
	assert_no_remap "after the refused dump" empty
	# The limit is inclusive: ghost.txt has 20000 bytes.
	amber_refuses "ghost-limit" dump -t "$pid" -D "$T/img2" --ghost-limit 19999
	assertTrue "the tree still runs after the refused dump" "e2e_alive $pid"
	e2e_amber_ok dump -t "$pid" -D "$T/img3" --ghost-limit 20000 --leave-running
	assertTrue "the tree still runs after --leave-running" "e2e_alive $pid"
	assert_no_remap "after the dumps" empty
	assertEquals "the original's check after the dumps" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

# memfds: name, contents, offset and seals come back.
testMemfd() {
	e2e_roundtrip memfd
}

. /usr/share/shunit2/shunit2
