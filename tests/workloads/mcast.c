/* mcast: a self-checking workload for multicast memberships of UDP sockets.
 *
 *	mcast READYFILE RESULTFILE
 *
 * Before the dump, on the loopback device:
 *  - an IPv4 UDP socket bound to a port the kernel picks joins 239.7.1.1
 *    (any source), 239.7.1.2 for source 127.0.0.1 only (an include
 *    filter) and 239.7.1.3 from every source but 127.0.0.2 (an exclude
 *    filter); IP_MULTICAST_IF is 127.0.0.1 and IP_MULTICAST_ALL is off;
 *  - an IPv6 UDP socket joins ff15::7:1 and has IPV6_MULTICAST_IF lo;
 *  - a third UDP socket joins nothing.
 * After SIGUSR1 it checks each socket's memberships and filters with
 * getsockopt(MCAST_MSFILTER), that the plain socket joined nothing, the
 * options, and that datagrams sent to each IPv4 group from 127.0.0.1
 * arrive. PASS or FAIL lines go to RESULTFILE.
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "workload.h"

#ifndef IPV6_MULTICAST_ALL
#define IPV6_MULTICAST_ALL 29
#endif

static void mc_addr(int family, const char *text, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = family;
	if (family == AF_INET)
		inet_pton(AF_INET, text, &((struct sockaddr_in *)ss)->sin_addr);
	else
		inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)ss)->sin6_addr);
}

static int mc_join(int sk, int family, unsigned ifindex, const char *group, const char *source, int block)
{
	int level = family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;

	if (!source) {
		struct group_req r = { .gr_interface = ifindex };

		mc_addr(family, group, &r.gr_group);
		return setsockopt(sk, level, MCAST_JOIN_GROUP, &r, sizeof(r));
	}
	struct group_source_req r = { .gsr_interface = ifindex };

	mc_addr(family, group, &r.gsr_group);
	mc_addr(family, source, &r.gsr_source);
	return setsockopt(sk, level, block ? MCAST_BLOCK_SOURCE : MCAST_JOIN_SOURCE_GROUP, &r, sizeof(r));
}

/* Checks sk's membership of group on ifindex: want_mode -1 for none,
 * else MCAST_INCLUDE/MCAST_EXCLUDE with want_src (NULL: no source). */
static void mc_check(struct wl_report *r, const char *who, int sk, int family, unsigned ifindex, const char *group,
		     int want_mode, const char *want_src)
{
	char buf[GROUP_FILTER_SIZE(8)];
	struct group_filter *gf = (struct group_filter *)buf;
	socklen_t len = sizeof(buf);
	char got[INET6_ADDRSTRLEN] = "";

	memset(buf, 0, sizeof(buf));
	gf->gf_interface = ifindex;
	gf->gf_numsrc = 8;
	mc_addr(family, group, &gf->gf_group);
	if (getsockopt(sk, family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6, MCAST_MSFILTER, gf, &len) < 0) {
		if (want_mode >= 0)
			wl_fail(r, "%s: not a member of %s (%s)", who, group, strerror(errno));
		return;
	}
	if (want_mode < 0) {
		wl_fail(r, "%s: a member of %s, which it never joined", who, group);
		return;
	}
	if ((int)gf->gf_fmode != want_mode)
		wl_fail(r, "%s: %s has filter mode %u, want %d", who, group, gf->gf_fmode, want_mode);
	if (gf->gf_numsrc != (want_src ? 1u : 0u)) {
		wl_fail(r, "%s: %s has %u sources, want %d", who, group, gf->gf_numsrc, want_src ? 1 : 0);
		return;
	}
	if (!want_src)
		return;
	if (family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&gf->gf_slist[0])->sin_addr, got, sizeof(got));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&gf->gf_slist[0])->sin6_addr, got, sizeof(got));
	if (strcmp(got, want_src))
		wl_fail(r, "%s: %s's source is %s, want %s", who, group, got, want_src);
}

static void mc_check_int(struct wl_report *r, const char *what, int sk, int level, int opt, int want)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(sk, level, opt, &v, &len) < 0 || v != want)
		wl_fail(r, "%s is %d, want %d", what, v, want);
}

/* Sends "to GROUP" to group:port from 127.0.0.1 and checks that sk gets it. */
static void mc_roundtrip(struct wl_report *r, int sk, const char *group, unsigned port)
{
	int t = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct in_addr lo = { htonl(INADDR_LOOPBACK) };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { 2, 0 };
	char msg[64], got[64];
	ssize_t n;

	snprintf(msg, sizeof(msg), "to %s", group);
	inet_pton(AF_INET, group, &to.sin_addr);
	setsockopt(t, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof(lo));
	setsockopt(sk, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sendto(t, msg, strlen(msg), 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		wl_fail(r, "send to %s: %s", group, strerror(errno));
		close(t);
		return;
	}
	close(t);
	n = recv(sk, got, sizeof(got) - 1, 0);
	if (n < 0) {
		wl_fail(r, "nothing came to the socket from group %s (%s)", group, strerror(errno));
		return;
	}
	got[n] = 0;
	if (strcmp(got, msg))
		wl_fail(r, "the socket got '%s', want '%s'", got, msg);
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	unsigned lo = if_nametoindex("lo");
	int s4 = socket(AF_INET, SOCK_DGRAM, 0), s6 = socket(AF_INET6, SOCK_DGRAM, 0), plain = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	struct in_addr ifaddr = { htonl(INADDR_LOOPBACK) }, got_if;
	socklen_t iflen = sizeof(got_if);
	int zero = 0, ilo = (int)lo;

	if (argc < 3 || !lo || s4 < 0 || s6 < 0 || plain < 0)
		return 2;
	wl_catch_usr1();
	if (bind(s4, (struct sockaddr *)&a, sizeof(a)) < 0 || getsockname(s4, (struct sockaddr *)&a, &alen) < 0)
		return 1;
	if (mc_join(s4, AF_INET, lo, "239.7.1.1", NULL, 0) < 0 || mc_join(s4, AF_INET, lo, "239.7.1.2", "127.0.0.1", 0) < 0 ||
	    mc_join(s4, AF_INET, lo, "239.7.1.3", NULL, 0) < 0 || mc_join(s4, AF_INET, lo, "239.7.1.3", "127.0.0.2", 1) < 0 ||
	    setsockopt(s4, IPPROTO_IP, IP_MULTICAST_IF, &ifaddr, sizeof(ifaddr)) < 0 ||
	    setsockopt(s4, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof(zero)) < 0) {
		fprintf(stderr, "mcast: IPv4 set-up: %s\n", strerror(errno));
		return 1;
	}
	if (mc_join(s6, AF_INET6, lo, "ff15::7:1", NULL, 0) < 0 ||
	    setsockopt(s6, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ilo, sizeof(ilo)) < 0) {
		fprintf(stderr, "mcast: IPv6 set-up: %s\n", strerror(errno));
		return 1;
	}
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	mc_check(&r, "IPv4 socket", s4, AF_INET, lo, "239.7.1.1", MCAST_EXCLUDE, NULL);
	mc_check(&r, "IPv4 socket", s4, AF_INET, lo, "239.7.1.2", MCAST_INCLUDE, "127.0.0.1");
	mc_check(&r, "IPv4 socket", s4, AF_INET, lo, "239.7.1.3", MCAST_EXCLUDE, "127.0.0.2");
	mc_check(&r, "IPv6 socket", s6, AF_INET6, lo, "ff15::7:1", MCAST_EXCLUDE, NULL);
	mc_check(&r, "plain socket", plain, AF_INET, lo, "239.7.1.1", -1, NULL);
	mc_check_int(&r, "IP_MULTICAST_ALL", s4, IPPROTO_IP, IP_MULTICAST_ALL, 0);
	mc_check_int(&r, "IPV6_MULTICAST_IF", s6, IPPROTO_IPV6, IPV6_MULTICAST_IF, ilo);
	if (getsockopt(s4, IPPROTO_IP, IP_MULTICAST_IF, &got_if, &iflen) < 0 || got_if.s_addr != ifaddr.s_addr)
		wl_fail(&r, "IP_MULTICAST_IF is not 127.0.0.1");
	mc_roundtrip(&r, s4, "239.7.1.1", ntohs(a.sin_port));
	mc_roundtrip(&r, s4, "239.7.1.2", ntohs(a.sin_port));
	mc_roundtrip(&r, s4, "239.7.1.3", ntohs(a.sin_port));
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
