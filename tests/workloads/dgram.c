/* dgram: a self-checking workload for bound unix datagram sockets.
 *
 *	dgram READYFILE RESULTFILE DIR
 *
 * A datagram socket bound to DIR/dsock and one bound to the abstract name
 * "amber-dgram-PID"; a client connected to each. Before the dump the
 * clients send "q1" and "q2" to the path one and "a1" to the abstract one,
 * so those wait in the bound sockets. After SIGUSR1 it checks each bound
 * socket's name and waiting datagrams (in order, each on its own), that
 * each client's peer is the bound name, and that a new datagram from each
 * client arrives. PASS or FAIL lines go to RESULTFILE. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "workload.h"

static void expect(struct wl_report *r, const char *what, int sk, const char *want)
{
	char buf[64];
	ssize_t n = recv(sk, buf, sizeof(buf), MSG_DONTWAIT);

	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		wl_fail(r, "%s: got %zd bytes '%.*s', want '%s'", what, n, n > 0 ? (int)n : 0, buf, want);
}

static void check_names(struct wl_report *r, const char *what, int srv, int cl, const struct sockaddr_un *sa, socklen_t len)
{
	struct sockaddr_un got;
	socklen_t glen = sizeof(got);

	memset(&got, 0, sizeof(got));
	if (getsockname(srv, (struct sockaddr *)&got, &glen) < 0 || glen != len || memcmp(&got, sa, len))
		wl_fail(r, "%s: the bound socket lost its name", what);
	glen = sizeof(got);
	memset(&got, 0, sizeof(got));
	if (getpeername(cl, (struct sockaddr *)&got, &glen) < 0 || glen != len || memcmp(&got, sa, len))
		wl_fail(r, "%s: the client's peer is not the bound name", what);
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	struct sockaddr_un s1 = { .sun_family = AF_UNIX }, s2 = { .sun_family = AF_UNIX };
	socklen_t len1, len2;
	int d1, d2, c1, c2;

	if (argc < 4)
		return 2;
	wl_catch_usr1();
	snprintf(s1.sun_path, sizeof(s1.sun_path), "%s/dsock", argv[3]);
	len1 = offsetof(struct sockaddr_un, sun_path) + strlen(s1.sun_path) + 1;
	len2 = offsetof(struct sockaddr_un, sun_path) + 1 +
	       snprintf(s2.sun_path + 1, sizeof(s2.sun_path) - 1, "amber-dgram-%d", (int)getpid());
	unlink(s1.sun_path);
	d1 = socket(AF_UNIX, SOCK_DGRAM, 0);
	d2 = socket(AF_UNIX, SOCK_DGRAM, 0);
	c1 = socket(AF_UNIX, SOCK_DGRAM, 0);
	c2 = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (d1 < 0 || d2 < 0 || c1 < 0 || c2 < 0 || bind(d1, (struct sockaddr *)&s1, len1) < 0 ||
	    bind(d2, (struct sockaddr *)&s2, len2) < 0 || connect(c1, (struct sockaddr *)&s1, len1) < 0 ||
	    connect(c2, (struct sockaddr *)&s2, len2) < 0 || send(c1, "q1", 2, 0) != 2 || send(c1, "q2", 2, 0) != 2 ||
	    send(c2, "a1", 2, 0) != 2)
		return 1;
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	check_names(&r, "the path socket", d1, c1, &s1, len1);
	check_names(&r, "the abstract socket", d2, c2, &s2, len2);
	expect(&r, "the path socket's first datagram", d1, "q1");
	expect(&r, "the path socket's second datagram", d1, "q2");
	expect(&r, "the abstract socket's datagram", d2, "a1");
	if (recv(d1, &r, 1, MSG_DONTWAIT) != -1 || errno != EAGAIN)
		wl_fail(&r, "the path socket holds more than its two datagrams");
	if (send(c1, "new", 3, 0) != 3 || send(c2, "new2", 4, 0) != 4)
		wl_fail(&r, "the clients cannot send: %s", strerror(errno));
	expect(&r, "a datagram sent after restore (path)", d1, "new");
	expect(&r, "a datagram sent after restore (abstract)", d2, "new2");
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
