#!/bin/sh
# t075-lazy: 'amber restore --lazy-pages'. The private anonymous memory of
# the restored tree is served on fault by amber-lazy-pages and pushed in
# the background (here slowed with --lazy-push-rate so that the check runs
# while pages are still being pushed); dirtymem checks every page. A killed
# server means a killed tree, with the keeper's message in the log, and
# nothing of amber or the tree left running. A dump with a parent chain is
# served from the whole chain; --verify=pages is refused with --lazy-pages.

. "$(dirname "$0")/lib.sh"

export DIRTYMEM_MIB=${DIRTYMEM_MIB:-128}

# The keeper (first) and the server of the amber-lazy-pages serving dump $1.
lazy_procs() {
	pgrep -f "amber-lazy-pages -D $1 "
}

no_lazy() {
	! lazy_procs "$1" >/dev/null
}

dump_dirtymem() {
	e2e_start_wl dirtymem || return 1
	pid=$E2E_PID
	e2e_dump_and_reap "$pid" "$T/d" || return 1
}

testLazyRestorePassesWhileServing() {
	e2e_need_amber || return 0
	dump_dirtymem || return 0
	e2e_amber_ok restore -D "$T/d" -d --pidfile "$T/restored.pid" --lazy-pages --lazy-push-rate 32 || return 0
	E2E_PID=$(cat "$T/restored.pid")
	e2e_track "$E2E_PID"
	for p in $(lazy_procs "$T/d"); do e2e_track "$p"; done
	sleep 0.5
	result=$(e2e_spine_result "$E2E_PID" "$T/result")
	assertEquals "dirtymem's check after a lazy restore" PASS "$result"
	e2e_poll 20 no_lazy "$T/d" || fail "amber-lazy-pages still runs"
	log=$T/d/restore.run/lazy-pages.log
	# A fault served means the tree ran and touched a page not yet in.
	faulted=$(sed -n 's/.* faults served (\([0-9]*\) pages.*/\1/p' "$log" | tail -1)
	echo "t075: dirtymem passed its check; $faulted pages came on fault, the rest pushed"
	assertTrue "the tree ran while pages were still being served: $(cat "$log")" "[ '${faulted:-0}' -gt 0 ]"
	assertContains "faults were served" "$(cat "$log")" "faults served"
	assertContains "the keeper let go" "$(cat "$log")" "no longer depends on amber-lazy-pages"
}

testKilledServerKillsTree() {
	e2e_need_amber || return 0
	dump_dirtymem || return 0
	e2e_amber_ok restore -D "$T/d" -d --pidfile "$T/restored.pid" --lazy-pages --lazy-push-rate 4 || return 0
	E2E_PID=$(cat "$T/restored.pid")
	e2e_track "$E2E_PID"
	keeper=$(lazy_procs "$T/d" | head -1)
	server=$(pgrep -P "$keeper")
	assertNotNull "a keeper and a server" "$server"
	e2e_track "$keeper"
	e2e_track "$server"
	kill -9 "$server"
	e2e_wait_dead "$E2E_PID" || fail "the restored tree $E2E_PID runs on without its pages"
	e2e_wait_dead "$keeper" || fail "the keeper $keeper runs on"
	log=$T/d/restore.run/lazy-pages.log
	assertContains "the keeper says why: $(cat "$log")" "$(cat "$log")" "killed the restored processes"
	assertContains "naming the server" "$(cat "$log")" "server (pid $server) ended (killed by signal 9)"
	assertFalse "no result: the tree never checked zero pages" "[ -s '$T/result' ]"
}

# Once every page is pushed the tree runs on without amber-lazy-pages.
testTreeIndependentAfterPush() {
	e2e_need_amber || return 0
	dump_dirtymem || return 0
	e2e_amber_ok restore -D "$T/d" -d --pidfile "$T/restored.pid" --lazy-pages || return 0
	E2E_PID=$(cat "$T/restored.pid")
	e2e_track "$E2E_PID"
	e2e_poll 30 no_lazy "$T/d" || { fail "amber-lazy-pages still runs"; return 0; }
	assertTrue "the tree runs on" "e2e_alive $E2E_PID"
	assertEquals "dirtymem's check with every page pushed" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

# A dump with a parent chain: pages come from every directory of it.
testLazyRestoreOfChain() {
	e2e_need_amber || return 0
	e2e_start_wl dirtymem || return 0
	pid=$E2E_PID
	e2e_amber_ok pre-dump -t "$pid" -D "$T/p" || return 0
	sleep 0.3
	e2e_amber_ok dump -t "$pid" -D "$T/d" --prev-images-dir "$T/p" || return 0
	e2e_wait_dead "$pid" && e2e_reap "$pid"
	e2e_amber_fails "--verify=pages" restore -D "$T/d" -d --lazy-pages --verify=pages
	e2e_amber_fails "restore" dump -t 1 -D "$T/x" --lazy-pages
	e2e_amber_ok restore -D "$T/d" -d --pidfile "$T/restored.pid" --lazy-pages || return 0
	E2E_PID=$(cat "$T/restored.pid")
	e2e_track "$E2E_PID"
	assertContains "pages from the chain" "$(cat "$T/d/restore.run/lazy-pages.log")" "from 2 images directories"
	assertEquals "dirtymem's check after a lazy restore from a chain" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
	e2e_poll 30 no_lazy "$T/d" || fail "amber-lazy-pages still runs"
}

# A tree of multi-threaded processes: each process has its own userfaultfd.
testTreeWithThreads() {
	e2e_need_amber || return 0
	rm -f "$T/ready" "$T/result"
	e2e_start_tree "$E2E_WL/threadtree" "$T/ready" "$T/result" 3 2 || return 0
	e2e_poll 10 test -s "$T/ready" || { fail "threadtree did not get ready: $(cat "$T/wl.err")"; return 0; }
	root=$E2E_PID
	e2e_amber_ok dump -t "$root" -D "$T/d" || return 0
	e2e_wait_tree_gone 10 || return 0
	e2e_amber_ok restore -D "$T/d" -d --lazy-pages -v3 || return 0
	assertContains "three processes served" "$(cat "$T/d/restore.run/lazy-pages.log")" "pages in"
	assertEquals "threadtree's check after a lazy restore" PASS "$(e2e_spine_result "$root" "$T/result")"
	e2e_poll 30 no_lazy "$T/d" || fail "amber-lazy-pages still runs"
}

# amber migrate: pre-dumps until the written set stops shrinking, the
# final dump, a lazy restore; dirtymem (reaped by its reaper, so that its
# pid is free again at once) passes its check.
testMigrate() {
	e2e_need_amber || return 0
	rm -f "$T/ready" "$T/result"
	e2e_start_tree "$E2E_WL/dirtymem" "$T/ready" "$T/result" || return 0
	e2e_poll 10 test -s "$T/ready" || { fail "dirtymem did not get ready: $(cat "$T/wl.err")"; return 0; }
	root=$E2E_PID
	e2e_amber_ok migrate -t "$root" -D "$T/m" --max-iterations 4 --pidfile "$T/restored.pid" || return 0
	echo "$E2E_OUT" | grep '^amber migrate:'
	assertContains "the final dump" "$E2E_OUT" "the final dump copied"
	assertContains "pre-dumps" "$E2E_OUT" "pre-dump 2 copied"
	assertEquals "the restored root" "$root" "$(cat "$T/restored.pid")"
	e2e_track "$root"
	assertEquals "dirtymem's check after amber migrate" PASS "$(e2e_spine_result "$root" "$T/result")"
	e2e_poll 30 no_lazy "$T/m/final" || fail "amber-lazy-pages still runs"
}

tearDown() {
	e2e_teardown_trees
	e2e_teardown
}

. /usr/share/shunit2/shunit2
