/* restore-tasks: the stage's internals (this folder only). */
#ifndef AMBER_STAGE_RESTORE_TASKS_H
#define AMBER_STAGE_RESTORE_TASKS_H

#include <stdint.h>
#include <sys/types.h>

#include "images/core.pb-c.h"
#include "images/fs.pb-c.h"
#include "images/mm.pb-c.h"
#include "images/pagemap.pb-c.h"
#include "images/stream.pb-c.h"
#include "ipc/stage.h"

#define RT_PAGE		4096ULL
#define RT_TRAMP_PAGES	16	/* one code page, then scratch for paths and structs */

/* A descriptor the task must have: the stage's copy of the file, and where it goes. */
struct rt_fd {
	int src;
	int target;
	bool cloexec;
};

struct rt_task {
	PstreeEntry *pe;
	CoreEntry *core;	/* the leader's */
	MmEntry *mm;
	FsEntry *fs;
	PagemapEntry **pm;
	int nr_pm;
	struct rt_fd *fds;
	int nr_fds;
	uint64_t tramp;		/* trampoline address in the task */
	uint64_t spare;		/* a free gap for moving the vDSO through */
	pid_t pid;		/* set once the task exists */
};

int restore_tasks_run(const struct stage_ctx *ctx, void *opts, struct err *e);
/* images.c: load a task's images; free them. */
int rt_load(int dirfd, struct rt_task *t, struct err *e);
void rt_unload(struct rt_task *t);
/* fork.c: create the task with its pid, stopped and traced, trampoline mapped. */
int rt_fork(struct rt_task *t, struct err *e);
/* transplant.c: load the image into the stopped task and let it go. */
int rt_transplant(int dirfd, struct rt_task *t, struct err *e);

struct rsys;
/* The scratch area after the trampoline's code page, for syscall arguments. */
#define RT_SCRATCH(t)	((t)->tramp + RT_PAGE)
#define RT_SCRATCH_SIZE	((RT_TRAMP_PAGES - 1) * RT_PAGE)
/* taskstate.c: process-wide state (timers, rlimits, personality, ...), run in
 * the leader after memory, mm and sigactions, before threads exist. */
int rt_task_state_process(struct rsys *r, struct rt_task *t, struct err *e);
/* Per-thread state, the last remote syscalls each thread runs: sigaltstack,
 * pending signals, then credentials, then seccomp. 'core' is that thread's. */
int rt_task_state_thread(struct rsys *r, struct rt_task *t, const CoreEntry *core, struct err *e);

#endif
