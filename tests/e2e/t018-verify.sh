#!/bin/sh
# t018-verify: a restore checks the made tree against the images before any
# task of it runs (the verify stage, doc/design.md "Verify"). A restore that
# cannot give back a piece of state fails, naming the pid, the field, the
# dumped and the restored value, and leaves nothing running; --verify=warn
# prints the same and lets the tree run; --no-verify leaves the stage out;
# --verify=pages compares every restored page too.
#
# The difference used is a real one, not a faked stage: a hard rlimit above
# the restorer's own (crafted into core-PID.img with tests/tools/imgcraft),
# which a restore without CAP_SYS_RESOURCE cannot raise; restore-tasks warns
# and sets the highest it can, and verify catches that.
# Run: sh tests/e2e/t018-verify.sh (AMBER_BUILD=DIR for another build dir).

. "$(dirname "$0")/lib.sh"

CRAFT=$E2E_BUILD/tests/tools/imgcraft

# Dumps a spine and raises its RLIMIT_NOFILE (7) hard limit in the images
# above what this shell has; sets PID and HARD.
verify_crafted_dump() {
	e2e_need_amber || return 1
	[ -x "$CRAFT" ] || { fail "$CRAFT is not built"; return 1; }
	e2e_start_spine || return 1
	PID=$E2E_PID
	e2e_dump_and_reap "$PID" "$T/img" || return 1
	HARD=$(($(ulimit -Hn) + 1000))
	"$CRAFT" rlimit "$T/img" "$PID" 7 "$HARD" || { fail "imgcraft rlimit failed"; return 1; }
}

# A plain round trip is verified: the stage ran, compared, found nothing.
testRoundTripIsVerified() {
	e2e_need_amber || return 0
	e2e_start_spine || return
	PID=$E2E_PID
	e2e_dump_and_reap "$PID" "$T/img" || return
	e2e_amber_ok restore -D "$T/img" -d --pidfile "$T/restored.pid" -v3 -o "$T/restore.log" || return
	E2E_PID=$(cat "$T/restored.pid")
	e2e_track "$E2E_PID"
	assertTrue "the verify stage said what it compared: $(grep verify "$T/restore.log" | tail -3)" \
		"grep -q 'verify: I: [0-9]* fields of 1 processes compared, 0 differ' '$T/restore.log'"
	assertEquals "spine PASS after a verified restore" "PASS" "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

# A field the restore could not give back fails it, by name, with nothing
# left running.
testDifferenceFailsTheRestore() {
	verify_crafted_dump || return
	e2e_amber_fails "rlimit 7 hard: dumped $HARD, restored $(ulimit -Hn)" restore -D "$T/img" -d
	assertEquals "a difference is bad input" 3 "$_rc"
	assertContains "names the pid" "$E2E_OUT" "pid $PID: rlimit 7 hard"
	# verify, or restore-tasks on its verdict, whichever the driver sees end first.
	assertContains "says the tree differs from the images" "$E2E_OUT" "differs from the images"
	assertContains "says what lets it run anyway" "$E2E_OUT" "--verify=warn"
	e2e_poll 10 e2e_dead "$PID" || fail "pid $PID still runs after a restore that failed verification"
	assertFalse "no pin of a mount namespace is left" "ls '$T/img/restore.run/ns' 2>/dev/null | grep -q ."
}

# A verify failure leaves nothing behind: no process, no mount namespace
# pin, and no file the restore made (the socket file of a listener bound
# to a path, which restore-files binds again).
testDifferenceLeavesNoFile() {
	e2e_need_amber || return 0
	[ -x "$CRAFT" ] || { fail "$CRAFT is not built"; return 0; }
	mkdir -p "$T/d"
	e2e_start_wl listener "$T/d" || return 0
	PID=$E2E_PID
	e2e_dump_and_reap "$PID" "$T/img" || return 0
	rm -f "$T/d/sock"
	HARD=$(($(ulimit -Hn) + 1000))
	"$CRAFT" rlimit "$T/img" "$PID" 7 "$HARD" || { fail "imgcraft rlimit failed"; return 0; }
	e2e_amber_fails "rlimit 7 hard" restore -D "$T/img" -d
	assertEquals "a difference is bad input" 3 "$_rc"
	e2e_poll 10 e2e_dead "$PID" || fail "pid $PID still runs after a restore that failed verification"
	assertFalse "the socket file the restore bound is removed again" "[ -e '$T/d/sock' ]"
	assertFalse "no pin of a mount namespace is left" "ls '$T/img/restore.run/ns' 2>/dev/null | grep -q ."
}

# --verify=warn: the same difference printed, and the tree runs.
testWarnLetsTheTreeRun() {
	verify_crafted_dump || return
	e2e_amber_ok restore -D "$T/img" -d --pidfile "$T/restored.pid" --verify=warn || return
	assertContains "the difference is printed" "$E2E_OUT" "pid $PID: rlimit 7 hard: dumped $HARD"
	E2E_PID=$(cat "$T/restored.pid")
	e2e_track "$E2E_PID"
	assertEquals "spine PASS" "PASS" "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

# --no-verify: no verify stage runs at all (and the difference goes unseen,
# but for restore-tasks' own warning).
testNoVerifyLeavesTheStageOut() {
	verify_crafted_dump || return
	e2e_amber_ok restore -D "$T/img" -d --pidfile "$T/restored.pid" --no-verify || return
	E2E_PID=$(cat "$T/restored.pid")
	e2e_track "$E2E_PID"
	assertFalse "no verify stage ran" "ls '$T/img/restore.run' | grep -q verify"
	assertNotContains "nothing compared" "$E2E_OUT" "differs from the images"
	assertEquals "spine PASS" "PASS" "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

# --verify=pages: every page compared as well, on a tree with some memory.
testPagesAreCompared() {
	e2e_need_amber || return 0
	e2e_start "$E2E_WL/memhog" 64 "$T/ready" "$T/result"
	PID=$E2E_PID
	e2e_poll 30 test -s "$T/ready" || { fail "memhog did not get ready"; return; }
	e2e_dump_and_reap "$PID" "$T/img" || return
	e2e_amber_ok restore -D "$T/img" -d --pidfile "$T/restored.pid" --verify=pages -v4 -o "$T/restore.log" || return
	E2E_PID=$(cat "$T/restored.pid")
	e2e_track "$E2E_PID"
	assertTrue "the pages were compared: $(grep 'pages compared' "$T/restore.log")" \
		"grep -q 'verify: D: pid $PID: [0-9]* pages compared' '$T/restore.log'"
	n=$(sed -n "s/.*verify: D: pid $PID: \([0-9]*\) pages compared.*/\1/p" "$T/restore.log")
	assertTrue "at least the 64 MiB the workload filled ($n pages)" "[ '${n:-0}' -ge 16384 ]"
}

# A bad mode is a usage error naming the choices.
testBadVerifyMode() {
	e2e_need_amber || return 0
	e2e_amber_fails "want fail, warn, pages or off" restore -D "$T/img" --verify=maybe
	assertEquals "usage" 2 "$_rc"
}

. /usr/share/shunit2/shunit2
