/* unseize/undo.c: put back, process by process, what the journal says seize
 * left changed. */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "images/rjournal.h"
#include "lib/exitcodes.h"
#include "ipc/stream.h"
#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "lib/rsys.h"
#include "lib/tracee.h"
#include "stages/unseize/unseize.h"

/* What rsys_begin blocks, as the kernel stores it: all but SIGKILL, SIGSTOP. */
#define UNSEIZE_ALL_BLOCKED (~((1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1))))

/* A thread this stage holds, stopped in an interrupt stop. */
struct unseize_held {
	pid_t tid;
	bool back;	/* it runs its own code again (or will, once detached) */
};

struct unseize_proc {
	const struct rjournal_proc *jp;
	struct unseize_held *held;
	int nr_held;
	bool failed;	/* a thread that may be parked could not be put back */
	uint64_t mapping;	/* the scratch area's address, once known */
};

/* Seizes tid and waits for its interrupt stop; 1 if it exited meanwhile. */
static int unseize_hold(struct unseize_proc *up, pid_t tid, struct err *e)
{
	struct unseize_held *nh;
	int ret;

	if (ptrace(PTRACE_SEIZE, tid, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_SUSPEND_SECCOMP) < 0) {
		if (errno == ESRCH)
			return 1;
		return err_errno(e, "seize thread %d of pid %d", tid, up->jp->pid);
	}
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0 || (ret = tracee_wait_interrupt_stop(tid, e)) < 0) {
		ptrace(PTRACE_DETACH, tid, 0, 0);
		if (kill(tid, 0) < 0 && errno == ESRCH)
			return 1;
		return err_errno(e, "stop thread %d of pid %d", tid, up->jp->pid);
	}
	nh = realloc(up->held, sizeof(*nh) * (up->nr_held + 1));
	if (!nh) {
		ptrace(PTRACE_DETACH, tid, 0, 0);
		return err_errno(e, "remember thread %d", tid);
	}
	up->held = nh;
	nh[up->nr_held++] = (struct unseize_held){ tid, false };
	return 0;
}

/* Looks at one thread the journal leaves unfinished and gives it back what
 * is still borrowed; logs what it did. */
static int unseize_thread(struct unseize_proc *up, const struct rjournal_thread *t, int *put_back, struct err *e)
{
	const struct rjournal_proc *jp = up->jp;
	struct user_regs_struct regs;
	uint64_t mask;
	int ret = unseize_hold(up, t->tid, e);

	if (ret == 1) {
		pr_info("thread %d of pid %d has exited: nothing to put back", t->tid, jp->pid);
		return 0;
	}
	if (ret < 0 || (ret = tracee_get_regs(t->tid, &regs, e)) < 0 || (ret = tracee_get_sigmask(t->tid, &mask, e)) < 0)
		return ret;
	if (jp->gadget && rsys_in_park(regs.rip, jp->gadget)) {
		/* It went past a remote syscall's site: if that was the mmap of
		 * the scratch area, the gadget kept the address (rax, then rbx). */
		if (jp->mapping && !jp->mapping_gone && !jp->mapping_addr && jp->mapping_tid == t->tid) {
			uint64_t got = regs.rip == jp->gadget + RSYS_PARK_AFTER ? regs.rax : regs.rbx;

			if (got && !(got & 4095) && got < (1ULL << 56))
				up->mapping = got;
		}
		if ((ret = tracee_set_regs(t->tid, &t->regs, e)) < 0 || (ret = tracee_set_sigmask(t->tid, t->mask, e)) < 0)
			return err_wrap(e, "put back thread %d of pid %d", t->tid, jp->pid);
		pr_info("put back the registers and signal mask of thread %d of pid %d (it was parked at %#llx)", t->tid,
			jp->pid, (unsigned long long)regs.rip);
		(*put_back)++;
	} else if ((mask | ~UNSEIZE_ALL_BLOCKED) == ~0ULL && t->mask != mask) {
		if ((ret = tracee_set_sigmask(t->tid, t->mask, e)) < 0)
			return err_wrap(e, "put back thread %d of pid %d", t->tid, jp->pid);
		pr_info("put back the signal mask of thread %d of pid %d", t->tid, jp->pid);
		(*put_back)++;
	} else {
		pr_debug("thread %d of pid %d runs its own code with its own mask (at %#llx)", t->tid, jp->pid,
			 (unsigned long long)regs.rip);
	}
	up->held[up->nr_held - 1].back = true;
	return 0;
}

/* Whether [addr, addr + len) is one shared anonymous mapping of pid (it
 * shows as /dev/zero, deleted), as seize's scratch area is. */
static bool unseize_is_scratch(pid_t pid, uint64_t addr, uint64_t len)
{
	_cleanup_free_ struct proc_vma *vmas = NULL;
	struct err ignored;
	int nr = 0;

	if (proc_read_maps(pid, &vmas, &nr, &ignored) < 0)
		return false;
	for (int i = 0; i < nr; i++)
		if (vmas[i].start == addr)
			return vmas[i].end - vmas[i].start == len && vmas[i].shared && vmas[i].deleted &&
			       !strcmp(vmas[i].path, "/dev/zero");
	return false;
}

/* Unmaps the scratch area seize left, with a remote munmap in a thread this
 * stage holds, run from the gadget (or the vDSO if there is none). */
static int unseize_unmap(struct unseize_proc *up, struct err *e)
{
	const struct rjournal_proc *jp = up->jp;
	uint64_t addr = jp->mapping_addr ? jp->mapping_addr : up->mapping;
	uint64_t site = jp->gadget && !jp->gadget_gone ? jp->gadget : 0;
	struct rsys r;
	long res = 0;
	int ret;

	if (!addr || !unseize_is_scratch(jp->pid, addr, jp->mapping_len)) {
		if (!addr)
			pr_debug("pid %d: seize had not mapped its scratch area", jp->pid);
		return 0;
	}
	if (!up->nr_held && (ret = unseize_hold(up, jp->pid, e)) != 0)
		return ret == 1 ? 0 : ret;
	if (!site && !(site = rsys_find_vdso_site(jp->pid, e)))
		return err_wrap(e, "pid %d", jp->pid);
	if ((ret = rsys_begin(&r, up->held[0].tid, site, RSYS_SITE_SYSCALL_STOPS, NULL, e)) < 0)
		return ret;
	ret = rsys_call(&r, &res, SYS_munmap, addr, jp->mapping_len, 0, 0, 0, 0, e);
	if (rsys_finish(&r, ret < 0 ? &(struct err){ 0 } : e) < 0 && ret == 0)
		ret = -1;
	if (ret == 0 && res < 0)
		ret = err_errnum(e, -res, "unmap seize's scratch area at %#llx in pid %d", (unsigned long long)addr, jp->pid);
	if (ret == 0)
		pr_info("unmapped seize's scratch area at %#llx in pid %d", (unsigned long long)addr, jp->pid);
	return ret;
}

/* Writes back the bytes under the gadget, if the gadget is still there,
 * through a thread this stage holds. */
static int unseize_remove_gadget(struct unseize_proc *up, struct err *e)
{
	const struct rjournal_proc *jp = up->jp;
	uint8_t now[RSYS_PARK_SIZE];
	int ret;

	if (jp->orig_len != RSYS_PARK_SIZE)
		return err_input(e, "the journal's gadget of pid %d covers %zu bytes, want %d", jp->pid, jp->orig_len, RSYS_PARK_SIZE);
	if ((ret = rsys_peek(jp->pid, jp->gadget, now, sizeof(now), e)) < 0)
		return ret;
	if (!memcmp(now, jp->orig, sizeof(now)))
		return 0;
	if (!up->nr_held && (ret = unseize_hold(up, jp->pid, e)) != 0)
		return ret == 1 ? 0 : ret;
	if ((ret = rsys_park_write(up->held[0].tid, jp->gadget, jp->orig, NULL, e)) < 0)
		return ret;
	pr_info("removed the parking gadget from the vDSO of pid %d", jp->pid);
	return 0;
}

/* Whether the process the journal means is still there under its pid. */
static bool unseize_same_process(const struct rjournal_proc *jp)
{
	struct proc_stat st;
	struct err ignored;

	return proc_read_stat(jp->pid, 0, &st, &ignored) == 0 && st.state != 'Z' && st.start_time == jp->start_time;
}

/* Puts back one process; detaches every thread it held, whatever happens. */
static int unseize_proc(const struct rjournal_proc *jp, int *put_back, struct err *e)
{
	struct unseize_proc up = { .jp = jp };
	int ret = 0;

	if (!unseize_same_process(jp)) {
		pr_info("pid %d has exited: nothing of it to put back", jp->pid);
		return 0;
	}
	/* Every thread, even after one failed; the first error is kept. */
	for (int i = 0; i < jp->nr_threads; i++) {
		struct err te = { 0 };

		if (jp->threads[i].done || unseize_thread(&up, &jp->threads[i], put_back, &te) == 0)
			continue;
		pr_warn("%s", te.msg);
		if (!up.failed)
			*e = te;
		up.failed = true;
		ret = -1;
	}
	if (ret == 0 && jp->mapping && !jp->mapping_gone)
		ret = unseize_unmap(&up, e);
	/* Only once no thread can be in it: a thread that could not be put
	 * back may wait there, and would run the bytes under it. */
	if (ret == 0 && !up.failed && jp->gadget && !jp->gadget_gone)
		ret = unseize_remove_gadget(&up, e);
	for (int i = 0; i < up.nr_held; i++)
		if (ptrace(PTRACE_DETACH, up.held[i].tid, 0, 0) < 0 && errno != ESRCH)
			pr_warn("detach thread %d of pid %d: %m", up.held[i].tid, jp->pid);
	free(up.held);
	return ret;
}

int unseize_run(const struct stage_ctx *ctx, void *opts, struct err *e)
{
	const struct unseize_opts *o = opts;
	struct rjournal_state s;
	struct stream_out out;
	char path[PATH_MAX];
	_cleanup_close_ int fd = -1;
	int ret = 0, put_back = 0, failed = 0;

	if (o->journal)
		snprintf(path, sizeof(path), "%s", o->journal);
	else if (ctx->run_dir)
		snprintf(path, sizeof(path), "%s/%s", ctx->run_dir, RJOURNAL_NAME);
	else
		return err_set(e, EXIT_USAGE, "no journal: pass --run-dir (of the dump) or --journal FILE");
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, "open the journal '%s'", path);
	if ((ret = rjournal_load(fd, path, &s, e)) < 0)
		return ret;
	if (s.cut_short)
		pr_debug("'%s': the last record was cut short (seize died writing it): its change was never made", path);
	/* Every process, even after one failed: each is put back on its own. */
	for (int i = 0; i < s.nr; i++) {
		struct err pe = { 0 };

		if (unseize_proc(&s.procs[i], &put_back, &pe) == 0)
			continue;
		pr_warn("%s", pe.msg);
		if (!failed++)
			*e = pe;
	}
	rjournal_state_free(&s);
	if (failed) {
		char first[sizeof(e->msg)];

		snprintf(first, sizeof(first), "%s", e->msg);
		return err_set(e, EXIT_SYSTEM, "%s%s (journal '%s')", first,
			       failed > 1 ? "; other processes could not be put back either" : "", path);
	}
	pr_info("put back %d threads; every process seize held runs as before", put_back);
	if ((ret = stream_out_open(&out, 1, "unseize", e)) < 0)
		return ret;
	return stream_out_end(&out, e);
}
