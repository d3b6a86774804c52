/* rsys: remote system calls in a stopped tracee.
 *
 * The tracer sets the tracee's registers to a system call (rax = number,
 * rdi..r9 = arguments), points rip at a 'syscall' instruction in the
 * tracee and lets it run just that instruction:
 *
 *  - RSYS_SITE_SYSCALL_STOPS: the site is any 0f 05 in executable memory
 *    (the vDSO has several); PTRACE_SYSCALL stops at entry and at exit, so
 *    nothing after the instruction runs and nothing in the tracee's memory
 *    is written. Two stops per call. Used at dump.
 *  - RSYS_SITE_TRAP: the site is 'syscall; int3' in a page amber mapped
 *    (the restore trampoline); one stop per call.
 *
 * Signals are blocked in the tracee while calls run, so none is delivered to
 * amber's borrowed context, and the original registers and mask come back
 * with rsys_finish(). Every call is logged at -v4.
 */
#ifndef AMBER_RSYS_H
#define AMBER_RSYS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "lib/err.h"
#include "lib/rjournal.h"

enum rsys_site_kind { RSYS_SITE_SYSCALL_STOPS, RSYS_SITE_TRAP };

struct rsys {
	pid_t tid;
	uint64_t site;
	enum rsys_site_kind kind;
	struct user_regs_struct saved;	/* registers to put back at the end */
	uint64_t saved_mask;
	uint64_t scratch;		/* tracee address of a writable scratch area, or 0 */
	size_t scratch_size;
	unsigned long nr_calls;
	struct rjournal *journal;	/* told of every change to the tracee, or NULL */
};

/* Saves registers and mask, blocks signals. The tracee must be in a ptrace
 * stop. j (NULL at restore, where the tasks are amber's own) is told of
 * every change made to the tracee through r. */
int rsys_begin(struct rsys *r, pid_t tid, uint64_t site, enum rsys_site_kind kind, struct rjournal *j, struct err *e);
/* Runs syscall nr; *res gets its return value (a -errno from the kernel is a
 * result, not a failure of the mechanism: only ptrace failures return <0). */
int rsys_call(struct rsys *r, long *res, long nr, uint64_t a1, uint64_t a2, uint64_t a3,
	      uint64_t a4, uint64_t a5, uint64_t a6, struct err *e);
/* Puts the saved registers and signal mask back. */
int rsys_finish(struct rsys *r, struct err *e);

/* Batches: many syscalls for one round trip. A short position-independent
 * loop (rsys_batch_code, placed by the caller in an executable page of the
 * tracee) runs the requests it finds at 'area' one after the other, stores
 * each result, and stops on int3. A failing call does not stop the batch:
 * the caller checks every ret. */
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

/* Copies to/from tracee memory (process_vm_writev/readv, falling back to
 * /proc/PID/mem for read-only pages). */
int rsys_poke(pid_t pid, uint64_t addr, const void *buf, size_t len, struct err *e);
int rsys_peek(pid_t pid, uint64_t addr, void *buf, size_t len, struct err *e);

#endif
