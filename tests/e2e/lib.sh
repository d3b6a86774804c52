# lib.sh: helpers shared by the shunit2 end-to-end tests (tests/e2e/tNNN-*.sh).
#
# A test script sources this first and shunit2 last:
#
#	. "$(dirname "$0")/lib.sh"
#	testSomething() { e2e_start_spine; e2e_amber dump -t "$E2E_PID" -D "$T/img"; ... }
#	. /usr/share/shunit2/shunit2
#
# It defines setUp/tearDown (a script that needs more calls e2e_setup and
# e2e_teardown from its own): every test gets a fresh directory $T under /tmp,
# and every process it started (e2e_track) is SIGKILLed at the end, so a
# failing test never leaves a workload behind. Every wait has a timeout, so a
# hang fails the test instead of blocking CI.
#
# Environment:
#	AMBER_BUILD		build directory (default: build, relative to the source root)
#	AMBER_E2E_CMD_TIMEOUT	seconds for one amber command (default 60)
#	AMBER_E2E_KEEP		keep each test's $T for inspection when set
#
# Workloads run in their own session (setsid): a checkpointed tree must not
# share its session or group with the test shell. They stay children of the
# test shell so that, once a dump has killed one, e2e_reap can free its pid for
# the restore (this machine's pid 1 may never reap orphans: a killed orphan
# stays a zombie, which is why "alive" below means "exists and is no zombie").

E2E_SRC=$(cd "$(dirname "$0")/../.." && pwd)
case "${AMBER_BUILD:-build}" in
/*) E2E_BUILD=${AMBER_BUILD} ;;
*) E2E_BUILD=$E2E_SRC/${AMBER_BUILD:-build} ;;
esac
AMBER=$E2E_BUILD/bin/amber
E2E_WL=$E2E_BUILD/tests/workloads
E2E_CMD_TIMEOUT=${AMBER_E2E_CMD_TIMEOUT:-60}
if [ -x /usr/bin/python3 ]; then
	E2E_PYTHON=/usr/bin/python3
else
	E2E_PYTHON=$(command -v python3)
fi
E2E_PIDS=
E2E_PID=
T=

# Creates this test's directory; call from setUp.
e2e_setup() {
	T=$(mktemp -d /tmp/amber-e2e-XXXXXX)
	E2E_PIDS=
	E2E_PID=
}

# Kills everything the test started and removes its directory; call from tearDown.
e2e_teardown() {
	# With their descendants: a tree a test left running (a refused dump)
	# may have forked after its pids were tracked.
	for p in $E2E_PIDS; do
		e2e_alive "$p" && e2e_kill_tree "$p"
	done
	for p in $E2E_PIDS; do
		e2e_reap "$p"
	done
	if [ -n "${AMBER_E2E_KEEP:-}" ]; then
		echo "e2e: kept $T"
	elif [ -n "$T" ]; then
		rm -rf "$T"
	fi
	E2E_PIDS=
}

setUp() { e2e_setup; }
tearDown() { e2e_teardown; }

# Marks a pid for killing at the end of the test.
e2e_track() {
	E2E_PIDS="$E2E_PIDS $1"
}

# Is pid $1 a live process (present and not a zombie)?
e2e_alive() {
	_st=$(e2e_state "$1")
	[ -n "$_st" ] && [ "$_st" != Z ] && [ "$_st" != X ]
}

# The one-letter state of pid $1 from /proc/PID/stat, empty if there is none.
e2e_state() {
	sed -n 's/^.*) \(.\) .*$/\1/p' "/proc/$1/stat" 2>/dev/null
}

# Polls 'command args' every 0.1 s until it succeeds; fails after $1 seconds.
e2e_poll() {
	_secs=$1
	shift
	_n=$((_secs * 10))
	while [ "$_n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	return 1
}

e2e_dead() { ! e2e_alive "$1"; }

# Waits (up to $2 s, default 10) until pid $1 is dead; fails if it lives on.
e2e_wait_dead() {
	e2e_poll "${2:-10}" e2e_dead "$1"
}

# Collects a dead child of this shell so its pid is free again. A no-op for
# processes that are not our children (wait fails at once for those).
e2e_reap() {
	if e2e_wait_dead "$1" 5; then
		wait "$1" 2>/dev/null
	fi
	return 0
}

# Is pid $1 blocked in system call number $2 (per /proc/PID/syscall)?
e2e_in_syscall() {
	_sc=$(cut -d' ' -f1 "/proc/$1/syscall" 2>/dev/null)
	[ "$_sc" = "$2" ]
}

# Starts 'command args' as a session leader with stdin from /dev/null and
# stdout/stderr in $T/wl.out and $T/wl.err; sets E2E_PID.
e2e_start() {
	setsid "$E2E_WL/closefds" "$@" </dev/null >"$T/wl.out" 2>"$T/wl.err" &
	E2E_PID=$!
	e2e_track "$E2E_PID"
}

# Starts workload $1 (tests/workloads/$1.c, which takes READYFILE RESULTFILE:
# $T/ready and $T/result, then any further arguments given here) and waits
# until it reported READY; sets E2E_PID.
e2e_start_wl() {
	_wl=$1
	shift
	rm -f "$T/ready" "$T/result"
	e2e_start "$E2E_WL/$_wl" "$T/ready" "$T/result" "$@"
	if ! e2e_poll 10 test -s "$T/ready"; then
		fail "$_wl did not get ready within 10 s: $(cat "$T/wl.err" 2>/dev/null)"
		return 1
	fi
	assertEquals "$_wl's own pid" "READY $E2E_PID" "$(cat "$T/ready")"
}

# Starts the spine workload (tests/workloads/spine.c) and waits until it
# reported READY and sits in pause(2); sets E2E_PID.
e2e_start_spine() {
	e2e_start_wl spine || return 1
	# 34 is pause on x86-64: the dump should find it inside the syscall.
	e2e_poll 10 e2e_in_syscall "$E2E_PID" 34 || fail "spine is not waiting in pause(2)"
}

# Sends SIGUSR1 to pid $1 until the spine result file $2 appears (a signal can
# land just before pause() and be missed); up to $3 s (default 30).
e2e_spine_result() {
	_n=$((${3:-30} * 5))
	while [ "$_n" -gt 0 ] && ! [ -s "$2" ]; do
		kill -USR1 "$1" 2>/dev/null
		sleep 0.2
		_n=$((_n - 1))
	done
	cat "$2" 2>/dev/null || echo "no result from pid $1 in ${3:-30} s"
}

# Runs amber with a timeout; output (stdout and stderr) in $T/amber.out and
# in E2E_OUT; returns amber's exit status (124 on timeout).
e2e_amber() {
	timeout -k 5 "$E2E_CMD_TIMEOUT" "$AMBER" "$@" >"$T/amber.out" 2>&1
	_rc=$?
	E2E_OUT=$(cat "$T/amber.out")
	if [ "$_rc" -eq 124 ] || [ "$_rc" -eq 137 ]; then
		echo "e2e: 'amber $*' timed out after $E2E_CMD_TIMEOUT s"
	fi
	return "$_rc"
}

# Runs amber and asserts it succeeded, showing its output if not.
e2e_amber_ok() {
	e2e_amber "$@"
	_rc=$?
	assertEquals "amber $* failed: $E2E_OUT" 0 "$_rc"
	return "$_rc"
}

# Runs amber and asserts it failed with a message containing $1.
e2e_amber_fails() {
	_want=$1
	shift
	e2e_amber "$@"
	_rc=$?
	assertNotEquals "amber $* should fail: $E2E_OUT" 0 "$_rc"
	assertNotEquals "amber $* must not time out" 124 "$_rc"
	assertContains "amber $* should name '$_want'" "$E2E_OUT" "$_want"
	return 0
}

# Dumps pid $1 into $2 (killing it), then reaps it so its pid is free.
e2e_dump_and_reap() {
	e2e_amber_ok dump -t "$1" -D "$2" || return 1
	e2e_wait_dead "$1" || { fail "pid $1 still runs after the dump"; return 1; }
	e2e_reap "$1"
}

# Restores from $1 detached and records the restored root's pid in E2E_PID.
e2e_restore_detached() {
	e2e_amber_ok restore -D "$1" -d --pidfile "$T/restored.pid" || return 1
	E2E_PID=$(cat "$T/restored.pid" 2>/dev/null)
	[ -n "$E2E_PID" ] && e2e_track "$E2E_PID"
	return 0
}

# A pid that no process has now (searched down from pid_max).
e2e_free_pid() {
	_p=$(($(cat /proc/sys/kernel/pid_max) - 1))
	while [ -e "/proc/$_p" ]; do
		_p=$((_p - 1))
	done
	echo "$_p"
}

# Rewrites the header of image $1 to agree with what the file now holds
# (body length, and the record count, or for a pages image the page
# count), as a writer finishing it would: for tests that edit an image and
# must reach the check behind the header (doc/image-format.md).
e2e_image_refinish() {
	"$E2E_PYTHON" - "$1" <<'EOF_PY'
import struct, sys
path = sys.argv[1]
b = bytearray(open(path, 'rb').read())
kind, hdr = struct.unpack_from('<II', b, 4)[0], struct.unpack_from('<I', b, 12)[0]
body = len(b) - hdr
if kind == 0x50474501:		# pages
    count = body // 4096
else:
    count, at = 0, hdr
    while at + 4 <= len(b):
        n = struct.unpack_from('<I', b, at)[0]
        if at + 4 + n > len(b):
            break
        count, at = count + 1, at + 4 + n
struct.pack_into('<QQ', b, 40, count, body)
open(path, 'wb').write(bytes(b))
EOF_PY
}

# Sets a varint field of record $2 (counted from 0) of image $1 to $4 and
# refinishes the header: $3 is a path of field numbers into nested
# messages, each N or N#K for the K-th (from 0) field N, e.g. 12#1.3 for
# field 3 of the second field 12 (see images/*.proto). For tests of what a
# reader does with a value the dump never writes.
e2e_image_set() {
	"$E2E_PYTHON" - "$@" <<'EOF_PY' || return 1
import struct, sys
path, recno, fields, value = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4], 0)
b = open(path, 'rb').read()
hdr = struct.unpack_from('<I', b, 12)[0]
def rv(d, i):
    v = s = 0
    while True:
        c = d[i]; v |= (c & 0x7f) << s; i += 1; s += 7
        if not c & 0x80: return v, i
def wv(v):
    v &= (1 << 64) - 1
    o = bytearray()
    while True:
        c = v & 0x7f; v >>= 7
        if v: o.append(c | 0x80)
        else: o.append(c); return bytes(o)
def setf(d, steps):
    num, _, k = steps[0].partition('#')
    num, k, seen, i, out = int(num), int(k or 0), 0, 0, bytearray()
    done = False
    while i < len(d):
        start = i
        tag, i = rv(d, i)
        wt = tag & 7
        if wt == 0: _, i = rv(d, i)
        elif wt == 1: i += 8
        elif wt == 5: i += 4
        elif wt == 2: n, j = rv(d, i); i = j + n
        else: sys.exit('bad wire type')
        if tag >> 3 == num and not done:
            if seen == k:
                done = True
                if len(steps) == 1:
                    if wt != 0: sys.exit('field %d is no varint' % num)
                    out += wv(tag) + wv(value)
                else:
                    n, j = rv(d, start + len(wv(tag)))
                    sub = setf(d[j:j + n], steps[1:])
                    out += wv(tag) + wv(len(sub)) + sub
                continue
            seen += 1
        out += d[start:i]
    if not done:
        sys.exit('no field %s' % steps[0])
    return bytes(out)
recs, at = [], hdr
while at + 4 <= len(b):
    n = struct.unpack_from('<I', b, at)[0]
    recs.append(b[at + 4:at + 4 + n]); at += 4 + n
recs[recno] = setf(recs[recno], fields.split('.'))
body = b''.join(struct.pack('<I', len(r)) + r for r in recs)
h = bytearray(b[:hdr])
struct.pack_into('<QQ', h, 40, len(recs), len(body))
open(path, 'wb').write(bytes(h) + body)
EOF_PY
}

# Skips the current test with a reason (counted as skipped by run-all.sh).
e2e_skip() {
	echo "SKIP: $*"
	startSkipping
}

# Fails the current test unless amber and the workloads are built:
#	e2e_need_amber || return 0
e2e_need_amber() {
	[ -x "$AMBER" ] && [ -x "$E2E_WL/spine" ] && return 0
	fail "$AMBER or $E2E_WL/spine is not built (make B=${AMBER_BUILD:-build} tests)"
	return 1
}

# ---- one self-checking process (t030-signals, t031-timers, t033-seccomp) ----

# Dumps workload $1 (see e2e_start_wl), restores it and asserts that it came
# back with its pid and that its own check after SIGUSR1 says PASS.
e2e_roundtrip() {
	e2e_need_amber || return 0
	e2e_start_wl "$@" || return 0
	_pid=$E2E_PID
	e2e_dump_and_reap "$_pid" "$T/img" || return 0
	e2e_restore_detached "$T/img" || return 0
	assertEquals "the restored pid" "$_pid" "$E2E_PID"
	assertEquals "$1's check after restore" PASS "$(e2e_spine_result "$_pid" "$T/result")"
}

# The same for workload $1 that forks (started under the reaper, see
# below), with any further arguments after READYFILE RESULTFILE.
e2e_roundtrip_tree() {
	e2e_need_amber || return 0
	_wl=$1
	shift
	rm -f "$T/ready" "$T/result"
	e2e_start_tree "$E2E_WL/$_wl" "$T/ready" "$T/result" "$@" || return 0
	e2e_poll 10 test -s "$T/ready" || { fail "$_wl did not get ready: $(cat "$T/wl.err")"; return 0; }
	_pid=$E2E_PID
	e2e_amber_ok dump -t "$_pid" -D "$T/img" || return 0
	e2e_wait_tree_gone 10 || return 0
	e2e_restore_detached "$T/img" || return 0
	assertEquals "the restored pid" "$_pid" "$E2E_PID"
	assertEquals "$_wl's check after restore" PASS "$(e2e_spine_result "$_pid" "$T/result")"
}

# Dumps workload $1 (with any further arguments, see e2e_start_wl) with
# --leave-running and asserts that the original's own check after SIGUSR1
# still says PASS.
e2e_leave_running() {
	e2e_need_amber || return 0
	e2e_start_wl "$@" || return 0
	e2e_amber_ok dump -t "$E2E_PID" -D "$T/img" --leave-running || return 0
	assertEquals "the original's check after the dump" PASS "$(e2e_spine_result "$E2E_PID" "$T/result")"
}

# ---- process trees (t020-tree, t021-threads) ----
#
# A tree's processes die in no set order when a dump kills it, and pid 1 here
# may never reap an orphan, so a tree to dump runs under tests/workloads/reaper
# (a child subreaper that reaps all of it and exits once it is all gone). A
# script with trees calls e2e_teardown_trees from its tearDown before
# e2e_teardown, so every process of every tree it started is killed:
#
#	tearDown() { e2e_teardown_trees; e2e_teardown; }

E2E_TREES=
E2E_REAPER=

# Starts 'command args' under the reaper as a session leader, stdin from
# /dev/null, output in $T/wl.out and $T/wl.err; sets E2E_PID to the tree's
# root and E2E_REAPER to the reaper, and tracks both.
e2e_start_tree() {
	rm -f "$T/root.pid"
	"$E2E_WL/reaper" "$T/root.pid" "$@" </dev/null >"$T/wl.out" 2>"$T/wl.err" &
	E2E_REAPER=$!
	e2e_track "$E2E_REAPER"
	if ! e2e_poll 10 test -s "$T/root.pid"; then
		fail "the reaper did not start '$1' within 10 s: $(cat "$T/wl.err" 2>/dev/null)"
		return 1
	fi
	E2E_PID=$(cat "$T/root.pid")
	e2e_track_tree "$E2E_PID"
}

# Marks pid $1 and all its descendants (as they are at the end of the test)
# for killing at the end of the test.
e2e_track_tree() {
	E2E_TREES="$E2E_TREES $1"
}

# Prints the pids of all descendants of pid $1, one a line.
e2e_descendants() {
	for _d in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		echo "$_d"
		e2e_descendants "$_d"
	done
}

# SIGKILLs pid $1 and every descendant of it (all found first, then killed,
# twice, for a tree that was forking meanwhile).
e2e_kill_tree() {
	for _round in 1 2; do
		_all="$1 $(e2e_descendants "$1")"
		for _k in $_all; do
			kill -9 "$_k" 2>/dev/null
		done
	done
}

# Kills every tree of e2e_track_tree and waits (5 s at most) for the reaper.
e2e_teardown_trees() {
	for _r in $E2E_TREES; do
		e2e_alive "$_r" && e2e_kill_tree "$_r"
	done
	# Whatever the reaper still has (orphans of a dead root) dies too; the
	# reaper then reaps it all and exits by itself.
	if [ -n "$E2E_REAPER" ] && e2e_alive "$E2E_REAPER"; then
		for _r in $(e2e_descendants "$E2E_REAPER"); do
			kill -9 "$_r" 2>/dev/null
		done
		e2e_reap "$E2E_REAPER"
	fi
	E2E_TREES=
	E2E_REAPER=
}

# Waits (up to $1 s) until the reaper has reaped the whole tree and exited;
# fails naming what is left if it has not.
e2e_wait_tree_gone() {
	if ! e2e_wait_dead "$E2E_REAPER" "$1"; then
		fail "the tree is not gone $1 s after the dump; left: $(e2e_descendants "$E2E_REAPER" | tr '\n' ' ')"
		return 1
	fi
	e2e_reap "$E2E_REAPER"
}

# Prints "STATE PPID PGID SID" of pid $1 from /proc/PID/stat, nothing if none.
e2e_proc_ids() {
	sed -n 's/^.*) \(.\) \([0-9-]*\) \([0-9-]*\) \([0-9-]*\) .*$/\1 \2 \3 \4/p' "/proc/$1/stat" 2>/dev/null
}

# Starts a 'sleep 600' with exactly pid $1 (through ns_last_pid; retried if
# another fork takes it first) and tracks it; fails if $1 is in use.
e2e_occupy_pid() {
	_n=0
	while [ "$_n" -lt 50 ]; do
		[ -e "/proc/$1" ] && return 1
		echo $(($1 - 1)) >/proc/sys/kernel/ns_last_pid || return 1
		sleep 600 </dev/null >/dev/null 2>&1 &
		_got=$!
		if [ "$_got" = "$1" ]; then
			e2e_track "$_got"
			return 0
		fi
		kill -9 "$_got" 2>/dev/null
		wait "$_got" 2>/dev/null
		_n=$((_n + 1))
	done
	return 1
}

# The option of 'amber restore' that restores into a new pid namespace, as
# its --help lists it (e.g. --pidns), or nothing.
e2e_pidns_option() {
	"$AMBER" restore --help 2>&1 | grep -o -- '--[a-z-]*pid-*ns[a-z-]*' | head -n 1
}
