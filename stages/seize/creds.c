/* seize/creds.c: a thread's credentials (/proc/PID/task/TID/status and
 * PR_GET_SECUREBITS) and its seccomp filters (PTRACE_SECCOMP_GET_FILTER). */
#include <linux/filter.h>
#include <linux/prctl.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include "images/collect.h"
#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "lib/rsys.h"
#include "stages/seize/taskstate.h"

/* Every seccomp filter of tid, oldest first: the kernel's filter_off counts
 * from the oldest (get_nth_filter), whatever ptrace(2) says. */
static int seize_seccomp(pid_t tid, CoreEntry *core, struct err *e)
{
	int n = 0;

	while (ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)(long)n, NULL) > 0)
		n++;
	if (errno != ENOENT)
		return err_errno(e, "count the seccomp filters of thread %d (PTRACE_SECCOMP_GET_FILTER)", tid);
	core->seccomp = calloc(n, sizeof(*core->seccomp));
	if (n && !core->seccomp)
		return err_errno(e, "allocate seccomp filters of thread %d", tid);
	for (int i = 0; i < n; i++) {
		long len = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)(long)i, NULL);
		struct { uint64_t filter_off, flags; } md = { i, 0 };
		SeccompFilterEntry *f;

		if (len <= 0)
			return err_errno(e, "read seccomp filter %d of thread %d", i, tid);
		f = malloc(sizeof(*f) + len * sizeof(struct sock_filter));
		if (!f)
			return err_errno(e, "allocate seccomp filter of thread %d", tid);
		seccomp_filter_entry__init(f);
		f->filter.data = (uint8_t *)(f + 1);
		f->filter.len = len * sizeof(struct sock_filter);
		core->seccomp[core->n_seccomp++] = f;
		if (ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)(long)i, f->filter.data) != len)
			return err_errno(e, "read seccomp filter %d of thread %d", i, tid);
		if (ptrace(PTRACE_SECCOMP_GET_METADATA, tid, sizeof(md), &md) == sizeof(md)) {
			f->has_flags = true;
			f->flags = md.flags;
		}
	}
	pr_debug("thread %d: %d seccomp filters", tid, n);
	return 0;
}

int seize_creds(pid_t pid, pid_t tid, struct rsys *r, CoreEntry *core, struct err *e)
{
	CredsEntry *c;
	int ret, seccomp = 0;
	long res;

	c = core->creds = malloc(sizeof(*c));
	if (!c)
		return err_errno(e, "allocate credentials of thread %d", tid);
	if ((ret = collect_creds(pid, tid, c, &seccomp, e)) < 0)
		return ret;
	if (seccomp == 1)
		return err_input(e, "thread %d is in seccomp strict mode, where it may only read, write and exit: it cannot be dumped", tid);
	if ((ret = rsys_call(r, &res, SYS_prctl, PR_GET_SECUREBITS, 0, 0, 0, 0, 0, e)) < 0)
		return ret;
	if (res < 0)
		return err_errnum(e, -res, "thread %d: PR_GET_SECUREBITS", tid);
	c->securebits = res;
	if (seccomp == 2)
		return seize_seccomp(tid, core, e);
	return 0;
}

void seize_creds_free(CoreEntry *core)
{
	if (core->creds)
		collect_creds_free(core->creds);
	free(core->creds);
	for (size_t i = 0; i < core->n_seccomp; i++)
		free(core->seccomp[i]);
	free(core->seccomp);
	core->creds = NULL;
	core->seccomp = NULL;
	core->n_seccomp = 0;
}
