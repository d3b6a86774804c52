#!/bin/sh
# t070-predump: pre-dump with write tracking (userfaultfd write-protect in
# asynchronous mode, PAGEMAP_SCAN) and incremental dumps. dirtymem keeps
# rewriting 16 MiB of its memory at about 10 MiB/s; three pre-dump
# iterations and a final dump, each after the first copying only what was
# written since, are restored from the chain and the workload checks every
# page. The final dump's frozen time is compared with a full dump's of the
# same tree. A wrong or missing parent is refused by name; a pre-dump is not
# restorable itself; a tracking holder that died means a full copy, never a
# wrong one. DIRTYMEM_MIB (default 256 here) sets the memory size.

. "$(dirname "$0")/lib.sh"

MIB=${DIRTYMEM_MIB:-256}
export DIRTYMEM_MIB=$MIB

# The pages the pages images of dump $1 hold (amber show --json).
pages_of() {
	"$AMBER" show --json "$1" 2>/dev/null | sed -n 's/^  "pages": \([0-9]*\),$/\1/p'
}

# The frozen time amber printed for the last dump or pre-dump ($T/amber.out).
frozen_of() {
	sed -n 's/.*(frozen \([0-9.]*\) s).*/\1/p' "$T/amber.out" | tail -1
}

start_dirtymem() {
	e2e_start_wl dirtymem || return 1
	pid=$E2E_PID
}

# Blocks (512 bytes) allocated to the pages images of dump $1.
blocks_of() {
	stat -c %b "$1"/pages-*.img | awk '{ n += $1 } END { print n + 0 }'
}

# Pre-dumps pid into $T/p1..p3, each after the first against the one before
# (with --auto-dedup: the parent loses what the child copied again).
predump_chain() {
	e2e_amber_ok pre-dump -t "$pid" -D "$T/p1" -v3 || return 1
	full=$(pages_of "$T/p1")
	prev=$T/p1
	for i in 2 3; do
		sleep 0.5
		before=$(blocks_of "$prev")
		e2e_amber_ok pre-dump -t "$pid" -D "$T/p$i" --prev-images-dir "$prev" --auto-dedup -v3 || return 1
		after=$(blocks_of "$prev")
		echo "t070: --auto-dedup of pre-dump $i: $prev's pages from $before to $after blocks"
		assertTrue "--auto-dedup punched $prev ($before to $after blocks)" "[ $after -lt $before ]"
		prev=$T/p$i
	done
	return 0
}

testPreDumpChainRestores() {
	e2e_need_amber || return 0
	start_dirtymem || return 0
	predump_chain || return 0
	assertTrue "the first pre-dump copies all $MIB MiB ($full pages)" "[ '${full:-0}' -ge $((MIB * 256)) ]"
	for i in 2 3; do
		n=$(pages_of "$T/p$i")
		echo "t070: pre-dump $i copied $n pages, the first $full"
		assertTrue "pre-dump $i copies only what was written ($n pages of $full)" "[ -n '$n' ] && [ $((n * 4)) -lt $full ]"
	done
	assertContains "the tracking is held for the next iteration" "$(cat "$T/amber.out")" "held by amber-track"
	# A full dump of the running tree for comparison: nothing of the tracking is touched.
	e2e_amber_ok dump -t "$pid" -D "$T/full" --leave-running -v3 || return 0
	full_frozen=$(frozen_of)
	e2e_amber_ok dump -t "$pid" -D "$T/d" --prev-images-dir "$T/p3" --auto-dedup -v3 || return 0
	final_frozen=$(frozen_of)
	n=$(pages_of "$T/d")
	echo "t070: the final dump copied $n pages; frozen $final_frozen s, a full dump $full_frozen s"
	assertTrue "the final dump copies only what was written ($n pages)" "[ -n '$n' ] && [ $((n * 4)) -lt $full ]"
	assertTrue "final frozen time $final_frozen s < full dump's $full_frozen s" \
		"awk 'BEGIN { exit !($final_frozen < $full_frozen) }'"
	out=$("$AMBER" show "$T/d")
	assertContains "show names the chain" "$out" "parent 3: '$T/p1'"
	e2e_wait_dead "$pid" || { fail "pid $pid still runs after the dump"; return 0; }
	e2e_reap "$pid"
	# The holder goes when the tree is gone, and takes its socket with it.
	e2e_poll 10 test ! -S "$T/p3/track.sock" || fail "amber-track still holds $T/p3/track.sock"
	e2e_restore_detached "$T/d" || return 0
	assertEquals "dirtymem's check after restore from the chain" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

# The parent is what the chain names, or nothing is restored.
testWrongOrMissingParentRefused() {
	e2e_need_amber || return 0
	start_dirtymem || return 0
	e2e_amber_ok pre-dump -t "$pid" -D "$T/p1" || return 0
	e2e_amber_ok pre-dump -t "$pid" -D "$T/p2" --prev-images-dir "$T/p1" || return 0
	e2e_amber_fails "is a pre-dump" restore -D "$T/p2" -d
	e2e_amber_ok dump -t "$pid" -D "$T/d" --prev-images-dir "$T/p2" || return 0
	e2e_wait_dead "$pid" || { fail "pid $pid still runs after the dump"; return 0; }
	e2e_reap "$pid"
	# p1 replaced by another dump: the same name, another dump id.
	start_dirtymem || return 0
	e2e_amber_ok pre-dump -t "$pid" -D "$T/p1" --force || return 0
	e2e_amber_fails "not dump" restore -D "$T/d" -d
	assertContains "the message names the link" "$E2E_OUT" "'parent' link"
	e2e_amber_fails "not dump" show "$T/d"
	# p2 gone: the link names nothing.
	mv "$T/p2" "$T/p2.away"
	e2e_amber_fails "link is missing" restore -D "$T/d" -d
	e2e_amber_fails "needs --prev-images-dir" pre-dump -t "$pid" -D "$T/p4" --auto-dedup
	e2e_amber_fails "prev-images-dir '$T/nothing'" pre-dump -t "$pid" -D "$T/p3" --prev-images-dir "$T/nothing"
}

# Without its holder the tracking is gone: the next iteration copies
# everything, and the result is still right.
testHolderDiedMeansFullCopy() {
	e2e_need_amber || return 0
	start_dirtymem || return 0
	e2e_amber_ok pre-dump -t "$pid" -D "$T/p1" -v3 || return 0
	holder=$(sed -n 's/.*held by amber-track pid \([0-9]*\).*/\1/p' "$T/amber.out")
	assertNotNull "the pre-dump names its holder" "$holder"
	[ -n "$holder" ] && kill "$holder"
	e2e_wait_dead "$holder" || fail "amber-track $holder did not go"
	assertFalse "amber-track removed its socket" "[ -S '$T/p1/track.sock' ]"
	e2e_amber_ok dump -t "$pid" -D "$T/d" --prev-images-dir "$T/p1" -v3 || return 0
	assertContains "the dump says it copies everything" "$(cat "$T/amber.out")" "no write tracking held"
	full=$(pages_of "$T/p1")
	n=$(pages_of "$T/d")
	assertTrue "a full copy ($n pages of $full)" "[ -n '$n' ] && [ $n -ge $((full - 64)) ]"
	e2e_wait_dead "$pid" || { fail "pid $pid still runs after the dump"; return 0; }
	e2e_reap "$pid"
	e2e_restore_detached "$T/d" || return 0
	assertEquals "dirtymem's check after restore" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

# A tree of multi-threaded processes through a pre-dump chain: every
# process gets its own tracking, and the restore from the chain passes.
testTreeWithThreads() {
	e2e_need_amber || return 0
	rm -f "$T/ready" "$T/result"
	e2e_start_tree "$E2E_WL/threadtree" "$T/ready" "$T/result" 3 2 || return 0
	e2e_poll 10 test -s "$T/ready" || { fail "threadtree did not get ready: $(cat "$T/wl.err")"; return 0; }
	root=$E2E_PID
	e2e_amber_ok pre-dump -t "$root" -D "$T/p1" -v3 || return 0
	assertContains "three processes tracked" "$(cat "$T/amber.out")" "write tracking of 3 processes"
	e2e_amber_ok pre-dump -t "$root" -D "$T/p2" --prev-images-dir "$T/p1" || return 0
	e2e_amber_ok dump -t "$root" -D "$T/d" --prev-images-dir "$T/p2" || return 0
	e2e_wait_tree_gone 10 || return 0
	e2e_restore_detached "$T/d" || return 0
	assertEquals "threadtree's check after restore from the chain" PASS "$(e2e_spine_result "$root" "$T/result")"
}

tearDown() {
	e2e_teardown_trees
	e2e_teardown
}

. /usr/share/shunit2/shunit2
