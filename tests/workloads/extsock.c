/* extsock: a self-checking workload for a unix socket whose peer stays
 * outside the tree (dump --external unix[INODE], restore --inherit-fd
 * fd[N]:socket:[INODE]).
 *
 *	extsock READYFILE RESULTFILE FD
 *
 * FD is one end of a stream socketpair whose other end the test keeps.
 * Sends "hello" through it and reports READY. After SIGUSR1 it checks that
 * FD is still a unix stream socket, reads "after" (which the test sent
 * after the restore) and answers "pong". PASS or FAIL lines go to
 * RESULTFILE. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

int main(int argc, char **argv)
{
	char report[4096] = "", buf[64];
	struct wl_report r = { report, sizeof(report), 0 };
	int fd, type = 0, domain = 0;
	socklen_t len = sizeof(int);
	ssize_t n;

	if (argc < 4)
		return 2;
	fd = atoi(argv[3]);
	wl_catch_usr1();
	if (send(fd, "hello", 5, 0) != 5)
		return 1;
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM ||
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 || domain != AF_UNIX)
		wl_fail(&r, "fd %d is not a unix stream socket (type %d, domain %d)", fd, type, domain);
	alarm(20);
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	alarm(0);
	buf[n > 0 ? n : 0] = 0;
	if (strcmp(buf, "after"))
		wl_fail(&r, "fd %d received '%s', want 'after'", fd, buf);
	if (send(fd, "pong", 4, 0) != 4)
		wl_fail(&r, "answer through fd %d: %s", fd, strerror(errno));
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
