/* restore-tasks/batch.c: many remote syscalls for one round trip.
 *
 * The restore trampoline holds, besides 'syscall; int3', the batch loop of
 * lib/rsys.h. Requests are collected here with what each one does (for the
 * error message) and run together when the batch is full or flushed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/exitcodes.h"
#include "lib/rsys.h"
#include "stages/restore-tasks/batch.h"

/* A remote syscall failed with -v. Its arguments are the images' values
 * (addresses, lengths, flags, registers, credentials, timers): one the
 * kernel refuses as invalid, out of range or unmapped is bad input, which
 * a rerun cannot fix; other failures are the system's. */
static int rt_sys_error(struct err *e, long v, pid_t tid, const char *what)
{
	int ret = err_errnum(e, -v, "pid %d: %s", tid, what);

	if (-v == EINVAL || -v == EFAULT || -v == ERANGE || -v == EOVERFLOW || -v == E2BIG) {
		e->exit_code = EXIT_INPUT;
		snprintf(e->msg + strlen(e->msg), sizeof(e->msg) - strlen(e->msg),
			 " (the kernel refuses a value from the images)");
	}
	return ret;
}

int rt_sys(struct rsys *r, long *res, const char *what, long nr, uint64_t a1, uint64_t a2,
	   uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6, struct err *e)
{
	long v;
	int ret = rsys_call(r, &v, nr, a1, a2, a3, a4, a5, a6, e);

	if (ret < 0)
		return ret;
	if (v < 0 && v > -4096)
		return rt_sys_error(e, v, r->tid, what);
	if (res)
		*res = v;
	return 0;
}

struct rt_batch *rt_batch_new(struct rsys *r, struct rt_task *t, struct err *e)
{
	struct rt_batch *b = calloc(1, sizeof(*b));

	if (!b) {
		err_errno(e, "allocate a syscall batch");
		return NULL;
	}
	b->r = r;
	b->t = t;
	return b;
}

int rt_batch_add(struct rt_batch *b, long *out, uint64_t expect, const char *what, long nr, uint64_t a1,
		 uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6, struct err *e)
{
	int ret;

	if (b->n == RT_BATCH_MAX && (ret = rt_batch_flush(b, e)) < 0)
		return ret;
	b->req[b->n] = (struct rsys_req){ nr, { a1, a2, a3, a4, a5, a6 }, 0 };
	b->out[b->n] = out;
	b->expect[b->n] = expect;
	snprintf(b->what[b->n], sizeof(b->what[0]), "%s", what);
	b->n++;
	return 0;
}

int rt_batch_flush(struct rt_batch *b, struct err *e)
{
	int n = b->n, ret;

	if (!n)
		return 0;
	b->n = 0;
	ret = rsys_batch(b->r, RT_BATCH_CODE(b->t), RT_BATCH_AREA(b->t), b->req, n, e);
	if (ret < 0)
		return ret;
	for (int i = 0; i < n; i++) {
		long v = b->req[i].ret;

		if (v < 0 && v > -4096)
			return rt_sys_error(e, v, b->r->tid, b->what[i]);
		if (b->expect[i] && (uint64_t)v != b->expect[i])
			return err_set(e, EXIT_SYSTEM, "pid %d: %s: got %#lx, want %#llx", b->r->tid, b->what[i], v,
				       (unsigned long long)b->expect[i]);
		if (b->out[i])
			*b->out[i] = v;
	}
	return 0;
}
