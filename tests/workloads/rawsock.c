/* rawsock: a self-checking workload for raw sockets.
 *
 *	rawsock READYFILE RESULTFILE
 *
 * Before the dump:
 *  - an IPv4 raw ICMP socket bound to 127.0.0.1 whose ICMP_FILTER blocks
 *    every type (so nothing the host receives waits in it at the dump);
 *  - an IPv4 raw socket of protocol 253 (for experiments: no traffic on a
 *    test machine) bound to 127.0.0.1, connected to 127.0.0.2, IP_TTL 33;
 *  - an IPv6 raw socket of protocol 253 with IPV6_CHECKSUM at offset 2.
 * After SIGUSR1 it checks addresses and options, then lets echo replies
 * through the ICMP socket's filter and pings 127.0.0.1 through it, and
 * sends a packet of protocol 253 from 127.0.0.2 to the connected socket,
 * which must receive it. PASS or FAIL lines go to RESULTFILE.
 */
#include <arpa/inet.h>
#include <linux/icmp.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "workload.h"

#define PROTO 253

static struct sockaddr_in v4(const char *a)
{
	struct sockaddr_in s = { .sin_family = AF_INET };

	inet_pton(AF_INET, a, &s.sin_addr);
	return s;
}

static uint16_t csum(const void *data, size_t len)
{
	const uint16_t *p = data;
	uint32_t sum = 0;

	for (; len > 1; len -= 2)
		sum += *p++;
	if (len)
		sum += *(const uint8_t *)p;
	sum = (sum >> 16) + (sum & 0xffff);
	sum += sum >> 16;
	return (uint16_t)~sum;
}

static void check_addr(struct wl_report *r, const char *who, int fd, int peer, const char *want)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	char got[32] = "none";

	memset(&a, 0, sizeof(a));
	if ((peer ? getpeername(fd, (struct sockaddr *)&a, &len) : getsockname(fd, (struct sockaddr *)&a, &len)) == 0)
		inet_ntop(AF_INET, &a.sin_addr, got, sizeof(got));
	if (strcmp(got, want))
		wl_fail(r, "%s: %s is %s, want %s", who, peer ? "peer" : "address", got, want);
}

/* (getpeername says ENOTCONN for a raw socket, connected or not: the
 * connection is checked by what reaches the socket, below.) */

/* Pings 127.0.0.1 through raw ICMP socket fd and waits for the reply. */
static void ping(struct wl_report *r, int fd)
{
	struct icmphdr req = { .type = ICMP_ECHO, .un.echo = { .id = htons(0x4242), .sequence = htons(7) } };
	struct sockaddr_in to = v4("127.0.0.1");
	struct timeval tv = { 1, 0 };
	char buf[256];

	req.checksum = csum(&req, sizeof(req));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		wl_fail(r, "ping: send: %s", strerror(errno));
		return;
	}
	for (int i = 0; i < 20; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		const struct iphdr *ip = (const struct iphdr *)buf;
		const struct icmphdr *ic;

		if (n < 0) {
			wl_fail(r, "ping: no echo reply (%s)", strerror(errno));
			return;
		}
		if ((size_t)n < sizeof(*ip) + sizeof(*ic))
			continue;
		ic = (const struct icmphdr *)(buf + ip->ihl * 4);
		if (ic->type == ICMP_ECHOREPLY && ic->un.echo.id == htons(0x4242) && ic->un.echo.sequence == htons(7))
			return;
	}
	wl_fail(r, "ping: no echo reply among 20 packets");
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	int icmp = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), raw = socket(AF_INET, SOCK_RAW, PROTO);
	int raw6 = socket(AF_INET6, SOCK_RAW, PROTO);
	struct sockaddr_in lo = v4("127.0.0.1"), lo2 = v4("127.0.0.2");
	struct icmp_filter all = { ~0u }, echo = { ~(1u << ICMP_ECHOREPLY) }, got;
	socklen_t len = sizeof(got);
	int ttl = 33, off = 2, v;

	if (argc < 3 || icmp < 0 || raw < 0 || raw6 < 0)
		return 2;
	wl_catch_usr1();
	if (setsockopt(icmp, SOL_RAW, ICMP_FILTER, &all, sizeof(all)) < 0 ||
	    bind(icmp, (struct sockaddr *)&lo, sizeof(lo)) < 0 || bind(raw, (struct sockaddr *)&lo, sizeof(lo)) < 0 ||
	    connect(raw, (struct sockaddr *)&lo2, sizeof(lo2)) < 0 ||
	    setsockopt(raw, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) < 0 ||
	    setsockopt(raw6, IPPROTO_IPV6, IPV6_CHECKSUM, &off, sizeof(off)) < 0) {
		fprintf(stderr, "rawsock: set-up: %s\n", strerror(errno));
		return 1;
	}
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	check_addr(&r, "ICMP socket", icmp, 0, "127.0.0.1");
	check_addr(&r, "protocol 253 socket", raw, 0, "127.0.0.1");
	if (getsockopt(icmp, SOL_RAW, ICMP_FILTER, &got, &len) < 0 || got.data != all.data)
		wl_fail(&r, "ICMP_FILTER is %#x, want %#x", got.data, all.data);
	len = sizeof(v);
	if (getsockopt(raw, IPPROTO_IP, IP_TTL, &v, &len) < 0 || v != ttl)
		wl_fail(&r, "IP_TTL is %d, want %d", v, ttl);
	len = sizeof(v);
	if (getsockopt(raw6, IPPROTO_IPV6, IPV6_CHECKSUM, &v, &len) < 0 || v != off)
		wl_fail(&r, "IPV6_CHECKSUM is %d, want %d", v, off);
	if (setsockopt(icmp, SOL_RAW, ICMP_FILTER, &echo, sizeof(echo)) < 0)
		wl_fail(&r, "set ICMP_FILTER: %s", strerror(errno));
	else
		ping(&r, icmp);
	{
		int from = socket(AF_INET, SOCK_RAW, PROTO);
		struct timeval tv = { 1, 0 };
		char buf[128];
		ssize_t n;

		setsockopt(raw, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (from < 0 || bind(from, (struct sockaddr *)&lo2, sizeof(lo2)) < 0 ||
		    sendto(from, "hello 253", 9, 0, (struct sockaddr *)&lo, sizeof(lo)) != 9)
			wl_fail(&r, "send from 127.0.0.2: %s", strerror(errno));
		else if ((n = recv(raw, buf, sizeof(buf), 0)) < 29 || memcmp(buf + ((struct iphdr *)buf)->ihl * 4, "hello 253", 9))
			wl_fail(&r, "the connected socket did not get the packet from 127.0.0.2 (%zd bytes)", n);
		/* Connected to 127.0.0.2: a packet from 127.0.0.1 does not reach it. */
		if (from >= 0) {
			int other = socket(AF_INET, SOCK_RAW, PROTO);

			if (other < 0 || bind(other, (struct sockaddr *)&lo, sizeof(lo)) < 0 ||
			    sendto(other, "not this", 8, 0, (struct sockaddr *)&lo, sizeof(lo)) != 8)
				wl_fail(&r, "send from 127.0.0.1: %s", strerror(errno));
			else if ((n = recv(raw, buf, sizeof(buf), MSG_DONTWAIT)) >= 0)
				wl_fail(&r, "the socket connected to 127.0.0.2 got a packet from 127.0.0.1 (%zd bytes)", n);
			if (other >= 0)
				close(other);
		}
		close(from);
	}
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
