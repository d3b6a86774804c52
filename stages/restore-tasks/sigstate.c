/* restore-tasks/sigstate.c: sigaltstack and pending signals.
 *
 * Pending signals are queued by the thread itself: the kernel lets a task
 * queue any si_code (kernel-style ones such as SI_TIMER or CLD_EXITED
 * included) only to itself. They stay pending because rsys blocks every
 * signal while remote syscalls run; the dumped mask comes back last. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

#include "lib/log.h"
#include "lib/rsys.h"
#include "stages/restore-tasks/taskstate.h"

/* The kernel's stack_t on x86-64. */
struct rt_stack {
	uint64_t sp;
	int32_t flags;
	int32_t pad;
	uint64_t size;
};

int rt_sigaltstack(struct rsys *r, struct rt_task *t, const CoreEntry *core, struct err *e)
{
	struct rt_stack st;
	int ret;

	/* Always set: a thread made by forking the stage inherits the stage's
	 * own alternate stack (sanitizers install one), in memory that is gone. */
	if (!core->sigaltstack)
		st = (struct rt_stack){ 0, SS_DISABLE, 0, 0 };
	else
		st = (struct rt_stack){ core->sigaltstack->sp, core->sigaltstack->flags & ~SS_ONSTACK, 0, core->sigaltstack->size };
	if ((ret = rsys_poke(t->pid, RT_SCRATCH(t), &st, sizeof(st), e)) < 0)
		return ret;
	return rt_sys(r, NULL, "set the sigaltstack", SYS_sigaltstack, RT_SCRATCH(t), 0, 0, 0, 0, 0, e);
}

/* Queues one list of siginfos: to the thread (tid != 0) or to the process. */
static int rt_queue(struct rsys *r, struct rt_task *t, SiginfoEntry **v, size_t n, pid_t tgid, pid_t tid, struct err *e)
{
	for (size_t i = 0; i < n; i++) {
		siginfo_t si;
		char what[96];
		int ret;

		if (v[i]->siginfo.len != sizeof(si))
			return err_input(e, "core-%d.img: pending signal %zu has %zu bytes of siginfo, want %zu",
					 tid ? tid : tgid, i, v[i]->siginfo.len, sizeof(si));
		memcpy(&si, v[i]->siginfo.data, sizeof(si));
		if (si.si_signo < 1 || si.si_signo > 64)
			return err_input(e, "core-%d.img: pending signal %zu has signal number %d",
					 tid ? tid : tgid, i, si.si_signo);
		if (si.si_signo == SIGKILL || si.si_signo == SIGSTOP) {
			pr_warn("pid %d: not restoring a pending signal %d", tgid, si.si_signo);
			continue;
		}
		if ((ret = rsys_poke(t->pid, RT_SCRATCH(t), &si, sizeof(si), e)) < 0)
			return ret;
		snprintf(what, sizeof(what), "queue pending %s signal %d (code %d)", tid ? "thread" : "process-wide",
			 si.si_signo, si.si_code);
		if (tid)
			ret = rt_sys(r, NULL, what, SYS_rt_tgsigqueueinfo, tgid, tid, si.si_signo, RT_SCRATCH(t), 0, 0, e);
		else
			ret = rt_sys(r, NULL, what, SYS_rt_sigqueueinfo, tgid, si.si_signo, RT_SCRATCH(t), 0, 0, 0, e);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int rt_pending_signals(struct rsys *r, struct rt_task *t, const CoreEntry *core, struct err *e)
{
	/* The ids as the task sees them (its own pid namespace): the image's. */
	pid_t tgid = t->pe->pid, tid = core->tid;
	int ret;

	if ((ret = rt_queue(r, t, core->pending, core->n_pending, tgid, tid, e)) < 0)
		return ret;
	/* Process-wide signals, from the leader: the kernel checks the queuer
	 * is the target pid itself. */
	if (core->tid == (uint32_t)tgid)
		return rt_queue(r, t, core->shared_pending, core->n_shared_pending, tgid, 0, e);
	return 0;
}
