#!/bin/sh
# t073-runc: runc checkpoints and restores a container with amber as its
# CRIU (runc --criu amber, which runs 'amber swrk'; doc/runtimes.md). The
# container is a busybox shell loop that counts to its stdout (a pipe to
# the test) and into /tmp/count; after a restore the count carries on from
# where it stopped, on the pipe runc gives the restored container.

. "$(dirname "$0")/lib.sh"

RUNC_CTRS=

setUp() {
	e2e_setup
	RUNC_CTRS=
	command -v runc >/dev/null || return 0
	[ -x /bin/busybox ] || return 0
	mkdir -p "$T/bundle/rootfs/bin" "$T/bundle/rootfs/tmp" "$T/runc"
	cp /bin/busybox "$T/bundle/rootfs/bin/"
	for a in sh sleep cat echo; do ln -s busybox "$T/bundle/rootfs/bin/$a"; done
	(cd "$T/bundle" && runc spec) || return 0
	"$E2E_PYTHON" - "$T/bundle/config.json" <<'EOF_PY'
import json, sys
c = json.load(open(sys.argv[1]))
c['process']['terminal'] = False
c['process']['args'] = ['/bin/sh', '-c',
    'i=0; while :; do i=$((i+1)); echo $i; echo $i >/tmp/count; sleep 0.2; done']
c['root']['readonly'] = False
c['linux'].setdefault('resources', {})['pids'] = {'limit': 64}
c['linux']['resources']['memory'] = {'limit': 268435456}
json.dump(c, open(sys.argv[1], 'w'))
EOF_PY
}

tearDown() {
	for c in $RUNC_CTRS; do
		rc kill "$c" KILL >/dev/null 2>&1
		e2e_poll 5 ctr_gone_or_stopped "$c"
		rc delete -f "$c" >/dev/null 2>&1
	done
	e2e_teardown
}

rc() { timeout "$E2E_CMD_TIMEOUT" runc --root "$T/runc" "$@"; }
rcc() { rc --criu "$AMBER" "$@"; }

need_runc() {
	e2e_need_amber || return 1
	command -v runc >/dev/null || { e2e_skip "no runc (sh tests/deps.sh)"; return 1; }
	[ -x /bin/busybox ] || { e2e_skip "no /bin/busybox (busybox-static)"; return 1; }
	[ -s "$T/bundle/config.json" ] || { fail "runc spec made no config.json"; return 1; }
}

ctr_status() { rc state "$1" 2>/dev/null | sed -n 's/^ *"status": "\(.*\)",*$/\1/p'; }
ctr_pid() { rc state "$1" 2>/dev/null | sed -n 's/^ *"pid": \([0-9]*\),*$/\1/p'; }
ctr_running() { [ "$(ctr_status "$1")" = running ]; }
ctr_gone_or_stopped() { [ "$(ctr_status "$1")" != running ]; }
ctr_listed() { rc list -q | grep -qx "$1"; }
# Whether file $1 has at least $2 lines.
has_lines() { [ "$(wc -l <"$1" 2>/dev/null)" -ge "$2" ]; }
# The value of cgroup file $2 of controller $1 (v1, or v2's one hierarchy) for pid $3.
cg_value() {
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		cat "/sys/fs/cgroup$(sed -n 's/^0::\(.*\)$/\1/p' "/proc/$3/cgroup")/$2"
	else
		cat "/sys/fs/cgroup/$1$(sed -n "s/^[0-9]*:\([^:]*,\)*$1\(,[^:]*\)*:\(.*\)$/\3/p" "/proc/$3/cgroup")/$2"
	fi
}

# Starts container $1 with its stdout and stderr a pipe into $T/$1.out.
start_ctr() {
	RUNC_CTRS="$RUNC_CTRS $1"
	rm -f "$T/$1.rc"
	(rc run -d --bundle "$T/bundle" "$1" </dev/null 2>&1; echo $? >"$T/$1.rc") | cat >"$T/$1.out" &
	e2e_poll 20 test -s "$T/$1.rc" || { fail "runc run $1 did not return"; return 1; }
	[ "$(cat "$T/$1.rc")" = 0 ] || { fail "runc run $1: $(cat "$T/$1.out")"; return 1; }
	e2e_poll 10 has_lines "$T/$1.out" 3 || { fail "container $1 does not count: $(cat "$T/$1.out")"; return 1; }
}

# Restores container $1 from $2 with its output a new pipe into $T/$1.out.
restore_ctr() {
	RUNC_CTRS="$RUNC_CTRS $1"
	rm -f "$T/$1.rc"
	mkdir -p "$T/work-$1"
	(rcc restore -d --bundle "$T/bundle" --image-path "$2" --work-path "$T/work-$1" "$1" </dev/null 2>&1
	 echo $? >"$T/$1.rc") | cat >"$T/$1.out" &
	e2e_poll 30 test -s "$T/$1.rc" || { fail "runc restore $1 did not return"; return 1; }
	[ "$(cat "$T/$1.rc")" = 0 ] || { fail "runc restore $1: $(cat "$T/$1.out"; tail -5 "$T/work-$1/restore.log")"; return 1; }
}

# Checkpoints container $1 into $2 (more runc options after).
checkpoint_ctr() {
	_c=$1 _img=$2
	shift 2
	mkdir -p "$T/work-ck-$_c"
	rcc checkpoint --image-path "$_img" --work-path "$T/work-ck-$_c" "$@" "$_c" >"$T/ck.out" 2>&1 ||
		{ fail "runc checkpoint $_c: $(cat "$T/ck.out"; grep ' E: ' "$T/work-ck-$_c/dump.log")"; return 1; }
}

# The transport by hand (no runc): each request on the SOCK_SEQPACKET
# socket gets its answer, and what amber cannot do is refused in cr_errmsg.
testRequestsOverTheSocket() {
	e2e_need_amber || return 0
	cat >"$T/client.py" <<'EOF_PY'
import os, socket, subprocess, sys

def varint(n):
    out = b''
    while True:
        b = n & 0x7f; n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n: return out

def fields(buf):
    """Top-level fields of a protobuf message: {number: [values]}."""
    i, out = 0, {}
    while i < len(buf):
        key, i = read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = read_varint(buf, i)
        elif wt == 2:
            n, i = read_varint(buf, i); v = buf[i:i + n]; i += n
        else:
            raise ValueError('wire type %d' % wt)
        out.setdefault(num, []).append(v)
    return out

def read_varint(buf, i):
    n = shift = 0
    while True:
        b = buf[i]; i += 1
        n |= (b & 0x7f) << shift; shift += 7
        if not b & 0x80: return n, i

a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
p = subprocess.Popen([sys.argv[1], 'swrk', str(b.fileno())], pass_fds=[b.fileno()])
b.close()
imgfd = os.open(sys.argv[2], os.O_RDONLY | os.O_DIRECTORY)
# DUMP of this process into its own fd imgfd, with track_mem (a pre-dump's)
dump_opts = b'\x08' + varint(imgfd) + b'\x10' + varint(os.getpid()) + b'\x78\x01'
for name, typ in (('VERSION', 10), ('FEATURE_CHECK', 9), ('CHECK', 3), ('PRE_DUMP', 4), ('DUMP', 1)):
    req = b'\x08' + varint(typ) + b'\x20\x01'          # type, keep_open
    if typ == 9:
        req += b'\x2a\x06\x08\x01\x10\x01\x18\x01'     # features: all asked
    if typ == 1:
        req += b'\x12' + varint(len(dump_opts)) + dump_opts
    a.send(req)
    f = fields(a.recv(65536))
    line = [name, 'type=%d' % f[1][0], 'success=%d' % f[2][0]]
    if 10 in f:
        v = fields(f[10][0]); line.append('version=%d.%d' % (v[1][0], v[2][0]))
    if 8 in f:
        v = fields(f[8][0]); line.append('features=%s' % ','.join('%d:%d' % (k, v[k][0]) for k in sorted(v)))
    if 9 in f:
        line.append('errmsg=%s' % f[9][0].decode())
    print(' '.join(line), flush=True)
a.close()
print('exit=%d' % p.wait())
EOF_PY
	mkdir -p "$T/img"
	"$E2E_PYTHON" "$T/client.py" "$AMBER" "$T/img" >"$T/client.out" 2>&1
	assertContains "VERSION" "$(cat "$T/client.out")" "VERSION type=10 success=1 version=3.19"
	assertContains "FEATURE_CHECK, truthful" "$(cat "$T/client.out")" "FEATURE_CHECK type=9 success=1 features=1:0,2:0,3:0"
	assertContains "CHECK" "$(cat "$T/client.out")" "CHECK type=3 success=1"
	assertContains "PRE_DUMP refused" "$(cat "$T/client.out")" "PRE_DUMP type=4 success=0 errmsg=request PRE_DUMP"
	assertContains "track_mem refused by name" "$(cat "$T/client.out")" \
		"DUMP type=1 success=0 errmsg=option 'track_mem' of the dump request: amber cannot honour it"
	assertContains "swrk ends well at the caller's close" "$(cat "$T/client.out")" "exit=0"
	# A packet that is no criu_req is a protocol error (5).
	"$E2E_PYTHON" -c '
import socket, subprocess, sys
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
p = subprocess.Popen([sys.argv[1], "swrk", str(b.fileno())], pass_fds=[b.fileno()]); b.close()
a.send(b"\xff\xff\xff"); a.close(); print("exit=%d" % p.wait())' "$AMBER" >"$T/bad.out" 2>&1
	assertEquals "garbage" "exit=5" "$(cat "$T/bad.out")"
}

testVersionAndFeatures() {
	need_runc || return 0
	# runc asks VERSION (and FEATURE_CHECK for pre-dump) before anything.
	start_ctr ctr-v || return 0
	rcc checkpoint --pre-dump --image-path "$T/pre" --work-path "$T" ctr-v >"$T/pre.out" 2>&1
	assertNotEquals "pre-dump is refused" 0 $?
	assertContains "runc read the version and the features" "$(cat "$T/pre.out")" "CRIU is missing features"
	assertTrue "the container runs on" "ctr_running ctr-v"
}

testCheckpointRestore() {
	need_runc || return 0
	start_ctr ctr-a || return 0
	_pid=$(ctr_pid ctr-a)
	# Mountpoints and their per-mount options: /proc, /dev (strictatime),
	# masked and read-only paths, the cgroup binds.
	_mounts=$(rc exec ctr-a /bin/cat /proc/self/mountinfo | awk '{ print $5, $6 }' | sort)
	checkpoint_ctr ctr-a "$T/img" || return 0
	assertFalse "ctr-a gone from runc list" "ctr_listed ctr-a"
	e2e_poll 10 e2e_dead "$_pid" || fail "pid $_pid lives on after the checkpoint"
	_last=$(tail -n 1 "$T/ctr-a.out")
	restore_ctr ctr-a "$T/img" || return 0
	assertEquals "runc state" running "$(ctr_status ctr-a)"
	# runc's limits hold for the restored tree (runc puts swrk in the
	# container's cgroups; amber checked the tree was all in them).
	_pid=$(ctr_pid ctr-a)
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then _pm=pids.max _mm=memory.max; else _pm=pids.max _mm=memory.limit_in_bytes; fi
	assertEquals "pids limit" 64 "$(cg_value pids $_pm "$_pid")"
	assertEquals "memory limit" 268435456 "$(cg_value memory $_mm "$_pid")"
	e2e_poll 10 has_lines "$T/ctr-a.out" 2 || fail "restored ctr-a does not count"
	assertEquals "the count carries on" $((_last + 1)) "$(head -n 1 "$T/ctr-a.out")"
	_n=$(rc exec ctr-a /bin/cat /tmp/count)
	assertTrue "runc exec in the restored container ($_n)" "[ '$_n' -gt '$_last' ]"
	assertEquals "the container's mounts" "$_mounts" "$(rc exec ctr-a /bin/cat /proc/self/mountinfo | awk '{ print $5, $6 }' | sort)"
	# The container's proc shows its own pid namespace, masked paths and all.
	assertContains "/proc/1 is the container's init" "$(rc exec ctr-a /bin/cat /proc/1/cmdline | tr '\0' ' ')" "while :"
	assertEquals "/proc/keys still masked" "" "$(rc exec ctr-a /bin/cat /proc/keys)"
	assertContains "/proc/sys still read-only" "$(rc exec ctr-a /bin/sh -c 'echo 1 >/proc/sys/kernel/ns_last_pid' 2>&1)" "Read-only"
	rc kill ctr-a KILL || fail "runc kill"
	e2e_poll 10 ctr_gone_or_stopped ctr-a || fail "ctr-a still running after runc kill"
	rc delete ctr-a || fail "runc delete"
	assertFalse "ctr-a deleted" "ctr_listed ctr-a"
}

testLeaveRunningRestoreTwice() {
	need_runc || return 0
	start_ctr ctr-b || return 0
	# Without --work-path: runc's log and amber's run directory go in the
	# image path, beside amber's images (IMAGE-PATH/amber).
	rcc checkpoint --image-path "$T/img" --leave-running ctr-b >"$T/ck.out" 2>&1 ||
		{ fail "runc checkpoint --leave-running: $(cat "$T/ck.out"; grep ' E: ' "$T/img/dump.log")"; return 0; }
	assertTrue "ctr-b still running" "ctr_running ctr-b"
	_n=$(wc -l <"$T/ctr-b.out")
	e2e_poll 10 has_lines "$T/ctr-b.out" $((_n + 2)) || fail "ctr-b stopped counting"
	rc kill ctr-b KILL
	e2e_poll 10 ctr_gone_or_stopped ctr-b
	rc delete -f ctr-b
	# One checkpoint, two containers at once.
	restore_ctr ctr-c "$T/img" || return 0
	restore_ctr ctr-d "$T/img" || return 0
	assertEquals "ctr-c running" running "$(ctr_status ctr-c)"
	assertEquals "ctr-d running" running "$(ctr_status ctr-d)"
	assertNotEquals "two init processes" "$(ctr_pid ctr-c)" "$(ctr_pid ctr-d)"
	e2e_poll 10 has_lines "$T/ctr-c.out" 3 || fail "ctr-c does not count"
	e2e_poll 10 has_lines "$T/ctr-d.out" 3 || fail "ctr-d does not count"
	assertEquals "both carry on from the same count" "$(head -n 1 "$T/ctr-c.out")" "$(head -n 1 "$T/ctr-d.out")"
}

# An option amber cannot honour is refused by name in the log runc points to.
testRefusedOption() {
	need_runc || return 0
	start_ctr ctr-e || return 0
	mkdir -p "$T/work-e"
	rcc checkpoint --image-path "$T/img" --work-path "$T/work-e" --ext-unix-sk ctr-e >"$T/e.out" 2>&1
	assertNotEquals "refused" 0 $?
	assertContains "named in the log" "$(cat "$T/work-e/dump.log")" "option 'ext_unix_sk' of the dump request"
	assertTrue "ctr-e runs on" "ctr_running ctr-e"
}

# amber keeps no cgroups of its own: a task of the tree outside its init's
# cgroups would be restored into them, so with manage_cgroups (runc's
# default) the checkpoint is refused naming it.
testTaskInOtherCgroupRefused() {
	need_runc || return 0
	[ -f /sys/fs/cgroup/cgroup.controllers ] && { e2e_skip "cgroup v2 host: the test moves a task in v1's pids hierarchy"; return 0; }
	[ -w /sys/fs/cgroup/pids/cgroup.procs ] || { e2e_skip "no writable v1 pids hierarchy"; return 0; }
	"$E2E_PYTHON" - "$T/bundle/config.json" <<'EOF_PY'
import json, sys
c = json.load(open(sys.argv[1]))
c['process']['args'][2] = 'sleep 600 & ' + c['process']['args'][2]
json.dump(c, open(sys.argv[1], 'w'))
EOF_PY
	start_ctr ctr-g || return 0
	_init=$(ctr_pid ctr-g)
	_sleep=$(pgrep -f -P "$_init" 'sleep 600')
	[ -n "$_sleep" ] || { fail "no 'sleep 600' child of the init"; return 0; }
	echo "$_sleep" >/sys/fs/cgroup/pids/cgroup.procs
	mkdir -p "$T/work-g"
	rcc checkpoint --image-path "$T/img" --work-path "$T/work-g" ctr-g >"$T/g.out" 2>&1
	assertNotEquals "refused" 0 $?
	assertContains "names the task" "$(cat "$T/work-g/dump.log")" "pid $_sleep is not in the cgroups of the tree's root $_init"
	assertTrue "ctr-g runs on" "ctr_running ctr-g"
}

# runc restore without -d waits for the container: the restored init is
# runc's child (rst_sibling: swrk's child, runc's once swrk exits, runc
# being a child subreaper), and runc returns when it is killed.
testForegroundRestore() {
	need_runc || return 0
	start_ctr ctr-f || return 0
	checkpoint_ctr ctr-f "$T/img" || return 0
	mkdir -p "$T/work-f"
	(rcc restore --bundle "$T/bundle" --image-path "$T/img" --work-path "$T/work-f" ctr-f </dev/null 2>&1
	 echo $? >"$T/f.rc") | cat >"$T/f.out" &
	e2e_poll 30 ctr_running ctr-f || { fail "ctr-f not running: $(cat "$T/f.out")"; return 0; }
	_pid=$(ctr_pid ctr-f)
	_ppid=$(awk '{ print $4 }' "/proc/$_pid/stat")
	assertEquals "the restored init is runc's child" runc "$(cat "/proc/$_ppid/comm")"
	rc kill ctr-f KILL
	e2e_poll 20 test -s "$T/f.rc" || { fail "runc restore did not return after the container was killed"; return 0; }
	assertEquals "runc restore returns the container's end" 137 "$(cat "$T/f.rc")"
}

# A container with a terminal (--console-socket): the pty's master is
# runc's caller's, and amber does not yet restore a pty whose other end is
# outside the tree, so the dump is refused naming the terminal, and the
# container runs on.
testTerminalRefused() {
	need_runc || return 0
	"$E2E_PYTHON" - "$T/bundle/config.json" <<'EOF_PY'
import json, sys
c = json.load(open(sys.argv[1]))
c['process']['terminal'] = True
json.dump(c, open(sys.argv[1], 'w'))
EOF_PY
	# The console socket: takes the pty master runc sends and holds it.
	"$E2E_PYTHON" - "$T/console.sock" <<'EOF_PY' >"$T/console.out" 2>&1 &
import array, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
c, _ = s.accept()
fds = array.array('i')
msg, anc, flags, addr = c.recvmsg(4096, socket.CMSG_LEN(4 * fds.itemsize))
print('master received', flush=True)
time.sleep(120)
EOF_PY
	e2e_track $!
	e2e_poll 10 test -S "$T/console.sock" || { fail "no console socket"; return 0; }
	RUNC_CTRS="$RUNC_CTRS ctr-t"
	rc run -d --console-socket "$T/console.sock" --bundle "$T/bundle" ctr-t >"$T/run.out" 2>&1 ||
		{ fail "runc run with a terminal: $(cat "$T/run.out")"; return 0; }
	mkdir -p "$T/work-t"
	rcc checkpoint --image-path "$T/img" --work-path "$T/work-t" ctr-t >"$T/t.out" 2>&1
	assertNotEquals "refused" 0 $?
	assertContains "the terminal named" "$(cat "$T/work-t/dump.log")" "fd 0 is '/dev/pts/"
	assertTrue "ctr-t runs on" "ctr_running ctr-t"
}

. /usr/share/shunit2/shunit2
