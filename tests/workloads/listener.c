/* listener: a self-checking workload for listening unix sockets.
 *
 *	listener READYFILE RESULTFILE DIR
 *
 * Listens on a stream socket bound to DIR/sock (file mode 0640, backlog 7,
 * non-blocking) and on a seqpacket socket with the abstract name
 * "amber-listener-PID". It also holds both ends of a connection accepted
 * from the path listener ("req" waits at the server end, "resp" at the
 * client), and of one accepted from DIR/gone, whose listener it closed.
 * After SIGUSR1 it checks each socket's name, type
 * and SO_ACCEPTCONN, the socket file's type and mode, that the stream one
 * is still non-blocking (accept gives EAGAIN), and that a client can
 * connect to each name and be accepted and heard; that each accepted
 * connection still has its names (the server end the listener's, the
 * client's peer the same), its waiting data, and carries bytes both ways.
 * PASS or FAIL lines go to
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

/* Checks a connection accepted from the listener named sa. */
static void check_conn(struct wl_report *r, const char *what, int cl, int sv, const struct sockaddr_un *sa, socklen_t len,
		       const char *at_sv, const char *at_cl)
{
	struct sockaddr_un got = { 0 };
	socklen_t glen = sizeof(got);
	char buf[16];
	ssize_t n;

	if (getsockname(sv, (struct sockaddr *)&got, &glen) < 0 || glen != len || memcmp(&got, sa, len))
		wl_fail(r, "%s: the server end lost the listener's name", what);
	glen = sizeof(got);
	memset(&got, 0, sizeof(got));
	if (getpeername(cl, (struct sockaddr *)&got, &glen) < 0 || glen != len || memcmp(&got, sa, len))
		wl_fail(r, "%s: the client's peer is not the listener's name", what);
	if (at_sv && ((n = recv(sv, buf, sizeof(buf), MSG_DONTWAIT)) != (ssize_t)strlen(at_sv) || memcmp(buf, at_sv, n)))
		wl_fail(r, "%s: the server end does not hold '%s'", what, at_sv);
	if (at_cl && ((n = recv(cl, buf, sizeof(buf), MSG_DONTWAIT)) != (ssize_t)strlen(at_cl) || memcmp(buf, at_cl, n)))
		wl_fail(r, "%s: the client does not hold '%s'", what, at_cl);
	if (send(cl, "c", 1, 0) != 1 || recv(sv, buf, 1, 0) != 1 || buf[0] != 'c' || send(sv, "s", 1, 0) != 1 ||
	    recv(cl, buf, 1, 0) != 1 || buf[0] != 's')
		wl_fail(r, "%s: bytes do not go both ways", what);
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	struct sockaddr_un s1 = { .sun_family = AF_UNIX }, s2 = { .sun_family = AF_UNIX }, s3 = { .sun_family = AF_UNIX };
	socklen_t len1, len2, len3;
	struct stat st;
	int l1, l2, l3, cl1, sv1, cl3, sv3;

	if (argc < 4)
		return 2;
	wl_catch_usr1();
	snprintf(s1.sun_path, sizeof(s1.sun_path), "%s/sock", argv[3]);
	len1 = offsetof(struct sockaddr_un, sun_path) + strlen(s1.sun_path) + 1;
	len2 = offsetof(struct sockaddr_un, sun_path) + 1 +
	       snprintf(s2.sun_path + 1, sizeof(s2.sun_path) - 1, "amber-listener-%d", (int)getpid());
	snprintf(s3.sun_path, sizeof(s3.sun_path), "%s/gone", argv[3]);
	len3 = offsetof(struct sockaddr_un, sun_path) + strlen(s3.sun_path) + 1;
	unlink(s1.sun_path);
	unlink(s3.sun_path);
	l1 = socket(AF_UNIX, SOCK_STREAM, 0);
	l2 = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	if (l1 < 0 || l2 < 0 || bind(l1, (struct sockaddr *)&s1, len1) < 0 || chmod(s1.sun_path, 0640) < 0 ||
	    listen(l1, 7) < 0 || fcntl(l1, F_SETFL, O_NONBLOCK) < 0 || bind(l2, (struct sockaddr *)&s2, len2) < 0 ||
	    listen(l2, 3) < 0)
		return 1;
	cl1 = socket(AF_UNIX, SOCK_STREAM, 0);
	if (cl1 < 0 || connect(cl1, (struct sockaddr *)&s1, len1) < 0)
		return 1;
	fcntl(l1, F_SETFL, 0);
	sv1 = accept(l1, NULL, NULL);
	fcntl(l1, F_SETFL, O_NONBLOCK);
	l3 = socket(AF_UNIX, SOCK_STREAM, 0);
	cl3 = socket(AF_UNIX, SOCK_STREAM, 0);
	if (sv1 < 0 || send(cl1, "req", 3, 0) != 3 || send(sv1, "resp", 4, 0) != 4 || l3 < 0 || cl3 < 0 ||
	    bind(l3, (struct sockaddr *)&s3, len3) < 0 || listen(l3, 1) < 0 || connect(cl3, (struct sockaddr *)&s3, len3) < 0 ||
	    (sv3 = accept(l3, NULL, NULL)) < 0)
		return 1;
	close(l3);
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	if (stat(s1.sun_path, &st) < 0 || !S_ISSOCK(st.st_mode) || (st.st_mode & 07777) != 0640)
		wl_fail(&r, "%s is not a socket file of mode 0640 (mode %#o)", s1.sun_path, st.st_mode);
	if (accept(l1, NULL, NULL) != -1 || errno != EAGAIN)
		wl_fail(&r, "the path listener is no longer non-blocking");
	check_conn(&r, "the accepted connection", cl1, sv1, &s1, len1, "req", "resp");
	check_conn(&r, "the connection whose listener closed", cl3, sv3, &s3, len3, NULL, NULL);
	check(&r, "the path listener", l1, &s1, len1, SOCK_STREAM);
	check(&r, "the abstract listener", l2, &s2, len2, SOCK_SEQPACKET);
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
