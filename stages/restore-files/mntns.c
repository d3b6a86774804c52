/* mntns: which mount namespace each file is opened in.
 *
 * A file is opened by its path in the mount namespace of the first task
 * that holds it: the namespace build-mntns made for that task (entered
 * through its pin), or this stage's own for a task that had the dumper's.
 * restore-files is single-threaded and only opens files, so it moves
 * between namespaces with setns as the files need.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "stages/restore-files/reopen.h"

struct reopen_ns {
	int own;		/* this stage's namespace */
	int cur;		/* index of the one we are in, -1 for our own */
	struct { uint32_t id; char *pin; int fd; uint32_t *pids; size_t nr; } *ns;
	int nr;
};

int reopen_ns_add(struct reopen_ns **nsp, const MntnsPlanEntry *m, struct err *e)
{
	struct reopen_ns *ns = *nsp;
	void *n;

	if (!ns) {
		if (!(ns = calloc(1, sizeof(*ns))))
			return err_errnum(e, ENOMEM, "mount namespaces");
		ns->own = -1;
		ns->cur = -1;
		*nsp = ns;
	}
	if (!(n = realloc(ns->ns, (ns->nr + 1) * sizeof(*ns->ns))))
		return err_errnum(e, ENOMEM, "mount namespace %u", m->id);
	ns->ns = n;
	ns->ns[ns->nr].id = m->id;
	ns->ns[ns->nr].fd = -1;
	ns->ns[ns->nr].pin = strdup(m->pin);
	ns->ns[ns->nr].pids = malloc(m->n_pids * sizeof(uint32_t) + 1);
	ns->ns[ns->nr].nr = m->n_pids;
	if (!ns->ns[ns->nr++].pids || !ns->ns[ns->nr - 1].pin)
		return err_errnum(e, ENOMEM, "mount namespace %u", m->id);
	if (m->n_pids)	/* a namespace no task is in has no pids array at all */
		memcpy(ns->ns[ns->nr - 1].pids, m->pids, m->n_pids * sizeof(uint32_t));
	return 0;
}

int reopen_ns_open(struct reopen_ns *ns, struct err *e)
{
	if (!ns)
		return 0;
	if ((ns->own = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC)) < 0)
		return err_errno(e, "open '/proc/self/ns/mnt'");
	for (int i = 0; i < ns->nr; i++)
		if ((ns->ns[i].fd = open(ns->ns[i].pin, O_RDONLY | O_CLOEXEC)) < 0)
			return err_errno(e, "open the pin '%s' of mount namespace %u", ns->ns[i].pin, ns->ns[i].id);
	return 0;
}

int reopen_ns_enter(struct reopen_ns *ns, pid_t pid, struct err *e)
{
	int want = -1;

	if (!ns)
		return 0;
	for (int i = 0; i < ns->nr && want < 0; i++)
		for (size_t k = 0; k < ns->ns[i].nr; k++)
			if (ns->ns[i].pids[k] == (uint32_t)pid) {
				want = i;
				break;
			}
	if (want == ns->cur)
		return 0;
	if (setns(want < 0 ? ns->own : ns->ns[want].fd, CLONE_NEWNS) < 0)
		return want < 0 ? err_errno(e, "go back to amber's own mount namespace for pid %d's files (setns)", pid)
				: err_errno(e, "enter mount namespace %u for pid %d's files (setns)", ns->ns[want].id, pid);
	pr_debug("files of pid %d: opened in %s", pid, want < 0 ? "amber's mount namespace" : "the tree's mount namespace");
	ns->cur = want;
	return 0;
}

void reopen_ns_free(struct reopen_ns *ns)
{
	if (!ns)
		return;
	for (int i = 0; i < ns->nr; i++) {
		if (ns->ns[i].fd >= 0)
			close(ns->ns[i].fd);
		free(ns->ns[i].pin);
		free(ns->ns[i].pids);
	}
	if (ns->own >= 0)
		close(ns->own);
	free(ns->ns);
	free(ns);
}
