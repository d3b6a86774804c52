/* sockopts: a self-checking workload for unix socket states that made
 * the dump's peek fail: empty datagrams and options the program set.
 *
 *	sockopts READYFILE RESULTFILE
 *
 * Before the dump: a datagram pair a/b with "one", an empty datagram,
 * "three" and another empty datagram queued at b; b has SO_PEEK_OFF set to
 * 0 and has peeked at "one" (so its peek offset is 3), SO_RCVLOWAT 2 and
 * SO_RCVTIMEO 2.5 s, SO_PASSSEC on; a stream pair c/d with "streamed"
 * queued at d, d with SO_PEEK_OFF 0 after peeking 3 bytes (offset 3) and
 * SO_RCVLOWAT 4, and c with SO_SNDTIMEO 1.25 s and SO_PRIORITY 5.
 * After SIGUSR1 it checks every option, then that b's next MSG_PEEK gives
 * the empty datagram after "one" (its offset), and that the reads give
 * "one", "", "three", "" in order, then that d's peek gives "eam" and the
 * read "streamed". PASS or FAIL lines go to RESULTFILE.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "workload.h"

/* Checks an int option. */
static void sockopts_int(struct wl_report *r, const char *who, int sk, int opt, const char *name, int want)
{
	int v = -12345;
	socklen_t len = sizeof(v);

	if (getsockopt(sk, SOL_SOCKET, opt, &v, &len) < 0)
		wl_fail(r, "%s: getsockopt %s: %s", who, name, strerror(errno));
	else if (v != want)
		wl_fail(r, "%s: %s is %d, want %d", who, name, v, want);
}

/* Checks a timeval option against what it read before the dump (the
 * kernel keeps it in jiffies: 1.25 s may read back as 1.252 s). */
static void sockopts_tv(struct wl_report *r, const char *who, int sk, int opt, const char *name,
			const struct timeval *want)
{
	struct timeval tv = { 0 };
	socklen_t len = sizeof(tv);

	if (getsockopt(sk, SOL_SOCKET, opt, &tv, &len) < 0 || tv.tv_sec != want->tv_sec || tv.tv_usec != want->tv_usec)
		wl_fail(r, "%s: %s is %ld.%06ld, want %ld.%06ld", who, name, (long)tv.tv_sec, (long)tv.tv_usec,
			(long)want->tv_sec, (long)want->tv_usec);
}

/* Reads one datagram and checks it is want (MSG_DONTWAIT). */
static void sockopts_recv(struct wl_report *r, int sk, const char *want, int flags)
{
	char buf[64];
	ssize_t n = recv(sk, buf, sizeof(buf), MSG_DONTWAIT | flags);

	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		wl_fail(r, "b: %s gave %zd bytes '%.*s', want '%s' (%s)", flags ? "peek" : "read", n,
			n > 0 ? (int)n : 0, buf, want, n < 0 ? strerror(errno) : "");
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	struct timeval rcv = { 2, 500000 }, snd = { 1, 250000 };
	int dg[2], st[2], zero = 0, two = 2, four = 4, one = 1, prio = 5;
	char buf[64];
	socklen_t len;

	if (argc < 3)
		return 2;
	wl_catch_usr1();
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, st) < 0)
		return 1;
	if (send(dg[0], "one", 3, 0) != 3 || send(dg[0], "", 0, 0) != 0 || send(dg[0], "three", 5, 0) != 5 ||
	    send(dg[0], "", 0, 0) != 0 || send(st[0], "streamed", 8, 0) != 8)
		return 1;
	if (setsockopt(dg[1], SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) < 0 ||
	    recv(dg[1], buf, sizeof(buf), MSG_PEEK) != 3 ||
	    setsockopt(dg[1], SOL_SOCKET, SO_RCVLOWAT, &two, sizeof(two)) < 0 ||
	    setsockopt(dg[1], SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof(rcv)) < 0 ||
	    setsockopt(dg[1], SOL_SOCKET, SO_PASSSEC, &one, sizeof(one)) < 0 ||
	    setsockopt(st[1], SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) < 0 ||
	    recv(st[1], buf, 3, MSG_PEEK) != 3 ||
	    setsockopt(st[1], SOL_SOCKET, SO_RCVLOWAT, &four, sizeof(four)) < 0 ||
	    setsockopt(st[0], SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof(snd)) < 0 ||
	    setsockopt(st[0], SOL_SOCKET, SO_PRIORITY, &prio, sizeof(prio)) < 0) {
		fprintf(stderr, "sockopts: set up: %s\n", strerror(errno));
		return 1;
	}
	len = sizeof(rcv);
	getsockopt(dg[1], SOL_SOCKET, SO_RCVTIMEO, &rcv, &len);
	len = sizeof(snd);
	getsockopt(st[0], SOL_SOCKET, SO_SNDTIMEO, &snd, &len);
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	sockopts_int(&r, "b", dg[1], SO_PEEK_OFF, "SO_PEEK_OFF", 3);
	sockopts_int(&r, "b", dg[1], SO_RCVLOWAT, "SO_RCVLOWAT", 2);
	sockopts_tv(&r, "b", dg[1], SO_RCVTIMEO, "SO_RCVTIMEO", &rcv);
	sockopts_int(&r, "b", dg[1], SO_PASSSEC, "SO_PASSSEC", 1);
	sockopts_int(&r, "d", st[1], SO_PEEK_OFF, "SO_PEEK_OFF", 3);
	sockopts_int(&r, "d", st[1], SO_RCVLOWAT, "SO_RCVLOWAT", 4);
	sockopts_tv(&r, "c", st[0], SO_SNDTIMEO, "SO_SNDTIMEO", &snd);
	sockopts_int(&r, "c", st[0], SO_PRIORITY, "SO_PRIORITY", 5);
	sockopts_int(&r, "a", dg[0], SO_PEEK_OFF, "SO_PEEK_OFF", -1);
	/* The peek offset 3 is past "one": the next peek is the empty one. */
	sockopts_recv(&r, dg[1], "", MSG_PEEK);
	zero = -1;
	setsockopt(dg[1], SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero));
	sockopts_recv(&r, dg[1], "one", 0);
	sockopts_recv(&r, dg[1], "", 0);
	sockopts_recv(&r, dg[1], "three", 0);
	sockopts_recv(&r, dg[1], "", 0);
	if (recv(dg[1], buf, sizeof(buf), MSG_DONTWAIT) >= 0 || errno != EAGAIN)
		wl_fail(&r, "b: more than the four datagrams were queued");
	if (recv(st[1], buf, 3, MSG_PEEK | MSG_DONTWAIT) != 3 || memcmp(buf, "eam", 3))
		wl_fail(&r, "d: the peek at offset 3 did not give 'eam'");
	if (recv(st[1], buf, sizeof(buf), MSG_DONTWAIT) != 8 || memcmp(buf, "streamed", 8))
		wl_fail(&r, "d: the read did not give 'streamed'");
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
