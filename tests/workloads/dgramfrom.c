/* dgramfrom: a self-checking workload for datagrams from bound senders and
 * unbound, unconnected datagram sockets.
 *
 *	dgramfrom READYFILE RESULTFILE DIR
 *
 * A datagram socket r bound to DIR/r receives, in this order:
 *	"a" from s1, bound to DIR/s1 and kept;
 *	"b" from s2, bound to the abstract name "amber-dgramfrom-PID", closed since;
 *	"c" from an unbound socket, closed since;
 *	"d" from s3, bound to DIR/s3, closed and its file removed since;
 *	"e" from s4, bound to DIR/s4 and then connected to r (kept);
 *	"f" from u (below), which stays unbound.
 * u is a datagram socket never bound nor connected, non-blocking.
 * After SIGUSR1 it checks each datagram's bytes and sender address (as
 * recvfrom gives it), that r holds nothing more, s1's and s4's names, that
 * s4 is still connected to r, that u is unbound, unconnected, of type
 * SOCK_DGRAM and non-blocking and can still send to r, and that s2's
 * abstract name and s3's path are free (nobody holds them after restore).
 * PASS or FAIL lines go to RESULTFILE. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "workload.h"

static socklen_t path_addr(struct sockaddr_un *sa, const char *dir, const char *name)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", dir, name);
	unlink(sa->sun_path);
	return offsetof(struct sockaddr_un, sun_path) + strlen(sa->sun_path) + 1;
}

static int bound(const struct sockaddr_un *sa, socklen_t len)
{
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);

	return s >= 0 && bind(s, (const struct sockaddr *)sa, len) == 0 ? s : -1;
}

/* Receives one datagram and checks its bytes and its sender's address. */
static void expect(struct wl_report *r, int sk, const char *want, const struct sockaddr_un *from, socklen_t fromlen)
{
	struct sockaddr_un got;
	socklen_t glen = sizeof(got);
	char buf[64];
	ssize_t n;

	memset(&got, 0, sizeof(got));
	n = recvfrom(sk, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&got, &glen);
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n)) {
		wl_fail(r, "datagram '%s': got %zd bytes '%.*s'", want, n, n > 0 ? (int)n : 0, buf);
		return;
	}
	if (!from && glen > sizeof(sa_family_t))
		wl_fail(r, "datagram '%s': from a name of %u bytes, want an unbound sender", want, glen);
	if (from && (glen != fromlen || memcmp(&got, from, fromlen)))
		wl_fail(r, "datagram '%s': from '%.*s' (length %u), want '%s%s' (length %u)", want,
			(int)(glen - offsetof(struct sockaddr_un, sun_path)), got.sun_path[0] ? got.sun_path : got.sun_path + 1,
			glen, from->sun_path[0] ? "" : "@", from->sun_path[0] ? from->sun_path : from->sun_path + 1, fromlen);
}

static void check_name(struct wl_report *r, const char *what, int sk, const struct sockaddr_un *sa, socklen_t len, bool peer)
{
	struct sockaddr_un got;
	socklen_t glen = sizeof(got);
	int ret;

	memset(&got, 0, sizeof(got));
	ret = peer ? getpeername(sk, (struct sockaddr *)&got, &glen) : getsockname(sk, (struct sockaddr *)&got, &glen);
	if (ret < 0 || glen != len || memcmp(&got, sa, len))
		wl_fail(r, "%s: %s is not as it was (length %u, want %u)", what, peer ? "peer" : "name", glen, len);
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	struct sockaddr_un ra, s1a, s2a, s3a, s4a, got;
	socklen_t rl, s1l, s2l, s3l, s4l, glen;
	int rs, s1, s2, s3, s4, anon, u, v;
	struct stat st;

	if (argc < 4)
		return 2;
	wl_catch_usr1();
	rl = path_addr(&ra, argv[3], "r");
	s1l = path_addr(&s1a, argv[3], "s1");
	s3l = path_addr(&s3a, argv[3], "s3");
	s4l = path_addr(&s4a, argv[3], "s4");
	memset(&s2a, 0, sizeof(s2a));
	s2a.sun_family = AF_UNIX;
	s2l = offsetof(struct sockaddr_un, sun_path) + 1 +
	      snprintf(s2a.sun_path + 1, sizeof(s2a.sun_path) - 1, "amber-dgramfrom-%d", (int)getpid());
	rs = bound(&ra, rl);
	s1 = bound(&s1a, s1l);
	s2 = bound(&s2a, s2l);
	s3 = bound(&s3a, s3l);
	s4 = bound(&s4a, s4l);
	anon = socket(AF_UNIX, SOCK_DGRAM, 0);
	u = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (rs < 0 || s1 < 0 || s2 < 0 || s3 < 0 || s4 < 0 || anon < 0 || u < 0)
		return 1;
	if (sendto(s1, "a", 1, 0, (struct sockaddr *)&ra, rl) != 1 || sendto(s2, "b", 1, 0, (struct sockaddr *)&ra, rl) != 1 ||
	    sendto(anon, "c", 1, 0, (struct sockaddr *)&ra, rl) != 1 || sendto(s3, "d", 1, 0, (struct sockaddr *)&ra, rl) != 1 ||
	    connect(s4, (struct sockaddr *)&ra, rl) < 0 || send(s4, "e", 1, 0) != 1 ||
	    sendto(u, "f", 1, 0, (struct sockaddr *)&ra, rl) != 1)
		return 1;
	close(s2);
	close(anon);
	close(s3);
	unlink(s3a.sun_path);
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	expect(&r, rs, "a", &s1a, s1l);
	expect(&r, rs, "b", &s2a, s2l);
	expect(&r, rs, "c", NULL, 0);
	expect(&r, rs, "d", &s3a, s3l);
	expect(&r, rs, "e", &s4a, s4l);
	expect(&r, rs, "f", NULL, 0);
	if (recv(rs, &v, sizeof(v), MSG_DONTWAIT) != -1 || errno != EAGAIN)
		wl_fail(&r, "r holds more than its six datagrams");
	check_name(&r, "r", rs, &ra, rl, false);
	check_name(&r, "s1", s1, &s1a, s1l, false);
	check_name(&r, "s4", s4, &s4a, s4l, false);
	check_name(&r, "s4", s4, &ra, rl, true);
	glen = sizeof(got);
	if (getsockname(u, (struct sockaddr *)&got, &glen) < 0 || glen != sizeof(sa_family_t))
		wl_fail(&r, "u is bound now (name length %u)", glen);
	glen = sizeof(got);
	if (getpeername(u, (struct sockaddr *)&got, &glen) != -1 || errno != ENOTCONN)
		wl_fail(&r, "u is connected now");
	glen = sizeof(v);
	if (getsockopt(u, SOL_SOCKET, SO_TYPE, &v, &glen) < 0 || v != SOCK_DGRAM)
		wl_fail(&r, "u is of type %d, want SOCK_DGRAM", v);
	if (!(fcntl(u, F_GETFL) & O_NONBLOCK))
		wl_fail(&r, "u lost O_NONBLOCK");
	if (recv(u, &v, 1, 0) != -1 || errno != EAGAIN)
		wl_fail(&r, "u holds something, or blocks");
	if (sendto(u, "g", 1, 0, (struct sockaddr *)&ra, rl) != 1 || send(s4, "h", 1, 0) != 1)
		wl_fail(&r, "u or s4 cannot send to r: %s", strerror(errno));
	expect(&r, rs, "g", NULL, 0);
	expect(&r, rs, "h", &s4a, s4l);
	if (lstat(s3a.sun_path, &st) == 0)
		wl_fail(&r, "%s, the path of a sender that was gone, exists again", s3a.sun_path);
	v = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (v < 0 || bind(v, (struct sockaddr *)&s2a, s2l) < 0)
		wl_fail(&r, "the abstract name of a sender that was gone is held: %s", strerror(errno));
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
