/* memfdexec: a program kept in a memfd and run from it (fexecve), as
 * runtimes and self-updating programs do.
 *
 *	memfdexec READYFILE RESULTFILE
 *
 * Before the dump: memfd "prog" holds a copy of /bin/true, the descriptor
 * memfd_create gave, read-write. After SIGUSR1 it forks a child that runs
 * the memfd with fexecve, and checks that it ran (exit status 0, not
 * ETXTBSY or another error), then that the memfd still holds the program
 * byte for byte; PASS or FAIL lines go to RESULTFILE.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

static int copy_prog(int to)
{
	char buf[65536];
	int from = open("/bin/true", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (from < 0)
		return -1;
	while ((n = read(from, buf, sizeof(buf))) > 0)
		if (write(to, buf, n) != n)
			n = -1;
	close(from);
	return n < 0 ? -1 : 0;
}

static int same_as_prog(int fd)
{
	char a[65536], b[65536];
	int from = open("/bin/true", O_RDONLY | O_CLOEXEC);
	ssize_t n, m;
	off_t off = 0;
	int same = from >= 0;

	while (same && (n = read(from, a, sizeof(a))) > 0) {
		m = pread(fd, b, n, off);
		same = m == n && !memcmp(a, b, n);
		off += n;
	}
	if (from >= 0)
		close(from);
	return same && pread(fd, a, 1, off) == 0;
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	int fd, status, pipefd[2];
	pid_t child;

	if (argc < 3)
		return 2;
	wl_catch_usr1();
	fd = memfd_create("prog", MFD_CLOEXEC);
	if (fd < 0 || copy_prog(fd) < 0 || wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return 1;
	child = fork();
	if (child == 0) {
		char *args[] = { "true", NULL }, *env[] = { NULL };
		int err;

		fexecve(fd, args, env);
		err = errno;
		if (write(pipefd[1], &err, sizeof(err)) < 0)
			_exit(98);
		_exit(99);
	}
	close(pipefd[1]);
	{
		int err = 0;

		if (read(pipefd[0], &err, sizeof(err)) == sizeof(err))
			wl_fail(&r, "fexecve of the memfd failed: %s", strerror(err));
	}
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		wl_fail(&r, "the program run from the memfd did not exit 0 (status %#x)", status);
	if (!same_as_prog(fd))
		wl_fail(&r, "the memfd no longer holds the program");
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
