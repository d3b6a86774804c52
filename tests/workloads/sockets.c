/* sockets: a self-checking workload for unix socket pairs.
 *
 *	sockets READYFILE RESULTFILE
 *
 * Holds, with data waiting in them:
 *	s1, a stream pair: "to-a" waits at a, "to-b" at b; a has SO_PASSCRED,
 *	    b a 32 KiB send buffer;
 *	s2, a datagram pair: "one", "two", "three" wait at b, non-blocking;
 *	s3, a seqpacket pair shared with a child: "hello child" waits at the
 *	    child's end; on SIGUSR1 the child reads it and answers in capitals;
 *	s4, a stream pair whose a end was shut for writing after "last";
 *	s5, a stream end whose peer wrote "bye" and closed.
 * After SIGUSR1 it checks every queue (bytes, datagram boundaries, end of
 * file where the writer is gone), that the pairs are still joined, the
 * shutdown states, the options and flags, and the child's answer. PASS or
 * FAIL lines go to RESULTFILE. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

/* Receives one message (non-blocking, or waiting up to 2 s) and compares. */
static void expect(struct wl_report *r, const char *what, int sk, const char *want)
{
	struct pollfd p = { .fd = sk, .events = POLLIN };
	char buf[256];
	ssize_t n;

	poll(&p, 1, 2000);
	n = recv(sk, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	if (want && (n < 0 || (size_t)n != strlen(want) || memcmp(buf, want, n)))
		wl_fail(r, "%s: got %zd bytes '%.*s', want '%s'", what, n, n > 0 ? (int)n : 0, buf, want);
	if (!want && n != 0)
		wl_fail(r, "%s: got %zd (errno %d), want end-of-file", what, n, n < 0 ? errno : 0);
}

static int child_main(int sk)
{
	char buf[64];
	ssize_t n;

	wl_catch_usr1();
	wl_wait_usr1();
	n = recv(sk, buf, sizeof(buf), 0);
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] >= 'a' && buf[i] <= 'z')
			buf[i] -= 32;
	return n > 0 && send(sk, buf, n, 0) == n ? 0 : 1;
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	int s1[2], s2[2], s3[2], s4[2], s5[2], one = 1, sndbuf = 32768, v, before_sndbuf;
	socklen_t len = sizeof(v);
	pid_t kid;

	if (argc < 3)
		return 2;
	wl_catch_usr1();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, s1) < 0 || socketpair(AF_UNIX, SOCK_DGRAM, 0, s2) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, s3) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, s4) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, s5) < 0)
		return 1;
	kid = fork();
	if (kid == 0) {
		/* s5's writer is to be gone for good: the child holds no end of it. */
		close(s3[0]);
		close(s5[0]);
		close(s5[1]);
		_exit(child_main(s3[1]));
	}
	close(s3[1]);
	if (setsockopt(s1[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0 ||
	    setsockopt(s1[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) < 0 ||
	    getsockopt(s1[1], SOL_SOCKET, SO_SNDBUF, &before_sndbuf, &len) < 0 ||
	    write(s1[1], "to-a", 4) != 4 || write(s1[0], "to-b", 4) != 4 ||
	    send(s2[0], "one", 3, 0) != 3 || send(s2[0], "two", 3, 0) != 3 || send(s2[0], "three", 5, 0) != 5 ||
	    fcntl(s2[1], F_SETFL, O_NONBLOCK) < 0 || send(s3[0], "hello child", 11, 0) != 11 ||
	    write(s4[0], "last", 4) != 4 || shutdown(s4[0], SHUT_WR) < 0 || write(s5[1], "bye", 3) != 3)
		return 1;
	close(s5[1]);
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	expect(&r, "s1 a", s1[0], "to-a");
	expect(&r, "s1 b", s1[1], "to-b");
	if (write(s1[0], "x", 1) != 1)
		wl_fail(&r, "s1: write a: %s", strerror(errno));
	expect(&r, "s1 a to b after restore", s1[1], "x");
	len = sizeof(v);
	if (getsockopt(s1[0], SOL_SOCKET, SO_PASSCRED, &v, &len) < 0 || !v)
		wl_fail(&r, "s1 a lost SO_PASSCRED");
	len = sizeof(v);
	if (getsockopt(s1[1], SOL_SOCKET, SO_SNDBUF, &v, &len) < 0 || v != before_sndbuf)
		wl_fail(&r, "s1 b's SO_SNDBUF is %d, want %d", v, before_sndbuf);
	len = sizeof(v);
	if (getsockopt(s2[1], SOL_SOCKET, SO_TYPE, &v, &len) < 0 || v != SOCK_DGRAM)
		wl_fail(&r, "s2 b is of type %d, want SOCK_DGRAM", v);
	if (!(fcntl(s2[1], F_GETFL) & O_NONBLOCK))
		wl_fail(&r, "s2 b lost O_NONBLOCK");
	expect(&r, "s2 datagram 1", s2[1], "one");
	expect(&r, "s2 datagram 2", s2[1], "two");
	expect(&r, "s2 datagram 3", s2[1], "three");
	if (recv(s2[1], &v, 1, 0) != -1 || errno != EAGAIN)
		wl_fail(&r, "s2 b holds more than its three datagrams");
	kill(kid, SIGUSR1);
	expect(&r, "s3 the child's answer", s3[0], "HELLO CHILD");
	expect(&r, "s4 b", s4[1], "last");
	expect(&r, "s4 b after a shut for writing", s4[1], NULL);
	if (send(s4[0], "y", 1, MSG_NOSIGNAL) != -1 || errno != EPIPE)
		wl_fail(&r, "s4 a can still write after SHUT_WR");
	expect(&r, "s5", s5[0], "bye");
	expect(&r, "s5 with its peer closed", s5[0], NULL);
	{
		int status = -1;

		waitpid(kid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			wl_fail(&r, "the child failed (status %#x)", status);
	}
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
