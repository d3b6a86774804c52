/* extpipe: a self-checking workload for a pipe fed from outside the tree
 * (dump --external pipe[INODE], restore --inherit-fd fd[N]:pipe:[INODE]).
 *
 *	extpipe READYFILE RESULTFILE  <PIPE
 *
 * Reads the line "first" from its stdin, a pipe whose writer is outside
 * the tree, then reports READY. After SIGUSR1 it checks that stdin is
 * still a pipe and reads the next line, which the test writes into the
 * pipe it gave at restore, within 20 s: it must be "second". PASS or FAIL
 * lines go to RESULTFILE. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

/* One line from fd 0, byte by byte so nothing past it is taken. */
static int read_line(char *buf, size_t cap)
{
	size_t n = 0;
	char c;

	while (n < cap - 1) {
		ssize_t got = read(0, &c, 1);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		if (c == '\n')
			break;
		buf[n++] = c;
	}
	buf[n] = 0;
	return 0;
}

int main(int argc, char **argv)
{
	char report[4096] = "", line[64];
	struct wl_report r = { report, sizeof(report), 0 };
	struct stat st;

	if (argc < 3)
		return 2;
	wl_catch_usr1();
	if (read_line(line, sizeof(line)) < 0 || strcmp(line, "first"))
		return 1;
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	if (fstat(0, &st) < 0 || !S_ISFIFO(st.st_mode))
		wl_fail(&r, "stdin is not a pipe after restore");
	alarm(20);	/* a pipe that never delivers fails the check, not the test run */
	if (read_line(line, sizeof(line)) < 0)
		wl_fail(&r, "stdin ended or failed before the next line: %s", strerror(errno));
	else if (strcmp(line, "second"))
		wl_fail(&r, "stdin gave '%s', want 'second'", line);
	alarm(0);
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
