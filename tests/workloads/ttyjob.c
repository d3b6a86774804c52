/* ttyjob: a self-checking workload for a process on its shell's terminal
 * (dump and restore --shell-job).
 *
 *	ttyjob READYFILE RESULTFILE [job|raw]
 *
 * Runs with stdin, stdout and stderr on a terminal (the test starts it
 * under script(1)), writes "ttyjob: before the dump" to it and reports
 * READY. With "job" it first makes itself a process group of its own and
 * the terminal's foreground group, as a job-control shell does for a job.
 * With "raw" it puts its terminal in non-canonical mode without echo or
 * signals (as an editor does) and sets the window size to 101x33, and
 * after restore checks both are so again on the terminal it was given.
 * After SIGUSR1 it checks that its stdio is a terminal again, open for
 * reading and writing, that (as a job) its group is the terminal's
 * foreground again, and writes "ttyjob: carrying on after restore on
 * TTYNAME" to it, which the test looks for in what the restoring terminal
 * showed. PASS or FAIL lines go to RESULTFILE. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "workload.h"

int main(int argc, char **argv)
{
	char report[4096] = "", line[256];
	struct wl_report r = { report, sizeof(report), 0 };
	const char *name;
	int n, raw;

	if (argc < 3)
		return 2;
	wl_catch_usr1();
	raw = argc > 3 && !strcmp(argv[3], "raw");
	if (!isatty(0) || !isatty(1) || !isatty(2))
		return 1;
	if (argc > 3 && !strcmp(argv[3], "job")) {
		/* As a shell does: a group of its own, given the terminal (SIGTTOU
		 * ignored, since the caller is not the foreground yet). */
		signal(SIGTTOU, SIG_IGN);
		if (setpgid(0, 0) < 0 || tcsetpgrp(0, getpgrp()) < 0)
			return 1;
		signal(SIGTTOU, SIG_DFL);
	}
	if (raw) {
		struct termios t;
		struct winsize ws = { 33, 101, 0, 0 };

		if (tcgetattr(0, &t) < 0)
			return 1;
		t.c_lflag &= ~(ICANON | ECHO | ISIG);
		t.c_cc[VMIN] = 1;
		t.c_cc[VTIME] = 0;
		if (tcsetattr(0, TCSANOW, &t) < 0 || ioctl(0, TIOCSWINSZ, &ws) < 0)
			return 1;
	}
	if (write(1, "ttyjob: before the dump\n", 24) != 24 || wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	for (int fd = 0; fd < 3; fd++) {
		int fl = fcntl(fd, F_GETFL);

		if (!isatty(fd))
			wl_fail(&r, "fd %d is not a terminal after restore", fd);
		if (fl < 0 || (fl & O_ACCMODE) != O_RDWR)
			wl_fail(&r, "fd %d has flags %#o, want O_RDWR", fd, fl);
	}
	if (argc > 3 && !strcmp(argv[3], "job") && tcgetpgrp(0) != getpgrp())
		wl_fail(&r, "its process group %d is not the terminal's foreground (%d)", (int)getpgrp(), (int)tcgetpgrp(0));
	if (raw) {
		struct termios t;
		struct winsize ws;

		if (tcgetattr(0, &t) < 0 || (t.c_lflag & (ICANON | ECHO | ISIG)) || t.c_cc[VMIN] != 1)
			wl_fail(&r, "the terminal is not in the raw mode it had at dump (lflag %#o)", (unsigned)t.c_lflag);
		if (ioctl(0, TIOCGWINSZ, &ws) < 0 || ws.ws_row != 33 || ws.ws_col != 101)
			wl_fail(&r, "the window size is %ux%u, not 101x33 as at dump", ws.ws_col, ws.ws_row);
	}
	name = ttyname(1);
	n = snprintf(line, sizeof(line), "ttyjob: carrying on after restore on %s\n", name ? name : "?");
	if (write(1, line, n) != n)
		wl_fail(&r, "write to the terminal: %s", strerror(errno));
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
