#!/bin/sh
# t060-external: objects shared with the world outside the tree.
# dump --external file[]/pipe[]/unix[] and restore --inherit-fd fd[N]:KEY:
# an appending log and a read file whose paths are gone at restore, given
# back read-write and reopened with the process's own flags and position;
# a pipe fed from outside; one end of a socketpair the test keeps; cat
# reading a pipe into a file (a real program); --shell-job under script(1),
# and the terminal named by its tty[] key instead.
# Strictness both ways: a key nothing matches, at dump or at restore, and
# an external object nothing is given for, fail naming the keys.

. "$(dirname "$0")/lib.sh"

# The file[MNT_ID:INODE] key of pid $1's fd $2, as dump --external takes it.
file_key() {
	echo "file[$(sed -n 's/^mnt_id:[[:space:]]*//p' "/proc/$1/fdinfo/$2"):$(stat -L -c %i "/proc/$1/fd/$2")]"
}

# The inode of the pipe or socket on pid $1's fd $2.
fd_ino() {
	readlink "/proc/$1/fd/$2" | tr -dc 0-9
}

# Starts extfile and dumps it with both files external; sets pid, k10, k11.
dump_extfile() {
	e2e_start_wl extfile "$T/log" "$T/data" || return 1
	pid=$E2E_PID
	k10=$(file_key "$pid" 10)
	k11=$(file_key "$pid" 11)
	e2e_amber_ok dump -t "$pid" -D "$T/img" --external "$k10" --external "$k11" || return 1
	e2e_wait_dead "$pid" || { fail "pid $pid still runs after the dump"; return 1; }
	e2e_reap "$pid"
}

testExternalFiles() {
	e2e_need_amber || return 0
	e2e_start_wl extfile "$T/log" "$T/data" "$T/rw" || return 0
	pid=$E2E_PID
	k10=$(file_key "$pid" 10)
	k11=$(file_key "$pid" 11)
	k12=$(file_key "$pid" 12)
	e2e_amber_ok dump -t "$pid" -D "$T/img" --external "$k10" --external "$k11" --external "$k12" || return 0
	e2e_wait_dead "$pid" || { fail "pid $pid still runs after the dump"; return 0; }
	e2e_reap "$pid"
	e2e_amber_ok show "$T/img" || return 0
	assertContains "show lists the log's key" "$E2E_OUT" "\"$k10\" w pos 7, held by pid $pid fd 10"
	# The process can no longer reach its files by their paths.
	mv "$T/log" "$T/log.old" && rm -f "$T/data" "$T/rw"
	printf 'given\n' >"$T/newlog"
	printf '0123456789' >"$T/newdata"
	printf 'abcd' >"$T/newrw"
	# The log given read-write, the data read-write, the read-write file
	# read-only: each comes back as the process had it.
	e2e_amber_ok restore -D "$T/img" -d --pidfile "$T/restored.pid" --inherit-fd "fd[7]:$k10" \
		--inherit-fd "fd[8]:$k11" --inherit-fd "fd[9]:$k12" 7<>"$T/newlog" 8<>"$T/newdata" 9<"$T/newrw" || return 0
	e2e_track "$pid"
	assertEquals "extfile's check after restore" PASS "$(e2e_spine_result "$pid" "$T/result")"
	assertEquals "what the restored process appended to the given log" "$(printf 'given\nafter')" "$(cat "$T/newlog")"
	assertEquals "the old log is untouched" before "$(cat "$T/log.old")"
	assertEquals "what the restored process wrote into the file given read-only" abZd "$(cat "$T/newrw")"
}

testExternalFileNotGiven() {
	e2e_need_amber || return 0
	dump_extfile || return 0
	e2e_amber_fails "pid $pid fd 10 is $k10, which the dump left outside the tree; restore with --inherit-fd fd[N]:$k10" \
		restore -D "$T/img" -d
	assertFalse "nothing was left running" "e2e_alive $pid"
	e2e_amber_fails "--inherit-fd key '/nowhere' matches no file of the images; their keys are: $k10 (external), $k11 (external)" \
		restore -D "$T/img" -d --inherit-fd "fd[7]:$k10" --inherit-fd "fd[8]:$k11" --inherit-fd "fd[9]:nowhere" \
		7<>"$T/log" 8<"$T/log" 9</dev/null
	assertFalse "nothing was left running" "e2e_alive $pid"
}

# The driver's rerun script of restore-files names the fds it was given;
# run with them it does the same work alone, without them it says which.
testRerunWithInheritedFds() {
	e2e_need_amber || return 0
	dump_extfile || return 0
	e2e_amber_ok restore -D "$T/img" -d --inherit-fd "fd[7]:$k10" --inherit-fd "fd[8]:$k11" \
		7<>"$T/log" 8<"$T/data" || return 0
	e2e_track "$pid"
	run=$T/img/restore.run
	assertContains "the rerun script says how to give the fds" "$(cat "$run/rerun-restore-files.sh")" "20<FILE"
	# (dash redirects only fds 0 to 9: bash gives 20 and 21)
	bash -c 'exec sh "$1" 20<>"$2" 21<"$3"' sh "$run/rerun-restore-files.sh" "$T/log" "$T/data" >"$T/rerun.out" 2>&1
	assertEquals "restore-files rerun with its fds: $(tail -n 2 "$T/rerun.out")" 0 $?
	sh "$run/rerun-restore-files.sh" >"$T/rerun.out" 2>&1
	assertContains "restore-files rerun without them" "$(cat "$T/rerun.out")" "fd 20 is not open in this stage"
	assertEquals "the restored process is untouched" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

testExternalKeyErrors() {
	e2e_need_amber || return 0
	e2e_start_wl extfile "$T/log" "$T/data" || return 0
	pid=$E2E_PID
	e2e_amber_fails "--external file[1:999999999] matches no descriptor of the dumped tree" \
		dump -t "$pid" -D "$T/img" --external "file[1:999999999]"
	e2e_amber_fails "'1f' is not a decimal number; if it is hexadecimal (as CRIU prints these keys), write it 0x1f" \
		dump -t "$pid" -D "$T/img" --external "file[1f:20]"
	e2e_amber_fails "unknown kind of key" dump -t "$pid" -D "$T/img" --external "fifo[12]"
	e2e_amber_fails "fd 9 is not open in amber" restore -D "$T/img" --inherit-fd "fd[9]:pipe:[1]"
	# The refused dumps left the process running and whole.
	assertEquals "extfile's check after the refused dumps" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

# Starts workload $1 reading a pipe whose writer, outside the tree, writes
# the line $2 and stays; sets pid, writer, ino.
start_piped() {
	_cmd=$1
	shift
	sh -c 'echo $$ >"$1"; echo "$2"; exec sleep 1000' sh "$T/writer.pid" "$1" |
		setsid "$E2E_WL/closefds" $_cmd >"$T/out" 2>"$T/wl.err" &
	pid=$!
	e2e_track "$pid"
	e2e_poll 10 test -s "$T/writer.pid" || { fail "the pipe's writer did not start"; return 1; }
	writer=$(cat "$T/writer.pid")
	e2e_track "$writer"
	ino=$(fd_ino "$pid" 0)
	[ -n "$ino" ] || { fail "no pipe on pid $pid's stdin"; return 1; }
}

testExternalPipe() {
	e2e_need_amber || return 0
	rm -f "$T/ready" "$T/result"
	start_piped "$E2E_WL/extpipe $T/ready $T/result" first || return 0
	e2e_poll 10 test -s "$T/ready" || { fail "extpipe did not get ready: $(cat "$T/wl.err")"; return 0; }
	e2e_amber_fails "dump with --external pipe[$ino] and give a pipe back at restore with --inherit-fd fd[N]:pipe:[$ino]" \
		dump -t "$pid" -D "$T/img"
	e2e_amber_ok dump -t "$pid" -D "$T/img" --external "pipe[$ino]" || return 0
	# The writer first: the shell waits for the whole pipeline.
	kill "$writer"
	e2e_wait_dead "$pid" && e2e_reap "$pid"
	# amber's own stdin is the new pipe, fed after the restore.
	(sh -c 'sleep 1; echo second; sleep 5' | "$AMBER" restore -D "$T/img" -d --pidfile "$T/restored.pid" \
		--inherit-fd "fd[0]:pipe:[$ino]" >"$T/restore.out" 2>&1) &
	e2e_poll 10 test -s "$T/restored.pid" || { fail "restore did not finish: $(cat "$T/restore.out")"; return 0; }
	assertEquals "the restored pid" "$pid" "$(cat "$T/restored.pid")"
	e2e_track "$pid"
	assertEquals "extpipe's check after restore" PASS "$(e2e_spine_result "$pid" "$T/result")"
}

# cat copies a pipe into a file; restored with a new pipe as its stdin, it
# goes on appending to the same file and ends when that pipe does.
testCatFromPipe() {
	e2e_need_amber || return 0
	start_piped cat one || return 0
	e2e_poll 10 grep -q one "$T/out" || { fail "cat did not copy the first line"; return 0; }
	e2e_amber_ok dump -t "$pid" -D "$T/img" --external "pipe:[$ino]" || return 0
	# The writer first: the shell waits for the whole pipeline.
	kill "$writer"
	e2e_wait_dead "$pid" && e2e_reap "$pid"
	sh -c 'sleep 1; echo two' | "$AMBER" restore -D "$T/img" -d --pidfile "$T/restored.pid" \
		--inherit-fd "fd[0]:pipe:[$ino]" >"$T/restore.out" 2>&1
	assertEquals "restore of cat: $(cat "$T/restore.out")" "$pid" "$(cat "$T/restored.pid")"
	e2e_track "$pid"
	e2e_poll 10 e2e_dead "$pid" || fail "cat did not end with its new pipe"
	assertEquals "cat's output file" "$(printf 'one\ntwo')" "$(cat "$T/out")"
}

# The test keeps the other end of the socketpair (and a copy of the tree's
# end, which is how it can give the very same socket back).
testExternalSocket() {
	e2e_need_amber || return 0
	[ -n "$E2E_PYTHON" ] || { e2e_skip "no python3"; return 0; }
	cat >"$T/harness.py" <<'EOF'
import os, signal, socket, subprocess, sys, time
amber, wl, t = sys.argv[1:4]
a, b = socket.socketpair()
p = subprocess.Popen([wl, t + "/ready", t + "/result", str(a.fileno())], pass_fds=[a.fileno()],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)
print("pid", p.pid, flush=True)
for _ in range(100):
    if os.path.exists(t + "/ready"):
        break
    time.sleep(0.1)
assert b.recv(16) == b"hello", "no hello from the tree"
own, peer = os.fstat(a.fileno()).st_ino, os.fstat(b.fileno()).st_ino
r = subprocess.run([amber, "dump", "-t", str(p.pid), "-D", t + "/img"], capture_output=True, text=True)
print("plain dump rc", r.returncode, r.stderr, flush=True)
r = subprocess.run([amber, "dump", "-t", str(p.pid), "-D", t + "/img", "--external", "unix[%d]" % peer])
p.wait()
r = subprocess.run([amber, "restore", "-D", t + "/img", "-d", "--inherit-fd", "fd[%d]:socket:[%d]" % (a.fileno(), own)],
                   pass_fds=[a.fileno()])
print("restore rc", r.returncode, flush=True)
b.send(b"after")
for _ in range(100):
    os.kill(p.pid, signal.SIGUSR1)
    if os.path.exists(t + "/result"):
        break
    time.sleep(0.2)
b.settimeout(10)
print("answer", b.recv(16).decode(), flush=True)
EOF
	timeout 60 "$E2E_PYTHON" "$T/harness.py" "$AMBER" "$E2E_WL/extsock" "$T" >"$T/harness.out" 2>&1
	out=$(cat "$T/harness.out")
	pid=$(sed -n 's/^pid //p' "$T/harness.out")
	[ -n "$pid" ] && e2e_track "$pid"
	assertContains "a plain dump names the outside peer: $out" "$out" "plain dump rc 3"
	assertContains "and the option: $out" "$out" "dump with --external unix["
	assertContains "restore with the socket given: $out" "$out" "restore rc 0"
	assertEquals "extsock's check after restore" PASS "$(cat "$T/result" 2>/dev/null)"
	assertContains "the tree answered through the same socket: $out" "$out" "answer pong"
}

# Starts ttyjob on a terminal of its own (script(1)); sets pid.
start_ttyjob() {
	command -v script >/dev/null || { e2e_skip "no script(1)"; return 1; }
	rm -f "$T/ready" "$T/result"
	script -qfec "$E2E_WL/closefds $E2E_WL/ttyjob $T/ready $T/result ${1:-}" "$T/ts1" </dev/null >/dev/null 2>&1 &
	e2e_track $!
	e2e_poll 10 test -s "$T/ready" || { fail "ttyjob did not get ready: $(cat "$T/ts1")"; return 1; }
	pid=$(cut -d' ' -f2 "$T/ready")
	e2e_track "$pid"
}

# Restores ttyjob (pid) with these options on a terminal of its own
# (script(1), what it shows in $T/ts2), and checks that it carries on there.
restore_on_tty() {
	script -qfec "$AMBER restore -D $T/img $*" "$T/ts2" </dev/null >/dev/null 2>&1 &
	e2e_track $!
	e2e_poll 10 e2e_alive "$pid" || { fail "ttyjob was not restored: $(cat "$T/ts2")"; return 1; }
	assertEquals "ttyjob's check after restore" PASS "$(e2e_spine_result "$pid" "$T/result")"
	e2e_poll 10 grep -q "carrying on after restore" "$T/ts2" || fail "nothing on the restoring terminal: $(cat "$T/ts2")"
}

testShellJob() {
	e2e_need_amber || return 0
	start_ttyjob || return 0
	e2e_amber_fails "it is a terminal; dump with --shell-job" dump -t "$pid" -D "$T/img"
	e2e_amber_ok dump -t "$pid" -D "$T/img" --shell-job || return 0
	e2e_wait_dead "$pid" || { fail "ttyjob still runs after the dump"; return 0; }
	e2e_amber_fails "or with --shell-job for the terminal amber runs on" restore -D "$T/img" -d
	# Restored on another terminal, the one this restore runs on.
	restore_on_tty --shell-job
	assertContains "the first terminal saw the start" "$(cat "$T/ts1")" "ttyjob: before the dump"
}

# A program that put its terminal in raw mode with its own window size (an
# editor) finds the terminal it is restored on so too.
testShellJobRawMode() {
	e2e_need_amber || return 0
	start_ttyjob raw || return 0
	e2e_amber_ok dump -t "$pid" -D "$T/img" --shell-job || return 0
	e2e_wait_dead "$pid" || { fail "ttyjob still runs after the dump"; return 0; }
	restore_on_tty --shell-job
}

# A job of a job-control shell: a process group of its own, the terminal's
# foreground. Restored with --shell-job it is the foreground job again.
testShellJobForeground() {
	e2e_need_amber || return 0
	command -v script >/dev/null || { e2e_skip "no script(1)"; return 0; }
	rm -f "$T/ready" "$T/result"
	# "; exit": the shell stays, as the session leader, and runs ttyjob as a child.
	script -qfec "$E2E_WL/closefds $E2E_WL/ttyjob $T/ready $T/result job; exit" "$T/ts1" </dev/null >/dev/null 2>&1 &
	e2e_track $!
	e2e_poll 10 test -s "$T/ready" || { fail "ttyjob did not get ready: $(cat "$T/ts1")"; return 0; }
	pid=$(cut -d' ' -f2 "$T/ready")
	e2e_track "$pid"
	e2e_amber_ok dump -t "$pid" -D "$T/img" --shell-job || return 0
	e2e_wait_dead "$pid" || { fail "ttyjob still runs after the dump"; return 0; }
	restore_on_tty --shell-job
}

# The same terminal named by its key, and given by --inherit-fd.
testExternalTty() {
	e2e_need_amber || return 0
	start_ttyjob || return 0
	e2e_amber_fails "or with --external tty[" dump -t "$pid" -D "$T/img"
	key=$(echo "$E2E_OUT" | sed -n 's/.*or with --external \(tty\[[0-9a-fx:]*\]\).*/\1/p' | head -n 1)
	[ -n "$key" ] || { fail "no tty key in: $E2E_OUT"; return 0; }
	e2e_amber_ok dump -t "$pid" -D "$T/img" --external "$key" || return 0
	e2e_wait_dead "$pid" || { fail "ttyjob still runs after the dump"; return 0; }
	restore_on_tty --inherit-fd fd[0]:$key
}

. /usr/share/shunit2/shunit2
