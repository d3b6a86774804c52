/* restore-tasks/batch.h: see batch.c. */
#ifndef AMBER_STAGE_RESTORE_TASKS_BATCH_H
#define AMBER_STAGE_RESTORE_TASKS_BATCH_H

#include "lib/rsys.h"
#include "stages/restore-tasks/restore-tasks.h"

#define RT_BATCH_MAX 192	/* requests that fit RT_BATCH_AREA */

struct rt_batch {
	struct rsys *r;
	struct rt_task *t;
	int n;
	struct rsys_req req[RT_BATCH_MAX];
	long *out[RT_BATCH_MAX];	/* where a result goes, or NULL */
	uint64_t expect[RT_BATCH_MAX];	/* a result that must come back (an mmap address), or 0 */
	char what[RT_BATCH_MAX][96];
};

/* One remote syscall, its -errno result turned into an error naming 'what'. */
int rt_sys(struct rsys *r, long *res, const char *what, long nr, uint64_t a1, uint64_t a2,
	   uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6, struct err *e);

/* A batch for the task t, run through r (the thread it runs in); free() it. */
struct rt_batch *rt_batch_new(struct rsys *r, struct rt_task *t, struct err *e);
/* Queues one syscall; runs the batch first if it is full. */
int rt_batch_add(struct rt_batch *b, long *out, uint64_t expect, const char *what, long nr, uint64_t a1,
		 uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6, struct err *e);
/* Runs what is queued; the first failed request is the error. */
int rt_batch_flush(struct rt_batch *b, struct err *e);

#endif
