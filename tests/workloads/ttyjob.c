/* ttyjob: a self-checking workload for a process on its shell's terminal
 * (dump and restore --shell-job).
 *
 *	ttyjob READYFILE RESULTFILE
 *
 * Runs with stdin, stdout and stderr on a terminal (the test starts it
 * under script(1)), writes "ttyjob: before the dump" to it and reports
 * READY. After SIGUSR1 it checks that its stdio is a terminal again, open
 * for reading and writing, and writes "ttyjob: carrying on after restore
 * on TTYNAME" to it, which the test looks for in what the restoring
 * terminal showed. PASS or FAIL lines go to RESULTFILE. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "workload.h"

int main(int argc, char **argv)
{
	char report[4096] = "", line[256];
	struct wl_report r = { report, sizeof(report), 0 };
	const char *name;
	int n;

	if (argc < 3)
		return 2;
	wl_catch_usr1();
	if (!isatty(0) || !isatty(1) || !isatty(2))
		return 1;
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
	name = ttyname(1);
	n = snprintf(line, sizeof(line), "ttyjob: carrying on after restore on %s\n", name ? name : "?");
	if (write(1, line, n) != n)
		wl_fail(&r, "write to the terminal: %s", strerror(errno));
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
