/* seize/taskstate.c: the parts of a thread's state beyond registers and
 * memory: pending signals and sigaltstack (sigstate.c), credentials and
 * seccomp (creds.c), timers (timers.c); here the small per-process items
 * (rlimits, personality, dumpable, child subreaper, THP disable,
 * oom_score_adj, audit login uid) and the per-thread parent-death signal
 * and scheduling policy. */
#include <linux/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "images/core.pb-c.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "lib/rsys.h"
#include "lib/schedattr.h"
#include "stages/seize/seize.h"
#include "stages/seize/taskstate.h"

/* Runs prctl(op, s) in the task, which stores an int at s; returns it in *out. */
static int seize_prctl_int(struct rsys *r, pid_t pid, int op, const char *what, uint64_t s, uint32_t *out, struct err *e)
{
	int32_t v = 0;
	long res;
	int ret;

	if ((ret = rsys_call(r, &res, SYS_prctl, op, s, 0, 0, 0, 0, e)) < 0)
		return ret;
	if (res < 0)
		return err_errnum(e, -res, "thread %d: %s", r->tid, what);
	if ((ret = rsys_peek(pid, s, &v, sizeof(v), e)) < 0)
		return ret;
	*out = v;
	return 0;
}

/* Every rlimit, read by the task itself: prlimit(2) on another process
 * needs the same uids or CAP_SYS_RESOURCE. One batch for all of them. */
static int seize_rlimits(pid_t pid, struct rsys *r, const struct seize_scratch *sc, CoreEntry *core, struct err *e)
{
	uint64_t s = sc->addr + SEIZE_SCRATCH_FREE;
	RlimitEntry *v = calloc(RLIM_NLIMITS, sizeof(*v));
	RlimitEntry **vp = calloc(RLIM_NLIMITS, sizeof(*vp));
	struct rsys_req reqs[RLIM_NLIMITS];
	int ret;

	if (!v || !vp) {
		free(v);
		free(vp);
		return err_errno(e, "allocate rlimits of pid %d", pid);
	}
	for (int i = 0; i < RLIM_NLIMITS; i++)
		vp[i] = &v[i];
	core->rlimits = vp;
	for (int i = 0; i < RLIM_NLIMITS; i++)
		reqs[i] = (struct rsys_req){ SYS_prlimit64, { 0, i, 0, s + i * sizeof(struct rlimit), 0, 0 }, 0 };
	if ((ret = seize_batch(r, sc, reqs, RLIM_NLIMITS, e)) < 0)
		return ret;
	for (int i = 0; i < RLIM_NLIMITS; i++)
		if (reqs[i].ret < 0)
			return err_errnum(e, -reqs[i].ret, "read rlimit %d of pid %d", i, pid);
	for (int i = 0; i < RLIM_NLIMITS; i++) {
		struct rlimit rl;

		if ((ret = rsys_peek(pid, s + i * sizeof(rl), &rl, sizeof(rl), e)) < 0)
			return ret;
		rlimit_entry__init(&v[i]);
		v[i].resource = i;
		v[i].cur = rl.rlim_cur;
		v[i].max = rl.rlim_max;
		core->n_rlimits++;
	}
	return 0;
}

/* A thread's scheduling policy and parameters: sched_getattr works on any
 * thread from outside, no remote call needed. */
static int seize_sched(pid_t tid, CoreEntry *core, struct err *e)
{
	struct amber_sched_attr a = { 0 };
	SchedEntry *se = malloc(sizeof(*se));

	if (!se)
		return err_errno(e, "thread %d: scheduling state", tid);
	if (syscall(SYS_sched_getattr, tid, &a, sizeof(a), 0) < 0) {
		free(se);
		return err_errno(e, "thread %d: read its scheduling policy (sched_getattr)", tid);
	}
	sched_entry__init(se);
	se->policy = a.policy;
	se->has_flags = se->has_nice = se->has_priority = true;
	se->flags = a.flags;
	se->nice = a.nice;
	se->priority = a.priority;
	if (a.runtime || a.deadline || a.period) {
		se->has_runtime = se->has_deadline = se->has_period = true;
		se->runtime = a.runtime;
		se->deadline = a.deadline;
		se->period = a.period;
	}
	core->sched = se;
	return 0;
}

/* A remote call nr(a1) whose result is the value asked for. */
static int seize_call_value(struct rsys *r, pid_t pid, const char *what, long nr, uint64_t a1, long *res, struct err *e)
{
	int ret = rsys_call(r, res, nr, a1, 0, 0, 0, 0, 0, e);

	if (ret == 0 && *res < 0)
		return err_errnum(e, -*res, "pid %d: %s", pid, what);
	return ret;
}

/* oom_score_adj and the audit login uid, from /proc. */
static int seize_proc_knobs(pid_t pid, CoreEntry *core, struct err *e)
{
	long long v;

	if (!proc_read_number(pid, "oom_score_adj", &v))
		return err_errno(e, "pid %d: read /proc/%d/oom_score_adj", pid, pid);
	core->has_oom_score_adj = true;
	core->oom_score_adj = v;
	/* A kernel without audit has no loginuid. */
	if (proc_read_number(pid, "loginuid", &v)) {
		core->has_loginuid = true;
		core->loginuid = v;
	}
	return 0;
}

/* Process-wide items, read in the leader. */
static int seize_process_state(pid_t pid, struct rsys *r, const struct seize_scratch *sc, CoreEntry *core, struct err *e)
{
	uint64_t s = sc->addr + SEIZE_SCRATCH_FREE;
	uint32_t subreaper = 0;
	long res;
	int ret;

	if ((ret = seize_timers(pid, r, s, core, e)) < 0 ||
	    (ret = seize_rlimits(pid, r, sc, core, e)) < 0)
		return ret;
	if ((ret = seize_call_value(r, pid, "read the personality", SYS_personality, 0xffffffff, &res, e)) < 0)
		return ret;
	core->has_personality = true;
	core->personality = res;
	if ((ret = seize_call_value(r, pid, "PR_GET_DUMPABLE", SYS_prctl, PR_GET_DUMPABLE, &res, e)) < 0)
		return ret;
	core->has_dumpable = true;
	core->dumpable = res;
	if ((ret = seize_call_value(r, pid, "PR_GET_THP_DISABLE", SYS_prctl, PR_GET_THP_DISABLE, &res, e)) < 0)
		return ret;
	core->has_thp_disabled = true;
	core->thp_disabled = res;
	if ((ret = seize_proc_knobs(pid, core, e)) < 0)
		return ret;
	if ((ret = seize_prctl_int(r, pid, PR_GET_CHILD_SUBREAPER, "PR_GET_CHILD_SUBREAPER", s, &subreaper, e)) < 0)
		return ret;
	core->has_child_subreaper = true;
	core->child_subreaper = subreaper;
	return 0;
}

int seize_task_state(const struct seize_proc *p, int idx, struct rsys *r, const struct seize_scratch *sc, CoreEntry *core,
		     struct err *e)
{
	uint64_t s = sc->addr + SEIZE_SCRATCH_FREE;
	pid_t tid = p->tids[idx];
	int ret;

	if ((ret = seize_creds(p->pid, tid, r, core, e)) < 0 ||
	    (ret = seize_sigstate(p->pid, tid, idx == 0, r, s, core, e)) < 0 ||
	    (ret = seize_prctl_int(r, p->pid, PR_GET_PDEATHSIG, "PR_GET_PDEATHSIG", s, &core->pdeathsig, e)) < 0)
		return ret;
	core->has_pdeathsig = true;
	if ((ret = seize_sched(tid, core, e)) < 0)
		return ret;
	if (idx == 0 && (ret = seize_process_state(p->pid, r, sc, core, e)) < 0)
		return ret;
	return 0;
}

void seize_task_state_free(CoreEntry *core)
{
	free(core->sched);
	core->sched = NULL;
	seize_sigstate_free(core);
	seize_creds_free(core);
	seize_timers_free(core);
	if (core->rlimits)
		free(core->rlimits[0]);
	free(core->rlimits);
	core->rlimits = NULL;
	core->n_rlimits = 0;
}
