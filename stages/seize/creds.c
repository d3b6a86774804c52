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

#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "lib/rsys.h"
#include "stages/seize/taskstate.h"

/* The supplementary groups: the value of status's "Groups:" line, gids
 * separated by blanks (0 included, so not proc_parse_pid_list). */
static int seize_groups(const char *status, CredsEntry *c, struct err *e)
{
	const char *g = strstr(status, "\nGroups:");
	size_t n = 0, cap = 0;

	if (!g)
		return err_input(e, "no 'Groups:' line");
	g += strlen("\nGroups:");
	for (;;) {
		char *end;
		unsigned long v;

		g += strspn(g, " \t");
		if (!*g || *g == '\n')
			break;
		errno = 0;
		v = strtoul(g, &end, 10);
		if (end == g || errno || v > UINT32_MAX)
			return err_input(e, "bad 'Groups:' value '%.40s'", g);
		if (grow_cap(&c->groups, &cap, n + 1) < 0)
			return err_errno(e, "read groups");
		c->groups[n++] = v;
		c->n_groups = n;
		g = end;
	}
	return 0;
}

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
	struct proc_status st;
	_cleanup_free_ char *text = NULL;
	char path[64];
	CredsEntry *c;
	long res;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	if ((ret = proc_read_file(path, &text, NULL, e)) < 0)
		return ret;
	if ((ret = proc_parse_status(text, &st, e)) < 0)
		return err_wrap(e, "'%s'", path);
	if (st.seccomp == 1)
		return err_input(e, "thread %d is in seccomp strict mode, where it may only read, write and exit: it cannot be dumped", tid);
	c = core->creds = malloc(sizeof(*c));
	if (!c)
		return err_errno(e, "allocate credentials of thread %d", tid);
	creds_entry__init(c);
	c->uid = st.uid[0]; c->euid = st.uid[1]; c->suid = st.uid[2]; c->fsuid = st.uid[3];
	c->gid = st.gid[0]; c->egid = st.gid[1]; c->sgid = st.gid[2]; c->fsgid = st.gid[3];
	c->cap_inh = st.capinh;
	c->cap_prm = st.capprm;
	c->cap_eff = st.capeff;
	c->cap_bnd = st.capbnd;
	c->cap_amb = st.capamb;
	c->no_new_privs = st.no_new_privs;
	if ((ret = seize_groups(text, c, e)) < 0)
		return err_wrap(e, "'%s'", path);
	if ((ret = rsys_call(r, &res, SYS_prctl, PR_GET_SECUREBITS, 0, 0, 0, 0, 0, e)) < 0)
		return ret;
	if (res < 0)
		return err_errnum(e, -res, "thread %d: PR_GET_SECUREBITS", tid);
	c->securebits = res;
	if (st.seccomp == 2)
		return seize_seccomp(tid, core, e);
	return 0;
}

void seize_creds_free(CoreEntry *core)
{
	if (core->creds)
		free(core->creds->groups);
	free(core->creds);
	for (size_t i = 0; i < core->n_seccomp; i++)
		free(core->seccomp[i]);
	free(core->seccomp);
	core->creds = NULL;
	core->seccomp = NULL;
	core->n_seccomp = 0;
}
