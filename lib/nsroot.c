/* nsroot: see nsroot.h. */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/exitcodes.h"
#include "lib/nschild.h"
#include "lib/nsroot.h"
#include "lib/proc.h"

struct nsroot_arg {
	pid_t pid;
	int proc;		/* the caller's /proc: the namespace may have none */
};

/* In a child in pid's mount namespace: sends its root and its own
 * mountinfo. */
static int nsroot_child(void *arg, struct nschild_reply *reply, struct err *e)
{
	const struct nsroot_arg *a = arg;
	_cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int mi = openat(a->proc, "thread-self/mountinfo", O_RDONLY | O_CLOEXEC);
	int fds[2] = { root, mi };

	if (root < 0)
		return err_errno(e, "open the root '/' of pid %d's mount namespace", a->pid);
	if (mi < 0)
		return err_errno(e, "open '/proc/thread-self/mountinfo' in pid %d's mount namespace", a->pid);
	return nschild_send_fds(reply, fds, 2, e);
}

int nsroot_open(pid_t pid, int *root_fd, struct mountinfo_table *t, struct err *e)
{
	_cleanup_close_ int proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct nsroot_arg a = { pid, proc };
	struct nschild_ns ns = { -1, CLONE_NEWNS, NULL };
	struct nschild_result res;
	char what[96], path[64];
	char *text;
	int ret;

	if (proc < 0)
		return err_errno(e, "open '/proc'");
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
	snprintf(what, sizeof(what), "read the mount namespace of pid %d from its root", pid);
	if ((ns.fd = openat(proc, path + 6, O_RDONLY | O_CLOEXEC)) < 0)
		return err_errno(e, "%s: open '%s'", what, path);
	ns.name = path;
	ret = nschild_run(what, &ns, 1, nsroot_child, &a, &res, e);
	close(ns.fd);
	if (ret < 0)
		return ret;
	if (res.nr_fds != 2) {
		nschild_result_free(&res);
		return err_set(e, EXIT_SYSTEM, "%s: the child sent %d fds, not 2", what, res.nr_fds);
	}
	snprintf(what, sizeof(what), "mountinfo of pid %d's mount namespace", pid);
	ret = proc_read_fd(res.fds[1], what, &text, NULL, e);
	if (ret >= 0 && (ret = mountinfo_parse(text, t, e)) < 0)
		err_wrap(e, "%s", what);
	if (ret >= 0 && root_fd)
		*root_fd = TAKE_FD(res.fds[0]);
	nschild_result_free(&res);
	return ret;
}
