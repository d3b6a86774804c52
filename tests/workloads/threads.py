#!/usr/bin/env python3
"""threads: a python3 workload with several threading.Thread counters.

    threads.py DIR [NTHREADS]        (default 4)

Each thread keeps a counter in its own memory only and every 50 ms rewrites
DIR/count-N with it (through DIR/count-N.tmp and a rename, so a reader never
sees half a number). Each writes its native thread id to DIR/tid-N when it
starts; when all have, the main thread writes "READY <pid>" to DIR/ready.
After a restore the counters must carry on from where they were (the e2e test
checks that) and the threads must have their old tids.

SIGUSR1 (sent again if missed) stops the threads: each compares
threading.get_native_id() with the tid it had at start and that its counter
only ever grew by one at a time; the main thread joins them (10 s limit) and
writes "PASS" or "FAIL: ..." lines to DIR/result, and exits 0 on PASS.
"""
import os
import signal
import sys
import threading
import time


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def main():
    if len(sys.argv) not in (2, 3):
        sys.stderr.write("usage: threads.py DIR [NTHREADS]\n")
        return 2
    d = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) == 3 else 4
    stop = threading.Event()
    started = threading.Barrier(n + 1)
    verdicts = [None] * n

    def count(i):
        tid = threading.get_native_id()
        write_atomic(os.path.join(d, "tid-%d" % i), "%d\n" % tid)
        started.wait()
        c = 0
        path = os.path.join(d, "count-%d" % i)
        while not stop.is_set():
            before = c
            c += 1
            if c != before + 1:
                verdicts[i] = "FAIL: thread %d: counter jumped from %d to %d" % (i, before, c)
                return
            write_atomic(path, "%d\n" % c)
            time.sleep(0.05)
        now = threading.get_native_id()
        if now != tid:
            verdicts[i] = "FAIL: thread %d: native id is %d, was %d" % (i, now, tid)
        else:
            verdicts[i] = "PASS"

    signal.signal(signal.SIGUSR1, lambda *_: stop.set())
    threads = [threading.Thread(target=count, args=(i,), name="counter-%d" % i) for i in range(n)]
    for t in threads:
        t.start()
    started.wait()
    write_atomic(os.path.join(d, "ready"), "READY %d\n" % os.getpid())
    while not stop.wait(0.1):
        pass
    fails = []
    for i, t in enumerate(threads):
        t.join(10)
        if t.is_alive():
            fails.append("FAIL: thread %d did not end in 10 s" % i)
        elif verdicts[i] != "PASS":
            fails.append(verdicts[i] or "FAIL: thread %d gave no verdict" % i)
    write_atomic(os.path.join(d, "result"), "\n".join(fails) + "\n" if fails else "PASS\n")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
