/* fown: a self-checking workload for file owners (F_SETOWN, F_SETSIG, O_ASYNC).
 *
 *	fown READYFILE RESULTFILE DIR [outside]
 *
 * Holds three descriptors with owners:
 *	pipe a's read end: owned by this process, F_SETSIG SIGRTMIN+1,
 *	    O_ASYNC | O_NONBLOCK, so a write to the pipe sends SIGRTMIN+1
 *	    with si_fd = that fd;
 *	pipe b's read end: owned by a child (which waits in pause);
 *	DIR/f: owned by this process's group (F_OWNER_PGRP).
 * With "outside", pipe b's owner is this process's parent instead, which
 * is outside the tree: the dump must refuse it.
 * After SIGUSR1 it checks each owner, type and signal, the O_ASYNC flag,
 * and that a byte written to pipe a brings SIGRTMIN+1 with the right
 * si_fd and POLL_IN. PASS or FAIL lines go to RESULTFILE. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

static volatile sig_atomic_t got_fd = -1, got_code;

static void on_io(int sig, siginfo_t *si, void *uc)
{
	got_fd = si->si_fd;
	got_code = si->si_code;
}

static void check_owner(struct wl_report *r, const char *what, int fd, int type, pid_t pid)
{
	struct f_owner_ex own = { 0 };

	if (fcntl(fd, F_GETOWN_EX, &own) < 0 || (int)own.type != type || own.pid != pid)
		wl_fail(r, "%s (fd %d) is owned by type %d pid %d, want type %d pid %d", what, fd, own.type, own.pid, type, pid);
}

int main(int argc, char **argv)
{
	char report[4096] = "", path[4096];
	struct wl_report r = { report, sizeof(report), 0 };
	struct sigaction sa = { .sa_sigaction = on_io, .sa_flags = SA_SIGINFO | SA_RESTART };
	struct f_owner_ex grp = { F_OWNER_PGRP, 0 };
	int a[2], b[2], f, fl;
	pid_t kid;

	if (argc < 4)
		return 2;
	wl_catch_usr1();
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGRTMIN + 1, &sa, NULL) < 0 || pipe(a) < 0 || pipe(b) < 0)
		return 1;
	kid = fork();
	if (kid == 0) {
		for (;;)
			pause();
	}
	snprintf(path, sizeof(path), "%s/f", argv[3]);
	f = open(path, O_RDWR | O_CREAT, 0600);
	grp.pid = getpgrp();
	if (f < 0 || fcntl(a[0], F_SETOWN, getpid()) < 0 || fcntl(a[0], F_SETSIG, SIGRTMIN + 1) < 0 ||
	    fcntl(a[0], F_SETFL, O_ASYNC | O_NONBLOCK) < 0 ||
	    fcntl(b[0], F_SETOWN, argc > 4 && !strcmp(argv[4], "outside") ? getppid() : kid) < 0 ||
	    fcntl(f, F_SETOWN_EX, &grp) < 0)
		return 1;
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	check_owner(&r, "pipe a", a[0], F_OWNER_PID, getpid());
	check_owner(&r, "pipe b", b[0], F_OWNER_PID, kid);
	check_owner(&r, "DIR/f", f, F_OWNER_PGRP, getpgrp());
	if (fcntl(a[0], F_GETSIG) != SIGRTMIN + 1)
		wl_fail(&r, "pipe a's signal is %d, want %d", fcntl(a[0], F_GETSIG), SIGRTMIN + 1);
	if (fcntl(b[0], F_GETSIG) != 0)
		wl_fail(&r, "pipe b's signal is %d, want 0 (SIGIO)", fcntl(b[0], F_GETSIG));
	fl = fcntl(a[0], F_GETFL);
	if (!(fl & O_ASYNC) || !(fl & O_NONBLOCK))
		wl_fail(&r, "pipe a's flags are %#o, want O_ASYNC and O_NONBLOCK", fl);
	if (write(a[1], "x", 1) != 1)
		wl_fail(&r, "write to pipe a: %s", strerror(errno));
	for (int i = 0; i < 100 && got_fd < 0; i++)
		wl_sleep_ms(10);
	if (got_fd != a[0] || got_code != POLL_IN)
		wl_fail(&r, "a write to pipe a brought si_fd %d si_code %d, want %d and POLL_IN", (int)got_fd, (int)got_code, a[0]);
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
