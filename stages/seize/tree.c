/* seize/tree.c: find every task of the tree and stop it with ptrace. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "lib/tracee.h"
#include "stages/seize/seize.h"

static bool seize_has_tid(const struct seize_proc *p, pid_t tid)
{
	for (int i = 0; i < p->nr_tids; i++)
		if (p->tids[i] == tid)
			return true;
	return false;
}

static struct seize_proc *seize_find(struct seize_tree *t, pid_t pid)
{
	for (int i = 0; i < t->nr; i++)
		if (t->procs[i].pid == pid)
			return &t->procs[i];
	return NULL;
}

/* PF_KTHREAD in /proc/PID/stat's flags (include/linux/sched.h). */
#define SEIZE_PF_KTHREAD 0x00200000UL

/* A kernel thread has no user memory, registers or files to save, and
 * cannot be traced: say that rather than what ptrace answers. */
static int seize_check_user_task(pid_t pid, struct err *e)
{
	struct proc_stat st;
	struct err ignored;

	if (proc_read_stat(pid, 0, &st, &ignored) == 0 && (st.flags & SEIZE_PF_KTHREAD))
		return err_input(e, "pid %d (%s) is a kernel thread: it has no user state to dump; give the pid of a "
				 "user process", pid, st.comm);
	return 0;
}

/* Refuses to freeze amber itself or one of its ancestors: the dump would wait
 * for a process that waits for the dump. */
static int seize_check_target(pid_t pid, struct err *e)
{
	pid_t cur = getpid();

	while (cur > 1) {
		struct proc_stat st;
		struct err ignored;

		if (cur == pid)
			return err_input(e, "pid %d is amber itself or one of its parents; dump a tree that does not contain amber", pid);
		if (proc_read_stat(cur, 0, &st, &ignored) < 0)
			break;
		cur = st.ppid;
	}
	if (pid == 1)
		return err_input(e, "pid 1 is this namespace's init; dump it from outside its pid namespace");
	return seize_check_user_task(pid, e);
}

/* SUSPEND_SECCOMP: the task's own filters must not judge amber's remote syscalls. */
#define SEIZE_PTRACE_OPTIONS (PTRACE_O_TRACESYSGOOD | PTRACE_O_SUSPEND_SECCOMP)

/* Seizes one thread and waits until it is in its interrupt stop. */
static int seize_thread(pid_t tid, struct err *e)
{
	int ret = tracee_seize(tid, SEIZE_PTRACE_OPTIONS, e);

	if (ret < 0)
		return ret;
	return tracee_wait_interrupt_stop(tid, e);
}

/* A process that exits while the tree is being seized is not an error: it is
 * recorded as the zombie it became, or dropped if already reaped. Threads
 * of it already seized are let go (they are exiting too). */
static bool seize_proc_exited(struct seize_proc *p)
{
	struct proc_stat st;
	struct err ignored;

	if (proc_read_stat(p->pid, 0, &st, &ignored) == 0 && st.state != 'Z')
		return false;
	for (int j = 0; j < p->nr_tids; j++)
		ptrace(PTRACE_DETACH, p->tids[j], 0, 0);
	if (proc_read_stat(p->pid, 0, &st, &ignored) == 0 && st.state == 'Z' &&
	    (p->tids || (p->tids = malloc(sizeof(*p->tids))))) {
		p->zombie = true;
		p->exit_status = st.exit_code;
		p->tids[0] = p->pid;
		p->nr_tids = 1;
	} else {
		p->gone = true;
	}
	pr_info("pid %d exited while the tree was being seized: %s", p->pid, p->gone ? "left out" : "recorded as a zombie");
	return true;
}

/* Seizes threads of p not yet held; returns how many were new. All new
 * threads are interrupted before waiting for any: busy threads then stop
 * together instead of one after another. */
static int seize_proc_threads(struct seize_proc *p, struct err *e)
{
	_cleanup_free_ pid_t *tids = NULL;
	_cleanup_free_ int *asked = NULL;
	int nr, added = 0, ret;

	if ((ret = proc_list_threads(p->pid, &tids, &nr, e)) < 0)
		return ret;
	asked = calloc(nr, sizeof(*asked));
	if (!asked)
		return err_errno(e, "seize the threads of %d", p->pid);
	for (int i = 0; i < nr; i++)
		if (!seize_has_tid(p, tids[i]))
			asked[i] = ptrace(PTRACE_SEIZE, tids[i], 0, SEIZE_PTRACE_OPTIONS) == 0 &&
				   ptrace(PTRACE_INTERRUPT, tids[i], 0, 0) == 0;
	for (int i = 0; i < nr; i++) {
		if (seize_has_tid(p, tids[i]))
			continue;
		/* A thread whose seize failed above is retried once, for its error. */
		if ((ret = asked[i] ? tracee_wait_interrupt_stop(tids[i], e) : seize_thread(tids[i], e)) < 0) {
			char path[64];

			/* A thread that exited between listing and seizing is gone
			 * for good; only the leader's absence is fatal. */
			snprintf(path, sizeof(path), "/proc/%d/task/%d", p->pid, tids[i]);
			if (tids[i] != p->pid && access(path, F_OK) < 0)
				continue;
			if (tids[i] == p->pid && seize_proc_exited(p))
				return 0;
			return ret;
		}
		if (grow_one(&p->tids, p->nr_tids) < 0)
			return err_errno(e, "remember thread %d", tids[i]);
		/* The leader's tid equals the pid: keep it first. */
		if (tids[i] == p->pid && p->nr_tids) {
			memmove(p->tids + 1, p->tids, sizeof(*p->tids) * p->nr_tids);
			p->tids[0] = tids[i];
		} else {
			p->tids[p->nr_tids] = tids[i];
		}
		p->nr_tids++;
		added++;
	}
	return added;
}

static int seize_add_proc(struct seize_tree *t, pid_t pid, struct err *e)
{
	struct seize_proc *np;
	struct proc_stat st;
	int ret;

	if (grow_one(&t->procs, t->nr) < 0)
		return err_errno(e, "remember pid %d", pid);
	np = t->procs;
	memset(&np[t->nr], 0, sizeof(np[0]));
	np[t->nr].pid = pid;
	t->nr++;
	if ((ret = proc_read_stat(pid, 0, &st, e)) < 0)
		return ret;
	/* Stopped by job control: it stays so while traced, and is restored so. */
	np[t->nr - 1].stopped = st.state == 'T';
	if (st.state == 'Z') {
		/* Nothing to stop: it is recorded and recreated as a zombie. */
		np[t->nr - 1].zombie = true;
		np[t->nr - 1].exit_status = st.exit_code;
		np[t->nr - 1].tids = malloc(sizeof(pid_t));
		if (!np[t->nr - 1].tids)
			return err_errno(e, "remember zombie %d", pid);
		np[t->nr - 1].tids[0] = pid;
		np[t->nr - 1].nr_tids = 1;
	}
	return 0;
}

int seize_tree_freeze(pid_t root, struct seize_tree *t, struct err *e)
{
	int ret, changed;

	memset(t, 0, sizeof(*t));
	if ((ret = seize_check_target(root, e)) < 0)
		return ret;
	if (kill(root, 0) < 0 && errno == ESRCH)
		return err_input(e, "pid %d does not exist", root);
	if ((ret = seize_add_proc(t, root, e)) < 0)
		return ret;
	if (t->procs[0].zombie)
		return err_input(e, "pid %d is a zombie: it has exited and holds nothing to dump", root);
	/* Stop threads, then look for new threads and children; repeat until a
	 * pass finds nothing new, because a running thread can clone or fork
	 * until the moment it is stopped. */
	do {
		changed = 0;
		for (int i = 0; i < t->nr; i++) {
			if (t->procs[i].zombie || t->procs[i].gone)
				continue;
			if ((ret = seize_proc_threads(&t->procs[i], e)) < 0)
				return err_wrap(e, "seize pid %d", t->procs[i].pid);
			changed += ret;
			for (int j = 0; j < t->procs[i].nr_tids && !t->procs[i].zombie && !t->procs[i].gone; j++) {
				_cleanup_free_ pid_t *kids = NULL;
				int nk;

				if ((ret = proc_read_children(t->procs[i].pid, t->procs[i].tids[j], &kids, &nk, e)) < 0)
					return ret;
				for (int k = 0; k < nk; k++) {
					if (seize_find(t, kids[k]))
						continue;
					if ((ret = seize_add_proc(t, kids[k], e)) < 0)
						return ret;
					changed++;
				}
			}
		}
	} while (changed);

	if (t->procs[0].zombie || t->procs[0].gone)
		return err_input(e, "pid %d exited while it was being seized", root);
	for (int i = 0; i < t->nr; i++) {
		struct proc_stat st;

		if (t->procs[i].gone)
			continue;
		if ((ret = proc_read_stat(t->procs[i].pid, 0, &st, e)) < 0)
			return ret;
		t->procs[i].ppid = i ? st.ppid : 0;
		t->procs[i].pgid = st.pgrp;
		t->procs[i].sid = st.session;
	}
	return 0;
}

void seize_tree_release(struct seize_tree *t, int kill_it)
{
	for (int i = 0; i < t->nr; i++) {
		struct seize_proc *p = &t->procs[i];

		if (p->gone)
			continue;
		if (kill_it) {
			kill(p->pid, SIGKILL);
			continue;
		}
		for (int j = 0; j < p->nr_tids && !p->zombie; j++)
			if (ptrace(PTRACE_DETACH, p->tids[j], 0, 0) < 0 && errno != ESRCH)
				pr_warn("detach thread %d: %m", p->tids[j]);
	}
	if (!kill_it)
		return;
	/* Wait until every killed thread is gone, so its pid is free when the
	 * driver goes on (a restore may follow at once). In whatever order
	 * the kernel reports them: a leader is reported only once its other
	 * threads are gone, and the init of a pid namespace only once every
	 * task of the namespace is reaped, which for a traced one means by
	 * this stage first. */
	{
		int left = 0, status;

		for (int i = 0; i < t->nr; i++)
			left += t->procs[i].zombie ? 0 : t->procs[i].nr_tids;
		while (left > 0) {
			pid_t got = waitpid(-1, &status, __WALL);

			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0)
				break;
			if (WIFEXITED(status) || WIFSIGNALED(status))
				left--;
			else if (WIFSTOPPED(status))
				ptrace(PTRACE_CONT, got, 0, 0);
		}
	}
	for (int i = 0; i < t->nr; i++) {
		char path[64];

		/* A zombie leader stays until its real parent reaps it; the pid
		 * is free for clone3 only then, so wait a little for it. */
		snprintf(path, sizeof(path), "/proc/%d", t->procs[i].pid);
		for (int tries = 0; tries < 100 && access(path, F_OK) == 0; tries++) {
			struct proc_stat st;
			struct err ignored;

			if (proc_read_stat(t->procs[i].pid, 0, &st, &ignored) < 0 || st.state != 'Z')
				break;
			usleep(1000);
		}
	}
}

/* The innermost of a task's pids, and how many levels it has. */
static int seize_nspid(pid_t pid, pid_t tid, int *levels, struct proc_status *st, struct err *e)
{
	int ret = proc_read_status(pid, tid, st, e);

	if (ret < 0)
		return ret;
	*levels = st->nr_nspid;
	return st->nr_nspid ? st->nspid[st->nr_nspid - 1] : tid;
}

int seize_tree_ns_ids(struct seize_tree *t, struct err *e)
{
	char self[64] = "", root[64] = "", path[64];
	int root_levels = 0;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", t->procs[0].pid);
	if (readlink("/proc/self/ns/pid", self, sizeof(self) - 1) < 0 || readlink(path, root, sizeof(root) - 1) < 0)
		return err_errno(e, "read the pid namespace of pid %d", t->procs[0].pid);
	t->own_pidns = strcmp(self, root) != 0;
	for (int i = 0; i < t->nr; i++) {
		struct seize_proc *p = &t->procs[i];
		struct proc_status st;
		int levels = 0, ret;

		if (p->gone)
			continue;
		p->ns_tids = calloc(p->nr_tids, sizeof(*p->ns_tids));
		if (!p->ns_tids)
			return err_errno(e, "remember the ids of pid %d", p->pid);
		for (int j = 0; j < p->nr_tids; j++) {
			if (!t->own_pidns) {
				p->ns_tids[j] = p->tids[j];
				continue;
			}
			if ((ret = seize_nspid(p->pid, p->tids[j], &levels, &st, e)) < 0)
				return ret;
			if (i == 0 && j == 0)
				root_levels = levels;
			if (levels != root_levels)
				return err_input(e, "pid %d is in another pid namespace than the tree's root %d; nested pid namespaces are not supported",
						 p->pid, t->procs[0].pid);
			p->ns_tids[j] = ret;
			if (j == 0) {
				p->ns_pgid = st.ns_pgid;
				p->ns_sid = st.ns_sid;
			}
		}
		p->ns_pid = p->ns_tids[0];
		if (!t->own_pidns) {
			p->ns_pgid = p->pgid;
			p->ns_sid = p->sid;
		}
	}
	for (int i = 0; i < t->nr; i++) {
		struct seize_proc *p = &t->procs[i];

		p->ns_ppid = 0;
		for (int k = 0; k < t->nr && i; k++)
			if (t->procs[k].pid == p->ppid)
				p->ns_ppid = t->procs[k].ns_pid;
	}
	return 0;
}

void seize_tree_free(struct seize_tree *t)
{
	for (int i = 0; i < t->nr; i++)
		free(t->procs[i].ns_tids);
	for (int i = 0; i < t->nr; i++)
		free(t->procs[i].tids);
	free(t->procs);
	t->procs = NULL;
	t->nr = 0;
}
