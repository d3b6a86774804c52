#!/bin/sh
# t074-pageserver: 'amber page-server' receives the pages files of dumps
# over loopback TCP ('amber dump/pre-dump --page-server A:N'); the other
# images stay in -D. A dump and a pre-dump chain go through it; restore
# refuses until the pages are brought back, naming the file and the
# server, then restores from the combined directories and dirtymem checks
# every page. A dump to no server fails and leaves the tree running.

. "$(dirname "$0")/lib.sh"

export DIRTYMEM_MIB=${DIRTYMEM_MIB:-64}

# Starts a page server on a port the kernel picks for $1 sessions; sets srv and port.
start_server() {
	mkdir -p "$T/srv"
	"$AMBER" page-server --port 0 --address 127.0.0.1 -D "$T/srv" --sessions "$1" >"$T/ps.out" 2>"$T/ps.err" &
	srv=$!
	e2e_track "$srv"
	e2e_poll 10 grep -q '^port ' "$T/ps.out" || { fail "no port from the page server: $(cat "$T/ps.err")"; return 1; }
	port=$(sed -n 's/^port //p' "$T/ps.out")
}

# Brings the pages the server holds for dump directory $1 into it.
bring_back() {
	cp "$T/srv/$(basename "$1")"/pages-*.img "$1"/
}

pages_of() {
	"$AMBER" show --json "$1" 2>/dev/null | sed -n 's/^  "pages": \([0-9]*\),$/\1/p'
}

testDumpThroughPageServer() {
	e2e_need_amber || return 0
	start_server 1 || return 0
	e2e_start_wl dirtymem || return 0
	pid=$E2E_PID
	e2e_amber_ok dump -t "$pid" -D "$T/d" --page-server "127.0.0.1:$port" || return 0
	assertFalse "no pages file in -D" "ls '$T/d'/pages-*.img >/dev/null 2>&1"
	assertTrue "the server has pages-$pid.img" "[ -s '$T/srv/d/pages-$pid.img' ]"
	wait "$srv"
	assertEquals "the page server exits 0 after its session: $(cat "$T/ps.err")" 0 $?
	assertContains "the server's log" "$(cat "$T/ps.err")" "into '$T/srv/d'"
	e2e_wait_dead "$pid" || { fail "pid $pid still runs after the dump"; return 0; }
	e2e_reap "$pid"
	e2e_amber_fails "pages-$pid.img" restore -D "$T/d" -d
	assertContains "the refusal names the server" "$E2E_OUT" "page server at 127.0.0.1:$port"
	bring_back "$T/d"
	e2e_restore_detached "$T/d" || return 0
	assertEquals "dirtymem's check after restore" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

testPreDumpChainThroughPageServer() {
	e2e_need_amber || return 0
	start_server 3 || return 0
	e2e_start_wl dirtymem || return 0
	pid=$E2E_PID
	e2e_amber_ok pre-dump -t "$pid" -D "$T/p1" --page-server "127.0.0.1:$port" || return 0
	sleep 0.5
	e2e_amber_ok pre-dump -t "$pid" -D "$T/p2" --prev-images-dir "$T/p1" --page-server "127.0.0.1:$port" || return 0
	sleep 0.5
	e2e_amber_ok dump -t "$pid" -D "$T/d" --prev-images-dir "$T/p2" --page-server "127.0.0.1:$port" -v3 || return 0
	wait "$srv"
	assertEquals "the page server exits 0 after 3 sessions: $(cat "$T/ps.err")" 0 $?
	e2e_wait_dead "$pid" || { fail "pid $pid still runs after the dump"; return 0; }
	e2e_reap "$pid"
	for d in p1 p2 d; do
		assertTrue "the server has $d's pages" "[ -s '$T/srv/$d/pages-$pid.img' ]"
		bring_back "$T/$d"
	done
	n1=$(pages_of "$T/p1")
	n3=$(pages_of "$T/d")
	echo "t074: the first pre-dump sent $n1 pages, the final dump $n3"
	assertTrue "the final dump sends only what was written ($n3 of $n1 pages)" \
		"[ -n '$n3' ] && [ -n '$n1' ] && [ $((n3 * 4)) -lt $n1 ]"
	e2e_restore_detached "$T/d" || return 0
	assertEquals "dirtymem's check after restore from the chain" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

# No server there: the dump fails, the tree carries on, -D holds no dump.
testNoServerLeavesTreeRunning() {
	e2e_need_amber || return 0
	start_server 1 || return 0
	kill "$srv"
	e2e_wait_dead "$srv"
	e2e_reap "$srv"
	e2e_start_wl dirtymem || return 0
	pid=$E2E_PID
	e2e_amber_fails "page-server" dump -t "$pid" -D "$T/d" --page-server "127.0.0.1:$port"
	assertTrue "the tree carries on" "e2e_alive $pid"
	assertFalse "no dump in -D" "[ -e '$T/d/inventory.img' ]"
	e2e_amber_fails "--auto-dedup" pre-dump -t "$pid" -D "$T/p" --prev-images-dir "$T/d" --auto-dedup \
		--page-server "127.0.0.1:$port"
	e2e_amber_fails "ADDRESS:PORT" dump -t "$pid" -D "$T/d" --page-server nowhere
}

. /usr/share/shunit2/shunit2
