#!/bin/sh
# t041-anonfds: eventfd (count, semaphore mode), signalfd (mask, a pending
# signal) and timerfd (clock, interval, remaining time) across a restore.

. "$(dirname "$0")/lib.sh"

testEventfdSignalfdTimerfd() {
	e2e_roundtrip anonfds
}

. /usr/share/shunit2/shunit2
