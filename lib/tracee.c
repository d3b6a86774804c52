/* tracee: see tracee.h. */
#include <cpuid.h>
#include <elf.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "lib/exitcodes.h"
#include "lib/tracee.h"

#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif

int tracee_seize(pid_t tid, unsigned long options, struct err *e)
{
	if (ptrace(PTRACE_SEIZE, tid, 0, options) < 0) {
		if (errno == ESRCH)
			return err_input(e, "task %d does not exist (or exited while being seized)", tid);
		if (errno == EPERM)
			return err_errnum(e, EPERM, "seize task %d: is it already traced (gdb, strace) or protected by yama ptrace_scope?", tid);
		return err_errno(e, "seize task %d", tid);
	}
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0)
		return err_errno(e, "interrupt task %d", tid);
	return 0;
}

int tracee_wait(pid_t tid, int *status, struct err *e)
{
	pid_t got;

	do
		got = waitpid(tid, status, __WALL);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return err_errno(e, "wait for task %d", tid);
	if (WIFEXITED(*status))
		return err_set(e, EXIT_SYSTEM, "task %d exited with status %d while stopped for amber", tid, WEXITSTATUS(*status)), -ESRCH;
	if (WIFSIGNALED(*status))
		return err_set(e, EXIT_SYSTEM, "task %d was killed by signal %d while stopped for amber", tid, WTERMSIG(*status)), -ESRCH;
	return 0;
}

int tracee_wait_interrupt_stop(pid_t tid, struct err *e)
{
	for (;;) {
		int status, ret = tracee_wait(tid, &status, e);

		if (ret < 0)
			return ret;
		if (!WIFSTOPPED(status))
			continue;
		if ((status >> 16) == PTRACE_EVENT_STOP)
			return 0;
		/* A signal-delivery stop came first: let the signal through (it is
		 * the task's, not ours) and wait again; the interrupt is still queued. */
		if (ptrace(PTRACE_CONT, tid, 0, WSTOPSIG(status)) < 0)
			return err_errno(e, "resume task %d to deliver signal %d", tid, WSTOPSIG(status));
	}
}

int tracee_get_regs(pid_t tid, struct user_regs_struct *regs, struct err *e)
{
	struct iovec iov = { regs, sizeof(*regs) };

	if (ptrace(PTRACE_GETREGSET, tid, NT_PRSTATUS, &iov) < 0)
		return err_errno(e, "get registers of task %d", tid);
	return 0;
}

int tracee_set_regs(pid_t tid, const struct user_regs_struct *regs, struct err *e)
{
	struct iovec iov = { (void *)regs, sizeof(*regs) };

	if (ptrace(PTRACE_SETREGSET, tid, NT_PRSTATUS, &iov) < 0)
		return err_errno(e, "set registers of task %d", tid);
	return 0;
}

int tracee_get_xstate(pid_t tid, void *buf, size_t size, size_t *len, struct err *e)
{
	struct iovec iov = { buf, size };

	if (ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, &iov) < 0)
		return err_errno(e, "get xstate (FPU/SSE/AVX) of task %d", tid);
	*len = iov.iov_len;
	return 0;
}

int tracee_set_xstate(pid_t tid, const void *buf, size_t len, struct err *e)
{
	struct iovec iov = { (void *)buf, len };

	if (ptrace(PTRACE_SETREGSET, tid, NT_X86_XSTATE, &iov) < 0)
		return err_errno(e, "set xstate (FPU/SSE/AVX, %zu bytes) of task %d; was the dump made on a CPU with other XSAVE features?", len, tid);
	return 0;
}

int tracee_get_fpregs(pid_t tid, void *buf, size_t size, struct err *e)
{
	struct iovec iov = { buf, size };

	if (ptrace(PTRACE_GETREGSET, tid, NT_PRFPREG, &iov) < 0)
		return err_errno(e, "get FPU registers of task %d", tid);
	return 0;
}

int tracee_get_sigmask(pid_t tid, uint64_t *mask, struct err *e)
{
	if (ptrace(PTRACE_GETSIGMASK, tid, sizeof(*mask), mask) < 0)
		return err_errno(e, "get the signal mask of task %d", tid);
	return 0;
}

int tracee_set_sigmask(pid_t tid, uint64_t mask, struct err *e)
{
	if (ptrace(PTRACE_SETSIGMASK, tid, sizeof(mask), &mask) < 0)
		return err_errno(e, "set the signal mask of task %d", tid);
	return 0;
}

size_t tracee_xstate_size(void)
{
	unsigned a, b, c, d;

	/* CPUID.(EAX=0xd, ECX=0).EBX: XSAVE area size for the features in XCR0. */
	if (!__get_cpuid_count(0xd, 0, &a, &b, &c, &d))
		return 512 + 64;
	return b;
}

uint64_t tracee_xfeatures(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid_count(0xd, 0, &a, &b, &c, &d))
		return 3;
	return ((uint64_t)d << 32) | a;
}

bool tracee_regs_restart_syscall(struct user_regs_struct *regs)
{
	if ((long)regs->orig_rax < 0)
		return false;
	switch ((long)regs->rax) {
	case -ERESTARTNOHAND:
	case -ERESTARTSYS:
	case -ERESTARTNOINTR:
		/* Back up over the 2-byte syscall instruction to run it again. */
		regs->rax = regs->orig_rax;
		regs->rip -= 2;
		break;
	case -ERESTART_RESTARTBLOCK:
		/* The restart block (what is left of a sleep or poll timeout) is
		 * kernel state that cannot be set from user space. The call's
		 * arguments are still in the registers, so it is run again from the
		 * start: a timeout starts over, which callers cannot tell from a
		 * slow wake-up, where EINTR would kill programs that rightly never
		 * expect it (tail -f's poll). Only restart_syscall itself, whose
		 * arguments are gone, returns EINTR. */
		if (regs->orig_rax == SYS_restart_syscall) {
			regs->rax = -EINTR;
			break;
		}
		regs->rax = regs->orig_rax;
		regs->rip -= 2;
		break;
	default:
		return false;
	}
	regs->orig_rax = -1;
	return true;
}
