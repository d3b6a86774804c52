/* inet: a self-checking workload for TCP listeners and UDP sockets, IPv4
 * and IPv6.
 *
 *	inet READYFILE RESULTFILE
 *
 * A TCP listener on 127.0.0.1 (kernel-picked port) with many options set
 * (SO_REUSEADDR, SO_KEEPALIVE and the TCP keepalive timers, TCP_NODELAY,
 * IP_TOS, SO_PRIORITY, buffer sizes, SO_MARK, SO_BINDTODEVICE lo,
 * SO_LINGER, SO_RCVLOWAT, IP_TTL, non-blocking); a TCP listener on [::1]
 * with IPV6_V6ONLY, SO_REUSEPORT and TCP_CORK; an unbound TCP socket; a UDP
 * server on 127.0.0.1 with SO_BROADCAST, a UDP client bound and connected
 * to it, datagrams waiting at both (one from a sender closed before the
 * dump); a UDP server on [::1] with one datagram waiting. After SIGUSR1 it
 * checks every address, option and waiting datagram (bytes and sender),
 * then a connect/accept and a send/recv on each. PASS or FAIL lines go to
 * RESULTFILE. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

struct opt {
	const char *name;
	int level, opt, value;
};

static const struct opt opts4[] = {
	{ "SO_REUSEADDR", SOL_SOCKET, SO_REUSEADDR, 1 },
	{ "SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE, 1 },
	{ "TCP_KEEPIDLE", IPPROTO_TCP, TCP_KEEPIDLE, 33 },
	{ "TCP_KEEPINTVL", IPPROTO_TCP, TCP_KEEPINTVL, 7 },
	{ "TCP_KEEPCNT", IPPROTO_TCP, TCP_KEEPCNT, 4 },
	{ "TCP_NODELAY", IPPROTO_TCP, TCP_NODELAY, 1 },
	{ "IP_TOS", IPPROTO_IP, IP_TOS, 0x10 },
	{ "SO_PRIORITY", SOL_SOCKET, SO_PRIORITY, 3 },
	{ "SO_RCVBUF", SOL_SOCKET, SO_RCVBUF, 40000 },
	{ "SO_SNDBUF", SOL_SOCKET, SO_SNDBUF, 50000 },
	{ "SO_MARK", SOL_SOCKET, SO_MARK, 42 },
	{ "SO_RCVLOWAT", SOL_SOCKET, SO_RCVLOWAT, 2 },
	{ "IP_TTL", IPPROTO_IP, IP_TTL, 33 },
};

static const struct opt opts6[] = {
	{ "IPV6_V6ONLY", IPPROTO_IPV6, IPV6_V6ONLY, 1 },
	{ "SO_REUSEPORT", SOL_SOCKET, SO_REUSEPORT, 1 },
	{ "TCP_CORK", IPPROTO_TCP, TCP_CORK, 1 },
};

static const struct opt optsu[] = {
	{ "SO_BROADCAST", SOL_SOCKET, SO_BROADCAST, 1 },
};

static int set_opts(int sk, const struct opt *o, int n)
{
	for (int i = 0; i < n; i++)
		if (wl_must(setsockopt(sk, o[i].level, o[i].opt, &o[i].value, sizeof(int)) == 0, o[i].name) < 0)
			return -1;
	return 0;
}

/* getsockopt gives back what was set (buffer sizes: twice it). */
static void check_opts(struct wl_report *r, const char *who, int sk, const struct opt *o, int n)
{
	for (int i = 0; i < n; i++) {
		int v = -1, want = o[i].value;
		socklen_t len = sizeof(v);

		if (o[i].level == SOL_SOCKET && (o[i].opt == SO_RCVBUF || o[i].opt == SO_SNDBUF))
			want *= 2;
		if (getsockopt(sk, o[i].level, o[i].opt, &v, &len) < 0 || v != want)
			wl_fail(r, "%s: %s is %d, want %d", who, o[i].name, v, want);
	}
}

static int bound(int family, int type, const char *addr, struct sockaddr_storage *sa, socklen_t *len)
{
	int sk = socket(family, type | SOCK_CLOEXEC, 0);

	memset(sa, 0, sizeof(*sa));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;

		in->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &in->sin_addr);
		*len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;

		in6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, addr, &in6->sin6_addr);
		*len = sizeof(*in6);
	}
	if (sk < 0)
		return -1;
	return sk;
}

/* Binds sk to sa (port 0: the kernel's pick, written back into sa). */
static int bind_back(int sk, struct sockaddr_storage *sa, socklen_t len)
{
	if (bind(sk, (struct sockaddr *)sa, len) < 0)
		return -1;
	return getsockname(sk, (struct sockaddr *)sa, &len);
}

static void check_name(struct wl_report *r, const char *who, int sk, const struct sockaddr_storage *want, socklen_t wlen,
		       bool peer)
{
	struct sockaddr_storage got;
	socklen_t len = sizeof(got);

	memset(&got, 0, sizeof(got));
	if ((peer ? getpeername : getsockname)(sk, (struct sockaddr *)&got, &len) < 0 || len != wlen || memcmp(&got, want, wlen))
		wl_fail(r, "%s: its %s address changed", who, peer ? "peer" : "own");
}

/* The next datagram at sk is want, sent from 'from'. */
static void expect(struct wl_report *r, const char *who, int sk, const char *want, const struct sockaddr_storage *from,
		   socklen_t flen)
{
	struct sockaddr_storage got;
	socklen_t len = sizeof(got);
	char buf[64];
	ssize_t n;

	memset(&got, 0, sizeof(got));
	n = recvfrom(sk, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&got, &len);
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		wl_fail(r, "%s: got %zd bytes '%.*s', want '%s'", who, n, n > 0 ? (int)n : 0, buf, want);
	else if (from && (len != flen || memcmp(&got, from, flen)))
		wl_fail(r, "%s: '%s' came from another sender than at dump", who, want);
}

/* A connection to listener l at sa, accepted, carries bytes both ways. */
static void check_listener(struct wl_report *r, const char *who, int l, const struct sockaddr_storage *sa, socklen_t len)
{
	int c = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), s = -1, one = 1, zero = 0;
	struct pollfd p = { .fd = l, .events = POLLIN };
	char buf[8] = "";

	if (c < 0 || connect(c, (const struct sockaddr *)sa, len) < 0) {
		wl_fail(r, "%s: connect: %s", who, strerror(errno));
	} else if (poll(&p, 1, 5000) != 1 || (s = accept4(l, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		wl_fail(r, "%s: accept: %s", who, strerror(errno));
	} else {
		/* An accepted socket inherits the listener's TCP_CORK. */
		setsockopt(s, IPPROTO_TCP, TCP_CORK, &zero, sizeof(zero));
		setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (write(c, "ping", 4) != 4 || recv(s, buf, 4, MSG_WAITALL) != 4 || memcmp(buf, "ping", 4))
			wl_fail(r, "%s: ping did not arrive", who);
		if (write(s, "pong", 4) != 4 || recv(c, buf, 4, MSG_WAITALL) != 4 || memcmp(buf, "pong", 4))
			wl_fail(r, "%s: pong did not arrive", who);
	}
	if (s >= 0)
		close(s);
	if (c >= 0)
		close(c);
}

int main(int argc, char **argv)
{
	char report[8192] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	struct sockaddr_storage a4, a6, u4, c4, g4, u6, c6, n0;
	socklen_t l4, l6, lu4, lc4, lg4, lu6, lc6, ln0;
	struct linger lg = { 1, 5 }, lgot;
	socklen_t len;
	int t4, t6, t0, us4, uc4, ug4, us6, uc6, fl;
	char dev[16] = "";

	if (argc < 3)
		return 2;
	wl_catch_usr1();
	t4 = bound(AF_INET, SOCK_STREAM, "127.0.0.1", &a4, &l4);
	t6 = bound(AF_INET6, SOCK_STREAM, "::1", &a6, &l6);
	t0 = bound(AF_INET, SOCK_STREAM, "0.0.0.0", &n0, &ln0);
	us4 = bound(AF_INET, SOCK_DGRAM, "127.0.0.1", &u4, &lu4);
	uc4 = bound(AF_INET, SOCK_DGRAM, "127.0.0.1", &c4, &lc4);
	ug4 = bound(AF_INET, SOCK_DGRAM, "127.0.0.1", &g4, &lg4);
	us6 = bound(AF_INET6, SOCK_DGRAM, "::1", &u6, &lu6);
	uc6 = bound(AF_INET6, SOCK_DGRAM, "::1", &c6, &lc6);
	if (wl_must(t4 >= 0 && t6 >= 0 && t0 >= 0 && us4 >= 0 && uc4 >= 0 && ug4 >= 0 && us6 >= 0 && uc6 >= 0, "socket") < 0 ||
	    set_opts(t4, opts4, sizeof(opts4) / sizeof(opts4[0])) < 0 ||
	    wl_must(setsockopt(t4, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0, "SO_LINGER") < 0 ||
	    wl_must(setsockopt(t4, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3) == 0, "SO_BINDTODEVICE") < 0 ||
	    set_opts(t6, opts6, sizeof(opts6) / sizeof(opts6[0])) < 0 ||
	    set_opts(us4, optsu, sizeof(optsu) / sizeof(optsu[0])) < 0 ||
	    wl_must(setsockopt(t0, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int)) == 0, "TCP_NODELAY") < 0 ||
	    wl_must(bind_back(t4, &a4, l4) == 0 && listen(t4, 7) == 0, "listen on 127.0.0.1") < 0 ||
	    wl_must(fcntl(t4, F_SETFL, O_NONBLOCK) == 0, "O_NONBLOCK") < 0 ||
	    wl_must(bind_back(t6, &a6, l6) == 0 && listen(t6, 3) == 0, "listen on ::1") < 0 ||
	    wl_must(bind_back(us4, &u4, lu4) == 0 && bind_back(uc4, &c4, lc4) == 0 && bind_back(ug4, &g4, lg4) == 0,
		    "bind UDP") < 0 ||
	    wl_must(bind_back(us6, &u6, lu6) == 0 && bind_back(uc6, &c6, lc6) == 0, "bind UDP v6") < 0 ||
	    wl_must(connect(uc4, (struct sockaddr *)&u4, lu4) == 0, "connect UDP") < 0 ||
	    wl_must(send(uc4, "u1", 2, 0) == 2 && sendto(ug4, "u2", 2, 0, (struct sockaddr *)&u4, lu4) == 2 &&
		    send(uc4, "u3", 2, 0) == 2 && sendto(us4, "r1", 2, 0, (struct sockaddr *)&c4, lc4) == 2, "send") < 0 ||
	    wl_must(sendto(uc6, "v1", 2, 0, (struct sockaddr *)&u6, lu6) == 2, "send v6") < 0)
		return 1;
	/* The sender of u2 is gone at dump: restore binds its address for the moment. */
	close(ug4);
	wl_sleep_ms(50);
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	check_name(&r, "tcp4 listener", t4, &a4, l4, false);
	check_name(&r, "tcp6 listener", t6, &a6, l6, false);
	check_name(&r, "udp4 server", us4, &u4, lu4, false);
	check_name(&r, "udp4 client", uc4, &c4, lc4, false);
	check_name(&r, "udp4 client", uc4, &u4, lu4, true);
	check_name(&r, "udp6 server", us6, &u6, lu6, false);
	check_opts(&r, "tcp4 listener", t4, opts4, sizeof(opts4) / sizeof(opts4[0]));
	check_opts(&r, "tcp6 listener", t6, opts6, sizeof(opts6) / sizeof(opts6[0]));
	check_opts(&r, "udp4 server", us4, optsu, sizeof(optsu) / sizeof(optsu[0]));
	check_opts(&r, "unbound tcp", t0, &(struct opt){ "TCP_NODELAY", IPPROTO_TCP, TCP_NODELAY, 1 }, 1);
	len = sizeof(lgot);
	if (getsockopt(t4, SOL_SOCKET, SO_LINGER, &lgot, &len) < 0 || lgot.l_onoff != 1 || lgot.l_linger != 5)
		wl_fail(&r, "tcp4 listener: SO_LINGER changed");
	len = sizeof(dev);
	if (getsockopt(t4, SOL_SOCKET, SO_BINDTODEVICE, dev, &len) < 0 || strcmp(dev, "lo"))
		wl_fail(&r, "tcp4 listener: SO_BINDTODEVICE is '%s', want 'lo'", dev);
	fl = fcntl(t4, F_GETFL);
	if (fl < 0 || !(fl & O_NONBLOCK))
		wl_fail(&r, "tcp4 listener: O_NONBLOCK was lost");
	fl = fcntl(t6, F_GETFL);
	if (fl < 0 || (fl & O_NONBLOCK))
		wl_fail(&r, "tcp6 listener: became non-blocking");
	len = sizeof(int);
	if (getsockopt(t0, SOL_SOCKET, SO_ACCEPTCONN, &fl, &len) < 0 || fl)
		wl_fail(&r, "unbound tcp: it listens");
	expect(&r, "udp4 server", us4, "u1", &c4, lc4);
	expect(&r, "udp4 server", us4, "u2", &g4, lg4);
	expect(&r, "udp4 server", us4, "u3", &c4, lc4);
	if (recv(us4, dev, sizeof(dev), MSG_DONTWAIT) >= 0)
		wl_fail(&r, "udp4 server: more datagrams wait than at dump");
	expect(&r, "udp4 client", uc4, "r1", &u4, lu4);
	expect(&r, "udp6 server", us6, "v1", &c6, lc6);
	if (send(uc4, "u4", 2, 0) != 2)
		wl_fail(&r, "udp4 client: send after restore: %s", strerror(errno));
	wl_sleep_ms(50);
	expect(&r, "udp4 server after restore", us4, "u4", &c4, lc4);
	check_listener(&r, "tcp4 listener", t4, &a4, l4);
	check_listener(&r, "tcp6 listener", t6, &a6, l6);
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
