/* nsroot: see nsroot.h. */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc/fdpass.h"
#include "lib/cleanup.h"
#include "lib/nsroot.h"
#include "lib/proc.h"

/* In the child: enters pid's namespace, sends its root and mountinfo;
 * exits with an errno on failure. */
static void __attribute__((noreturn)) nsroot_child(pid_t pid, int proc, int sock)
{
	char path[64];
	int fds[2], ns;
	uint32_t ids[2] = { 0, 1 };
	struct err e;

	snprintf(path, sizeof(path), "%d/ns/mnt", pid);
	if ((ns = openat(proc, path, O_RDONLY | O_CLOEXEC)) < 0 || setns(ns, CLONE_NEWNS) < 0)
		_exit(errno);
	if ((fds[0] = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		_exit(errno);
	if ((fds[1] = openat(proc, "thread-self/mountinfo", O_RDONLY | O_CLOEXEC)) < 0)
		_exit(errno);
	_exit(fdpass_send(sock, fds, ids, 2, &e) < 0 ? EPIPE : 0);
}

int nsroot_open(pid_t pid, int *root_fd, struct mountinfo_table *t, struct err *e)
{
	_cleanup_close_ int proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int sk[2], fds[FDPASS_BATCH], status = 0, n, ret = 0;
	uint32_t ids[FDPASS_BATCH];
	char what[64];
	pid_t child;
	char *text;

	if (proc < 0)
		return err_errno(e, "open '/proc'");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk) < 0)
		return err_errno(e, "socketpair");
	if ((child = fork()) < 0) {
		close(sk[0]);
		close(sk[1]);
		return err_errno(e, "fork");
	}
	if (child == 0) {
		close(sk[0]);
		nsroot_child(pid, proc, sk[1]);
	}
	close(sk[1]);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		close(sk[0]);
		return err_errnum(e, WIFEXITED(status) ? WEXITSTATUS(status) : EINTR,
				  "read the mount namespace of pid %d from its root (a child entering it with setns)", pid);
	}
	n = fdpass_recv(sk[0], fds, ids, e);
	close(sk[0]);
	if (n < 0)
		return n;
	if (n != 2)
		return err_set(e, 4, "the child reading the mount namespace of pid %d sent %d fds, not 2", pid, n);
	snprintf(what, sizeof(what), "mountinfo of pid %d's mount namespace", pid);
	ret = proc_read_fd(fds[1], what, &text, NULL, e);
	close(fds[1]);
	if (ret >= 0 && (ret = mountinfo_parse(text, t, e)) < 0)
		err_wrap(e, "%s", what);
	if (ret >= 0 && root_fd)
		*root_fd = fds[0];
	else
		close(fds[0]);
	return ret;
}
