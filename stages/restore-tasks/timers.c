/* restore-tasks/timers.c: itimers and POSIX timers.
 *
 * POSIX timers must get their old ids: programs hold them. Since Linux 6.17
 * prctl(PR_TIMER_CREATE_RESTORE_IDS) makes timer_create take the id from
 * *created_timer_id. Older kernels hand out ids in sequence from 0 in a new
 * process, so there the timers are created in id order with dummy timers
 * filling the gaps, deleted afterwards. Remaining times are relative: the
 * time the process spent dumped does not count. */
#include <signal.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#include "lib/exitcodes.h"
#include "lib/log.h"
#include "lib/rsys.h"
#include "lib/timers.h"
#include "stages/restore-tasks/taskstate.h"

#define RT_PR_TIMER_CREATE_RESTORE_IDS	77
#define RT_PR_TIMER_CREATE_RESTORE_IDS_OFF 0
#define RT_PR_TIMER_CREATE_RESTORE_IDS_ON 1

/* The kernel's struct sigevent on x86-64 (64 bytes). */
struct rt_sigevent {
	uint64_t value;
	int32_t signo;
	int32_t notify;
	int32_t tid;
	int32_t pad[11];
};

/* Layout of the scratch area while timers are made. */
struct rt_timer_args {
	struct rt_sigevent ev;
	int32_t id;
	int32_t pad;
	struct { struct timespec interval, value; } spec;
};

/* Sets the three itimers. */
static int rt_timers_itimers(struct rsys *r, struct rt_task *t, struct err *e)
{
	const ItimersEntry *it = t->core->itimers;
	const ItimerEntry *v[3];

	if (!it)
		return 0;
	v[ITIMER_REAL] = it->real;
	v[ITIMER_VIRTUAL] = it->virt;
	v[ITIMER_PROF] = it->prof;
	for (int which = 0; which < 3; which++) {
		struct { struct timeval interval, value; } tv;
		char what[64];
		int ret;

		uint64_t value = v[which]->value_usec;

		/* A periodic ITIMER_REAL that fired while the tree was frozen shows
		 * no time left: the kernel re-arms it only when the task takes its
		 * SIGALRM (restored with the pending signals). Its next expiry is
		 * within one interval. */
		if (!value)
			value = v[which]->interval_usec;
		if (!value)
			continue;	/* disarmed; a new process has none */
		tv.interval.tv_sec = v[which]->interval_usec / 1000000;
		tv.interval.tv_usec = v[which]->interval_usec % 1000000;
		tv.value.tv_sec = value / 1000000;
		tv.value.tv_usec = value % 1000000;
		snprintf(what, sizeof(what), "set itimer %d", which);
		if ((ret = rsys_poke(t->pid, RT_SCRATCH(t), &tv, sizeof(tv), e)) < 0 ||
		    (ret = rt_sys(r, NULL, what, SYS_setitimer, which, RT_SCRATCH(t), 0, 0, 0, 0, e)) < 0)
			return ret;
	}
	return 0;
}

/* timer_create in the task; *got is the id the kernel gave (with
 * PR_TIMER_CREATE_RESTORE_IDS on, 'want'). A NULL p makes a dummy. */
static int rt_timer_create(struct rsys *r, struct rt_task *t, const PosixTimerEntry *p, int want, int *got, struct err *e)
{
	struct rt_timer_args a = { 0 };
	char what[64];
	int ret;

	if (p) {
		a.ev.value = p->value;
		a.ev.signo = p->signo;
		a.ev.notify = p->notify;
		a.ev.tid = p->has_tid ? (int32_t)p->tid : 0;
	} else {
		a.ev.notify = SIGEV_NONE;
	}
	a.id = want;
	snprintf(what, sizeof(what), "create POSIX timer %d", want);
	if ((ret = rsys_poke(t->pid, RT_SCRATCH(t), &a, sizeof(a), e)) < 0 ||
	    (ret = rt_sys(r, NULL, what, SYS_timer_create, p ? p->clock : CLOCK_MONOTONIC, RT_SCRATCH(t),
			     RT_SCRATCH(t) + offsetof(struct rt_timer_args, id), 0, 0, 0, e)) < 0)
		return ret;
	return rsys_peek(t->pid, RT_SCRATCH(t) + offsetof(struct rt_timer_args, id), got, sizeof(*got), e);
}

/* Arms timer p with its remaining time and interval. */
static int rt_timer_arm(struct rsys *r, struct rt_task *t, const PosixTimerEntry *p, struct err *e)
{
	struct rt_timer_args a = { 0 };
	char what[64];
	int ret;

	/* As an itimer: a periodic timer whose signal is pending is re-armed
	 * only when the signal is taken, so it shows no time left. */
	uint64_t value = p->value_nsec ? p->value_nsec : p->interval_nsec;

	if (!value)
		return 0;
	a.spec.interval.tv_sec = p->interval_nsec / 1000000000;
	a.spec.interval.tv_nsec = p->interval_nsec % 1000000000;
	a.spec.value.tv_sec = value / 1000000000;
	a.spec.value.tv_nsec = value % 1000000000;
	snprintf(what, sizeof(what), "arm POSIX timer %d", p->id);
	if ((ret = rsys_poke(t->pid, RT_SCRATCH(t), &a, sizeof(a), e)) < 0)
		return ret;
	return rt_sys(r, NULL, what, SYS_timer_settime, p->id, 0, RT_SCRATCH(t) + offsetof(struct rt_timer_args, spec),
			 0, 0, 0, e);
}

/* Does timer p belong to thread tid's hook (SIGEV_THREAD_ID aimed at a
 * thread other than the leader) rather than to the process? */
static bool rt_timer_for_thread(const PosixTimerEntry *p, uint32_t leader)
{
	return (p->notify & TIMERS_SIGEV_THREAD_ID) && p->has_tid && p->tid != leader;
}

/* Turns PR_TIMER_CREATE_RESTORE_IDS on or off; *have is false when the
 * kernel lacks it. */
static int rt_timer_ids_mode(struct rsys *r, bool on, bool *have, struct err *e)
{
	long res;
	int ret;

	if ((ret = rsys_call(r, &res, SYS_prctl, RT_PR_TIMER_CREATE_RESTORE_IDS,
			     on ? RT_PR_TIMER_CREATE_RESTORE_IDS_ON : RT_PR_TIMER_CREATE_RESTORE_IDS_OFF, 0, 0, 0, 0, e)) < 0)
		return ret;
	if (res == -EINVAL && have) {
		*have = false;
		return 0;
	}
	if (res < 0)
		return err_errnum(e, -res, "pid %d: PR_TIMER_CREATE_RESTORE_IDS", r->tid);
	if (have)
		*have = true;
	return 0;
}

/* Creates the timers in id order on a kernel without PR_TIMER_CREATE_RESTORE_IDS. */
static int rt_timers_linear(struct rsys *r, struct rt_task *t, const PosixTimerEntry **v, int n, struct err *e)
{
	int next = 0, ret;

	for (int i = 0; i < n; i++) {
		int got;

		while (next < v[i]->id) {
			if ((ret = rt_timer_create(r, t, NULL, next, &got, e)) < 0)
				return ret;
			next = got + 1;
		}
		if ((ret = rt_timer_create(r, t, v[i], v[i]->id, &got, e)) < 0)
			return ret;
		if (got != v[i]->id)
			return err_set(e, EXIT_SYSTEM, "pid %d: the kernel gave POSIX timer id %d for timer %d, and has no PR_TIMER_CREATE_RESTORE_IDS (Linux 6.17) to ask for an id",
				       t->pid, got, v[i]->id);
		next = got + 1;
	}
	for (int id = 0, k = 0; id < next; id++) {
		while (k < n && v[k]->id < id)
			k++;
		if (k < n && v[k]->id == id)
			continue;
		if ((ret = rt_sys(r, NULL, "delete a placeholder POSIX timer", SYS_timer_delete, id, 0, 0, 0, 0, 0, e)) < 0)
			return ret;
	}
	return 0;
}

static int rt_timer_cmp(const void *a, const void *b)
{
	const PosixTimerEntry *x = *(const PosixTimerEntry *const *)a, *y = *(const PosixTimerEntry *const *)b;

	return (x->id > y->id) - (x->id < y->id);
}

/* Creates and arms the timers of list v (n of them) with their ids. */
static int rt_timers_make(struct rsys *r, struct rt_task *t, const PosixTimerEntry **v, int n, bool may_linear, struct err *e)
{
	bool have = false;
	int ret = 0;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), rt_timer_cmp);
	for (int i = 0; i < n; i++)
		if (v[i]->id < 0 || (i && v[i]->id == v[i - 1]->id))
			return err_input(e, "core-%u.img: POSIX timer id %d is negative or repeated", t->pe->pid, v[i]->id);
	if ((ret = rt_timer_ids_mode(r, true, &have, e)) < 0)
		return ret;
	if (!have && !may_linear)
		return err_set(e, EXIT_SYSTEM, "pid %d: timers aimed at a thread need PR_TIMER_CREATE_RESTORE_IDS (Linux 6.17) to keep their ids",
			       t->pid);
	if (!have) {
		ret = rt_timers_linear(r, t, v, n, e);
	} else {
		for (int i = 0; ret == 0 && i < n; i++) {
			int got = -1;

			ret = rt_timer_create(r, t, v[i], v[i]->id, &got, e);
			if (ret == 0 && got != v[i]->id)
				ret = err_set(e, EXIT_SYSTEM, "pid %d: POSIX timer %d came back as id %d", t->pid, v[i]->id, got);
		}
		if (ret < 0) {
			struct err e2;

			rt_timer_ids_mode(r, false, NULL, &e2);
			return ret;
		}
		if ((ret = rt_timer_ids_mode(r, false, NULL, e)) < 0)
			return ret;
	}
	for (int i = 0; ret == 0 && i < n; i++)
		ret = rt_timer_arm(r, t, v[i], e);
	return ret;
}

int rt_timers_process(struct rsys *r, struct rt_task *t, struct err *e)
{
	const CoreEntry *c = t->core;
	const PosixTimerEntry **v;
	int n = 0, ret;

	if ((ret = rt_timers_itimers(r, t, e)) < 0)
		return ret;
	if (!c->n_posix_timers)
		return 0;
	v = calloc(c->n_posix_timers, sizeof(*v));
	if (!v)
		return err_errno(e, "allocate timers of pid %d", t->pid);
	for (size_t i = 0; i < c->n_posix_timers; i++)
		if (!rt_timer_for_thread(c->posix_timers[i], c->tid))
			v[n++] = c->posix_timers[i];
	ret = rt_timers_make(r, t, v, n, true, e);
	free(v);
	return ret;
}

int rt_timers_thread(struct rsys *r, struct rt_task *t, const CoreEntry *core, struct err *e)
{
	const CoreEntry *c = t->core;
	const PosixTimerEntry **v;
	int n = 0, ret;

	if (core->tid == c->tid || !c->n_posix_timers)
		return 0;
	v = calloc(c->n_posix_timers, sizeof(*v));
	if (!v)
		return err_errno(e, "allocate timers of thread %u", core->tid);
	for (size_t i = 0; i < c->n_posix_timers; i++)
		if (rt_timer_for_thread(c->posix_timers[i], c->tid) && c->posix_timers[i]->tid == core->tid)
			v[n++] = c->posix_timers[i];
	ret = rt_timers_make(r, t, v, n, false, e);
	free(v);
	return ret;
}
