/* seize/timers.c: itimers (getitimer) and POSIX timers (/proc/PID/timers
 * for ids and notification, timer_gettime for the times) of a process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/rsys.h"
#include "lib/timers.h"
#include "stages/seize/taskstate.h"

/* The process's itimers and POSIX timers, freed in one piece. */
struct seize_timer_state {
	ItimersEntry itimers;
	ItimerEntry it[3];
	PosixTimerEntry *pt;
	PosixTimerEntry **ptp;
};

/* Runs one remote syscall that fills 'len' bytes at s, and copies them out. */
static int seize_remote_read(struct rsys *r, pid_t pid, const char *what, long nr, uint64_t a1, uint64_t s,
			     void *out, size_t len, struct err *e)
{
	long res;
	int ret;

	if ((ret = rsys_call(r, &res, nr, a1, s, 0, 0, 0, 0, e)) < 0)
		return ret;
	if (res < 0)
		return err_errnum(e, -res, "pid %d: %s", pid, what);
	return rsys_peek(pid, s, out, len, e);
}

int seize_timers(pid_t pid, struct rsys *r, uint64_t s, CoreEntry *core, struct err *e)
{
	struct seize_timer_state *ts = calloc(1, sizeof(*ts));
	_cleanup_free_ struct timers_entry *pt = NULL;
	int n = 0, ret;

	if (!ts)
		return err_errno(e, "allocate timers of pid %d", pid);
	core->itimers = &ts->itimers;	/* freed through it by seize_timers_free */
	itimers_entry__init(&ts->itimers);
	for (int which = 0; which < 3; which++) {
		struct { struct timeval interval, value; } v;
		char what[64];

		snprintf(what, sizeof(what), "getitimer(%d)", which);
		if ((ret = seize_remote_read(r, pid, what, SYS_getitimer, which, s, &v, sizeof(v), e)) < 0)
			return ret;
		itimer_entry__init(&ts->it[which]);
		ts->it[which].interval_usec = v.interval.tv_sec * 1000000ULL + v.interval.tv_usec;
		ts->it[which].value_usec = v.value.tv_sec * 1000000ULL + v.value.tv_usec;
	}
	ts->itimers.real = &ts->it[ITIMER_REAL];
	ts->itimers.virt = &ts->it[ITIMER_VIRTUAL];
	ts->itimers.prof = &ts->it[ITIMER_PROF];

	if ((ret = timers_read(pid, &pt, &n, e)) < 0)
		return ret;
	if (!n)
		return 0;
	ts->pt = calloc(n, sizeof(*ts->pt));
	ts->ptp = calloc(n, sizeof(*ts->ptp));
	if (!ts->pt || !ts->ptp)
		return err_errno(e, "allocate %d POSIX timers of pid %d", n, pid);
	for (int i = 0; i < n; i++) {
		struct { struct timespec interval, value; } v;
		PosixTimerEntry *p = &ts->pt[i];
		char what[64];
		long ov;

		snprintf(what, sizeof(what), "timer_gettime(%d)", pt[i].id);
		if ((ret = seize_remote_read(r, pid, what, SYS_timer_gettime, pt[i].id, s, &v, sizeof(v), e)) < 0)
			return ret;
		posix_timer_entry__init(p);
		p->id = pt[i].id;
		p->clock = pt[i].clock;
		p->notify = pt[i].notify;
		p->signo = pt[i].signo;
		p->value = pt[i].value;
		if (pt[i].notify & TIMERS_SIGEV_THREAD_ID) {
			p->has_tid = true;
			p->tid = pt[i].target;
		}
		p->interval_nsec = v.interval.tv_sec * 1000000000ULL + v.interval.tv_nsec;
		p->value_nsec = v.value.tv_sec * 1000000000ULL + v.value.tv_nsec;
		if ((ret = rsys_call(r, &ov, SYS_timer_getoverrun, pt[i].id, 0, 0, 0, 0, 0, e)) < 0)
			return ret;
		if (ov >= 0) {
			p->has_overrun = true;
			p->overrun = ov;
		}
		ts->ptp[i] = p;
		pr_debug("pid %d: POSIX timer %d clock %d notify %#x signal %d value %llu ns interval %llu ns",
			 pid, p->id, p->clock, p->notify, p->signo, (unsigned long long)p->value_nsec,
			 (unsigned long long)p->interval_nsec);
	}
	core->posix_timers = ts->ptp;
	core->n_posix_timers = n;
	return 0;
}

void seize_timers_free(CoreEntry *core)
{
	struct seize_timer_state *ts = (struct seize_timer_state *)core->itimers;

	if (!ts)
		return;
	free(ts->pt);
	free(ts->ptp);
	free(ts);
	core->itimers = NULL;
	core->posix_timers = NULL;
	core->n_posix_timers = 0;
}
