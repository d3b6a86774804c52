#!/bin/bash
# make bench: amber's speed, as figures and as ratios to a bound measured in
# the same run (memcpy bandwidth). Nothing here passes or fails on speed; a
# benchmark fails only if the restored workload is wrong.
set -u
B=${AMBER_BUILD:-build}
AMBER=$B/bin/amber
MIB=${AMBER_BENCH_MIB:-1024}
work=$(mktemp -d /tmp/amber-bench.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$work"' EXIT
now() { date +%s.%N; }
wait_file() { for _ in $(seq 1 600); do [ -s "$1" ] && return 0; sleep 0.1; done; return 1; }

read -r bw fresh < <("$B/tests/bench/membw" "$MIB")
echo "memcpy bandwidth:          $bw MiB/s warm (the bound), $fresh MiB/s into fresh memory"

# --- memory: one process with $MIB MiB of written anonymous memory
"$B/tests/workloads/closefds" "$B/tests/workloads/memhog" "$MIB" "$work/ready" "$work/result" </dev/null >/dev/null 2>&1 &
pid=$!
wait_file "$work/ready" || { echo "bench: memhog never got ready"; exit 1; }
t0=$(now); "$AMBER" dump -t "$pid" -D "$work/img" || exit 1; t1=$(now)
bytes=$(du -sb "$work/img" --exclude='*.run' | awk '{print $1}')
t2=$(now); "$AMBER" restore -D "$work/img" -d || exit 1; t3=$(now)
kill -USR1 "$pid"; wait_file "$work/result"
verdict=$(cat "$work/result")
awk -v d="$(echo "$t1 - $t0" | bc)" -v r="$(echo "$t3 - $t2" | bc)" -v b="$bytes" -v m="$MIB" -v bw="$bw" -v fr="$fresh" -v v="$verdict" 'BEGIN {
	printf "memory dump   (%d MiB):    %.3f s  %6.0f MiB/s  %.2f of memcpy, %.2f of fresh-memory copy\n", m, d, m / d, (m / d) / bw, (m / d) / fr
	printf "memory restore (%d MiB):   %.3f s  %6.0f MiB/s  %.2f of memcpy, %.2f of fresh-memory copy\n", m, r, m / r, (m / r) / bw, (m / r) / fr
	printf "image bytes:               %d (%.3f of the memory)\n", b, b / (m * 1048576)
	printf "restored workload:         %s\n", v
}'
kill -9 "$pid" 2>/dev/null; pid=
[ "$verdict" = PASS ]
