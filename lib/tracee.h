/* tracee: ptrace helpers for stopping, inspecting and resuming tasks.
 *
 * Register state uses the kernel's own layouts: struct user_regs_struct for
 * general registers (NT_PRSTATUS) and the raw NT_X86_XSTATE buffer, whose
 * size is the CPU's XSAVE size (tracee_xstate_size()).
 */
#ifndef AMBER_TRACEE_H
#define AMBER_TRACEE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "lib/err.h"

/* Kernel-internal syscall restart codes, visible in ax after an interrupted syscall. */
#define ERESTARTSYS		512
#define ERESTARTNOINTR		513
#define ERESTARTNOHAND		514
#define ERESTART_RESTARTBLOCK	516

/* PTRACE_SEIZE with options, then PTRACE_INTERRUPT and wait for the stop. */
int tracee_seize(pid_t tid, unsigned long options, struct err *e);
/* Waits for the next stop of tid; *status as from waitpid. Fails if it exited. */
int tracee_wait(pid_t tid, int *status, struct err *e);
/* Waits until tid is in a PTRACE_EVENT_STOP (after SEIZE+INTERRUPT), re-queueing
 * any signal that stops it first so no signal is lost. */
int tracee_wait_interrupt_stop(pid_t tid, struct err *e);

int tracee_get_regs(pid_t tid, struct user_regs_struct *regs, struct err *e);
int tracee_set_regs(pid_t tid, const struct user_regs_struct *regs, struct err *e);
/* NT_X86_XSTATE: buf must hold tracee_xstate_size() bytes; *len gets the size used. */
int tracee_get_xstate(pid_t tid, void *buf, size_t size, size_t *len, struct err *e);
int tracee_set_xstate(pid_t tid, const void *buf, size_t len, struct err *e);
int tracee_get_fpregs(pid_t tid, void *buf, size_t size, struct err *e);	/* 512-byte FXSAVE area */
int tracee_get_sigmask(pid_t tid, uint64_t *mask, struct err *e);
int tracee_set_sigmask(pid_t tid, uint64_t mask, struct err *e);
/* The XSAVE area size of this CPU (CPUID leaf 0xd), cached by the caller. */
size_t tracee_xstate_size(void);
uint64_t tracee_xfeatures(void);

/* Turns regs of a task stopped inside an interrupted syscall into the regs that
 * re-run or fail that syscall when the task resumes, as the kernel would when
 * returning to user space. Returns true if anything changed. */
bool tracee_regs_restart_syscall(struct user_regs_struct *regs);

#endif
