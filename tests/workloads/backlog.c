/* backlog: a self-checking workload for connections waiting in a
 * listener's backlog (connect()ed, not accept()ed yet).
 *
 *	backlog READYFILE RESULTFILE DIR [quiet]
 *
 * A stream listener bound to DIR/l (backlog 4) has three connections
 * waiting, in this order: from c1, which sent "hello " and "world" and
 * shut down for writing; from c2, which sent nothing; from c3, which
 * sent "x" (left out with "quiet", for a dump with --leave-running). A
 * seqpacket listener with the abstract name "amber-backlog-PID" has one,
 * from c4, which sent the messages "m1" and "m22" ("quiet": nothing).
 * After SIGUSR1 it accepts each connection in order and checks its peer is the right
 * client (by a byte each client sends now), the server end's name (the
 * listener's) and peer name (the unbound client's), each client's peer
 * name, what each client had sent (message boundaries included, end of
 * file after c1's shutdown), that c1 cannot write, and that bytes go both
 * ways. PASS or FAIL lines go to RESULTFILE. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "workload.h"

static int client(int type, const struct sockaddr_un *sa, socklen_t len)
{
	int c = socket(AF_UNIX, type, 0);

	return c >= 0 && connect(c, (const struct sockaddr *)sa, len) == 0 ? c : -1;
}

/* Receives one message (waiting up to 2 s) and compares; NULL: end of file. */
static void expect(struct wl_report *r, const char *what, int sk, const char *want)
{
	struct pollfd p = { .fd = sk, .events = POLLIN };
	char buf[64];
	ssize_t n;

	poll(&p, 1, 2000);
	n = recv(sk, buf, sizeof(buf), MSG_DONTWAIT);
	if (want && (n != (ssize_t)strlen(want) || memcmp(buf, want, n)))
		wl_fail(r, "%s: got %zd bytes '%.*s', want '%s'", what, n, n > 0 ? (int)n : 0, buf, want);
	if (!want && n != 0)
		wl_fail(r, "%s: got %zd, want end of file", what, n);
}

/* Accepts the next connection of l and checks it is c's: names and a byte. */
static int take(struct wl_report *r, const char *what, int l, int c, const struct sockaddr_un *sa, socklen_t len)
{
	struct pollfd p = { .fd = l, .events = POLLIN };
	struct sockaddr_un got;
	socklen_t glen = sizeof(got);
	int a;

	poll(&p, 1, 2000);
	a = accept(l, (struct sockaddr *)&got, &glen);
	if (a < 0) {
		wl_fail(r, "%s: not accepted: %s", what, strerror(errno));
		return -1;
	}
	if (glen != sizeof(sa_family_t))
		wl_fail(r, "%s: accept gave a client name of %u bytes, want an unbound one", what, glen);
	glen = sizeof(got);
	memset(&got, 0, sizeof(got));
	if (getsockname(a, (struct sockaddr *)&got, &glen) < 0 || glen != len || memcmp(&got, sa, len))
		wl_fail(r, "%s: the server end is not named as the listener", what);
	glen = sizeof(got);
	memset(&got, 0, sizeof(got));
	if (getpeername(c, (struct sockaddr *)&got, &glen) < 0 || glen != len || memcmp(&got, sa, len))
		wl_fail(r, "%s: the client's peer is not the listener's name", what);
	if (send(a, "S", 1, 0) != 1)
		wl_fail(r, "%s: the server end cannot send: %s", what, strerror(errno));
	expect(r, what, c, "S");
	return a;
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	struct sockaddr_un la = { .sun_family = AF_UNIX }, sa = { .sun_family = AF_UNIX };
	socklen_t ll, sl;
	bool quiet = argc > 4 && !strcmp(argv[4], "quiet");
	int l, s, c1, c2, c3, c4, a;

	if (argc < 4)
		return 2;
	wl_catch_usr1();
	snprintf(la.sun_path, sizeof(la.sun_path), "%s/l", argv[3]);
	ll = offsetof(struct sockaddr_un, sun_path) + strlen(la.sun_path) + 1;
	sl = offsetof(struct sockaddr_un, sun_path) + 1 +
	     snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "amber-backlog-%d", (int)getpid());
	unlink(la.sun_path);
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	if (l < 0 || s < 0 || bind(l, (struct sockaddr *)&la, ll) < 0 || listen(l, 4) < 0 ||
	    bind(s, (struct sockaddr *)&sa, sl) < 0 || listen(s, 2) < 0)
		return 1;
	c1 = client(SOCK_STREAM, &la, ll);
	c2 = client(SOCK_STREAM, &la, ll);
	c3 = client(SOCK_STREAM, &la, ll);
	c4 = client(SOCK_SEQPACKET, &sa, sl);
	if (c1 < 0 || c2 < 0 || c3 < 0 || c4 < 0)
		return 1;
	if (!quiet && (send(c1, "hello ", 6, 0) != 6 || send(c1, "world", 5, 0) != 5 || shutdown(c1, SHUT_WR) < 0 ||
		       send(c3, "x", 1, 0) != 1 || send(c4, "m1", 2, 0) != 2 || send(c4, "m22", 3, 0) != 3))
		return 1;
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	if ((a = take(&r, "c1", l, c1, &la, ll)) >= 0) {
		if (!quiet)
			expect(&r, "c1's data", a, "hello world");
		if (!quiet)
			expect(&r, "c1 shut for writing", a, NULL);
		if (!quiet && (send(c1, "y", 1, MSG_NOSIGNAL) != -1 || errno != EPIPE))
			wl_fail(&r, "c1 can still write after SHUT_WR");
	}
	if ((a = take(&r, "c2", l, c2, &la, ll)) >= 0) {
		if (send(c2, "c2", 2, 0) != 2)
			wl_fail(&r, "c2 cannot send");
		expect(&r, "c2's first bytes, sent after restore", a, "c2");
	}
	if ((a = take(&r, "c3", l, c3, &la, ll)) >= 0) {
		if (!quiet)
			expect(&r, "c3's data", a, "x");
		if (send(c3, "z", 1, 0) != 1)
			wl_fail(&r, "c3 cannot send");
		expect(&r, "c3's bytes sent after restore", a, "z");
	}
	if ((a = take(&r, "c4", s, c4, &sa, sl)) >= 0 && !quiet) {
		expect(&r, "c4's first message", a, "m1");
		expect(&r, "c4's second message", a, "m22");
	}
	fcntl(l, F_SETFL, O_NONBLOCK);
	if (accept(l, NULL, NULL) != -1 || errno != EAGAIN)
		wl_fail(&r, "the listener holds more than its three connections");
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
