/* seize/core.c: record the CPU and signal state of every thread. */
#include <fcntl.h>
#include <linux/prctl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include "images/core.pb-c.h"
#include "images/image.h"
#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "lib/rsys.h"
#include "lib/tracee.h"
#include "stages/seize/seize.h"

/* PTRACE_GET_RSEQ_CONFIGURATION (0x420f) fills this; glibc names the request
 * but not the struct. */
#define SEIZE_PTRACE_GET_RSEQ_CONFIGURATION 0x420f
struct seize_rseq_config {
	uint64_t rseq_abi_pointer;
	uint32_t rseq_abi_size;
	uint32_t signature;
	uint32_t flags;
	uint32_t pad;
};

/* The kernel's struct sigaction on x86-64, as rt_sigaction(2) copies it. */
struct seize_ksigaction {
	uint64_t handler, flags, restorer, mask;
};

struct seize_thread_core {
	CoreEntry core;
	UserRegsEntry regs;
	RseqEntry rseq;
	uint8_t *xstate;
	uint8_t fpregs[512];
	char comm[32];
};

static void seize_regs_to_entry(const struct user_regs_struct *r, UserRegsEntry *u)
{
	user_regs_entry__init(u);
	u->r15 = r->r15; u->r14 = r->r14; u->r13 = r->r13; u->r12 = r->r12;
	u->bp = r->rbp; u->bx = r->rbx; u->r11 = r->r11; u->r10 = r->r10;
	u->r9 = r->r9; u->r8 = r->r8; u->ax = r->rax; u->cx = r->rcx;
	u->dx = r->rdx; u->si = r->rsi; u->di = r->rdi; u->orig_ax = r->orig_rax;
	u->ip = r->rip; u->cs = r->cs; u->flags = r->eflags; u->sp = r->rsp;
	u->ss = r->ss; u->fs_base = r->fs_base; u->gs_base = r->gs_base;
	u->ds = r->ds; u->es = r->es; u->fs = r->fs; u->gs = r->gs;
}

/* Fills the parts of a thread's core that need no remote syscall. */
static int seize_thread_state(pid_t pid, pid_t tid, struct seize_thread_core *t, struct err *e)
{
	struct user_regs_struct regs;
	struct seize_rseq_config rc;
	size_t xsize = tracee_xstate_size(), xlen = 0;
	char path[64];
	_cleanup_free_ char *comm = NULL;
	int ret;

	core_entry__init(&t->core);
	t->core.tid = tid;
	if ((ret = tracee_get_regs(tid, &regs, e)) < 0)
		return ret;
	t->core.has_restarted_syscall = true;
	t->core.restarted_syscall = tracee_regs_restart_syscall(&regs);
	seize_regs_to_entry(&regs, &t->regs);
	t->core.regs = &t->regs;

	t->xstate = malloc(xsize);
	if (!t->xstate)
		return err_errno(e, "allocate xstate for thread %d", tid);
	if ((ret = tracee_get_xstate(tid, t->xstate, xsize, &xlen, e)) < 0)
		return ret;
	t->core.has_xstate = true;
	t->core.xstate.data = t->xstate;
	t->core.xstate.len = xlen;
	if ((ret = tracee_get_fpregs(tid, t->fpregs, sizeof(t->fpregs), e)) < 0)
		return ret;
	t->core.has_fpregs = true;
	t->core.fpregs.data = t->fpregs;
	t->core.fpregs.len = sizeof(t->fpregs);
	if ((ret = tracee_get_sigmask(tid, &t->core.sigmask, e)) < 0)
		return ret;
	{
		uint64_t head = 0;
		size_t len = 0;

		/* Readable from outside with ptrace rights: no remote syscall needed. */
		if (syscall(SYS_get_robust_list, tid, &head, &len) < 0)
			return err_errno(e, "read the robust futex list of thread %d", tid);
		t->core.has_robust_list = t->core.has_robust_list_len = true;
		t->core.robust_list = head;
		t->core.robust_list_len = len;
	}

	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid, tid);
	if ((ret = proc_read_file(path, &comm, NULL, e)) < 0)
		return ret;
	comm[strcspn(comm, "\n")] = 0;
	snprintf(t->comm, sizeof(t->comm), "%s", comm);
	t->core.comm = t->comm;

	if (ptrace(SEIZE_PTRACE_GET_RSEQ_CONFIGURATION, tid, sizeof(rc), &rc) == sizeof(rc) && rc.rseq_abi_pointer) {
		rseq_entry__init(&t->rseq);
		t->rseq.ptr = rc.rseq_abi_pointer;
		t->rseq.len = rc.rseq_abi_size;
		t->rseq.flags = rc.flags;
		t->rseq.signature = rc.signature;
		t->core.rseq = &t->rseq;
	}
	return 0;
}

/* Reads what only the task itself can tell: every sigaction and brk (per
 * process), clear_child_tid (per thread), with remote syscalls that write into
 * a scratch page mapped for the purpose and unmapped again. */
static int seize_remote_state(const struct seize_proc *p, struct seize_thread_core *threads,
			      SigactionEntry *sa, SigactionEntry **sap, struct rjournal *j, struct err *e)
{
	struct rsys leader;
	uint64_t site;
	long scratch = 0, res;
	struct seize_ksigaction ks[64];
	int ret, nsa = 0;

	{
		struct proc_status st;

		/* Strict mode allows read, write, exit and sigreturn: the scratch
		 * mmap would kill the task. */
		if (proc_read_status(p->pid, 0, &st, e) < 0)
			return -1;
		if (st.seccomp == 1)
			return err_input(e, "pid %d runs in strict seccomp mode (SECCOMP_MODE_STRICT), which amber cannot dump", p->pid);
	}
	site = rsys_find_vdso_site(p->pid, e);
	if (!site)
		return err_wrap(e, "pid %d", p->pid);
	if ((ret = rsys_begin(&leader, p->pid, site, RSYS_SITE_SYSCALL_STOPS, j, e)) < 0)
		return ret;
	ret = rsys_call(&leader, &scratch, SYS_mmap, 0, 4096 * SEIZE_SCRATCH_PAGES, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, e);
	if (ret == 0 && scratch < 0 && scratch > -4096)
		ret = err_errnum(e, -scratch, "map a scratch page in pid %d", p->pid);
	/* The batch loop goes into the scratch's last page, made executable;
	 * it is the only code amber puts in the task, and it goes with the page. */
	if (ret == 0)
		ret = rsys_poke(p->pid, scratch + SEIZE_BATCH_CODE, rsys_batch_code, sizeof(rsys_batch_code), e);
	if (ret == 0)
		ret = rsys_call(&leader, &res, SYS_mprotect, scratch + SEIZE_BATCH_CODE, 4096, PROT_READ | PROT_EXEC, 0, 0, 0, e);
	if (ret == 0 && res < 0)
		ret = err_errnum(e, -res, "make the batch page of pid %d executable", p->pid);
	if (ret == 0) {
		struct rsys_req reqs[64];
		int n = 0;

		for (int sig = 1; sig <= 64; sig++)
			if (sig != SIGKILL && sig != SIGSTOP)
				reqs[n++] = (struct rsys_req){ SYS_rt_sigaction,
							       { sig, 0, scratch + (sig - 1) * sizeof(ks[0]), 8, 0, 0 }, 0 };
		ret = rsys_batch(&leader, scratch + SEIZE_BATCH_CODE, scratch + SEIZE_BATCH_AREA, reqs, n, e);
		for (int i = 0; ret == 0 && i < n; i++)
			if (reqs[i].ret < 0)
				ret = err_errnum(e, -reqs[i].ret, "read sigaction %llu of pid %d", (unsigned long long)reqs[i].a[0], p->pid);
	}
	/* 64 entries of 32 bytes fill the first scratch page's first half. */
	memset(ks, 0, sizeof(ks));
	if (ret == 0)
		ret = rsys_peek(p->pid, scratch, ks, sizeof(ks), e);
	for (int sig = 1; ret == 0 && sig <= 64; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		sigaction_entry__init(&sa[nsa]);
		sa[nsa].sig = sig;
		sa[nsa].handler = ks[sig - 1].handler;
		sa[nsa].flags = ks[sig - 1].flags;
		sa[nsa].restorer = ks[sig - 1].restorer;
		sa[nsa].mask = ks[sig - 1].mask;
		sap[nsa] = &sa[nsa];
		nsa++;
	}
	if (ret == 0)
		ret = rsys_call(&leader, &res, SYS_brk, 0, 0, 0, 0, 0, 0, e);
	if (ret == 0) {
		threads[0].core.has_brk = true;
		threads[0].core.brk = res;
		threads[0].core.n_sigactions = nsa;
		threads[0].core.sigactions = sap;
	}
	/* clear_child_tid is per thread: ask each thread itself. */
	for (int i = 0; ret == 0 && i < p->nr_tids; i++) {
		struct rsys th, *r = &leader;
		uint64_t tidaddr = 0;

		if (i > 0) {
			r = &th;
			if ((ret = rsys_begin(&th, p->tids[i], site, RSYS_SITE_SYSCALL_STOPS, j, e)) < 0)
				break;
		}
		ret = rsys_call(r, &res, SYS_prctl, PR_GET_TID_ADDRESS, scratch + 4096, 0, 0, 0, 0, e);
		if (ret == 0 && res == 0)
			ret = rsys_peek(p->pid, scratch + 4096, &tidaddr, sizeof(tidaddr), e);
		if (ret == 0) {
			threads[i].core.has_clear_child_tid = true;
			threads[i].core.clear_child_tid = tidaddr;
			ret = seize_task_state(p, i, r, scratch, &threads[i].core, e);
		}
		if (i > 0 && rsys_finish(&th, ret < 0 ? &(struct err){0} : e) < 0 && ret == 0)
			ret = -1;
	}
	if (scratch > 0) {
		struct err e2;

		if (rsys_call(&leader, &res, SYS_munmap, scratch, 4096 * SEIZE_SCRATCH_PAGES, 0, 0, 0, 0, ret < 0 ? &e2 : e) < 0 && ret == 0)
			ret = -1;
	}
	if (rsys_finish(&leader, ret < 0 ? &(struct err){0} : e) < 0 && ret == 0)
		ret = -1;
	if (ret == 0)
		pr_debug("pid %d: %lu remote syscalls", p->pid, leader.nr_calls);
	return ret;
}

int seize_dump_core(int dirfd, const struct seize_proc *p, struct rjournal *j, struct err *e)
{
	struct seize_thread_core *threads = calloc(p->nr_tids, sizeof(*threads));
	SigactionEntry sa[64], *sap[64];
	int ret = 0;

	if (!threads)
		return err_errno(e, "allocate cores for pid %d", p->pid);
	for (int i = 0; ret == 0 && i < p->nr_tids; i++)
		ret = seize_thread_state(p->pid, p->tids[i], &threads[i], e);
	if (ret == 0)
		ret = seize_remote_state(p, threads, sa, sap, j, e);
	for (int i = 0; ret == 0 && i < p->nr_tids; i++) {
		char name[64];

		/* Images use the ids the tree itself sees (its own pid namespace). */
		threads[i].core.tid = p->ns_tids[i];
		snprintf(name, sizeof(name), "core-%d.img", p->ns_tids[i]);
		ret = image_write_one(dirfd, "core", name, &threads[i].core.base, e);
	}
	for (int i = 0; i < p->nr_tids; i++) {
		free(threads[i].xstate);
		seize_task_state_free(&threads[i].core);
	}
	free(threads);
	return ret;
}
