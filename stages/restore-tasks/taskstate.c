/* restore-tasks/taskstate.c: the parts of a task's state beyond registers
 * and memory, set by remote syscalls in the right order: process-wide state
 * first; per thread sigaltstack and pending signals, then credentials (after
 * everything that needs privilege), then seccomp (after everything else).
 *
 * Pieces: sigstate.c (sigaltstack, pending signals), timers.c, creds.c
 * (credentials, seccomp); here rlimits, personality, child subreaper, and
 * what the kernel resets on a credential change (dumpable, pdeathsig). */
#include <linux/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "images/core.pb-c.h"
#include "lib/log.h"
#include "lib/rsys.h"
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
	if ((ret = rt_timers_process(r, t, e)) < 0)
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

	if ((ret = rt_sigaltstack(r, t, core, e)) < 0 ||
	    (ret = rt_timers_thread(r, t, core, e)) < 0 ||
	    (ret = rt_pending_signals(r, t, core, e)) < 0 ||
	    (ret = rt_creds(r, t, core, &seccomp_done, e)) < 0 ||
	    (ret = rt_after_creds(r, t, core, e)) < 0)
		return ret;
	return seccomp_done ? 0 : rt_seccomp(r, t, core, e);
}
