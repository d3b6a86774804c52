/* pidfds: a self-checking workload for pidfds and the kernel objects amber
 * refuses by name.
 *
 *	pidfds READYFILE RESULTFILE CASE
 *
 * CASE is one of:
 *  tree	forks a child that waits; holds a pidfd of the child (fd 10,
 *		O_NONBLOCK) and one of itself (fd 11, close-on-exec). After the
 *		restore: each pidfd's fdinfo names the restored process, the
 *		flags are kept, pidfd_send_signal through the child's kills
 *		the child, and waitid(P_PIDFD) reaps it.
 *  outside	holds a pidfd of its parent, outside the tree (refused).
 *  aio	holds an AIO context (io_setup; refused).
 *  uring	holds an io_uring instance (refused).
 *  fanotify	holds a fanotify group (refused).
 *  epoll	an epoll (fd 4) watches a pidfd of itself (fd 3): refused, since
 *		the pidfd is opened after the epoll's registrations are made.
 * PASS or FAIL lines go to RESULTFILE after SIGUSR1.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/io_uring.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/fanotify.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

/* The "Pid:" of a pidfd's fdinfo, or -2. */
static long pidfds_pid_of(int fd)
{
	char path[64], text[1024], *at;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (wl_read_file(path, text, sizeof(text)) <= 0 || !(at = strstr(text, "\nPid:")))
		return -2;
	return strtol(at + 5, NULL, 10);
}

static int pidfds_tree(const char *ready, struct wl_report *r)
{
	pid_t child = fork();
	siginfo_t si = { 0 };
	int a, b;

	if (child < 0)
		return -1;
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	a = syscall(SYS_pidfd_open, child, O_NONBLOCK);
	b = syscall(SYS_pidfd_open, getpid(), 0);
	if (a < 0 || b < 0 || dup2(a, 10) != 10 || dup3(b, 11, O_CLOEXEC) != 11 || close(a) < 0 || close(b) < 0)
		return wl_must(0, "open the pidfds");
	if (wl_write_ready(ready, getpid()) < 0)
		return -1;
	wl_wait_usr1();
	if (pidfds_pid_of(10) != child)
		wl_fail(r, "the child's pidfd names pid %ld, want %d", pidfds_pid_of(10), child);
	if (pidfds_pid_of(11) != getpid())
		wl_fail(r, "its own pidfd names pid %ld, want %d", pidfds_pid_of(11), getpid());
	if (!(fcntl(10, F_GETFL) & O_NONBLOCK))
		wl_fail(r, "the child's pidfd lost O_NONBLOCK");
	if (!(fcntl(11, F_GETFD) & FD_CLOEXEC) || (fcntl(10, F_GETFD) & FD_CLOEXEC))
		wl_fail(r, "the pidfds' close-on-exec flags changed");
	if (syscall(SYS_pidfd_send_signal, 10, SIGKILL, NULL, 0) < 0)
		wl_fail(r, "pidfd_send_signal through the child's pidfd: %s", strerror(errno));
	/* O_NONBLOCK: waitid fails with EAGAIN at once until it died. */
	for (int i = 0; i < 200 && waitid(P_PIDFD, 10, &si, WEXITED) < 0 && errno == EAGAIN; i++)
		wl_sleep_ms(10);
	if (si.si_pid != child || si.si_status != SIGKILL)
		wl_fail(r, "waitid(P_PIDFD) did not reap the child killed by SIGKILL (pid %d, status %d)", si.si_pid,
			si.si_status);
	return 0;
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	int ret = 0;

	if (argc < 4)
		return 2;
	wl_catch_usr1();
	if (!strcmp(argv[3], "tree")) {
		ret = pidfds_tree(argv[1], &r);
	} else {
		aio_context_t ctx = 0;
		struct io_uring_params p = { 0 };

		if (!strcmp(argv[3], "outside"))
			ret = syscall(SYS_pidfd_open, getppid(), 0);
		else if (!strcmp(argv[3], "aio"))
			ret = syscall(SYS_io_setup, 8, &ctx);
		else if (!strcmp(argv[3], "uring"))
			ret = syscall(SYS_io_uring_setup, 4, &p);
		else if (!strcmp(argv[3], "fanotify"))
			ret = fanotify_init(FAN_CLASS_NOTIF, 0);
		else if (!strcmp(argv[3], "epoll")) {
			struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 5 };
			int pfd = syscall(SYS_pidfd_open, getpid(), 0), ep = epoll_create1(0);

			ret = pfd == 3 && ep == 4 ? epoll_ctl(ep, EPOLL_CTL_ADD, pfd, &ev) : -1;
		}
		else
			return fprintf(stderr, "pidfds: unknown case '%s'\n", argv[3]), 2;
		if (wl_must(ret >= 0, argv[3]) < 0 || wl_write_ready(argv[1], getpid()) < 0)
			return 1;
		for (;;)
			pause();
	}
	if (ret < 0)
		return 1;
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
