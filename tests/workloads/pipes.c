/* pipes: a self-checking workload for pipes.
 *
 *	pipes READYFILE RESULTFILE
 *
 * Before the dump it sets up, then waits for SIGUSR1:
 *  - pipe A: the parent writes a 100000-byte pattern into it after raising
 *    its capacity to 256 KiB; the child holds the read end and reads nothing
 *    before the signal. After restore the child must read exactly the
 *    pattern, then find the pipe empty (its end is O_NONBLOCK).
 *  - pipe B: the child writes "from the child" and closes its write end;
 *    the parent holds the read end: after restore it reads that text, then
 *    end-of-file (no writer is left).
 *  - pipe C: both ends in the parent, the read end dup'ed to fd 100 (one
 *    description, two descriptors) with 5 bytes in it: reading 2 bytes on one
 *    descriptor and 3 on the other gives the 5 in order.
 * The child reports through its exit status, the parent collects it and
 * writes PASS or FAIL lines to RESULTFILE.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

#define A_LEN 100000

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 31 + (i >> 8));
}

/* The child: checks pipe A's contents after the signal; exit 0 if right. */
static int child_main(int a_read, int b_write)
{
	static unsigned char buf[A_LEN + 1];
	size_t got = 0;
	ssize_t n;

	if (write(b_write, "from the child", 14) != 14)
		return 10;
	close(b_write);
	wl_wait_usr1();
	/* The data is all there: read until the pipe says it is empty. */
	while ((n = read(a_read, buf + got, sizeof(buf) - got)) > 0)
		got += n;
	if (n >= 0 || errno != EAGAIN)
		return 11;	/* not non-blocking, or end-of-file: the writer must still exist */
	if (got != A_LEN)
		return 12;
	for (size_t i = 0; i < A_LEN; i++)
		if (buf[i] != pattern(i))
			return 13;
	if (!(fcntl(a_read, F_GETFL) & O_NONBLOCK))
		return 14;
	return 0;
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	int a[2], b[2], c[2], status;
	unsigned char *data;
	char buf[64];
	pid_t kid;
	ssize_t n;

	if (argc < 3)
		return 2;
	wl_catch_usr1();
	if (pipe(a) < 0 || pipe(b) < 0 || pipe(c) < 0)
		return 1;
	if (fcntl(a[1], F_SETPIPE_SZ, 256 << 10) < 0 || fcntl(a[0], F_SETFL, O_NONBLOCK) < 0)
		return 1;
	kid = fork();
	if (kid == 0) {
		close(a[1]);
		close(b[0]);
		_exit(child_main(a[0], b[1]));
	}
	close(a[0]);
	close(b[1]);
	data = malloc(A_LEN);
	for (size_t i = 0; i < A_LEN; i++)
		data[i] = pattern(i);
	if (write(a[1], data, A_LEN) != A_LEN)
		return 1;
	if (write(c[1], "hello", 5) != 5 || dup2(c[0], 100) != 100)
		return 1;
	/* Let the child write and close its end of B before saying READY. */
	wl_sleep_ms(100);
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();
	kill(kid, SIGUSR1);

	if (fcntl(a[1], F_GETPIPE_SZ) < 256 << 10)
		wl_fail(&r, "pipe A's capacity is %d, was %d", fcntl(a[1], F_GETPIPE_SZ), 256 << 10);
	n = read(b[0], buf, sizeof(buf));
	if (n != 14 || memcmp(buf, "from the child", 14))
		wl_fail(&r, "pipe B gave %zd bytes '%.*s', want 'from the child'", n, n > 0 ? (int)n : 0, buf);
	else if ((n = read(b[0], buf, sizeof(buf))) != 0)
		wl_fail(&r, "pipe B has no writer left, but read gave %zd, not end-of-file", n);
	if (read(c[0], buf, 2) != 2 || read(100, buf + 2, 3) != 3 || memcmp(buf, "hello", 5))
		wl_fail(&r, "pipe C's shared read end did not give 'hello' across its two descriptors");
	while (waitpid(kid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		wl_fail(&r, "the child's check of pipe A failed (wait status %#x)", status);
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
