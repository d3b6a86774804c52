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

#include "images/collect.h"
#include "images/core.pb-c.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "lib/rsys.h"
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

/* A thread's scheduling policy and parameters (images/collect.h). */
static int seize_sched(pid_t tid, CoreEntry *core, struct err *e)
{
	SchedEntry *se = malloc(sizeof(*se));
	int ret;

	if (!se)
		return err_errno(e, "thread %d: scheduling state", tid);
	if ((ret = collect_sched(tid, se, e)) < 0) {
		free(se);
		return ret;
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

/* Process-wide items, read in the leader. */
static int seize_process_state(pid_t pid, struct rsys *r, const struct seize_scratch *sc, CoreEntry *core, struct err *e)
{
	uint64_t s = sc->addr + SEIZE_SCRATCH_FREE;
	uint32_t subreaper = 0;
	long res;
	int ret;

	if ((ret = seize_timers(pid, r, s, core, e)) < 0 ||
	    (ret = collect_rlimits(pid, core, e)) < 0)
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
	if ((ret = collect_proc_knobs(pid, core, e)) < 0)
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
	collect_rlimits_free(core);
}
