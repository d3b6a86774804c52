#!/bin/sh
# t012-errors: the CLI's error paths that t010-spine.sh does not cover:
# dumping amber's own ancestors, missing options, incomplete and truncated
# dumps, a file id over its bound, 'amber show' on a bad image, every
# stage's --help, and the rerun command the driver prints after a failed
# stage.
#
# Each failure must be a clear message naming its object (pid, image file),
# leave nothing behind (no process, no mount, no stray stage), and exit with
# the documented class (lib/exitcodes.h: 2 usage, 3 bad input).
# Run: sh tests/e2e/t012-errors.sh (AMBER_BUILD=DIR for another build dir).

. "$(dirname "$0")/lib.sh"

STAGES_DIR=$E2E_BUILD/libexec/amber

# Dumps a fresh spine into $T/img and frees its pid; sets pid.
spine_dumped() {
	e2e_start_spine || return 1
	pid=$E2E_PID
	e2e_dump_and_reap "$pid" "$T/img"
}

# No process may hold the dumped pid, and no amber process may still work on
# this test's directory (a stage left behind by a rollback).
assert_nothing_left() {
	sleep 0.2
	assertFalse "no process $pid after a failed restore" "e2e_alive $pid"
	e2e_alive "$pid" && e2e_track "$pid"
	_left=
	for _c in /proc/[0-9]*/cmdline; do
		_p=${_c#/proc/}
		_p=${_p%/cmdline}
		[ "$_p" = "$$" ] && continue
		if tr '\0' ' ' 2>/dev/null <"$_c" | grep -q "amber.* .*$T"; then
			e2e_alive "$_p" && _left="$_left $_p"
		fi
	done
	assertEquals "amber processes left working on $T" "" "$_left"
	assertEquals "mounts left under $T" "" "$(grep -F "$T" /proc/self/mountinfo)"
}

# The test's own shell is an ancestor of amber: dumping it would freeze amber.
testDumpOwnShellRefused() {
	e2e_need_amber || return 0
	e2e_amber dump -t $$ -D "$T/img"
	rc=$?
	assertEquals "dumping the test shell is bad input: $E2E_OUT" 3 "$rc"
	assertContains "the message names the pid" "$E2E_OUT" "$$"
	assertContains "the message says why" "$E2E_OUT" "amber itself or one of its parents"
	st=$(e2e_state $$)
	assertTrue "the shell is not left stopped (state $st)" "[ '$st' = S ] || [ '$st' = R ]"
	assertEquals "the shell is not left traced" 0 "$(awk '/^TracerPid:/ { print $2 }' /proc/$$/status)"
	assertFalse "no images written" "[ -e '$T/img/inventory.img' ] || [ -e '$T/img/core-$$.img' ]"
}

# amber's direct parent (the timeout(1) that e2e_amber runs it under) as well.
testDumpParentRefused() {
	e2e_need_amber || return 0
	# A subshell whose child is amber: $PPID of amber is that shell.
	out=$(sh -c 'exec "$1" dump -t $$ -D "$2" 2>&1' sh "$AMBER" "$T/img")
	rc=$?
	assertEquals "dumping amber's own pid is bad input: $out" 3 "$rc"
	assertContains "the message says why" "$out" "amber itself or one of its parents"
}

testDumpWithoutPid() {
	e2e_need_amber || return 0
	e2e_amber dump -D "$T/img"
	rc=$?
	assertEquals "amber dump without -t is a usage error: $E2E_OUT" 2 "$rc"
	assertContains "the message names the missing option" "$E2E_OUT" "-t PID"
	assertFalse "nothing is created" "[ -e '$T/img' ]"
}

testDumpWithoutDir() {
	e2e_need_amber || return 0
	e2e_amber dump -t 1
	rc=$?
	assertEquals "amber dump without -D is a usage error: $E2E_OUT" 2 "$rc"
	assertContains "the message names the missing option" "$E2E_OUT" "-D DIR"
}

testRestoreWithoutDir() {
	e2e_need_amber || return 0
	e2e_amber restore -d
	assertEquals "amber restore without -D is a usage error" 2 $?
	assertContains "the message names the missing option" "$E2E_OUT" "-D DIR"
}

# No inventory.img: a dump that failed or is still running.
testRestoreIncompleteDump() {
	e2e_need_amber || return 0
	spine_dumped || return 0
	rm -f "$T/img/inventory.img"
	e2e_amber_fails "inventory.img" restore -D "$T/img" -d
	assertContains "the message says the dump is incomplete" "$E2E_OUT" "complete"
	assert_nothing_left
}

# A truncated pages image: its header says how long it was. And one whose
# header is made to agree: the pagemap then points past its end.
testRestoreTruncatedPages() {
	e2e_need_amber || return 0
	spine_dumped || return 0
	pages=$(cd "$T/img" && ls pages-*.img | head -n 1)
	[ -n "$pages" ] || { fail "the dump wrote no pages image"; return 0; }
	# The 4 KiB header and one page.
	truncate -s 8192 "$T/img/$pages"
	e2e_amber_fails "$pages" restore -D "$T/img" -d
	assertEquals "a truncated pages image is bad input" 3 "$_rc"
	assertContains "the message says it is truncated" "$E2E_OUT" "'$pages' is truncated"
	assertNotContains "no crash" "$E2E_OUT" "signal"
	assert_nothing_left
	e2e_image_refinish "$T/img/$pages"
	e2e_amber_fails "$pages" restore -D "$T/img" -d
	assertEquals "a pagemap past the end of its pages is bad input" 3 "$_rc"
	assertContains "the message names the pagemap" "$E2E_OUT" "pagemap-$pid.img"
	assert_nothing_left
}

# A files.img record whose file id is over the bound of images/image.h:
# restore-files and restore-tasks index tables by file id, which must never
# be sized by it. A clean input error names the image, the record and the
# bound.
testRestoreFileIdOverBound() {
	e2e_need_amber || return 0
	spine_dumped || return 0
	"$E2E_PYTHON" - "$T/img/files.img" <<'EOF' || { fail "could not patch files.img"; return 0; }
import struct, sys
path = sys.argv[1]
b = open(path, 'rb').read()
hdr = struct.unpack_from('<I', b, 12)[0]
n = struct.unpack_from('<I', b, hdr)[0]
rec = b[hdr + 4:hdr + 4 + n]
assert rec[0] == 0x08, 'field 1 (the id), a varint, comes first'
i = 1
while rec[i] & 0x80:
    i += 1
rec = b'\x08\xff\xff\xff\xff\x0f' + rec[i + 1:]
open(path, 'wb').write(b[:hdr] + struct.pack('<I', len(rec)) + rec + b[hdr + 4 + n:])
EOF
	e2e_image_refinish "$T/img/files.img"
	e2e_amber restore -D "$T/img" -d
	assertEquals "a file id over the bound is bad input: $E2E_OUT" 3 $?
	assertContains "it names the image, the record and the bound" "$E2E_OUT" \
		"'files.img': record 0: file id 4294967295 is over the limit of 4194304"
	assertNotContains "no crash" "$E2E_OUT" "signal"
	assert_nothing_left
}

# A truncated image: exit 3 and the file named, for one file and for the dir.
testShowTruncatedImage() {
	e2e_need_amber || return 0
	spine_dumped || return 0
	truncate -s 10 "$T/img/core-$pid.img"
	e2e_amber show "$T/img/core-$pid.img"
	assertEquals "amber show of a truncated header" 3 $?
	assertContains "it names the file" "$E2E_OUT" "core-$pid.img"
	assertContains "it says what is wrong" "$E2E_OUT" "truncated"
	truncate -s 40 "$T/img/mm-$pid.img"
	e2e_amber show "$T/img/mm-$pid.img"
	assertEquals "amber show of a truncated record" 3 $?
	assertContains "it names the file" "$E2E_OUT" "mm-$pid.img"
	assertContains "it says what is wrong" "$E2E_OUT" "truncated"
	e2e_amber show "$T/img"
	assertEquals "amber show of the dump dir" 3 $?
	assertContains "the summary names the file" "$E2E_OUT" "core-$pid.img"
	assertContains "and the other one" "$E2E_OUT" "mm-$pid.img"
	e2e_amber show --json "$T/img"
	assertEquals "amber show --json of the dump dir" 3 $?
	e2e_amber show "$T/img/core-1.img"
	assertEquals "amber show of a missing file" 3 $?
	assertContains "it names the file" "$E2E_OUT" "core-1.img"
}

# Every stage is an ordinary executable with --help, run directly or through
# 'amber stage NAME --help', and exits 0 with a usage text.
testStageHelp() {
	e2e_need_amber || return 0
	n=0
	for bin in "$STAGES_DIR"/amber-*; do
		[ -x "$bin" ] || continue
		name=${bin##*/amber-}
		n=$((n + 1))
		out=$(timeout 10 "$bin" --help 2>&1)
		assertEquals "amber-$name --help exits 0: $out" 0 $?
		assertContains "amber-$name --help prints its usage" "$out" "usage: amber-$name"
		e2e_amber stage "$name" --help
	assertEquals "amber stage $name --help exits 0" 0 $?
		assertContains "amber stage $name --help prints its usage" "$E2E_OUT" "usage: amber-$name"
	done
	assertTrue "found the stages in $STAGES_DIR" "[ $n -ge 6 ]"
	e2e_amber stage no-such-stage --help
	assertEquals "an unknown stage is a usage error" 2 $?
	assertContains "it names the stage" "$E2E_OUT" "no-such-stage"
}

# Makes the first sigaction of core-$pid.img one for SIGKILL, which the
# kernel refuses (EINVAL) when restore-tasks sets it in the transplanted
# task: a failure late in the restore, caused by the image.
core_sigaction_for_sigkill() {
	"$E2E_PYTHON" - "$T/img/core-$pid.img" <<'EOF_PY'
import struct, sys
path = sys.argv[1]
b = bytearray(open(path, 'rb').read())
hdr = struct.unpack_from('<I', b, 12)[0]
def varint(i):
    v = s = 0
    while True:
        c = b[i]; v |= (c & 0x7f) << s; i += 1; s += 7
        if not c & 0x80: return v, i
i, end = hdr + 4, hdr + 4 + struct.unpack_from('<I', b, hdr)[0]
while i < end:
    tag, i = varint(i)
    wt = tag & 7
    if wt == 0: _, i = varint(i)
    elif wt == 1: i += 8
    elif wt == 5: i += 4
    else:
        n, j = varint(i)
        if tag >> 3 == 20:			# SigactionEntry, field 1 (sig) first
            assert b[j] == 0x08 and b[j + 1] < 0x80
            b[j + 1] = 9
            break
        i = j + n
else:
    sys.exit('no sigaction in ' + path)
open(path, 'wb').write(bytes(b))
EOF_PY
}

# After a failed restore the driver prints 'sh RUN/rerun-STAGE.sh'; running
# that exact line fails the same way, and leaves nothing behind either. So
# does 'amber stage restore-tasks --replay RUN' typed by hand. The failure is
# an image value the kernel refuses in the transplanted task: bad input.
testRerunReproducesFailure() {
	e2e_need_amber || return 0
	spine_dumped || return 0
	core_sigaction_for_sigkill || { fail "could not patch core-$pid.img"; return 0; }
	e2e_amber_fails "set the action of signal 9" restore -D "$T/img" -d
	assertEquals "a value the kernel refuses is bad input" 3 "$_rc"
	assertContains "it says it comes from the images" "$E2E_OUT" "refuses a value from the images"
	first=$(printf '%s\n' "$E2E_OUT" | grep -F "signal 9" | grep -v "rerun" | head -n 1)
	reason=$(printf '%s\n' "$first" | sed 's/^.*failed ([^)]*): //')
	assertContains "the driver names the failed stage" "$E2E_OUT" "stage 'restore-tasks' failed"
	rerun=$(printf '%s\n' "$E2E_OUT" | sed -n "s/^.*with: \(sh [^ ]*rerun-[a-z-]*\.sh'\{0,1\}\).*\$/\1/p" | head -n 1)
	assertNotNull "the driver printed a rerun command: $E2E_OUT" "$rerun"
	[ -n "$rerun" ] || return 0
	assertContains "the rerun is of the failed stage" "$rerun" "rerun-restore-tasks.sh"
	run=$(dirname "$(printf '%s' "${rerun#sh }" | tr -d "'")")
	assertTrue "the run dir holds the recorded input" "ls '$run'/*-restore-tasks.in >/dev/null"

	# The exact printed line, as a user would paste it.
	out=$(cd / && eval "timeout -k 5 60 $rerun" 2>&1)
	rc=$?
	assertEquals "the rerun fails as bad input again: $out" 3 "$rc"
	assertContains "the rerun gives the same reason" "$out" "$reason"
	assertContains "the rerun logs at -v4 (remote syscalls)" "$out" "syscall"
	assert_nothing_left

	# And by hand, without the script.
	e2e_amber stage restore-tasks --replay "$run" -D "$T/img"
	assertEquals "amber stage restore-tasks --replay fails the same way: $E2E_OUT" 3 $?
	assertContains "with the same reason" "$E2E_OUT" "$reason"
	assert_nothing_left
}

# The first stage's replay (no live objects needed) fails like the restore did.
testReplayCollectPstree() {
	e2e_need_amber || return 0
	spine_dumped || return 0
	rm -f "$T/img/inventory.img"
	e2e_amber_fails "inventory.img" restore -D "$T/img" -d
	run=$T/img/restore.run
	[ -d "$run" ] || { fail "no run dir $run: $(ls "$T/img")"; return 0; }
	e2e_amber stage collect-pstree --replay "$run" -D "$T/img"
	assertEquals "collect-pstree replay still fails without inventory.img" 3 $?
	assertContains "naming it" "$E2E_OUT" "inventory.img"
}

# Each subcommand takes only its own options: another's is refused by name,
# before anything runs (no run directory, no stage).
testOptionOfAnotherCommandRefused() {
	e2e_need_amber || return 0
	e2e_amber dump --pidns --show -t 1 -D "$T/img"
	assertEquals "dump --pidns --show is a usage error: $E2E_OUT" 2 $?
	assertContains "it names the option and the subcommand" "$E2E_OUT" "--pidns is not an option of 'amber dump'"
	assertContains "and which subcommand takes it" "$E2E_OUT" "only of amber restore"
	assertFalse "nothing ran" "[ -e '$T/img/dump.run' ]"
	e2e_amber restore -D "$T/img" -t 5
	assertEquals "restore -t is a usage error" 2 $?
	assertContains "naming -t" "$E2E_OUT" "--tree (-t) is not an option of 'amber restore'"
	e2e_amber gc -D "$T/img" --inherit-fd 'fd[0]:pipe:[1]'
	assertEquals "gc --inherit-fd is a usage error" 2 $?
	assertContains "naming it" "$E2E_OUT" "--inherit-fd is not an option of 'amber gc'"
}

# 'amber stage --help' and --list come from the pipeline tables: every stage
# folder is in them, and doc/stages.md is what the tables and manuals make.
testStageListsComeFromTables() {
	e2e_need_amber || return 0
	e2e_amber stage --help
	assertEquals "amber stage --help exits 0" 0 $?
	list=$("$AMBER" stage --list)
	for d in "$E2E_SRC"/stages/*/; do
		name=$(basename "$d")
		assertContains "amber stage --help names $name" "$E2E_OUT" "$name"
		assertContains "amber stage --list names $name" "$list" "$name"
	done
	out=$(AMBER=$AMBER sh "$E2E_SRC/doc/gen-stages.sh" --check 2>&1)
	assertEquals "doc/stages.md is generated from the tables and manuals: $out" 0 $?
	assertEquals "doc/stages.md has one section per stage" "$(ls -d "$E2E_SRC"/stages/*/ | wc -l)" \
		"$(grep -c '^## amber-' "$E2E_SRC/doc/stages.md")"
}

# A replayed restore-files gets a drain for its files socket (the channel
# table says so): it runs to the end on its recorded input.
testReplayRestoreFilesDrains() {
	e2e_need_amber || return 0
	spine_dumped || return 0
	pages=$(cd "$T/img" && ls pages-*.img | head -n 1)
	truncate -s 8192 "$T/img/$pages"
	e2e_amber_fails "$pages" restore -D "$T/img" -d
	run=$T/img/restore.run
	e2e_amber stage restore-files --replay "$run" -D "$T/img"
	assertEquals "restore-files replays to its end: $E2E_OUT" 0 $?
	assert_nothing_left
}

# A dump whose stage is SIGKILLed, whichever one, resumes the tree: the
# runner never kills seize, it tells it to resume, and rolls back the rest.
testEveryDumpStageKilledResumesTree() {
	e2e_need_amber || return 0
	e2e_start_spine || return 0
	pid=$E2E_PID
	for stage in dump-memory dump-files dump-mounts; do
		AMBER_TEST_FAIL_STAGE=$stage e2e_amber dump -t "$pid" -D "$T/img"
		assertEquals "a killed $stage fails the dump as a system error: $E2E_OUT" 4 $?
		assertContains "naming $stage" "$E2E_OUT" "stage '$stage' was killed"
		assertContains "and saying the tree goes on" "$E2E_OUT" "resumed and carries on"
		assertFalse "no inventory after a killed $stage" "[ -e '$T/img/inventory.img' ]"
		assertTrue "pid $pid runs on after a killed $stage" "e2e_alive $pid"
		st=$(e2e_state "$pid")
		assertTrue "pid $pid is not left stopped (state $st)" "[ '$st' = S ] || [ '$st' = R ]"
	done
	AMBER_TEST_FAIL_STAGE=seize e2e_amber dump -t "$pid" -D "$T/img"
	assertEquals "a killed seize fails the dump" 4 $?
	assertContains "and says the tree was not touched" "$E2E_OUT" "not touched"
	assertTrue "pid $pid runs on after a killed seize" "e2e_alive $pid"
	e2e_dump_and_reap "$pid" "$T/img"
	assertTrue "a dump after all that works" "[ -e '$T/img/inventory.img' ]"
}

# A kernel thread is named as one, not as a ptrace refusal.
testKernelThreadRefused() {
	e2e_need_amber || return 0
	kt=$(ps -e -o pid=,comm= | awk '$2 == "kthreadd" { print $1; exit }')
	[ -n "$kt" ] || { e2e_skip "no kthreadd in this pid namespace"; return 0; }
	e2e_amber dump -t "$kt" -D "$T/img"
	assertEquals "dumping a kernel thread is bad input: $E2E_OUT" 3 $?
	assertContains "it says what pid $kt is" "$E2E_OUT" "pid $kt (kthreadd) is a kernel thread"
}

# --timings prints a line per stage of the pipeline, and the figures add up:
# each stage starts and ends within the total, frozen is within it too.
timings_add_up() {
	printf '%s\n' "$1" | awk -v want="$2" '
	/^timings of amber/ { on = 1; next }
	on && $1 == "stage" { next }
	on && $1 == "total" { total = $2; next }
	on && $1 == "frozen" { frozen = $2; next }
	on && NF == 4 { n++; names = names " " $1; end[$1] = $2 + $3; cpu += $4 }
	END {
		if (n != split(want, w, " ")) { print "stages: " names; exit 1 }
		for (k in end) if (end[k] > total + 0.01) { print k " ends after the total"; exit 1 }
		if (frozen != "" && frozen > total + 0.01) { print "frozen > total"; exit 1 }
		if (total <= 0) { print "no total"; exit 1 }
	}'
}

testTimingsAddUp() {
	e2e_need_amber || return 0
	e2e_start_spine || return 0
	pid=$E2E_PID
	e2e_amber_ok dump -t "$pid" -D "$T/img" --timings || return 0
	assertContains "dump --timings shows the frozen time" "$E2E_OUT" "frozen"
	msg=$(timings_add_up "$E2E_OUT" "seize dump-memory dump-files dump-mounts")
	assertEquals "dump timings add up: $msg: $E2E_OUT" 0 $?
	e2e_wait_dead "$pid" && e2e_reap "$pid"
	e2e_amber_ok restore -D "$T/img" -d --pidfile "$T/restored.pid" --timings || return 0
	e2e_track "$(cat "$T/restored.pid")"
	msg=$(timings_add_up "$E2E_OUT" "collect-pstree collect-remaps build-mntns restore-files verify restore-tasks")
	assertEquals "restore timings add up: $msg: $E2E_OUT" 0 $?
	assertEquals "the restored spine carries on" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

. /usr/share/shunit2/shunit2
