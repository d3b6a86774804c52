#!/bin/sh
# t020-tree: dump and restore whole process trees: sessions, process groups,
# an orphan, zombies, leaderless groups and sessions, a bash script with
# background jobs; a pid namespace; and the error paths of a tree that forks
# under the dump and of a pid taken in the middle of the tree at restore.
#
# Expects of amber: 'dump -t ROOT -D DIR' dumps ROOT and all its descendants
# and kills them; 'restore -D DIR -d --pidfile F' restores every process with
# its pid, parent (the root's parent excepted), process group and session,
# and zombies as zombies with their exit status, writes the root's pid to F
# and returns; a restore that cannot get a pid fails naming it and leaves no
# process behind.
#
# Workloads: tests/workloads/tree.c (checks its own ids and memory in every
# process), churn.c, reaper.c (each tree to dump runs under it: see lib.sh).
# Run: sh tests/e2e/t020-tree.sh (AMBER_BUILD=DIR for another build dir).

. "$(dirname "$0")/lib.sh"

tearDown() {
	e2e_teardown_trees
	e2e_teardown
}

# Starts the tree workload (extra arguments go to it) and waits until it is
# READY and every live process sits in pause(2); the table of its processes
# (ROLE PID PPID PGID SID live|zombie) is then in $T/tree/tree.
tree_start() {
	rm -f "$T/ready" "$T/result"
	e2e_start_tree "$E2E_WL/tree" "$T/ready" "$T/result" "$T/tree" "$@" || return 1
	if ! e2e_poll 20 test -s "$T/ready"; then
		fail "tree did not get ready within 20 s: $(cat "$T/wl.err" 2>/dev/null)"
		return 1
	fi
	assertEquals "the tree root's own pid" "READY $E2E_PID" "$(cat "$T/ready")"
	while read -r role p pp pg sid state; do
		[ "$state" = live ] || continue
		# 34 is pause on x86-64.
		e2e_poll 10 e2e_in_syscall "$p" 34 || { fail "$role ($p) is not waiting in pause(2)"; return 1; }
	done <"$T/tree/tree"
}

# The pids of the table, one a line.
tree_pids() {
	awk '{ print $2 }' "$T/tree/tree"
}

# Asserts that no pid of the table exists any more (not even as a zombie).
assert_tree_gone() {
	for p in $(tree_pids); do
		assertFalse "pid $p of the tree ($(awk -v p="$p" '$2 == p { print $1 }' "$T/tree/tree")) still exists" "[ -e /proc/$p ]"
	done
}

# Asserts that every process of the table exists with its parent, group,
# session and zombie state, as /proc shows them. The root's parent is
# amber's business (the driver, then init) and not checked.
assert_tree_restored() {
	while read -r role p pp pg sid state; do
		ids=$(e2e_proc_ids "$p")
		if [ -z "$ids" ]; then
			fail "$role: pid $p does not exist after the restore"
			continue
		fi
		set -- $ids
		if [ "$state" = zombie ]; then
			assertEquals "$role ($p) is a zombie" Z "$1"
		else
			assertNotEquals "$role ($p) is alive" Z "$1"
		fi
		[ "$role" = root ] || assertEquals "$role ($p): parent" "$pp" "$2"
		assertEquals "$role ($p): process group" "$pg" "$3"
		assertEquals "$role ($p): session" "$sid" "$4"
	done <"$T/tree/tree"
}

# Dumps the tree at $E2E_PID into $T/img and checks that all of it is gone.
tree_dump() {
	root=$E2E_PID
	e2e_amber_ok dump -t "$root" -D "$T/img" || return 1
	e2e_wait_tree_gone 10 || return 1
	assert_tree_gone
}

# The whole round trip on a tree started with arguments "$@".
tree_round_trip() {
	e2e_need_amber || return 0
	tree_start "$@" || return 0
	tree_dump || return 0
	e2e_restore_detached "$T/img" || return 0
	e2e_track_tree "$root"
	assertEquals "the restored root's pid" "$root" "$E2E_PID"
	assert_tree_restored
	assertEquals "the tree's own check after restore" PASS "$(e2e_spine_result "$root" "$T/result")"
	assertTrue "the tree root exits after its check" "e2e_wait_dead $root 20"
}

# root, a second session with a group of its own inside, a group leader with
# a child, an orphan re-parented to the (subreaper) root in another process's
# group, a zombie of the root (exit 42) and one of the second session (exit 7).
testTreeSessionsGroupsZombies() {
	tree_round_trip
}

# As above, plus a process whose group leader has exited and one whose
# session leader has exited (their pgid/sid are pids of no live process; the
# restore needs helper tasks to recreate them).
testTreeLeaderlessGroupAndSession() {
	tree_round_trip leaderless
}

# restore into a new pid namespace: the tree keeps its pids inside it. The pid
# file holds the root's pid as amber's namespace sees it.
testTreeIntoNewPidNamespace() {
	e2e_need_amber || return 0
	opt=$(e2e_pidns_option)
	if [ -z "$opt" ]; then
		e2e_skip "'amber restore --help' lists no option to restore into a new pid namespace"
		return 0
	fi
	tree_start || return 0
	tree_dump || return 0
	e2e_amber_ok restore -D "$T/img" -d "$opt" --pidfile "$T/restored.pid" || return 0
	hostpid=$(cat "$T/restored.pid" 2>/dev/null)
	assertNotNull "restore $opt wrote the root's pid" "$hostpid"
	[ -n "$hostpid" ] || return 0
	e2e_track_tree "$hostpid"
	nspid=$(awk '/^NSpid:/ { print $NF }' "/proc/$hostpid/status" 2>/dev/null)
	assertEquals "the root's pid inside its new namespace" "$root" "$nspid"
	assertNotEquals "the root is in a pid namespace of its own" "$(readlink /proc/self/ns/pid)" "$(readlink "/proc/$hostpid/ns/pid")"
	assertEquals "the tree's own check after restore" PASS "$(e2e_spine_result "$hostpid" "$T/result")"
	assertTrue "the tree root exits after its check" "e2e_wait_dead $hostpid 20"
}

# The bash script of testBashJobs: a background sleep job and a background
# subshell loop counting into a file, a foreground loop counting into
# another, no pipes (amber has none yet). $1 is its directory; it stops when
# $1/stop appears, then kills and waits for its jobs and writes their status.
BASH_JOBS='
d=$1
sleep 1000 &
sj=$!
( n=0; while :; do n=$((n + 1)); echo $n >"$d/sub.tmp"; mv -f "$d/sub.tmp" "$d/sub.count"; sleep 0.05; done ) &
cj=$!
echo "$sj $cj" >"$d/jobs.pids"
jobs -p >"$d/jobs.before"
i=0
while [ ! -e "$d/stop" ]; do
	i=$((i + 1)); echo $i >"$d/main.tmp"; mv -f "$d/main.tmp" "$d/main.count"; sleep 0.05
done
jobs -p >"$d/jobs.after"
kill $sj $cj
wait $sj; s1=$?
wait $cj; s2=$?
echo "sleep $s1 counter $s2" >"$d/status"
'

# The value in counter file $1, 0 while there is none.
bash_count() {
	v=$(cat "$1" 2>/dev/null)
	echo "${v:-0}"
}

bash_count_above() { [ "$(bash_count "$1")" -gt "$2" ]; }

# bash -c with background jobs: the counters carry on from where they were,
# and the script still knows its jobs (jobs -p, wait gives their status).
testBashJobs() {
	e2e_need_amber || return 0
	bash=$(command -v bash) || { e2e_skip "no bash"; return 0; }
	mkdir -p "$T/bj"
	e2e_start_tree "$bash" -c "$BASH_JOBS" bash-jobs "$T/bj" || return 0
	root=$E2E_PID
	e2e_poll 20 bash_count_above "$T/bj/main.count" 5 || { fail "main counter did not pass 5: $(cat "$T/wl.err")"; return 0; }
	e2e_poll 20 bash_count_above "$T/bj/sub.count" 5 || { fail "job counter did not pass 5: $(cat "$T/wl.err")"; return 0; }
	set -- $(cat "$T/bj/jobs.pids")
	sj=$1
	cj=$2
	e2e_amber_ok dump -t "$root" -D "$T/img" || return 0
	e2e_wait_tree_gone 10 || return 0
	for p in $root $sj $cj; do
		assertFalse "pid $p of the script is gone after the dump" "[ -e /proc/$p ]"
	done
	main_at=$(bash_count "$T/bj/main.count")
	sub_at=$(bash_count "$T/bj/sub.count")
	sleep 0.3
	assertEquals "nothing counts while dumped" "$main_at $sub_at" "$(bash_count "$T/bj/main.count") $(bash_count "$T/bj/sub.count")"
	e2e_restore_detached "$T/img" || return 0
	e2e_track_tree "$root"
	assertEquals "the restored pid" "$root" "$E2E_PID"
	for p in $sj $cj; do
		set -- $(e2e_proc_ids "$p")
		assertEquals "job $p is bash's child again" "$root" "${2:-none}"
	done
	e2e_poll 10 bash_count_above "$T/bj/main.count" "$main_at" || { fail "main counter stuck at $main_at after restore"; return 0; }
	e2e_poll 10 bash_count_above "$T/bj/sub.count" "$sub_at" || { fail "job counter stuck at $sub_at after restore"; return 0; }
	main_now=$(bash_count "$T/bj/main.count")
	sub_now=$(bash_count "$T/bj/sub.count")
	assertTrue "main counter $main_now goes on from $main_at" "[ $main_now -le $((main_at + 40)) ]"
	assertTrue "job counter $sub_now goes on from $sub_at" "[ $sub_now -le $((sub_at + 40)) ]"
	touch "$T/bj/stop"
	e2e_poll 20 test -s "$T/bj/status" || { fail "the script did not finish after stop: $(cat "$T/wl.err")"; return 0; }
	assertEquals "wait gives the killed jobs' status" "sleep 143 counter 143" "$(cat "$T/bj/status")"
	assertEquals "jobs -p after restore" "$(cat "$T/bj/jobs.before")" "$(cat "$T/bj/jobs.after" 2>/dev/null)"
	assertTrue "bash exits" "e2e_wait_dead $root 10"
}

# A tree whose children exit on their own every ~1 ms (fork, sleep 1 ms,
# exit, reaped by the root), three times: the dump either succeeds, and the
# restored tree goes on and passes its check, or fails cleanly in time, and
# the original goes on untouched and passes its check. Never a hang.
testChildExitsDuringSeize() {
	e2e_need_amber || return 0
	saved_timeout=$E2E_CMD_TIMEOUT
	E2E_CMD_TIMEOUT=${AMBER_E2E_CMD_TIMEOUT:-30}
	churn_rounds
	E2E_CMD_TIMEOUT=$saved_timeout
}

# The rounds of testChildExitsDuringSeize.
churn_rounds() {
	for round in 1 2 3; do
		rm -rf "$T/img" "$T/ready" "$T/result"
		e2e_start_tree "$E2E_WL/churn" forks "$T/ready" "$T/result" || return 0
		root=$E2E_PID
		e2e_poll 10 test -s "$T/ready" || { fail "churn did not get ready: $(cat "$T/wl.err")"; return 0; }
		steady=$(sed -n 's/^steady //p' "$T/ready")
		e2e_amber dump -t "$root" -D "$T/img"
		rc=$?
		assertNotEquals "round $round: the dump hung" 124 "$rc"
		assertNotEquals "round $round: the dump hung (killed)" 137 "$rc"
		if [ "$rc" -eq 0 ]; then
			e2e_wait_tree_gone 10 || return 0
			assertFalse "round $round: the steady child $steady is gone" "[ -e /proc/$steady ]"
			e2e_restore_detached "$T/img" || return 0
			e2e_track_tree "$root"
			assertEquals "round $round: the restored pid" "$root" "$E2E_PID"
			set -- $(e2e_proc_ids "$steady")
			assertEquals "round $round: the steady child's parent" "$root" "${2:-none}"
			sleep 0.5	# the loop must go on for 20 rounds after the restore
			assertEquals "round $round: the restored tree's check" PASS "$(e2e_spine_result "$root" "$T/result")"
		else
			echo "round $round: the dump failed cleanly ($rc): $(tail -n 3 "$T/amber.out")"
			for p in $root $steady; do
				assertTrue "round $round: pid $p runs on after a failed dump" "e2e_alive $p"
				st=$(e2e_state "$p")
				assertTrue "round $round: pid $p is not left stopped (state $st)" "[ '$st' = S ] || [ '$st' = R ]"
				assertEquals "round $round: pid $p is not left traced" 0 "$(awk '/^TracerPid:/ { print $2 }' "/proc/$p/status")"
			done
			sleep 0.5
			assertEquals "round $round: the original's check" PASS "$(e2e_spine_result "$root" "$T/result")"
		fi
		# Pids are reused fast under this churn: forget this round's.
		e2e_teardown_trees
		for p in $E2E_PIDS; do
			e2e_alive "$p" && kill -9 "$p" 2>/dev/null
			e2e_reap "$p"
		done
		E2E_PIDS=
	done
}

# Live processes (not zombies) that belong to the tree of the table: a pid of
# the table, a comm "tree-*" or a session of the table. Prints their pids.
tree_leftovers() {
	occupier=$1
	sids=" $(awk '{ print $5 }' "$T/tree/tree" | sort -u | tr '\n' ' ') "
	pids=" $(tree_pids | tr '\n' ' ') "
	for d in /proc/[0-9]*; do
		p=${d#/proc/}
		[ "$p" = "$occupier" ] && continue
		ids=$(e2e_proc_ids "$p")
		[ -n "$ids" ] || continue
		set -- $ids
		[ "$1" = Z ] && continue
		comm=$(cat "$d/comm" 2>/dev/null)
		case "$sids" in *" $4 "*) echo "$p"; continue ;; esac
		case "$pids" in *" $p "*) echo "$p"; continue ;; esac
		case "$comm" in tree-*) echo "$p" ;; esac
	done
}

# Another process holds the pid of a task in the middle of the tree (grp: it
# has a parent and a child in the tree): the restore fails naming that pid,
# and no process of the tree is left, alive or zombie. Freed again, the same
# images restore.
testRestorePidTakenMidTree() {
	e2e_need_amber || return 0
	tree_start || return 0
	tree_dump || return 0
	mid=$(awk '$1 == "grp" { print $2 }' "$T/tree/tree")
	e2e_occupy_pid "$mid" || { fail "could not start a process with pid $mid"; return 0; }
	e2e_amber_fails "$mid" restore -D "$T/img" -d --pidfile "$T/restored.pid"
	sleep 0.5
	for p in $(tree_pids); do
		[ "$p" = "$mid" ] && continue
		assertFalse "pid $p is left behind after a failed restore" "[ -e /proc/$p ]"
	done
	assertEquals "pid $mid is still the occupier" sleep "$(cat "/proc/$mid/comm" 2>/dev/null)"
	left=$(tree_leftovers "$mid")
	assertNull "processes of the tree left behind: $left" "$left"
	for p in $left; do
		kill -9 "$p"
	done
	kill -9 "$mid"
	e2e_reap "$mid"
	e2e_restore_detached "$T/img" || return 0
	e2e_track_tree "$E2E_PID"
	assert_tree_restored
	assertEquals "the tree's check after the second restore" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

. /usr/share/shunit2/shunit2
