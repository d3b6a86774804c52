#!/usr/bin/env python3
"""counter: a python3 workload that counts.

    counter.py FILE

Every 50 ms it increments a counter held only in its own memory and rewrites
FILE with the latest value (written to FILE.tmp, then renamed, so a reader
never sees a half-written number). After a restore the count must carry on
from where it was at the dump, not start again from 0: the e2e test checks
that. SIGTERM ends it cleanly.
"""
import os
import signal
import sys
import time


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: counter.py FILE\n")
        return 2
    path = sys.argv[1]
    tmp = path + ".tmp"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    n = 0
    while True:
        n += 1
        with open(tmp, "w") as f:
            f.write("%d\n" % n)
        os.rename(tmp, path)
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
