#!/bin/sh
# t014-dumpdir: an images directory holds one whole dump or none (issue 11).
#
# A dump writes into a fresh sibling directory and takes -D's name only when
# complete; -D is locked meanwhile, so concurrent dumps, restores and gcs of
# it are refused rather than mixed. An existing dump is replaced only with
# --force, and then atomically; a directory holding anything not amber's is
# never replaced. Run directories are not followed when they are symlinks,
# a killed restore's pins do not block the next restore, and the rerun
# hint is quoted so that pasting it cannot run what a path holds.
# Run: sh tests/e2e/t014-dumpdir.sh (AMBER_BUILD=DIR for another build dir).

. "$(dirname "$0")/lib.sh"

# The dump in $1 names root pid $2, and holds no core image of another pid.
assert_dump_of() {
	out=$("$AMBER" show "$1" 2>&1)
	assertEquals "amber show $1 accepts the dump: $out" 0 $?
	assertTrue "the dump is of pid $2: $out" "printf '%s' \"\$out\" | grep -q 'root pid $2\\|pid $2'"
	for f in "$1"/core-*.img; do
		case "$f" in
		*"core-$2.img") ;;
		*) fail "stale image $f beside the dump of pid $2" ;;
		esac
	done
}

# No temporary directory of a dump is left beside $1.
assert_no_temporary() {
	left=$(ls -a "$(dirname "$1")" | grep -F ".$(basename "$1").amber-")
	assertEquals "temporary dump directories left beside $1" "" "$left"
}

testRedumpNeedsForce() {
	e2e_need_amber || return 0
	e2e_start_spine || return 0
	first=$E2E_PID
	e2e_dump_and_reap "$first" "$T/img" || return 0
	sum=$(cd "$T/img" && cat *.img | md5sum)
	e2e_start_spine || return 0
	second=$E2E_PID
	e2e_amber dump -t "$second" -D "$T/img"
	assertEquals "a dump into a dump is a usage error: $E2E_OUT" 2 $?
	assertContains "it says how to replace it" "$E2E_OUT" "--force"
	assertTrue "pid $second runs on" "e2e_alive $second"
	assertEquals "the first dump is untouched" "$sum" "$(cd "$T/img" && cat *.img | md5sum)"
	assert_no_temporary "$T/img"

	# --force replaces it with the second tree's images only.
	e2e_amber_ok dump -t "$second" -D "$T/img" --force || return 0
	e2e_wait_dead "$second" && e2e_reap "$second"
	assert_dump_of "$T/img" "$second"
	assert_no_temporary "$T/img"
	e2e_restore_detached "$T/img" || return 0
	assertEquals "the replaced dump restores the second tree" "$second" "$E2E_PID"
	assertEquals "and it carries on" PASS "$(e2e_spine_result "$second" "$T/result")"
}

# A re-dump with --force that fails (any stage killed) leaves the old dump
# exactly as it was, complete, and no temporary directory.
testFailedForcedRedumpKeepsOldDump() {
	e2e_need_amber || return 0
	e2e_start_spine || return 0
	first=$E2E_PID
	e2e_dump_and_reap "$first" "$T/img" || return 0
	sum=$(cd "$T/img" && cat *.img | md5sum)
	e2e_start_spine || return 0
	second=$E2E_PID
	for stage in dump-files dump-mounts seize; do
		AMBER_TEST_FAIL_STAGE=$stage e2e_amber dump -t "$second" -D "$T/img" --force
		assertNotEquals "a dump with $stage killed fails" 0 $?
		assertEquals "the old dump is untouched after a killed $stage" "$sum" "$(cd "$T/img" && cat *.img | md5sum)"
		assert_no_temporary "$T/img"
		assertTrue "pid $second runs on" "e2e_alive $second"
	done
	assert_dump_of "$T/img" "$first"
}

# Two dumps of two trees into one directory at once: one wins, whole; the
# other is refused and its tree runs on.
testConcurrentDumps() {
	e2e_need_amber || return 0
	e2e_start_spine || return 0
	a=$E2E_PID
	cp "$T/result" "$T/result.a" 2>/dev/null
	e2e_start_spine || return 0
	b=$E2E_PID
	timeout 60 "$AMBER" dump -t "$a" -D "$T/img" >"$T/a.out" 2>&1 &
	pa=$!
	timeout 60 "$AMBER" dump -t "$b" -D "$T/img" >"$T/b.out" 2>&1 &
	pb=$!
	wait "$pa"
	ra=$?
	wait "$pb"
	rb=$?
	assertTrue "exactly one dump succeeded (a: $ra, b: $rb): $(cat "$T/a.out" "$T/b.out")" \
		"[ \$(( (ra == 0) + (rb == 0) )) -eq 1 ]"
	if [ "$ra" -eq 0 ]; then winner=$a loser=$b out=$T/b.out; else winner=$b loser=$a out=$T/a.out; fi
	assertTrue "the loser was refused by name: $(cat "$out")" "grep -q 'another amber is using\\|holds a dump already' '$out'"
	assertTrue "the loser's tree runs on" "e2e_alive $loser"
	e2e_wait_dead "$winner" && e2e_reap "$winner"
	assert_dump_of "$T/img" "$winner"
	assert_no_temporary "$T/img"
}

# A directory with anything that is not amber's is never dumped into, and
# keeps its mode; the lock refuses a dump, a restore and a gc.
testForeignDirectoryAndLock() {
	e2e_need_amber || return 0
	e2e_start_spine || return 0
	pid=$E2E_PID
	mkdir -m 0755 "$T/home"
	echo precious >"$T/home/notes.txt"
	e2e_amber dump -t "$pid" -D "$T/home" --force
	assertEquals "a directory with other files is refused" 2 $?
	assertContains "naming the file" "$E2E_OUT" "notes.txt"
	assertEquals "its mode is left alone" 755 "$(stat -c %a "$T/home")"
	assertEquals "its file is left alone" precious "$(cat "$T/home/notes.txt")"

	mkdir "$T/img"
	flock -x "$T/img" sleep 5 &
	holder=$!
	sleep 0.3
	e2e_amber dump -t "$pid" -D "$T/img"
	assertEquals "a dump of a locked directory is refused" 2 $?
	assertContains "saying why" "$E2E_OUT" "another amber is using"
	e2e_amber restore -D "$T/img" -d
	assertEquals "so is a restore" 2 $?
	e2e_amber gc -D "$T/img"
	assertEquals "and a gc" 2 $?
	kill "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null
	assertTrue "pid $pid runs on" "e2e_alive $pid"
}

# A run directory that is a symlink is not followed, and files amber did not
# write in a run directory are not deleted.
testRunDirSymlinkRefused() {
	e2e_need_amber || return 0
	e2e_start_spine || return 0
	pid=$E2E_PID
	mkdir "$T/victim"
	echo keep >"$T/victim/01-seize.in"
	echo keep >"$T/victim/other"
	ln -s "$T/victim" "$T/run"
	e2e_amber dump -t "$pid" -D "$T/img" --run-dir "$T/run"
	assertEquals "a symlinked run directory is refused: $E2E_OUT" 2 $?
	assertContains "naming it" "$E2E_OUT" "symlink"
	assertEquals "nothing in its target is touched" "keep keep" "$(cat "$T/victim/01-seize.in" "$T/victim/other" | tr '\n' ' ' | sed 's/ $//')"
	assertTrue "pid $pid runs on" "e2e_alive $pid"
	mkdir "$T/rd"
	echo mine >"$T/rd/notes"
	e2e_dump_and_reap "$pid" "$T/img2" || return 0
	e2e_amber_ok gc -D "$T/img2" --run-dir "$T/rd"
	assertEquals "a run directory's other files stay" mine "$(cat "$T/rd/notes")"
}

# The pins of a killed restore are cleaned up by the next one.
testStalePinCleanedUp() {
	e2e_need_amber || return 0
	e2e_start_spine || return 0
	pid=$E2E_PID
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	mkdir -p "$T/img/restore.run/ns"
	touch "$T/img/restore.run/ns/mnt.1"
	# A pin is a bind of another mount namespace's file, as build-mntns makes.
	unshare -m sleep 30 &
	holder=$!
	e2e_track "$holder"
	sleep 0.3
	mount --bind "/proc/$holder/ns/mnt" "$T/img/restore.run/ns/mnt.1" || { fail "cannot make a pin"; return 0; }
	kill "$holder"
	e2e_restore_detached "$T/img" || return 0
	assertEquals "the restore ran despite the stale pin" "$pid" "$E2E_PID"
	assertEquals "the stale pin is gone" "" "$(grep -F "$T/img/restore.run/ns" /proc/self/mountinfo)"
	assertEquals "and it carries on" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

# The rerun hint is quoted: pasting it for a run directory named with a
# command substitution runs the stage, not the command.
testRerunHintQuoted() {
	e2e_need_amber || return 0
	e2e_start_spine || return 0
	pid=$E2E_PID
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	rm -f "$T/img/inventory.img"
	run="$T/run \$(touch pwned)"
	e2e_amber restore -D "$T/img" -d --run-dir "$run"
	assertEquals "the restore fails on the missing inventory" 3 $?
	hint=$(printf '%s\n' "$E2E_OUT" | sed -n 's/^.*with: \(sh .*rerun-[a-z-]*\.sh'"'"'\).*$/\1/p' | head -n 1)
	assertNotNull "a rerun hint was printed: $E2E_OUT" "$hint"
	out=$(cd "$T" && eval "timeout -k 5 60 $hint" 2>&1)
	assertEquals "the pasted hint reruns the stage: $out" 3 $?
	assertFalse "the command in the path did not run" "[ -e '$T/pwned' ]"
	cmd=$(cat "$run"/*-collect-pstree.cmd)
	assertContains "the .cmd file quotes its input redirect: $cmd" "$cmd" "< '"
}

# A FIFO (or directory) named like an image is refused at once by restore
# and show, never waited on.
testFifoImageRefused() {
	e2e_need_amber || return 0
	e2e_start_spine || return 0
	pid=$E2E_PID
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	rm -f "$T/img/pstree.img"
	mkfifo "$T/img/pstree.img"
	e2e_amber restore -D "$T/img" -d
	assertEquals "restore refuses a FIFO image as bad input: $E2E_OUT" 3 $?
	assertContains "naming it" "$E2E_OUT" "'pstree.img' is not a regular file"
	e2e_amber show "$T/img/pstree.img"
	assertEquals "show refuses it too: $E2E_OUT" 3 $?
	e2e_amber show --stream "$T/img/pstree.img"
	assertEquals "show --stream refuses it: $E2E_OUT" 3 $?
	e2e_amber show "$T/img"
	assertNotEquals "show of the dump does not call it complete" 0 $?
	rm -f "$T/img/pstree.img"
	mkdir "$T/img/pstree.img"
	e2e_amber restore -D "$T/img" -d
	assertEquals "a directory named like an image is bad input" 3 $?
}

# Restore takes images only from a directory amber's user owns and others
# cannot write, unless told to trust it.
testUntrustedDirRefused() {
	e2e_need_amber || return 0
	e2e_start_spine || return 0
	pid=$E2E_PID
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	chmod 0777 "$T/img"
	e2e_amber restore -D "$T/img" -d
	assertEquals "a world-writable images directory is refused" 3 $?
	assertContains "saying how to trust it" "$E2E_OUT" "--allow-untrusted-dir"
	assertFalse "nothing was restored" "e2e_alive $pid"
	# Readable to the stages, which keep no CAP_DAC_OVERRIDE.
	chmod 0755 "$T/img"
	chown 65534 "$T/img"
	e2e_amber restore -D "$T/img" -d
	assertEquals "one another user owns is refused" 3 $?
	assertContains "naming the owner" "$E2E_OUT" "uid 65534"
	e2e_amber_ok restore -D "$T/img" -d --allow-untrusted-dir --pidfile "$T/restored.pid" || return 0
	E2E_PID=$(cat "$T/restored.pid")
	e2e_track "$E2E_PID"
	assertEquals "with --allow-untrusted-dir it restores" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

# A full disk is said as such, naming the stage and the image being
# written, and the tree runs on.
testFullDiskNamed() {
	e2e_need_amber || return 0
	e2e_start "$E2E_PYTHON" -c 'import time; x = bytearray(8 << 20); open("'"$T"'/ready", "w").write("R"); time.sleep(300)'
	pid=$E2E_PID
	e2e_poll 10 test -s "$T/ready" || { fail "python did not start"; return 0; }
	mkdir "$T/small"
	mount -t tmpfs -o size=1m tmpfs "$T/small" || { fail "cannot mount a small tmpfs"; return 0; }
	e2e_amber dump -t "$pid" -D "$T/small/img" --run-dir "$T/run"
	rc=$?
	umount "$T/small"
	assertEquals "a full disk is a system failure: $E2E_OUT" 4 "$rc"
	assertContains "it says so" "$E2E_OUT" "No space left on device"
	# Whichever stage fills the disk first (dump-memory's pages, most
	# often; under a sanitizer another stage's image may come first).
	assertTrue "naming the stage: $E2E_OUT" \
		"printf '%s' \"\$E2E_OUT\" | grep -Eq \"stage '(seize|dump-memory|dump-files|dump-mounts)' failed\""
	assertTrue "and the image: $E2E_OUT" "printf '%s' \"\$E2E_OUT\" | grep -Eq \"[a-z-]+(-[0-9]+)?\\.img\""
	assertTrue "pid $pid runs on" "e2e_alive $pid"
}

. /usr/share/shunit2/shunit2
