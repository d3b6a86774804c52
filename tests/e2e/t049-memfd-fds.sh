#!/bin/sh
# t049-memfd-fds: memfd descriptors saved like memfd mappings. A memfd of 20
# MiB with holes (over the 16 MiB an image record holds) that the process
# both holds and maps MAP_SHARED, and a 17 MiB memfd held only through an
# O_WRONLY description: dumped whatever --ghost-limit says, each memfd's
# images written once (one memfd-INO.img and one pages-memfd-INO.img, no
# ghost, no temporary file left), holes not saved, and after restore the
# contents, holes, flags, offset and seals are back and the descriptor and
# the mapping are one memfd. A --leave-running dump leaves the tree as it
# was; a memfd image missing or truncated at restore is a clear error
# naming the image, pid, fd and memfd, and leaves nothing running; a failed
# dump leaves no temporary file and no memfd image without its pages.
# Run: sh tests/e2e/t049-memfd-fds.sh (AMBER_BUILD=DIR for another build dir).

. "$(dirname "$0")/lib.sh"

# The descriptor of pid $1 that holds memfd $2 (its number, then its inode).
memfd_fd() {
	for _f in /proc/"$1"/fd/*; do
		if [ "$(readlink "$_f")" = "/memfd:$2 (deleted)" ]; then
			echo "${_f##*/} $(stat -L -c %i "$_f")"
			return 0
		fi
	done
	return 1
}

# Starts memfdbig; sets pid, BIG_FD, BIG_INO, WO_FD and WO_INO.
memfdbig_started() {
	e2e_need_amber || return 1
	e2e_start_wl memfdbig || return 1
	pid=$E2E_PID
	set -- $(memfd_fd "$pid" amber-big)
	BIG_FD=$1 BIG_INO=$2
	set -- $(memfd_fd "$pid" amber-wo)
	WO_FD=$1 WO_INO=$2
	[ -n "$BIG_INO" ] && [ -n "$WO_INO" ] || { fail "memfdbig holds no amber-big or amber-wo: $(ls -l /proc/$pid/fd)"; return 1; }
}

# Dumps the started memfdbig into $T/img with a --ghost-limit far below its
# memfds' sizes, and reaps it.
memfdbig_dump() {
	e2e_amber_ok dump -t "$pid" -D "$T/img" --ghost-limit 4096 ${MEMFDBIG_DUMP_ARGS:-} || return 1
	e2e_wait_dead "$pid" || { fail "pid $pid still runs after the dump"; return 1; }
	e2e_reap "$pid"
}

memfdbig_dumped() {
	memfdbig_started && memfdbig_dump
}

# A tiny --ghost-limit does not limit memfds, and each is saved once.
testBigMemfdRoundTrip() {
	memfdbig_dumped || return 0
	assertEquals "memfd images: one per memfd ($(ls "$T/img" | tr '\n' ' '))" \
		"memfd-$BIG_INO.img memfd-$WO_INO.img" "$(ls "$T/img" | grep '^memfd-.*\.img$' | sort | tr '\n' ' ' | sed 's/ $//')"
	assertEquals "memfd page images: one per memfd" 2 "$(ls "$T/img" | grep -c '^pages-memfd-.*\.img$')"
	assertEquals "no ghost image" 0 "$(ls "$T/img" | grep -c '^ghost-')"
	assertEquals "no temporary file left" "" "$(ls -A "$T/img" | grep '^\.tmp\.')"
	# Holes are free: 10 MiB and a page of data (and the 4096-byte header),
	# not 20 MiB; unless shmem huge pages filled them at the first write.
	if grep -q '\[\(never\|advise\|deny\)\]' /sys/kernel/mm/transparent_hugepage/shmem_enabled 2>/dev/null; then
		assertEquals "pages-memfd-$BIG_INO.img holds the data only" $((10 * 1048576 + 4096 + 4096)) \
			"$(stat -c %s "$T/img/pages-memfd-$BIG_INO.img")"
		assertEquals "amber-wo saved one page" $((4096 + 4096)) "$(stat -c %s "$T/img/pages-memfd-$WO_INO.img")"
	fi
	assertContains "files.img marks the memfd" "$("$AMBER" show --json "$T/img/files.img" | tr -d ' \n')" '"memfd":true'
	e2e_restore_detached "$T/img" || return 0
	assertEquals "the restored pid" "$pid" "$E2E_PID"
	assertEquals "memfdbig's check after restore" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

# A dump that leaves the tree running changes nothing it checks.
testLeaveRunning() {
	e2e_leave_running memfdbig
	assertEquals "no temporary file left" "" "$(ls -A "$T/img" | grep '^\.tmp\.')"
}

assert_nothing_restored() {
	sleep 0.2
	assertFalse "no process $pid after a failed restore" "e2e_alive $pid"
	if e2e_alive "$pid"; then
		e2e_track "$pid"
	fi
}

# The memfd that only a descriptor holds has lost its pages image.
testMissingMemfdPages() {
	memfdbig_dumped || return 0
	rm -f "$T/img/pages-memfd-$WO_INO.img"
	e2e_amber_fails "pages-memfd-$WO_INO.img" restore -D "$T/img" -d
	assertContains "the message names the memfd" "$E2E_OUT" "memfd 'amber-wo'"
	assertContains "and the pid and fd that held it" "$E2E_OUT" "pid $pid fd $WO_FD"
	assert_nothing_restored
}

testTruncatedMemfdPages() {
	memfdbig_dumped || return 0
	truncate -s 8192 "$T/img/pages-memfd-$BIG_INO.img"
	e2e_amber_fails "pages-memfd-$BIG_INO.img" restore -D "$T/img" -d
	assertContains "the message says it is truncated" "$E2E_OUT" "truncated"
	assertContains "the message names the memfd" "$E2E_OUT" "memfd 'amber-big'"
	assertContains "and the pid and fd that held it" "$E2E_OUT" "pid $pid fd $BIG_FD"
	assert_nothing_restored
}

# A dump into a directory that holds an earlier dump's images of the same
# inodes (and a killed writer's temporary file) saves the memfds again: the
# earlier images are not taken for this dump's.
testStaleImagesReplaced() {
	memfdbig_started || return 0
	mkdir -p "$T/img"
	printf 'stale' > "$T/img/pages-memfd-$WO_INO.img"
	printf 'stale' > "$T/img/memfd-$WO_INO.img"
	printf 'stale' > "$T/img/.tmp.pages-memfd-$BIG_INO.img.1"
	# Stale images make a dump there need --force (t014); then none is kept.
	e2e_amber dump -t "$pid" -D "$T/img" --ghost-limit 4096
	assertEquals "a directory with stale images needs --force: $E2E_OUT" 2 $?
	MEMFDBIG_DUMP_ARGS=--force
	memfdbig_dump || return 0
	MEMFDBIG_DUMP_ARGS=
	assertNotEquals "pages-memfd-$WO_INO.img was written again" stale "$(cat "$T/img/pages-memfd-$WO_INO.img" | head -c 5)"
	assertEquals "no temporary file left" "" "$(ls -A "$T/img" | grep '^\.tmp\.')"
	e2e_restore_detached "$T/img" || return 0
	assertEquals "memfdbig's check after restore" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

# A dump whose other memfd writer is SIGKILLed (AMBER_TEST_FAIL_STAGE, a
# driver test hook) fails, leaves no temporary file, and no memfd image
# without its pages; the tree runs on as it was.
testFailedDumpLeavesNoHalfImage() {
	memfdbig_started || return 0
	for stage in dump-files dump-memory; do
		export AMBER_TEST_FAIL_STAGE=$stage
		e2e_amber_fails "$stage" dump -t "$pid" -D "$T/img-$stage"
		unset AMBER_TEST_FAIL_STAGE
		assertEquals "$stage killed: no temporary file left" "" "$(ls -A "$T/img-$stage" | grep '^\.tmp\.')"
		for m in $(ls "$T/img-$stage" | grep '^memfd-.*\.img$'); do
			assertTrue "$stage killed: $m has its pages" "[ -f '$T/img-$stage/pages-$m' ]"
		done
		assertTrue "the tree runs on after the failed dump" "e2e_alive $pid"
	done
	assertEquals "the original's check after the failed dumps" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

tearDown() {
	e2e_teardown
}

# A program kept in a memfd can still be run from it (fexecve) after
# restore: its descriptor is memfd_create's own again, not a reopen that
# would count as a writer (ETXTBSY).
testMemfdExecutable() {
	e2e_roundtrip memfdexec
}

. /usr/share/shunit2/shunit2
