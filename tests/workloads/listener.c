/* listener: a self-checking workload for listening unix sockets.
 *
 *	listener READYFILE RESULTFILE DIR
 *
 * Listens on a stream socket bound to DIR/sock (file mode 0640, backlog 7,
 * non-blocking) and on a seqpacket socket with the abstract name
 * "amber-listener-PID". After SIGUSR1 it checks each socket's name, type
 * and SO_ACCEPTCONN, the socket file's type and mode, that the stream one
 * is still non-blocking (accept gives EAGAIN), and that a client can
 * connect to each name and be accepted and heard. PASS or FAIL lines go to
 * RESULTFILE. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "workload.h"

/* Checks one listener: its name, type, and that a client gets through. */
static void check(struct wl_report *r, const char *what, int l, const struct sockaddr_un *sa, socklen_t len, int type)
{
	struct sockaddr_un got = { 0 };
	socklen_t glen = sizeof(got), olen = sizeof(int);
	struct pollfd p = { .fd = l, .events = POLLIN };
	int v = 0, c, a;
	char buf[8];

	if (getsockname(l, (struct sockaddr *)&got, &glen) < 0 || glen != len || memcmp(&got, sa, len))
		wl_fail(r, "%s: bound to another name (length %u, want %u)", what, glen, len);
	if (getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &v, &olen) < 0 || !v)
		wl_fail(r, "%s: not listening", what);
	olen = sizeof(int);
	if (getsockopt(l, SOL_SOCKET, SO_TYPE, &v, &olen) < 0 || v != type)
		wl_fail(r, "%s: type %d, want %d", what, v, type);
	c = socket(AF_UNIX, type, 0);
	if (c < 0 || connect(c, (const struct sockaddr *)sa, len) < 0 || send(c, "hi", 2, 0) != 2) {
		wl_fail(r, "%s: a client cannot connect: %s", what, strerror(errno));
		return;
	}
	poll(&p, 1, 2000);
	a = accept(l, NULL, NULL);
	if (a < 0 || recv(a, buf, sizeof(buf), 0) != 2 || memcmp(buf, "hi", 2))
		wl_fail(r, "%s: the client was not accepted and heard: %s", what, strerror(errno));
	close(a);
	close(c);
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	struct sockaddr_un s1 = { .sun_family = AF_UNIX }, s2 = { .sun_family = AF_UNIX };
	socklen_t len1, len2;
	struct stat st;
	int l1, l2;

	if (argc < 4)
		return 2;
	wl_catch_usr1();
	snprintf(s1.sun_path, sizeof(s1.sun_path), "%s/sock", argv[3]);
	len1 = offsetof(struct sockaddr_un, sun_path) + strlen(s1.sun_path) + 1;
	len2 = offsetof(struct sockaddr_un, sun_path) + 1 +
	       snprintf(s2.sun_path + 1, sizeof(s2.sun_path) - 1, "amber-listener-%d", (int)getpid());
	unlink(s1.sun_path);
	l1 = socket(AF_UNIX, SOCK_STREAM, 0);
	l2 = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	if (l1 < 0 || l2 < 0 || bind(l1, (struct sockaddr *)&s1, len1) < 0 || chmod(s1.sun_path, 0640) < 0 ||
	    listen(l1, 7) < 0 || fcntl(l1, F_SETFL, O_NONBLOCK) < 0 || bind(l2, (struct sockaddr *)&s2, len2) < 0 ||
	    listen(l2, 3) < 0)
		return 1;
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	if (stat(s1.sun_path, &st) < 0 || !S_ISSOCK(st.st_mode) || (st.st_mode & 07777) != 0640)
		wl_fail(&r, "%s is not a socket file of mode 0640 (mode %#o)", s1.sun_path, st.st_mode);
	if (accept(l1, NULL, NULL) != -1 || errno != EAGAIN)
		wl_fail(&r, "the path listener is no longer non-blocking");
	check(&r, "the path listener", l1, &s1, len1, SOCK_STREAM);
	check(&r, "the abstract listener", l2, &s2, len2, SOCK_SEQPACKET);
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
