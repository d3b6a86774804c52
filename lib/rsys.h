/* rsys: remote system calls in a stopped tracee.
 *
 * The tracer sets the tracee's registers to a system call (rax = number,
 * rdi..r9 = arguments), points rip at a 'syscall' instruction in the
 * tracee and lets it run just that instruction:
 *
 *  - RSYS_SITE_SYSCALL_STOPS: PTRACE_SYSCALL stops at entry and at exit,
 *    so nothing after the instruction runs while the tracer lives. Two
 *    stops per call. Used at dump, where the site is the parking gadget
 *    (below), or any 0f 05 in the vDSO if there is no room for it.
 *  - RSYS_SITE_TRAP: the site is 'syscall; int3' in a page amber mapped
 *    (the restore trampoline); one stop per call.
 *
 * Signals are blocked in the tracee while calls run, so none is delivered to
 * amber's borrowed context, and the original registers and mask come back
 * with rsys_finish(). Every call is logged at -v4.
 *
 * A tracer can die at any instant, and its tracees then run on from where
 * they are. At dump the tracees are not amber's, so the order of the
 * changes is chosen for that moment (see rsys_begin and rsys_finish):
 *  - the signal mask is all-blocked before the registers are borrowed and
 *    the tracee's own again only after its registers are;
 *  - the borrowed registers always point into the parking gadget, whose
 *    'syscall' is followed by a pause(2) loop: a tracee whose tracer dies
 *    with borrowed registers runs that one syscall, then waits there, every
 *    signal blocked, for someone who knows what was borrowed (an rsys_watch
 *    writes it down; seize's journal is read by amber-unseize) to give it
 *    its registers and mask back;
 *  - a tracee never leaves a syscall-exit stop with its own registers (the
 *    kernel would skip the restart of its interrupted syscall): it is taken
 *    to an interrupt stop first, still in the gadget;
 *  - a batch ends in a futex wake and the same wait (rsys_batch_shared),
 *    never in the int3 of rsys_batch, whose SIGTRAP kills an untraced task.
 */
#ifndef AMBER_RSYS_H
#define AMBER_RSYS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "lib/err.h"

enum rsys_site_kind { RSYS_SITE_SYSCALL_STOPS, RSYS_SITE_TRAP };

/* Told of what remote syscalls change in a tracee (seize's journal,
 * images/rjournal.h); NULL at restore, where the tasks are amber's own. */
struct rsys_watch {
	/* Before the first change to tid: what to put back. <0 (with e set)
	 * and the change is not made. */
	int (*begin)(struct rsys_watch *w, pid_t tid, const struct user_regs_struct *regs, uint64_t mask, struct err *e);
	/* After tid has its own registers and mask back. */
	int (*done)(struct rsys_watch *w, pid_t tid, struct err *e);
	/* After each change to a tracee's registers, mask or memory, and
	 * after each stop a remote syscall makes (the steps at which a test
	 * kills the tracer). */
	void (*changed)(struct rsys_watch *w);
};

struct rsys {
	pid_t tid;
	uint64_t site;
	enum rsys_site_kind kind;
	struct user_regs_struct saved;	/* registers to put back at the end */
	uint64_t saved_mask;
	uint64_t scratch;		/* tracee address of a writable scratch area, or 0 */
	size_t scratch_size;
	unsigned long nr_calls;
	struct rsys_watch *watch;	/* told of every change to the tracee, or NULL */
};

/* Saves registers and mask (telling w first), blocks signals. The tracee
 * must be in a ptrace stop. */
int rsys_begin(struct rsys *r, pid_t tid, uint64_t site, enum rsys_site_kind kind, struct rsys_watch *w, struct err *e);
/* Runs syscall nr; *res gets its return value (a -errno from the kernel is a
 * result, not a failure of the mechanism: only ptrace failures return <0). */
int rsys_call(struct rsys *r, long *res, long nr, uint64_t a1, uint64_t a2, uint64_t a3,
	      uint64_t a4, uint64_t a5, uint64_t a6, struct err *e);
/* Puts the saved registers and signal mask back (in that order), the
 * tracee in an interrupt stop, and tells the watch. */
int rsys_finish(struct rsys *r, struct err *e);

/* Batches: many syscalls for one round trip. A short position-independent
 * loop (rsys_batch_code, placed by the caller in an executable page of the
 * tracee) runs the requests it finds at 'area' one after the other, stores
 * each result, and stops on int3. A failing call does not stop the batch:
 * the caller checks every ret. Only for tasks that are amber's own
 * (restore): if the tracer died during a batch, the int3 would kill the
 * task. */
struct rsys_req {
	uint64_t nr;
	uint64_t a[6];
	int64_t ret;
};

#define RSYS_BATCH_CODE_SIZE 58
extern const uint8_t rsys_batch_code[RSYS_BATCH_CODE_SIZE];

/* Runs n requests (they must fit at 'area', 64 bytes each) and copies the
 * results back into reqs. */
int rsys_batch(struct rsys *r, uint64_t code, uint64_t area, struct rsys_req *reqs, int n, struct err *e);

/* Finds a 'syscall' instruction in the [vdso] of pid; 0 if none. */
uint64_t rsys_find_vdso_site(pid_t pid, struct err *e);

/* The parking gadget: 'syscall; mov %rax,%rbx; 1: mov $SYS_pause,%eax;
 * syscall; jmp 1b'. Its 'syscall' is the site of remote syscalls at dump;
 * a tracee that goes past it (its tracer died) keeps the result in rbx
 * and waits in pause(2), which with every signal blocked only a ptrace
 * interrupt or SIGKILL ends. After it, at RSYS_PARK_BATCH, comes the batch
 * loop of rsys_batch_shared, which ends in the same kind of wait. Both go
 * in the zero padding at the end of the task's vDSO, which the task never
 * executes: writing them there makes the task's copy of that vDSO page
 * private (as a debugger's breakpoint does) and changes nothing the task
 * runs. */
#define RSYS_PARK_SIZE 112
#define RSYS_PARK_AFTER 2		/* offset of the code after the site's syscall */
#define RSYS_PARK_BATCH 16		/* offset of the batch loop */
extern const uint8_t rsys_park_code[RSYS_PARK_SIZE];
/* Where the gadget goes in pid's vDSO: 0 with *site set, the bytes it
 * will cover in orig (zeros); -ENOSPC if the vDSO has no zero padding at
 * its end (then use rsys_find_vdso_site); -EEXIST (*site set) if a gadget
 * is there already: a tracer that died left it, and it may hold a thread. */
int rsys_park_find(pid_t pid, uint64_t *site, uint8_t orig[RSYS_PARK_SIZE], struct err *e);
/* Writes the gadget at site, or (orig non-NULL) the bytes it covered back,
 * through tid, a thread of the task that this tracer holds in a stop;
 * tells w of the change. */
int rsys_park_write(pid_t tid, uint64_t site, const uint8_t *orig, struct rsys_watch *w, struct err *e);
/* Runs n requests with the gadget's batch loop (r's site is the gadget) in
 * one round trip. area is a MAP_SHARED mapping of the tracee, of size
 * bytes at remote there and at local in the tracer: the loop reads the
 * requests from it and stores the results there, then sets its first word,
 * wakes that futex and parks, and the tracer, which waits on it, takes the
 * tracee back into an interrupt stop. Unlike rsys_batch no int3 ends it, so
 * a tracee whose tracer dies during a batch parks too. */
int rsys_batch_shared(struct rsys *r, uint8_t *local, uint64_t remote, size_t size, struct rsys_req *reqs, int n,
		      struct err *e);
/* Whether a task at rip is in the gadget at site. */
bool rsys_in_park(uint64_t rip, uint64_t site);

/* Copies to/from tracee memory (process_vm_writev/readv, falling back to
 * /proc/PID/mem for read-only pages). */
int rsys_poke(pid_t pid, uint64_t addr, const void *buf, size_t len, struct err *e);
int rsys_peek(pid_t pid, uint64_t addr, void *buf, size_t len, struct err *e);

#endif
