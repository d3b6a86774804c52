/* rsys: see rsys.h. */
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/exitcodes.h"
#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "lib/rsys.h"
#include "lib/tracee.h"

static void rsys_changed(struct rsys *r)
{
	if (r->watch && r->watch->changed)
		r->watch->changed(r->watch);
}

int rsys_begin(struct rsys *r, pid_t tid, uint64_t site, enum rsys_site_kind kind, struct rsys_watch *w, struct err *e)
{
	int ret;

	memset(r, 0, sizeof(*r));
	r->tid = tid;
	r->site = site;
	r->kind = kind;
	r->watch = w;
	if ((ret = tracee_get_regs(tid, &r->saved, e)) < 0)
		return ret;
	if ((ret = tracee_get_sigmask(tid, &r->saved_mask, e)) < 0)
		return ret;
	if (w && w->begin && (ret = w->begin(w, tid, &r->saved, r->saved_mask, e)) < 0)
		return ret;
	/* Pending signals stay pending instead of running handlers on our
	 * context. Blocked before any register is borrowed: a tracee whose
	 * tracer dies then either runs its own code or parks. */
	if ((ret = tracee_set_sigmask(tid, ~0ULL, e)) < 0)
		return ret;
	rsys_changed(r);
	return 0;
}

/* Resumes the tracee with 'req' and waits for the stop it should reach. */
static int rsys_step(struct rsys *r, int req, int want_sig, long nr, struct err *e)
{
	int status, ret;

	if (ptrace(req, r->tid, 0, 0) < 0)
		return err_errno(e, "resume task %d for remote syscall %ld", r->tid, nr);
	for (;;) {
		if ((ret = tracee_wait(r->tid, &status, e)) < 0)
			return err_wrap(e, "remote syscall %ld", nr);
		/* A remote clone3 reports its event before the syscall returns;
		 * a task stopped by job control (SIGSTOP before the seize) reports
		 * its group stop again when resumed: it runs on once more, and
		 * stays stopped for good once detached. */
		if (!WIFSTOPPED(status) ||
		    ((status >> 16) != PTRACE_EVENT_CLONE && (status >> 16) != PTRACE_EVENT_STOP))
			break;
		if (ptrace(req, r->tid, 0, 0) < 0)
			return err_errno(e, "resume task %d after a clone event", r->tid);
	}
	if (!WIFSTOPPED(status) || WSTOPSIG(status) != want_sig) {
		struct user_regs_struct regs;

		tracee_get_regs(r->tid, &regs, e);
		return err_set(e, EXIT_SYSTEM, "remote syscall %ld in task %d stopped with signal %d (status %#x) at %#llx, want signal %d",
			       nr, r->tid, WIFSTOPPED(status) ? WSTOPSIG(status) : -1, status,
			       (unsigned long long)regs.rip, want_sig & 0x7f);
	}
	/* Not a change, but a step where the tracer may die too (a tracee in
	 * a syscall-entry stop runs the call, then parks). */
	rsys_changed(r);
	return 0;
}

int rsys_call(struct rsys *r, long *res, long nr, uint64_t a1, uint64_t a2, uint64_t a3,
	      uint64_t a4, uint64_t a5, uint64_t a6, struct err *e)
{
	struct user_regs_struct regs = r->saved;
	int ret;

	regs.rax = nr;
	regs.orig_rax = -1;	/* not in a syscall: no restart logic on resume */
	regs.rdi = a1;
	regs.rsi = a2;
	regs.rdx = a3;
	regs.r10 = a4;
	regs.r8 = a5;
	regs.r9 = a6;
	regs.rip = r->site;
	if ((ret = tracee_set_regs(r->tid, &regs, e)) < 0)
		return ret;
	rsys_changed(r);
	if (r->kind == RSYS_SITE_TRAP) {
		if ((ret = rsys_step(r, PTRACE_CONT, SIGTRAP, nr, e)) < 0)
			return ret;
	} else {
		if ((ret = rsys_step(r, PTRACE_SYSCALL, SIGTRAP | 0x80, nr, e)) < 0 ||
		    (ret = rsys_step(r, PTRACE_SYSCALL, SIGTRAP | 0x80, nr, e)) < 0)
			return ret;
	}
	if ((ret = tracee_get_regs(r->tid, &regs, e)) < 0)
		return ret;
	*res = regs.rax;
	r->nr_calls++;
	pr_trace("task %d: syscall %ld(%#llx, %#llx, %#llx, %#llx, %#llx, %#llx) = %ld", r->tid, nr,
		 (unsigned long long)a1, (unsigned long long)a2, (unsigned long long)a3,
		 (unsigned long long)a4, (unsigned long long)a5, (unsigned long long)a6, *res);
	return 0;
}

/* r12 = requests, r13 = count:
 *	1: test r13,r13; jz 2f; rax,rdi,rsi,rdx,r10,r8,r9 <- 0..48(r12); syscall;
 *	   56(r12) <- rax; r12 += 64; r13--; jmp 1b
 *	2: int3 */
const uint8_t rsys_batch_code[RSYS_BATCH_CODE_SIZE] = {
	0x4d, 0x85, 0xed, 0x74, 0x32, 0x49, 0x8b, 0x04, 0x24, 0x49, 0x8b, 0x7c, 0x24, 0x08,
	0x49, 0x8b, 0x74, 0x24, 0x10, 0x49, 0x8b, 0x54, 0x24, 0x18, 0x4d, 0x8b, 0x54, 0x24,
	0x20, 0x4d, 0x8b, 0x44, 0x24, 0x28, 0x4d, 0x8b, 0x4c, 0x24, 0x30, 0x0f, 0x05, 0x49,
	0x89, 0x44, 0x24, 0x38, 0x49, 0x83, 0xc4, 0x40, 0x49, 0xff, 0xcd, 0xeb, 0xc9, 0xcc,
};

/* Logs each call of a finished batch, at -v4. */
static void rsys_trace_batch(const struct rsys *r, const struct rsys_req *reqs, int n)
{
	for (int i = 0; i < n && log_level() >= LOG_TRACE; i++)
		pr_trace("task %d: batched syscall %llu(%#llx, %#llx, %#llx, %#llx, %#llx, %#llx) = %lld", r->tid,
			 (unsigned long long)reqs[i].nr, (unsigned long long)reqs[i].a[0], (unsigned long long)reqs[i].a[1],
			 (unsigned long long)reqs[i].a[2], (unsigned long long)reqs[i].a[3], (unsigned long long)reqs[i].a[4],
			 (unsigned long long)reqs[i].a[5], (long long)reqs[i].ret);
}

int rsys_batch(struct rsys *r, uint64_t code, uint64_t area, struct rsys_req *reqs, int n, struct err *e)
{
	struct user_regs_struct regs = r->saved;
	int ret;

	if (n <= 0)
		return 0;
	_Static_assert(sizeof(struct rsys_req) == 64, "the batch loop steps 64 bytes");
	if ((ret = rsys_poke(r->tid, area, reqs, sizeof(*reqs) * n, e)) < 0)
		return ret;
	regs.orig_rax = -1;
	regs.rip = code;
	regs.r12 = area;
	regs.r13 = n;
	if ((ret = tracee_set_regs(r->tid, &regs, e)) < 0)
		return ret;
	rsys_changed(r);
	if ((ret = rsys_step(r, PTRACE_CONT, SIGTRAP, reqs[0].nr, e)) < 0 ||
	    (ret = rsys_peek(r->tid, area, reqs, sizeof(*reqs) * n, e)) < 0)
		return ret;
	r->nr_calls += n;
	rsys_trace_batch(r, reqs, n);
	return 0;
}

int rsys_finish(struct rsys *r, struct err *e)
{
	int ret;

	/* After a call the task sits in a syscall-exit stop. Leaving from
	 * there would skip the kernel's restart of an interrupted syscall (the
	 * task would see -ERESTARTNOHAND), so it is stepped into an interrupt
	 * stop first, where the restart logic runs when it is finally resumed.
	 * Its registers still point into the parking gadget meanwhile: if the
	 * tracer dies now, the task parks. (A batch leaves it in a SIGTRAP
	 * stop instead; resuming with no signal drops that SIGTRAP, and the
	 * interrupt stop follows.) */
	if (r->kind == RSYS_SITE_SYSCALL_STOPS && r->nr_calls) {
		if (ptrace(PTRACE_INTERRUPT, r->tid, 0, 0) < 0 || ptrace(PTRACE_CONT, r->tid, 0, 0) < 0)
			return err_errno(e, "return task %d to its interrupt stop", r->tid);
		if ((ret = tracee_wait_interrupt_stop(r->tid, e)) < 0)
			return ret;
	}
	/* Registers before the mask: in between, a task whose tracer died
	 * runs its own code with every signal blocked (amber-unseize sees the
	 * blocked mask and gives it its own back), never the gadget with its
	 * signals open. */
	if ((ret = tracee_set_regs(r->tid, &r->saved, e)) < 0)
		return ret;
	rsys_changed(r);
	if ((ret = tracee_set_sigmask(r->tid, r->saved_mask, e)) < 0)
		return ret;
	rsys_changed(r);
	if (r->watch && r->watch->done)
		return r->watch->done(r->watch, r->tid, e);
	return 0;
}

/* The [vdso] of pid: 0 and its bounds, or <0. */
static int rsys_vdso(pid_t pid, uint64_t *start, uint64_t *end, struct err *e)
{
	_cleanup_free_ struct proc_vma *vmas = NULL;
	int nr = 0, ret;

	if ((ret = proc_read_maps(pid, &vmas, &nr, e)) < 0)
		return ret;
	for (int i = 0; i < nr; i++)
		if (!strcmp(vmas[i].path, "[vdso]")) {
			*start = vmas[i].start;
			*end = vmas[i].end;
			return 0;
		}
	return err_set(e, EXIT_SYSTEM, "task %d has no [vdso]; remote syscalls need one", pid);
}

/* At 0, the gadget:
 *	syscall
 *	mov %rax, %rbx
 * 1:	mov $34, %eax		(pause)
 *	syscall
 *	jmp 1b
 * at 16 (RSYS_PARK_BATCH), the batch loop: r12 = requests, r13 = count,
 * r14 = the futex word:
 * 2:	test r13,r13; jz 3f; rax,rdi,rsi,rdx,r10,r8,r9 <- 0..48(r12); syscall;
 *	56(r12) <- rax; r12 += 64; r13--; jmp 2b
 * 3:	movl $1,(r14); futex(r14, FUTEX_WAKE, 1)
 * 4:	mov $34,%eax; syscall; jmp 4b */
const uint8_t rsys_park_code[RSYS_PARK_SIZE] = {
	0x0f, 0x05, 0x48, 0x89, 0xc3, 0xb8, 0x22, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xeb, 0xf7, 0x00, 0x00,
	0x4d, 0x85, 0xed, 0x74, 0x32, 0x49, 0x8b, 0x04, 0x24, 0x49, 0x8b, 0x7c, 0x24, 0x08, 0x49, 0x8b,
	0x74, 0x24, 0x10, 0x49, 0x8b, 0x54, 0x24, 0x18, 0x4d, 0x8b, 0x54, 0x24, 0x20, 0x4d, 0x8b, 0x44,
	0x24, 0x28, 0x4d, 0x8b, 0x4c, 0x24, 0x30, 0x0f, 0x05, 0x49, 0x89, 0x44, 0x24, 0x38, 0x49, 0x83,
	0xc4, 0x40, 0x49, 0xff, 0xcd, 0xeb, 0xc9, 0x41, 0xc7, 0x06, 0x01, 0x00, 0x00, 0x00, 0xb8, 0xca,
	0x00, 0x00, 0x00, 0x4c, 0x89, 0xf7, 0xbe, 0x01, 0x00, 0x00, 0x00, 0xba, 0x01, 0x00, 0x00, 0x00,
	0x0f, 0x05, 0xb8, 0x22, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xeb, 0xf7, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* The end of the vDSO that must be zero (padding after the image's last
 * section); the gadget goes RSYS_PARK_AT before the end. */
#define RSYS_PARK_ROOM 256
#define RSYS_PARK_AT 128

int rsys_park_find(pid_t pid, uint64_t *site, uint8_t orig[RSYS_PARK_SIZE], struct err *e)
{
	uint8_t tail[RSYS_PARK_ROOM];
	uint64_t start = 0, end = 0;
	int ret;

	_Static_assert(RSYS_PARK_SIZE <= RSYS_PARK_AT, "the gadget fits before the end");
	if ((ret = rsys_vdso(pid, &start, &end, e)) < 0)
		return ret;
	if (end - start < RSYS_PARK_ROOM)
		return -ENOSPC;
	if ((ret = rsys_peek(pid, end - RSYS_PARK_ROOM, tail, sizeof(tail), e)) < 0)
		return ret;
	*site = end - RSYS_PARK_AT;
	/* A gadget already there is an earlier tracer's that died, and a
	 * thread may still wait in it. */
	if (!memcmp(tail + RSYS_PARK_ROOM - RSYS_PARK_AT, rsys_park_code, RSYS_PARK_SIZE))
		return -EEXIST;
	for (size_t i = 0; i < sizeof(tail); i++)
		if (tail[i])
			return -ENOSPC;
	memcpy(orig, tail + RSYS_PARK_ROOM - RSYS_PARK_AT, RSYS_PARK_SIZE);
	return 0;
}

int rsys_park_write(pid_t tid, uint64_t site, const uint8_t *orig, struct rsys_watch *w, struct err *e)
{
	const uint8_t *code = orig ? orig : rsys_park_code;

	/* The vDSO is read-only: PTRACE_POKEDATA writes it as a debugger
	 * sets a breakpoint (a private copy of the page for this task), and
	 * needs only the tracer's rights, not those of /proc/PID/mem. */
	_Static_assert(RSYS_PARK_SIZE % sizeof(long) == 0, "the gadget is written a word at a time");
	for (size_t off = 0; off < RSYS_PARK_SIZE; off += sizeof(long)) {
		long word;

		memcpy(&word, code + off, sizeof(word));
		if (ptrace(PTRACE_POKEDATA, tid, site + off, word) < 0)
			return err_errno(e, "%s the parking gadget in the vDSO of task %d", orig ? "remove" : "write", tid);
	}
	if (w && w->changed)
		w->changed(w);
	return 0;
}

/* Waits until the batch loop has set the futex word at local; lets through
 * a signal that stops the tracee meanwhile (it is the task's, not ours). */
static int rsys_wait_batch(struct rsys *r, volatile uint32_t *done, struct err *e)
{
	while (!__atomic_load_n(done, __ATOMIC_ACQUIRE)) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		int status;
		pid_t got;

		syscall(SYS_futex, done, FUTEX_WAIT, 0, &ts, NULL, 0);
		if (__atomic_load_n(done, __ATOMIC_ACQUIRE))
			break;
		got = waitpid(r->tid, &status, WNOHANG | __WALL);
		if (got < 0 && errno != EINTR)
			return err_errno(e, "wait for task %d's batch", r->tid);
		if (got <= 0)
			continue;
		if (!WIFSTOPPED(status))
			return err_set(e, EXIT_SYSTEM, "task %d ended (status %#x) during a batch of remote syscalls", r->tid, status);
		if (ptrace(PTRACE_CONT, r->tid, 0, (status >> 16) ? 0 : WSTOPSIG(status)) < 0)
			return err_errno(e, "resume task %d in its batch", r->tid);
	}
	return 0;
}

int rsys_batch_shared(struct rsys *r, uint8_t *local, uint64_t remote, size_t size, struct rsys_req *reqs, int n,
		      struct err *e)
{
	struct user_regs_struct regs = r->saved;
	volatile uint32_t *done = (volatile uint32_t *)local;
	int ret;

	if (n <= 0)
		return 0;
	/* The futex word in the first 64 bytes, then the requests. */
	if (sizeof(*reqs) * (n + 1) > size)
		return err_set(e, EXIT_FAILURE_, "internal: %d batched requests do not fit in %zu bytes", n, size);
	memcpy(local + sizeof(*reqs), reqs, sizeof(*reqs) * n);
	__atomic_store_n(done, 0, __ATOMIC_RELEASE);
	regs.orig_rax = -1;
	regs.rip = r->site + RSYS_PARK_BATCH;
	regs.r12 = remote + sizeof(*reqs);
	regs.r13 = n;
	regs.r14 = remote;
	if ((ret = tracee_set_regs(r->tid, &regs, e)) < 0)
		return ret;
	rsys_changed(r);
	if (ptrace(PTRACE_CONT, r->tid, 0, 0) < 0)
		return err_errno(e, "resume task %d for a batch of remote syscalls", r->tid);
	if ((ret = rsys_wait_batch(r, done, e)) < 0)
		return ret;
	rsys_changed(r);
	/* It parks after the wake: an interrupt takes it from there. */
	if (ptrace(PTRACE_INTERRUPT, r->tid, 0, 0) < 0)
		return err_errno(e, "interrupt task %d after its batch", r->tid);
	if ((ret = tracee_wait_interrupt_stop(r->tid, e)) < 0)
		return ret;
	memcpy(reqs, local + sizeof(*reqs), sizeof(*reqs) * n);
	r->nr_calls += n;
	rsys_trace_batch(r, reqs, n);
	return 0;
}

bool rsys_in_park(uint64_t rip, uint64_t site)
{
	return site && rip >= site && rip < site + RSYS_PARK_SIZE;
}

uint64_t rsys_find_vdso_site(pid_t pid, struct err *e)
{
	_cleanup_free_ struct proc_vma *vmas = NULL;
	int nr = 0;

	if (proc_read_maps(pid, &vmas, &nr, e) < 0)
		return 0;
	for (int i = 0; i < nr; i++) {
		size_t len = vmas[i].end - vmas[i].start;
		_cleanup_free_ uint8_t *buf = NULL;

		if (strcmp(vmas[i].path, "[vdso]") || len > (1 << 20))
			continue;
		buf = malloc(len);
		if (!buf || rsys_peek(pid, vmas[i].start, buf, len, e) < 0)
			return 0;
		for (size_t j = 0; j + 1 < len; j++)
			if (buf[j] == 0x0f && buf[j + 1] == 0x05)
				return vmas[i].start + j;
	}
	err_set(e, EXIT_SYSTEM, "no [vdso] with a syscall instruction in task %d; remote syscalls need one", pid);
	return 0;
}

/* /proc/PID/mem goes through FOLL_FORCE, so it also reaches read-only pages. */
static int rsys_mem_io(pid_t pid, uint64_t addr, void *buf, size_t len, bool write, struct err *e)
{
	char path[64];
	_cleanup_close_ int fd = -1;
	size_t done = 0;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, (write ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, "open '%s'", path);
	while (done < len) {
		ssize_t n = write ? pwrite(fd, (char *)buf + done, len - done, addr + done)
				  : pread(fd, (char *)buf + done, len - done, addr + done);
		if (n <= 0)
			return err_errno(e, "%s %zu bytes at %#llx in task %d", write ? "write" : "read",
					 len - done, (unsigned long long)(addr + done), pid);
		done += n;
	}
	return 0;
}

int rsys_poke(pid_t pid, uint64_t addr, const void *buf, size_t len, struct err *e)
{
	struct iovec local = { (void *)buf, len }, remote = { (void *)addr, len };
	ssize_t n = process_vm_writev(pid, &local, 1, &remote, 1, 0);

	if (n == (ssize_t)len)
		return 0;
	return rsys_mem_io(pid, addr, (void *)buf, len, true, e);
}

int rsys_peek(pid_t pid, uint64_t addr, void *buf, size_t len, struct err *e)
{
	struct iovec local = { buf, len }, remote = { (void *)addr, len };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	if (n == (ssize_t)len)
		return 0;
	return rsys_mem_io(pid, addr, buf, len, false, e);
}
