#!/bin/bash
# make demo: start a sample process, checkpoint it, restore it, show it carry on.
set -eu
B=${AMBER_BUILD:-build}
AMBER=$B/bin/amber
work=$(mktemp -d /tmp/amber-demo.XXXXXX)
log=$work/ticks.log
trap 'kill -9 $pid 2>/dev/null || true; rm -rf "$work"' EXIT

# Start the ticker with only stdio open (a test harness may leak fds into us).
"$B/tests/workloads/closefds" "$B/tests/workloads/ticker" "$log" </dev/null >/dev/null 2>&1 &
pid=$!
sleep 1.2
echo "== a ticker (pid $pid) is running; the last lines it wrote:"
tail -n 3 "$log"

echo "== amber dump -t $pid -D $work/img   (the process is killed once the images are safe)"
"$AMBER" dump -t "$pid" -D "$work/img"
sleep 0.3
if kill -0 "$pid" 2>/dev/null; then echo "demo: pid $pid still runs after dump" >&2; exit 1; fi
echo "== pid $pid is gone; the dump holds:"
"$AMBER" show "$work/img" | sed -n '1,12p'
last=$(tail -n 1 "$log")

echo "== amber restore -D $work/img -d"
"$AMBER" restore -D "$work/img" -d
sleep 1.2
echo "== pid $pid is back ($(cat /proc/$pid/comm)); the ticker carries on after '$last':"
tail -n 4 "$log"
n_before=$(echo "$last" | awk '{print $2}')
n_after=$(tail -n 1 "$log" | awk '{print $2}')
if [ "$n_after" -gt "$n_before" ] && grep -q "tick $((n_before + 1)) (pid $pid)" "$log"; then
	echo "== demo ok: the restored process went on from tick $n_before to $n_after with the same pid"
else
	echo "demo: the restored ticker did not carry on" >&2
	exit 1
fi
