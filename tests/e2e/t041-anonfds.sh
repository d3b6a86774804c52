#!/bin/sh
# t041-anonfds: eventfd (count, semaphore mode), signalfd (mask, a pending
# signal), timerfd (clock, interval, remaining time) and epoll (what it
# watches, how, with which data) across a restore.

. "$(dirname "$0")/lib.sh"

testEventfdSignalfdTimerfd() {
	e2e_roundtrip anonfds
}

# epoll: its registrations (fd, events incl. EPOLLET/EPOLLONESHOT, data).
testEpoll() {
	e2e_roundtrip epoll
}

. /usr/share/shunit2/shunit2
