#!/bin/sh
# t016-restore-rollback: a restore that fails after restore-tasks has made
# multi-threaded processes always ends, promptly, and leaves nothing behind
# (issue 11). The last process's pages image is cut short, so restore-tasks
# fails in its transplant, once the processes before it have all their
# threads; its rollback kills them, and a thread group leader is reaped only
# after its threads, which are restore-tasks' tracees (a blocking wait on the
# leader used to hang), while the processes whose parent died first become
# the driver's (a child subreaper), which reaps them too.
#
# Expects of amber: 'restore -D DIR' exits 3 within seconds, naming the
# pages image, every time, and afterwards none of the dumped pids and tids
# exists, not even as a zombie.
#
# Workloads: tests/workloads/threadtree.c (a root and two children, each
# with four threads), under tests/workloads/reaper.
# Run: sh tests/e2e/t016-restore-rollback.sh (AMBER_BUILD=DIR for another build dir).

. "$(dirname "$0")/lib.sh"

E2E_CMD_TIMEOUT=${AMBER_E2E_CMD_TIMEOUT:-30}

tearDown() {
	e2e_teardown_trees
	e2e_teardown
}

# The pids and tids pstree.img of $1 lists, one a line, in its order.
dumped_ids() {
	"$AMBER" show "$1/pstree.img" | tr -d ' ' | sed -n 's/^"threads":\[\(.*\)\],\{0,1\}$/\1/p' | tr ',' '\n'
}

# The last process pstree.img of $1 lists.
last_pid() {
	"$AMBER" show "$1/pstree.img" | tr -d ' ' | sed -n 's/^"pid":\([0-9]*\),$/\1/p' | tail -n 1
}

# Prints each of the ids $@ that exists, with its state.
still_there() {
	for _id in "$@"; do
		[ -e "/proc/$_id" ] && echo "$_id ($(e2e_state "$_id"))"
	done
}

testFailedRestoreOfThreadsEnds() {
	e2e_need_amber || return 0
	rm -f "$T/ready" "$T/result"
	e2e_start_tree "$E2E_WL/threadtree" "$T/ready" "$T/result" 4 2 || return 0
	e2e_poll 10 test -s "$T/ready" || { fail "threadtree did not get ready: $(cat "$T/wl.err")"; return 0; }
	pid=$E2E_PID
	e2e_amber_ok dump -t "$pid" -D "$T/img" || return 0
	e2e_wait_tree_gone 10 || return 0
	ids=$(dumped_ids "$T/img")
	assertEquals "three processes of five tasks each were dumped" 15 "$(echo "$ids" | wc -l)"
	last=$(last_pid "$T/img")
	truncate -s 8192 "$T/img/pages-$last.img"
	# The hang was a race (8 of 19 tries): try a few times.
	for try in 1 2 3 4 5 6; do
		start=$(date +%s)
		e2e_amber restore -D "$T/img"
		rc=$?
		took=$(($(date +%s) - start))
		assertEquals "try $try: the restore fails as bad input: $E2E_OUT" 3 "$rc"
		assertContains "try $try: naming the pages image" "$E2E_OUT" "pages-$last.img"
		assertTrue "try $try: it ends promptly (took $took s)" "[ $took -lt 10 ]"
		left=$(still_there $ids)
		assertEquals "try $try: no dumped pid or tid is left, not even a zombie" "" "$left"
		[ -z "$left" ] || break
	done
}

. /usr/share/shunit2/shunit2
