/* rjournal: what a tracer changes in its tracees, written down before each
 * change, so that another process can put the tracees back if the tracer
 * dies in the middle. seize writes it (RUN/seize.journal) as the watch of
 * its remote syscalls (lib/rsys.h) and around its parking gadgets and
 * scratch areas; amber-unseize reads it. The records are
 * images/journal.proto.
 *
 * A record is written whole, with one write(2), before the change it
 * announces is made. So a record the writer was killed in the middle of
 * (cut short at the end of the file) announces a change that never
 * happened, and the reader ignores it; every change that did happen has its
 * record. What the records say for one process, in order:
 *	PROCESS pid, start time
 *	GADGET addr, orig	the parking gadget (lib/rsys.h) goes over orig
 *	THREAD tid, regs, mask	tid's mask and registers will change
 *	MAPPING tid, len	tid maps a scratch area; MAPPING_AT addr once
 *				the address is known, MAPPING_GONE after munmap
 *	THREAD_DONE tid		tid has its registers and mask back
 *	GADGET_GONE		orig is back
 *
 * Test hook: a journal set up with die_after N > 0 (seize takes N from
 * AMBER_TEST_SEIZE_DIE_AFTER) SIGKILLs its own process just after the Nth
 * change it is told of (rjournal_changed: each change to a tracee's
 * registers, mask or memory, and each stop of a remote syscall), so a test
 * can end the tracer at every step of its work.
 */
#ifndef AMBER_RJOURNAL_H
#define AMBER_RJOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "lib/err.h"
#include "lib/rsys.h"

#define RJOURNAL_NAME "seize.journal"	/* in the run directory */
#define RJOURNAL_MAX_ORIG 128		/* bytes a gadget may cover */

struct rjournal {
	struct rsys_watch watch;	/* for rsys_begin: THREAD, THREAD_DONE, the test hook */
	int fd;			/* where records go, or -1: none are written */
	long die_after;		/* the test hook: 0 never */
	long changes;		/* changes made so far */
};

/* A journal that writes nothing yet, with the test hook armed if
 * die_after > 0. */
void rjournal_init(struct rjournal *j, long die_after);
/* Creates (truncating) the journal 'name' in directory dirfd, 0600. */
int rjournal_create(struct rjournal *j, int dirfd, const char *name, struct err *e);
void rjournal_close(struct rjournal *j);

/* The records (see above). Each returns 0, or <0 with e set if the record
 * could not be written, in which case the change must not be made. A
 * journal without an fd writes nothing and returns 0. */
int rjournal_process(struct rjournal *j, pid_t pid, uint64_t start_time, struct err *e);
int rjournal_gadget(struct rjournal *j, uint64_t addr, const void *orig, size_t len, struct err *e);
int rjournal_gadget_gone(struct rjournal *j, struct err *e);
int rjournal_thread(struct rjournal *j, pid_t tid, const struct user_regs_struct *regs, uint64_t mask, struct err *e);
int rjournal_thread_done(struct rjournal *j, pid_t tid, struct err *e);
int rjournal_mapping(struct rjournal *j, pid_t tid, uint64_t len, struct err *e);
int rjournal_mapping_at(struct rjournal *j, uint64_t addr, struct err *e);
int rjournal_mapping_gone(struct rjournal *j, struct err *e);

/* Counts one change just made to a tracee (registers, signal mask or
 * memory); the test hook ends the process here. j may be NULL. (Changes
 * made through j->watch are counted by it.) */
void rjournal_changed(struct rjournal *j);

/* What a journal leaves to put back, per process. */
struct rjournal_thread {
	pid_t tid;
	struct user_regs_struct regs;
	uint64_t mask;
	bool done;		/* its registers and mask are back */
};

struct rjournal_proc {
	pid_t pid;
	uint64_t start_time;
	uint64_t gadget;	/* the gadget's address, or 0 if none was written */
	uint8_t orig[RJOURNAL_MAX_ORIG];	/* the bytes under it */
	size_t orig_len;
	bool gadget_gone;
	bool mapping;		/* a scratch area may be mapped */
	pid_t mapping_tid;	/* by this thread */
	uint64_t mapping_len;
	uint64_t mapping_addr;	/* 0 while the journal does not know it */
	bool mapping_gone;
	struct rjournal_thread *threads;
	int nr_threads;
};

struct rjournal_state {
	struct rjournal_proc *procs;
	int nr;
	bool cut_short;		/* the last record was cut short (ignored) */
};

/* Reads a journal from fd. A record cut short at the end is ignored (its
 * change was never made); anything else that does not decode is an error
 * naming 'what' and the record. */
int rjournal_load(int fd, const char *what, struct rjournal_state *s, struct err *e);
void rjournal_state_free(struct rjournal_state *s);
/* Whether anything in s is left to put back. */
bool rjournal_pending(const struct rjournal_state *s);
/* Whether s records any change at all (put back since, or not). */
bool rjournal_touched(const struct rjournal_state *s);

#endif
