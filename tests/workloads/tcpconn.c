/* tcpconn: a self-checking workload for an established TCP connection
 * with both ends in the process, over loopback.
 *
 *	tcpconn READYFILE RESULTFILE [6]
 *
 * A listener on 127.0.0.1 (or ::1 with "6"), a client connected to it and
 * the accepted server end; the listener stays open. Each end writes a
 * numbered byte stream without the other reading, until its send buffer
 * is full: the receive queues hold unread bytes, the send queues bytes
 * sent and not acknowledged and bytes never sent. After SIGUSR1 it checks
 * the addresses and TCP_NODELAY, reads both streams to their end and
 * checks every byte, then writes and reads more both ways: the streams
 * go on exactly. PASS or FAIL lines go to RESULTFILE. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

/* Byte i of stream id. */
static unsigned char pattern(int id, size_t i)
{
	return (unsigned char)(i * 7 + i / 251 + id);
}

/* Writes stream id at *off into sk until it would block (or max bytes). */
static int fill(int sk, int id, size_t *off, size_t max)
{
	unsigned char buf[4096];

	while (*off < max) {
		size_t n = max - *off < sizeof(buf) ? max - *off : sizeof(buf);
		ssize_t w;

		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(id, *off + i);
		w = send(sk, buf, n, MSG_DONTWAIT);
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (w < 0)
			return -1;
		*off += w;
	}
	return 0;
}

struct reader {
	int sk, id;
	size_t got, want;
	bool bad;
};

/* Reads what is there, checking each byte against the stream. */
static int drain(struct reader *r)
{
	unsigned char buf[8192];
	ssize_t n = recv(r->sk, buf, sizeof(buf), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n <= 0)
		return -1;
	for (ssize_t i = 0; i < n && !r->bad; i++)
		if (buf[i] != pattern(r->id, r->got + i))
			r->bad = true;
	r->got += n;
	return 0;
}

/* What the kernel says of a connection, for a failure report. */
static void describe(struct wl_report *rep, const char *who, int sk)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(sk, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return;
	wl_fail(rep, "%s: state %u mss %u cwnd %u unacked %u lost %u retrans %u backoff %u notsent %u rcv_space %u "
		"segs_in %u segs_out %u", who, ti.tcpi_state, ti.tcpi_snd_mss, ti.tcpi_snd_cwnd, ti.tcpi_unacked, ti.tcpi_lost,
		ti.tcpi_total_retrans, ti.tcpi_backoff, ti.tcpi_notsent_bytes, ti.tcpi_rcv_space, ti.tcpi_segs_in,
		ti.tcpi_segs_out);
}

/* Reads both streams up to their wanted lengths, for at most 20 s. */
static void read_both(struct wl_report *rep, const char *when, struct reader *a, struct reader *b)
{
	double end = wl_now() + 20;

	while ((a->got < a->want || b->got < b->want) && wl_now() < end) {
		struct pollfd p[2] = { { a->sk, POLLIN, 0 }, { b->sk, POLLIN, 0 } };

		poll(p, 2, 200);
		if ((p[0].revents && drain(a) < 0) || (p[1].revents && drain(b) < 0)) {
			wl_fail(rep, "%s: a read failed: %s", when, strerror(errno));
			return;
		}
	}
	if (a->got != a->want || b->got != b->want) {
		wl_fail(rep, "%s: read %zu of %zu bytes client->server, %zu of %zu server->client", when, a->got, a->want,
			b->got, b->want);
		describe(rep, "server end", a->sk);
		describe(rep, "client", b->sk);
	}
	if (a->bad || b->bad)
		wl_fail(rep, "%s: a byte of the %s stream is not what was sent", when, a->bad ? "client->server" : "server->client");
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report rep = { report, sizeof(report), 0 };
	bool v6 = argc > 3 && !strcmp(argv[3], "6");
	struct sockaddr_storage la, ca, sa, got;
	socklen_t len = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in), glen;
	int family = v6 ? AF_INET6 : AF_INET, l, c, s, one = 1, v;
	size_t coff = 0, soff = 0;
	struct reader rs, rc;

	if (argc < 3)
		return 2;
	wl_catch_usr1();
	memset(&la, 0, sizeof(la));
	la.ss_family = family;
	if (v6)
		((struct sockaddr_in6 *)&la)->sin6_addr = in6addr_loopback;
	else
		((struct sockaddr_in *)&la)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	c = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	glen = sizeof(la);
	if (wl_must(l >= 0 && c >= 0, "socket") < 0 ||
	    wl_must(bind(l, (struct sockaddr *)&la, len) == 0 && listen(l, 4) == 0 &&
		    getsockname(l, (struct sockaddr *)&la, &glen) == 0, "listen") < 0 ||
	    wl_must(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0, "TCP_NODELAY") < 0 ||
	    wl_must(connect(c, (struct sockaddr *)&la, len) == 0, "connect") < 0 ||
	    wl_must((s = accept4(l, NULL, NULL, SOCK_CLOEXEC)) >= 0, "accept") < 0)
		return 1;
	glen = sizeof(ca);
	getsockname(c, (struct sockaddr *)&ca, &glen);
	glen = sizeof(sa);
	getsockname(s, (struct sockaddr *)&sa, &glen);
	/* A little read, so that the streams do not start at 0 on both sides. */
	if (wl_must(send(c, "hello", 5, 0) == 5 && recv(s, report, 5, MSG_WAITALL) == 5, "hello") < 0)
		return 1;
	memset(report, 0, sizeof(report));
	if (wl_must(fill(c, 1, &coff, 8 << 20) == 0 && fill(s, 2, &soff, 8 << 20) == 0, "fill") < 0)
		return 1;
	wl_sleep_ms(100);
	if (wl_must(fill(c, 1, &coff, 8 << 20) == 0 && fill(s, 2, &soff, 8 << 20) == 0, "fill") < 0)
		return 1;
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	glen = sizeof(got);
	memset(&got, 0, sizeof(got));
	if (getsockname(c, (struct sockaddr *)&got, &glen) < 0 || memcmp(&got, &ca, len))
		wl_fail(&rep, "the client's address changed");
	glen = sizeof(got);
	memset(&got, 0, sizeof(got));
	if (getpeername(c, (struct sockaddr *)&got, &glen) < 0 || memcmp(&got, &sa, len))
		wl_fail(&rep, "the client's peer is not the server end");
	glen = sizeof(got);
	memset(&got, 0, sizeof(got));
	if (getpeername(s, (struct sockaddr *)&got, &glen) < 0 || memcmp(&got, &ca, len))
		wl_fail(&rep, "the server end's peer is not the client");
	glen = sizeof(v);
	if (getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &glen) < 0 || !v)
		wl_fail(&rep, "the client lost TCP_NODELAY");
	rs = (struct reader){ s, 1, 0, coff, false };
	rc = (struct reader){ c, 2, 0, soff, false };
	read_both(&rep, "the streams written before the dump", &rs, &rc);
	/* The streams go on. */
	{
		size_t cmax = coff + 100000, smax = soff + 100000;

		while ((coff < cmax || soff < smax) && !rep.nfails) {
			fill(c, 1, &coff, cmax);
			fill(s, 2, &soff, smax);
			rs.want = coff;
			rc.want = soff;
			read_both(&rep, "the streams after the restore", &rs, &rc);
		}
	}
	wl_write_result(argv[2], &rep);
	return rep.nfails ? 1 : 0;
}
