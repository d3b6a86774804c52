#!/bin/sh
# t044-inotify: inotify instances come back with every watch, its number,
# mask and one-shot flag, and no stray event; a real program that lives on
# inotify (tail -f) carries on after a restore; a watched file removed
# before the restore is named, and nothing is left behind.

. "$(dirname "$0")/lib.sh"

start_inotify() {
	mkdir -p "$T/w"
	e2e_start_wl inotify "$T/w" || return 1
	pid=$E2E_PID
}

testInotify() {
	mkdir -p "$T/w"
	e2e_roundtrip inotify "$T/w"
}

testWatchedFileMissingAtRestore() {
	e2e_need_amber || return 0
	start_inotify || return 0
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	mv "$T/w/c" "$T/c.moved"
	e2e_amber_fails "$T/w/c" restore -D "$T/img" -d
	assertContains "the refusal says what happened" "$E2E_OUT" "removed or renamed since the dump"
	assertFalse "nothing was left running" "e2e_alive $pid"
}

# tail -f (coreutils, which follows the file with inotify) goes on printing
# what is appended to the file after it was restored.
testTailFollow() {
	e2e_need_amber || return 0
	seq 1 5 >"$T/log"
	e2e_start tail -n +1 -f "$T/log"
	pid=$E2E_PID
	e2e_poll 10 sh -c "grep -q '^5\$' '$T/wl.out' && ls -l /proc/$pid/fd | grep -q inotify" ||
		{ fail "tail did not start following with inotify: $(cat "$T/wl.err")"; return 0; }
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	e2e_restore_detached "$T/img" || return 0
	assertTrue "the restored tail holds an inotify" "ls -l /proc/$pid/fd | grep -q inotify"
	echo "after restore" >>"$T/log"
	e2e_poll 10 grep -q "after restore" "$T/wl.out" || fail "tail did not print the line appended after restore: $(cat "$T/wl.out")"
	assertEquals "every line once" "1 2 3 4 5 after restore" "$(tr '\n' ' ' <"$T/wl.out" | sed 's/ $//')"
	kill -9 "$pid"
}

. /usr/share/shunit2/shunit2
