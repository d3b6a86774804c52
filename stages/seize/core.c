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
#include "images/rjournal.h"
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

/* Where p's remote syscalls run from: the parking gadget, written into its
 * vDSO's padding (journaled first), or without room for it a 'syscall' of
 * the vDSO itself. *gadget is set when the gadget was written. */
int seize_site(const struct seize_proc *p, struct rjournal *j, uint64_t *site, bool *gadget,
		      uint8_t orig[RSYS_PARK_SIZE], struct err *e)
{
	int ret = rsys_park_find(p->pid, site, orig, e);

	*gadget = false;
	if (ret == -EEXIST)
		return err_input(e, "pid %d has amber's parking gadget in its vDSO (at %#llx): an earlier seize died and its "
				 "threads were not put back; run 'amber stage unseize --run-dir RUN' on that dump's run directory first",
				 p->pid, (unsigned long long)*site);
	if (ret == -ENOSPC) {
		pr_warn("pid %d: no room for the parking gadget in its vDSO; if seize dies during its remote syscalls, "
			"a thread of pid %d may crash", p->pid, p->pid);
		*site = rsys_find_vdso_site(p->pid, e);
		return *site ? 0 : err_wrap(e, "pid %d", p->pid);
	}
	if (ret < 0 || (ret = rjournal_gadget(j, *site, orig, RSYS_PARK_SIZE, e)) < 0 ||
	    (ret = rsys_park_write(p->pid, *site, NULL, &j->watch, e)) < 0)
		return ret;
	*gadget = true;
	return 0;
}

/* Maps the scratch area in the leader, MAP_SHARED, and here too through
 * /proc/PID/map_files (without that, no batches). Journaled: where the
 * journal does not know the address yet, the parked thread keeps it in
 * rbx. */
static int seize_map_scratch(struct rsys *leader, pid_t pid, struct rjournal *j, struct seize_scratch *sc, struct err *e)
{
	const size_t len = 4096 * SEIZE_SCRATCH_PAGES;
	char path[96];
	long addr;
	int ret, fd;

	if ((ret = rjournal_mapping(j, leader->tid, len, e)) < 0 ||
	    (ret = rsys_call(leader, &addr, SYS_mmap, 0, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0, e)) < 0)
		return ret;
	if (addr < 0 && addr > -4096) {
		/* Nothing was mapped. */
		if (rjournal_mapping_gone(j, &(struct err){ 0 }) < 0)
			pr_debug("pid %d: could not note that no scratch area was mapped", pid);
		return err_errnum(e, -addr, "map a scratch area in pid %d", pid);
	}
	sc->addr = addr;
	if ((ret = rjournal_mapping_at(j, sc->addr, e)) < 0)
		return ret;
	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", pid, (unsigned long long)sc->addr,
		 (unsigned long long)(sc->addr + len));
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

		sc->local = m == MAP_FAILED ? NULL : m;
		close(fd);
	}
	if (!sc->local)
		pr_debug("pid %d: no shared view of the scratch area ('%s': %m): one remote call per request", pid, path);
	sc->batches = sc->batches && sc->local;
	return 0;
}

int seize_batch(struct rsys *r, const struct seize_scratch *sc, struct rsys_req *reqs, int n, struct err *e)
{
	int ret;

	if (sc->batches)
		return rsys_batch_shared(r, sc->local + SEIZE_BATCH_AREA, sc->addr + SEIZE_BATCH_AREA, 4096, reqs, n, e);
	for (int i = 0; i < n; i++) {
		long res;

		if ((ret = rsys_call(r, &res, reqs[i].nr, reqs[i].a[0], reqs[i].a[1], reqs[i].a[2], reqs[i].a[3],
				     reqs[i].a[4], reqs[i].a[5], e)) < 0)
			return ret;
		reqs[i].ret = res;
	}
	return 0;
}

/* Reads every sigaction of p into sa/sap, in one batch. */
static int seize_sigactions(const struct seize_proc *p, struct rsys *leader, const struct seize_scratch *sc,
			    SigactionEntry *sa, SigactionEntry **sap, int *nsa, struct err *e)
{
	struct seize_ksigaction ks[64];
	struct rsys_req reqs[64];
	int ret, n = 0;

	for (int sig = 1; sig <= 64; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			reqs[n++] = (struct rsys_req){ SYS_rt_sigaction, { sig, 0, sc->addr + (sig - 1) * sizeof(ks[0]), 8, 0, 0 }, 0 };
	if ((ret = seize_batch(leader, sc, reqs, n, e)) < 0)
		return ret;
	for (int i = 0; i < n; i++)
		if (reqs[i].ret < 0)
			return err_errnum(e, -reqs[i].ret, "read sigaction %llu of pid %d", (unsigned long long)reqs[i].a[0], p->pid);
	/* 64 entries of 32 bytes fill the first scratch page's first half. */
	memset(ks, 0, sizeof(ks));
	if ((ret = rsys_peek(p->pid, sc->addr, ks, sizeof(ks), e)) < 0)
		return ret;
	*nsa = 0;
	for (int sig = 1; sig <= 64; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		sigaction_entry__init(&sa[*nsa]);
		sa[*nsa].sig = sig;
		sa[*nsa].handler = ks[sig - 1].handler;
		sa[*nsa].flags = ks[sig - 1].flags;
		sa[*nsa].restorer = ks[sig - 1].restorer;
		sa[*nsa].mask = ks[sig - 1].mask;
		sap[*nsa] = &sa[*nsa];
		(*nsa)++;
	}
	return 0;
}

/* Reads what only the task itself can tell: every sigaction and brk (per
 * process), clear_child_tid (per thread), with remote syscalls that write into
 * a scratch area mapped for the purpose and unmapped again. Every change is
 * journaled before it is made (images/rjournal.h), in the order lib/rsys.h
 * explains, so amber-unseize can put p back if seize dies at any point. */
static int seize_remote_state(const struct seize_proc *p, struct seize_thread_core *threads,
			      SigactionEntry *sa, SigactionEntry **sap, struct rjournal *j, struct err *e)
{
	struct rsys leader;
	struct seize_scratch sc = { 0, NULL, false };
	uint64_t site;
	uint8_t orig[RSYS_PARK_SIZE];
	long res;
	bool gadget, all_back;
	int ret, nsa = 0;

	{
		struct proc_status st;
		struct proc_stat ps;

		/* Strict mode allows read, write, exit and sigreturn: the scratch
		 * mmap would kill the task. */
		if (proc_read_status(p->pid, 0, &st, e) < 0)
			return -1;
		if (st.seccomp == 1)
			return err_input(e, "pid %d runs in strict seccomp mode (SECCOMP_MODE_STRICT), which amber cannot dump", p->pid);
		if ((ret = proc_read_stat(p->pid, 0, &ps, e)) < 0 || (ret = rjournal_process(j, p->pid, ps.start_time, e)) < 0)
			return ret;
	}
	if ((ret = seize_site(p, j, &site, &gadget, orig, e)) < 0)
		return ret;
	if ((ret = rsys_begin(&leader, p->pid, site, RSYS_SITE_SYSCALL_STOPS, &j->watch, e)) < 0)
		return ret;
	sc.batches = gadget;
	ret = seize_map_scratch(&leader, p->pid, j, &sc, e);
	if (ret == 0)
		ret = seize_sigactions(p, &leader, &sc, sa, sap, &nsa, e);
	if (ret == 0)
		ret = rsys_call(&leader, &res, SYS_brk, 0, 0, 0, 0, 0, 0, e);
	if (ret == 0) {
		threads[0].core.has_brk = true;
		threads[0].core.brk = res;
		threads[0].core.n_sigactions = nsa;
		threads[0].core.sigactions = sap;
	}
	/* clear_child_tid is per thread: ask each thread itself. */
	all_back = true;
	for (int i = 0; ret == 0 && i < p->nr_tids; i++) {
		struct rsys th, *r = &leader;
		uint64_t tidaddr = 0;

		if (i > 0) {
			r = &th;
			if ((ret = rsys_begin(&th, p->tids[i], site, RSYS_SITE_SYSCALL_STOPS, &j->watch, e)) < 0)
				break;
		}
		ret = rsys_call(r, &res, SYS_prctl, PR_GET_TID_ADDRESS, sc.addr + 4096, 0, 0, 0, 0, e);
		if (ret == 0 && res == 0)
			ret = rsys_peek(p->pid, sc.addr + 4096, &tidaddr, sizeof(tidaddr), e);
		if (ret == 0) {
			threads[i].core.has_clear_child_tid = true;
			threads[i].core.clear_child_tid = tidaddr;
			ret = seize_task_state(p, i, r, &sc, &threads[i].core, e);
		}
		if (i > 0 && rsys_finish(&th, ret < 0 ? &(struct err){0} : e) < 0) {
			all_back = false;
			if (ret == 0)
				ret = -1;
		}
	}
	if (sc.local)
		munmap(sc.local, 4096 * SEIZE_SCRATCH_PAGES);
	if (sc.addr) {
		struct err e2;

		if (rsys_call(&leader, &res, SYS_munmap, sc.addr, 4096 * SEIZE_SCRATCH_PAGES, 0, 0, 0, 0, ret < 0 ? &e2 : e) < 0) {
			if (ret == 0)
				ret = -1;
		} else if (res == 0 && rjournal_mapping_gone(j, ret < 0 ? &e2 : e) < 0 && ret == 0) {
			ret = -1;
		}
	}
	if (rsys_finish(&leader, ret < 0 ? &(struct err){0} : e) < 0) {
		all_back = false;
		if (ret == 0)
			ret = -1;
	}
	/* A thread that is not back may still be parked in the gadget: then
	 * it stays, and amber-unseize takes it away with the thread. */
	if (gadget && all_back) {
		struct err e2;

		if (rsys_park_write(p->pid, site, orig, &j->watch, ret < 0 ? &e2 : e) < 0 ||
		    rjournal_gadget_gone(j, ret < 0 ? &e2 : e) < 0) {
			if (ret == 0)
				ret = -1;
		}
	}
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
