/* restore-tasks/taskstate.c: the parts of a task's state beyond registers
 * and memory, set by remote syscalls in the right order: process-wide state
 * first; per thread sigaltstack and pending signals, then credentials (after
 * everything that needs privilege), then seccomp (after everything else).
 *
 * Pieces: sigstate.c (sigaltstack, pending signals), timers.c, creds.c
 * (credentials, seccomp); here rlimits, personality, child subreaper,
 * oom_score_adj, audit login uid, THP disable, each thread's scheduling
 * policy, and what the kernel resets on a credential change (dumpable,
 * pdeathsig). */
#include <fcntl.h>
#include <linux/prctl.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "images/core.pb-c.h"
#include "lib/exitcodes.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "lib/rsys.h"
#include "lib/schedattr.h"
#include "stages/restore-tasks/batch.h"
#include "stages/restore-tasks/restore-tasks.h"
#include "stages/restore-tasks/taskstate.h"

/* Sets every rlimit from outside (prlimit). Without CAP_SYS_RESOURCE a hard
 * limit cannot go above the one amber's child has now: such a limit keeps
 * the current hard limit (and a soft limit no higher), with a warning. */
static int rt_rlimits(struct rt_task *t, struct err *e)
{
	const CoreEntry *c = t->core;

	for (size_t i = 0; i < c->n_rlimits; i++) {
		const RlimitEntry *l = c->rlimits[i];
		struct rlimit now, want;

		if (l->resource >= RLIM_NLIMITS)
			return err_input(e, "core-%u.img: rlimit %u is unknown to this kernel's headers", c->tid, l->resource);
		if (l->cur > l->max)
			return err_input(e, "core-%u.img: rlimit %u has soft limit %llu above its hard limit %llu", c->tid,
					 l->resource, (unsigned long long)l->cur, (unsigned long long)l->max);
		if (prlimit(t->pid, l->resource, NULL, &now) < 0)
			return err_errno(e, "read rlimit %u of pid %d", l->resource, t->pid);
		want.rlim_cur = l->cur;
		want.rlim_max = l->max;
		if (want.rlim_cur == now.rlim_cur && want.rlim_max == now.rlim_max)
			continue;
		if (prlimit(t->pid, l->resource, &want, NULL) == 0)
			continue;
		if (errno != EPERM && errno != EINVAL)
			return err_errno(e, "set rlimit %u of pid %d to %llu/%llu", l->resource, t->pid,
					 (unsigned long long)l->cur, (unsigned long long)l->max);
		/* Keep what is possible: the hard limit as it is, the soft one no higher. */
		want.rlim_max = now.rlim_max;
		if (want.rlim_cur > want.rlim_max)
			want.rlim_cur = want.rlim_max;
		pr_warn("pid %d: rlimit %u was %llu/%llu (soft/hard) at dump; amber may not raise a hard limit above %llu "
			"(no CAP_SYS_RESOURCE), so it is %llu/%llu now",
			t->pid, l->resource, (unsigned long long)l->cur, (unsigned long long)l->max,
			(unsigned long long)now.rlim_max, (unsigned long long)want.rlim_cur, (unsigned long long)want.rlim_max);
		if (prlimit(t->pid, l->resource, &want, NULL) < 0)
			return err_errno(e, "set rlimit %u of pid %d to %llu/%llu", l->resource, t->pid,
					 (unsigned long long)want.rlim_cur, (unsigned long long)want.rlim_max);
	}
	return 0;
}

/* Writes a number to /proc/PID/NAME, unless it holds that already. */
static int rt_proc_write(pid_t pid, const char *name, long long want, struct err *e)
{
	char path[64], buf[32];
	long long now;
	int fd, n;

	if (proc_read_number(pid, name, &now) && now == want)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return err_errno(e, "pid %d: open %s to set it to %lld", pid, path, want);
	n = snprintf(buf, sizeof(buf), "%lld", want);
	if (write(fd, buf, n) != n) {
		int saved = errno;

		close(fd);
		return err_errnum(e, saved, "pid %d: set %s to %lld", pid, path, want);
	}
	close(fd);
	return 0;
}

/* The audit login uid: /proc/PID/loginuid takes a write only from the task
 * itself, so the task opens and writes its own (it still has amber's
 * CAP_AUDIT_CONTROL: credentials come later). Nothing when it has the
 * dumped value already. */
static int rt_loginuid(struct rsys *r, struct rt_task *t, uint32_t want, struct err *e)
{
	static const char path[] = "/proc/self/loginuid";
	char buf[16];
	long long now = -1;
	long fd, res;
	int n, ret;

	if (proc_read_number(t->pid, "loginuid", &now) && now == (long long)want)
		return 0;
	n = snprintf(buf, sizeof(buf), "%u", want);
	if ((ret = rsys_poke(t->pid, RT_SCRATCH(t), path, sizeof(path), e)) < 0 ||
	    (ret = rsys_poke(t->pid, RT_SCRATCH(t) + 64, buf, n, e)) < 0 ||
	    (ret = rt_sys(r, &fd, "open its /proc/self/loginuid", SYS_openat, AT_FDCWD, RT_SCRATCH(t), O_WRONLY | O_CLOEXEC,
			  0, 0, 0, e)) < 0)
		return ret;
	ret = rt_sys(r, &res, "set its audit login uid", SYS_write, fd, RT_SCRATCH(t) + 64, n, 0, 0, 0, e);
	rt_sys(r, NULL, "close its /proc/self/loginuid", SYS_close, fd, 0, 0, 0, 0, 0, e);
	if (ret == 0 && res != n)
		return err_set(e, EXIT_SYSTEM, "pid %d: the audit login uid stays %lld, not %u as dumped", t->pid, now, want);
	return ret;
}

/* oom_score_adj, written from outside; the audit login uid and THP
 * disable, which only the task can set. */
static int rt_process_knobs(struct rsys *r, struct rt_task *t, struct err *e)
{
	const CoreEntry *c = t->core;
	int ret;

	if (c->has_oom_score_adj && (c->oom_score_adj < -1000 || c->oom_score_adj > 1000))
		return err_input(e, "core-%u.img: oom_score_adj %d is outside -1000..1000", c->tid, c->oom_score_adj);
	if (c->has_oom_score_adj && (ret = rt_proc_write(t->pid, "oom_score_adj", c->oom_score_adj, e)) < 0)
		return ret;
	if (c->has_loginuid && (ret = rt_loginuid(r, t, c->loginuid, e)) < 0)
		return ret;
	if (c->has_thp_disabled && c->thp_disabled &&
	    (ret = rt_sys(r, NULL, "disable transparent huge pages", SYS_prctl, PR_SET_THP_DISABLE, 1, 0, 0, 0, 0, e)) < 0)
		return ret;
	return 0;
}

/* A thread's scheduling policy and parameters, set from outside (the stage
 * keeps CAP_SYS_NICE); a stopped thread does not run whatever its policy. */
static int rt_sched(pid_t tid, const CoreEntry *core, struct err *e)
{
	const SchedEntry *se = core->sched;
	struct amber_sched_attr a = { 0 };

	if (!se)
		return 0;
	a.size = sizeof(a);
	a.policy = se->policy;
	a.flags = se->flags;
	a.nice = se->nice;
	a.priority = se->priority;
	a.runtime = se->runtime;
	a.deadline = se->deadline;
	a.period = se->period;
	if (syscall(SYS_sched_setattr, tid, &a, 0) < 0)
		return errno == EINVAL ? err_input(e, "core-%u.img: scheduling policy %u (nice %d, priority %u, flags %#llx) "
						  "is not one this kernel takes", core->tid, se->policy, se->nice,
						  se->priority, (unsigned long long)se->flags)
				       : err_errno(e, "thread %d: set its scheduling policy %u (sched_setattr)", tid, se->policy);
	return 0;
}

int rt_task_state_process(struct rsys *r, struct rt_task *t, struct err *e)
{
	const CoreEntry *c = t->core;
	int ret;

	if (c->has_personality &&
	    (ret = rt_sys(r, NULL, "set the personality", SYS_personality, c->personality, 0, 0, 0, 0, 0, e)) < 0)
		return ret;
	if (c->has_child_subreaper && c->child_subreaper &&
	    (ret = rt_sys(r, NULL, "become a child subreaper", SYS_prctl, PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0, 0, e)) < 0)
		return ret;
	if ((ret = rt_timers_process(r, t, e)) < 0 || (ret = rt_process_knobs(r, t, e)) < 0)
		return ret;
	return rt_rlimits(t, e);
}

/* State the kernel resets whenever credentials change, so set after them:
 * dumpable (process-wide, from the leader's core; 2, suid_dumpable, cannot
 * be set by prctl) and the parent-death signal. */
static int rt_after_creds(struct rsys *r, struct rt_task *t, const CoreEntry *core, struct err *e)
{
	int ret;

	if (t->core->has_dumpable && t->core->dumpable <= 1 &&
	    (ret = rt_sys(r, NULL, "set dumpable", SYS_prctl, PR_SET_DUMPABLE, t->core->dumpable, 0, 0, 0, 0, e)) < 0)
		return ret;
	if (!core->has_pdeathsig || !core->pdeathsig)
		return 0;
	/* The root's parent was outside the tree: after restore it is amber,
	 * whose exit would send the signal at once. */
	if (!t->pe->ppid) {
		pr_warn("pid %d: not restoring parent-death signal %u of the tree's root: its parent was not dumped",
			t->pid, core->pdeathsig);
		return 0;
	}
	return rt_sys(r, NULL, "set the parent-death signal", SYS_prctl, PR_SET_PDEATHSIG, core->pdeathsig, 0, 0, 0, 0, e);
}

int rt_task_state_thread(struct rsys *r, struct rt_task *t, const CoreEntry *core, struct err *e)
{
	bool seccomp_done = false;
	int ret;

	if ((ret = rt_sched(r->tid, core, e)) < 0 ||
	    (ret = rt_sigaltstack(r, t, core, e)) < 0 ||
	    (ret = rt_timers_thread(r, t, core, e)) < 0 ||
	    (ret = rt_pending_signals(r, t, core, e)) < 0 ||
	    (ret = rt_creds(r, t, core, &seccomp_done, e)) < 0 ||
	    (ret = rt_after_creds(r, t, core, e)) < 0)
		return ret;
	return seccomp_done ? 0 : rt_seccomp(r, t, core, e);
}
