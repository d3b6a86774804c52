#!/bin/sh
# t015-seize-killed: a dump whose seize is killed at any step leaves every
# thread of the tree running as before (issue 11). seize borrows each
# thread's registers for remote syscalls; AMBER_TEST_SEIZE_DIE_AFTER=N makes
# it SIGKILL itself just after its Nth step that changes a thread (signal
# mask, registers, the parking gadget in the vDSO) or stops it in a remote
# syscall. The driver then runs
# amber-unseize on seize's journal, which gives every thread back what seize
# had borrowed.
#
# Expects of amber: after each killed dump, the process is alive with all its
# threads, none stopped, traced or parked (in pause(2), the gadget's wait),
# and the driver says the process carries on; at the end the workload's own
# check of every thread's registers, mask, TLS and tid still passes after a
# normal dump and restore.
#
# Workloads: tests/workloads/threads.c (64 threads, one busy on the CPU),
# tests/workloads/forest.c (a root and 7 children, all in pause(2)).
# Run: sh tests/e2e/t015-seize-killed.sh (AMBER_BUILD=DIR for another build dir;
# AMBER_T015_POINTS=N tries about N kill points, default 80).

. "$(dirname "$0")/lib.sh"

E2E_CMD_TIMEOUT=${AMBER_E2E_CMD_TIMEOUT:-30}
POINTS=${AMBER_T015_POINTS:-80}
# The kill loop stops after this many seconds, whatever it has tried.
BUDGET=${AMBER_T015_SECONDS:-150}

tearDown() {
	e2e_teardown_trees
	e2e_teardown
}

# How many steps of seize change or stop the tree of pid $1: a
# --leave-running dump's seize says it ("(N steps changed or stopped them)").
seize_steps() {
	rm -rf "$T/probe"
	e2e_amber dump -t "$1" -D "$T/probe" --leave-running -v3 || return 1
	echo "$E2E_OUT" | sed -n 's/.*froze .* (\([0-9]*\) steps changed or stopped them).*/\1/p' | tail -n 1
}

# About $POINTS kill points for a seize of $1 steps: every one of the first
# ones (the first process's gadget, mask and scratch mapping) and of the
# last ones (the last thread's release), and the rest evenly between.
kill_points() {
	awk -v n="$1" -v want="$POINTS" 'BEGIN {
		head = int(want / 4); tail = int(want / 10)
		step = int((n - head - tail) / (want - head - tail)); if (step < 1) step = 1
		for (i = 1; i <= n; i++)
			if (i <= head || i > n - tail || (i - head) % step == 0) print i
	}'
}

# Prints what is wrong with the threads of pid $1 (nothing if all is well):
# a thread missing (want $2 of them), stopped, traced, or parked in pause(2)
# in the vDSO (the gadget's wait; a program's own pause runs in libc). Two
# greps and an awk for all threads: the loop runs this ~100 times.
threads_wrong() {
	_vdso=$(sed -n 's/^\([0-9a-f]*\)-\([0-9a-f]*\) .*\[vdso\]$/\1 \2/p' /proc/"$1"/maps 2>/dev/null)
	{
		grep -H -e '^State:' -e '^TracerPid:' /proc/"$1"/task/*/status
		grep -H . /proc/"$1"/task/*/syscall
	} 2>/dev/null | awk -v pid="$1" -v want="$2" -v vdso="$_vdso" '
	function pad(h) { sub(/^0x/, "", h); while (length(h) < 16) h = "0" h; return h }
	{ split($0, p, "/"); tid = p[5]; seen[tid] = 1 }
	/\/status:State:/ && $2 ~ /^[TtZX]/ { print "thread " tid " is in state " $2 }
	/\/status:TracerPid:/ && $2 != 0 { print "thread " tid " is traced by " $2 }
	/\/syscall:/ {
		sub(/^[^:]*:/, "")
		if ($1 == 34 && vdso != "") {
			split(vdso, v, " ")
			if (pad($NF) >= pad(v[1]) && pad($NF) < pad(v[2]))
				print "thread " tid " waits in pause(2) in the vDSO at " $NF " (parked)"
		}
	}
	END { n = 0; for (t in seen) n++; if (n != want) print "pid " pid " has " n " threads, want " want }'
}

# Prints the mappings of every process of the tree of $1, and the last 256
# bytes of each one's vDSO (where seize's gadget goes), as hex: after a
# killed seize both must be as before (no scratch area, no gadget left).
tree_memory() {
	for _p in $1 $(e2e_descendants "$1"); do
		echo "pid $_p:"
		cat /proc/"$_p"/maps 2>/dev/null
		_end=$(sed -n 's/^[0-9a-f]*-\([0-9a-f]*\) .*\[vdso\]$/\1/p' /proc/"$_p"/maps 2>/dev/null)
		[ -n "$_end" ] && dd if=/proc/"$_p"/mem bs=256 count=1 iflag=skip_bytes skip=$((0x$_end - 256)) 2>/dev/null | od -An -tx1 | tr -s ' \n' ' '
		echo
	done
}

# Kills seize at every point of kill_points for the tree of pid $1 (its
# threads: $2; checked by $3 PID NTHREADS, which prints what is wrong);
# sets tried and bad.
kill_seize_everywhere() {
	_pid=$1
	_total=$(seize_steps "$_pid")
	if [ -z "$_total" ] || [ "$_total" -lt 10 ]; then
		fail "no count of seize's steps from a --leave-running dump: $E2E_OUT"
		return 1
	fi
	tried=0
	bad=0
	_mem=$(tree_memory "$_pid")
	echo "$_mem" >"$T/mem0"
	_start=$(date +%s)
	for _n in $(kill_points "$_total"); do
		[ $(($(date +%s) - _start)) -lt "$BUDGET" ] || break
		rm -rf "$T/k"
		AMBER_TEST_SEIZE_DIE_AFTER=$_n e2e_amber dump -t "$_pid" -D "$T/k"
		_rc=$?
		tried=$((tried + 1))
		_wrong=$("$3" "$_pid" "$2")
		[ "$(tree_memory "$_pid")" = "$_mem" ] || _wrong="$_wrong; the mappings or the vDSO's end changed: $(tree_memory "$_pid" | diff - "$T/mem0" 2>/dev/null)"
		if [ "$_rc" != 4 ] || [ -n "$_wrong" ] || ! echo "$E2E_OUT" | grep -q -e "carries on" -e "not touched"; then
			bad=$((bad + 1))
			fail "seize killed after step $_n of $_total: exit $_rc; $_wrong; amber said: $E2E_OUT"
			e2e_alive "$_pid" || break
		fi
	done
	echo "t015: killed seize at $tried of its $_total steps; $bad left the tree wrong"
}

# 64 threads (one spinning on the CPU) come through seize killed at ~80
# points, then pass their own check after a dump and restore.
testThreadsSurviveKilledSeize() {
	e2e_need_amber || return 0
	e2e_start_wl threads 64 || return 0
	pid=$E2E_PID
	before=$(ls /proc/"$pid"/task | sort -n)
	kill_seize_everywhere "$pid" 65 threads_wrong || return 0
	assertEquals "kill points that left the tree wrong (of $tried)" 0 "$bad"
	assertTrue "at least half the $POINTS kill points were tried in time ($tried)" "[ $tried -ge $((POINTS / 2)) ]"
	assertEquals "the same threads after all that" "$before" "$(ls /proc/"$pid"/task | sort -n)"
	rm -rf "$T/img"
	e2e_dump_and_reap "$pid" "$T/img" || return 0
	e2e_restore_detached "$T/img" || return 0
	assertEquals "the restored pid" "$pid" "$E2E_PID"
	assertEquals "the threads' own check after the kills, a dump and a restore" PASS \
		"$(e2e_spine_result "$pid" "$T/result")"
}

# Prints what is wrong with the tree of root $1 ($2 processes wanted): each
# process's threads as threads_wrong sees them.
tree_wrong() {
	_root=$1
	_want=$2
	_np=0
	for _p in $_root $(e2e_descendants "$_root"); do
		_np=$((_np + 1))
		threads_wrong "$_p" 1
	done
	[ "$_np" = "$_want" ] || echo "the tree has $_np processes, want $_want"
}

# A tree of 8 processes: seize killed at points spread over all of them.
testTreeSurvivesKilledSeize() {
	e2e_need_amber || return 0
	rm -f "$T/ready" "$T/result"
	e2e_start_tree "$E2E_WL/forest" "$T/ready" "$T/result" 8 || return 0
	e2e_poll 10 test -s "$T/ready" || { fail "forest did not get ready: $(cat "$T/wl.err")"; return 0; }
	pid=$E2E_PID
	nprocs=$(($(e2e_descendants "$pid" | wc -l) + 1))
	POINTS=30 kill_seize_everywhere "$pid" "$nprocs" tree_wrong || return 0
	assertEquals "kill points that left the tree wrong (of $tried)" 0 "$bad"
	e2e_amber_ok dump -t "$pid" -D "$T/img" || return 0
	e2e_wait_tree_gone 10 || return 0
	e2e_restore_detached "$T/img" || return 0
	assertEquals "the forest's own check after the kills, a dump and a restore" PASS \
		"$(e2e_spine_result "$pid" "$T/result")"
}

. /usr/share/shunit2/shunit2
