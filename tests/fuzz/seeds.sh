#!/bin/sh
# seeds.sh: seed corpora for the fuzz targets, made from what amber really
# reads on this machine.
#
#	sh tests/fuzz/seeds.sh OUTDIR		(tests/fuzz/run.sh calls it)
#
# OUTDIR/TARGET/ gets, for
#	fuzz_mountinfo, fuzz_proc_*, fuzz_nsinfo_*
#		this machine's /proc files and the recorded fixtures of the
#		unit tests (tests/unit/fixtures/), and the fdinfo of a
#		workload's eventfd, signalfd, timerfd, epoll and inotify;
#	fuzz_image_KIND
#		every KIND image of real dumps (the first 64 KiB);
#	fuzz_stage_NAME
#		bundles (tests/fuzz/fuzz.h): the exact stdin the driver
#		recorded for stage NAME (RUN/NN-NAME.in) with the dump's images
#		(all but raw pages and files over 64 KiB);
#	fuzz_show
#		a recorded stream with the dump's images.
# The dumps are of workloads from tests/workloads/ (a mount namespace with
# a link remap, anonymous-inode files, unix sockets with files in flight,
# unlinked files, threads, memfds), each dumped, restored (detached) and
# killed, and gc'ed with --show: that needs root and the normal build
# ($AMBER_BUILD, default build). Without them only the /proc seeds are
# made, and the committed corpus (tests/fuzz/corpus/) serves the rest.
# The dump seeds are made again only when amber was rebuilt since.

cd "$(dirname "$0")/../.." || exit 1
out=${1:?usage: sh tests/fuzz/seeds.sh OUTDIR}
build=${AMBER_BUILD:-build}
case "$build" in /*) ;; *) build=$PWD/$build ;; esac
amber=$build/bin/amber
wl=$build/tests/workloads
sep='@@amber-fuzz-file '
mkdir -p "$out"

# Copies file $2 (its first 64 KiB) into target $1's seeds as $3.
put() {
	[ -d "tests/fuzz" ] && [ -f "tests/fuzz/$1.c" ] || return 0
	mkdir -p "$out/$1"
	# A pages image is raw memory: its header and a page are enough.
	case "$1" in fuzz_image_pages) n=8192 ;; *) n=65536 ;; esac
	head -c "$n" "$2" >"$out/$1/$3" 2>/dev/null || rm -f "$out/$1/$3"
	[ -s "$out/$1/$3" ] || rm -f "$out/$1/$3"
}

# Writes bundle $2 of target $1: stdin from file $3 (may be empty), then
# every image of directory $4 but raw pages and big files.
bundle() {
	[ -f "tests/fuzz/$1.c" ] || return 0
	mkdir -p "$out/$1"
	{
		[ -n "$3" ] && cat "$3"
		for f in "$4"/*.img; do
			[ -f "$f" ] || continue
			case "$(basename "$f")" in pages-*) continue ;; esac
			[ "$(stat -c %s "$f")" -le 65536 ] || continue
			printf '\n%s%s\n' "$sep" "$(basename "$f")"
			cat "$f"
		done
	} >"$out/$1/$2"
}

# ---- /proc and the fixtures (no root needed) ----------------------------
fx=tests/unit/fixtures
for f in $fx/mountinfo-*.txt; do put fuzz_mountinfo "$f" "fixture-$(basename "$f")"; done
put fuzz_mountinfo /proc/self/mountinfo self
put fuzz_mountinfo /proc/1/mountinfo init
put fuzz_proc_smaps $fx/maps.txt fixture-maps.txt
head -c 16384 /proc/self/smaps >"$out/.smaps" 2>/dev/null && put fuzz_proc_smaps "$out/.smaps" self
for f in $fx/stat-*.txt; do put fuzz_proc_stat "$f" "fixture-$(basename "$f")"; done
put fuzz_proc_stat /proc/self/stat self
for f in $fx/status-*.txt; do put fuzz_proc_status "$f" "fixture-$(basename "$f")"; done
put fuzz_proc_status /proc/self/status self
for f in $fx/fdinfo-*.txt; do put fuzz_proc_fdinfo "$f" "fixture-$(basename "$f")"; done
put fuzz_proc_fdinfo /proc/self/fdinfo/0 self-0
put fuzz_proc_children $fx/children.txt fixture-children.txt
put fuzz_proc_children /proc/1/task/1/children init
put fuzz_proc_timers $fx/timers.txt fixture-timers.txt
for f in $fx/sysvipc-*.txt; do put fuzz_nsinfo_sysvipc "$f" "fixture-$(basename "$f")"; done
for k in shm sem msg; do put fuzz_nsinfo_sysvipc /proc/sysvipc/$k "self-$k"; done
for f in $fx/net-dev*.txt; do put fuzz_nsinfo_net_dev "$f" "fixture-$(basename "$f")"; done
put fuzz_nsinfo_net_dev /proc/net/dev self
rm -f "$out/.smaps"

# ---- real dumps (root and the normal build) -----------------------------
if [ "$(id -u)" -ne 0 ] || ! [ -x "$amber" ] || ! [ -x "$wl/closefds" ]; then
	echo "seeds: /proc only (real dumps need root and the normal build in $build)"
	exit 0
fi
if [ -f "$out/.dumps" ] && [ "$out/.dumps" -nt "$amber" ]; then
	echo "seeds: dump seeds in $out are up to date"
	exit 0
fi
work=$(mktemp -d /tmp/fuzz-seeds-XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# Dumps, gc's (--show), restores and kills workload $1 (args: the rest,
# where @ stands for a fresh directory); then makes its seeds.
seed_wl() {
	name=$1
	shift
	w=$work/$name
	mkdir -p "$w/dir"
	args=
	for a in "$@"; do
		[ "$a" = @ ] && a=$w/dir
		args="$args $a"
	done
	# shellcheck disable=SC2086
	setsid "$wl/closefds" "$wl/$name" "$w/ready" "$w/result" $args </dev/null >"$w/wl.out" 2>&1 &
	pid=$!
	n=100
	while [ "$n" -gt 0 ] && ! [ -s "$w/ready" ]; do sleep 0.1; n=$((n - 1)); done
	if ! [ -s "$w/ready" ]; then
		echo "seeds: workload $name did not get ready"
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return
	fi
	for fd in /proc/"$pid"/fdinfo/*; do
		grep -qE '^(eventfd|sigmask|clockid|tfd|inotify)' "$fd" 2>/dev/null &&
			put fuzz_proc_fdinfo "$fd" "$name-$(basename "$fd")"
	done
	if ! timeout 60 "$amber" dump -t "$pid" -D "$w/img" >"$w/dump.out" 2>&1; then
		echo "seeds: dump of $name failed: $(tail -n 1 "$w/dump.out")"
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return
	fi
	wait "$pid" 2>/dev/null
	timeout 60 "$amber" gc -D "$w/img" --show >/dev/null 2>&1
	if timeout 60 "$amber" restore -D "$w/img" -d --pidfile "$w/restored.pid" >"$w/restore.out" 2>&1; then
		kill -9 "$(cat "$w/restored.pid")" 2>/dev/null
	else
		echo "seeds: restore of $name failed: $(tail -n 1 "$w/restore.out")"
	fi
	for f in "$w"/img/*.img; do
		[ -f "$f" ] || continue
		b=$(basename "$f")
		kind=${b%%[-.]*}
		put "fuzz_image_$kind" "$f" "$name-$b"
	done
	for run in "$w"/img/*.run; do
		for in in "$run"/[0-9][0-9]-*.in; do
			[ -f "$in" ] || continue
			stage=$(basename "$in" .in)
			stage=${stage#[0-9][0-9]-}
			t=fuzz_stage_$(echo "$stage" | tr - _)
			case "$stage" in
			seize) continue ;;	# its input is the control fd
			# Stages that read nothing but their stdin.
			dump-*|gc-remaps) put "$t" "$in" "$name" ;;
			*) bundle "$t" "$name-$(basename "$run" .run)" "$in" "$w/img" ;;
			esac
		done
	done
	out_rec=$(ls "$w"/img/restore.run/*-restore-tasks.out 2>/dev/null | head -n 1)
	[ -n "$out_rec" ] && bundle fuzz_show "$name" "$out_rec" "$w/img"
	echo "seeds: $name dumped and restored"
}

seed_wl mntns @ remap
seed_wl anonfds
seed_wl scmrights @
seed_wl unlinked @
seed_wl threads 3
seed_wl memfd
touch "$out/.dumps"
