/* test_inetdiag: lib/inetdiag.c, the inet_diag reply parser and the live
 * lookup by inode: a TCP listener's backlog and accept queue, addresses
 * and ports in host order, shutdown and IPV6_V6ONLY from their attributes.
 * Replies are built by hand the way the kernel lays them out
 * (inet_diag_msg, then netlink attributes), then malformed, then asked
 * of live sockets of this process. */
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/inetdiag.h"
#include "tests/unit/unit.h"

/* A reply being built: a header, the message, attributes appended. */
struct inetdiag_test_msg {
	union {
		struct nlmsghdr h;
		char buf[1024];
	};
};

static struct inet_diag_msg *inetdiag_test_init(struct inetdiag_test_msg *m, int family, uint32_t ino, int state)
{
	struct inet_diag_msg *d;

	memset(m, 0, sizeof(*m));
	m->h.nlmsg_len = NLMSG_LENGTH(sizeof(*d));
	m->h.nlmsg_type = 20;
	d = NLMSG_DATA(&m->h);
	d->idiag_family = family;
	d->idiag_state = state;
	d->idiag_inode = ino;
	return d;
}

static void inetdiag_test_attr(struct inetdiag_test_msg *m, int type, const void *data, int len)
{
	struct nlattr *a = (struct nlattr *)(m->buf + NLMSG_ALIGN(m->h.nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	m->h.nlmsg_len = NLMSG_ALIGN(m->h.nlmsg_len) + NLA_ALIGN(a->nla_len);
}

/* A listener on 127.0.0.1:8080 with backlog 128 and 3 waiting. */
static void inetdiag_parse_listener_v4(void)
{
	struct inetdiag_test_msg m;
	struct inet_diag_msg *d = inetdiag_test_init(&m, AF_INET, 42, 10);
	struct inetdiag_sock s;
	uint8_t sd = 0, proto = IPPROTO_TCP;

	d->id.idiag_sport = htons(8080);
	d->id.idiag_src[0] = htonl(0x7f000001);
	d->idiag_rqueue = 3;
	d->idiag_wqueue = 128;
	d->idiag_uid = 1000;
	d->id.idiag_if = 1;
	inetdiag_test_attr(&m, INET_DIAG_SHUTDOWN, &sd, 1);
	inetdiag_test_attr(&m, INET_DIAG_PROTOCOL, &proto, 1);
	REQUIRE(inetdiag_parse(&m.h, &s) == 0);
	CHECK_INT(s.ino, 42);
	CHECK_INT(s.family, AF_INET);
	CHECK_INT(s.state, 10);
	CHECK_INT(s.sport, 8080);
	CHECK_INT(s.dport, 0);
	CHECK(!memcmp(s.src, "\x7f\0\0\x01", 4));
	CHECK_INT(s.rqueue, 3);
	CHECK_INT(s.wqueue, 128);
	CHECK_INT(s.uid, 1000);
	CHECK_INT(s.ifindex, 1);
	CHECK_INT(s.shutdown, 0);
	CHECK_INT(s.protocol, IPPROTO_TCP);
}

/* A connected IPv6 socket, shut for writing, IPV6_V6ONLY. */
static void inetdiag_parse_connected_v6(void)
{
	struct inetdiag_test_msg m;
	struct inet_diag_msg *d = inetdiag_test_init(&m, AF_INET6, 7, 1);
	struct inetdiag_sock s;
	uint8_t sd = 2, v6only = 1;
	struct in6_addr lo = IN6ADDR_LOOPBACK_INIT;

	d->id.idiag_sport = htons(1);
	d->id.idiag_dport = htons(65535);
	memcpy(d->id.idiag_src, &lo, 16);
	memcpy(d->id.idiag_dst, &lo, 16);
	inetdiag_test_attr(&m, INET_DIAG_SHUTDOWN, &sd, 1);
	inetdiag_test_attr(&m, INET_DIAG_SKV6ONLY, &v6only, 1);
	REQUIRE(inetdiag_parse(&m.h, &s) == 0);
	CHECK_INT(s.family, AF_INET6);
	CHECK_INT(s.state, 1);
	CHECK_INT(s.sport, 1);
	CHECK_INT(s.dport, 65535);
	CHECK(!memcmp(s.dst, &lo, 16));
	CHECK_INT(s.shutdown, 2);
	CHECK(s.v6only);
	CHECK_INT(s.protocol, 0);
}

/* Too short, an empty attribute, another family. */
static void inetdiag_parse_malformed(void)
{
	struct inetdiag_test_msg m;
	struct inetdiag_sock s;
	uint8_t sd = 1;

	inetdiag_test_init(&m, AF_INET, 1, 10);
	m.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct inet_diag_msg) - 1);
	CHECK_INT(inetdiag_parse(&m.h, &s), -1);
	/* An empty attribute is not read past. */
	inetdiag_test_init(&m, AF_INET, 1, 10);
	inetdiag_test_attr(&m, INET_DIAG_SHUTDOWN, &sd, 0);
	CHECK_INT(inetdiag_parse(&m.h, &s), 0);
	CHECK_INT(s.shutdown, 0);
	inetdiag_test_init(&m, AF_UNIX, 1, 10);
	CHECK_INT(inetdiag_parse(&m.h, &s), -1);
}

static uint32_t inetdiag_test_ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

/* A live listener found by its inode: its port, backlog and the one
 * connection waiting in its accept queue; a socket never bound is not
 * listed (0). */
static void inetdiag_live_listener(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	struct inetdiag_sock s;
	struct err e = { 0 };
	int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0), u = socket(AF_INET, SOCK_STREAM, 0);
	int ret;

	REQUIRE(l >= 0 && c >= 0 && u >= 0);
	REQUIRE(bind(l, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(l, 9) == 0);
	REQUIRE(getsockname(l, (struct sockaddr *)&sa, &len) == 0);
	REQUIRE(connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	if ((ret = inetdiag_find(AF_INET, IPPROTO_TCP, inetdiag_test_ino(l), &s, &e)) < 0)
		UNIT_SKIP("inet_diag: %s", e.msg);
	CHECK_INT(ret, 1);
	CHECK_INT(s.state, 10);
	CHECK_INT(s.sport, ntohs(sa.sin_port));
	CHECK_INT(s.wqueue, 9);
	CHECK_INT(s.rqueue, 1);
	CHECK_INT(inetdiag_find(AF_INET, IPPROTO_TCP, inetdiag_test_ino(u), &s, &e), 0);
	close(l);
	close(c);
	close(u);
}

/* One listing serves many lookups: both ends of a loopback connection are
 * found by inode, and each one's peer is the other. */
static void inetdiag_list_lookup(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr = { htonl(INADDR_LOOPBACK) } };
	socklen_t alen = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0), s;
	struct inetdiag_sock *v = NULL;
	const struct inetdiag_sock *cs, *ss, *peer;
	struct stat cst, sst;
	struct err e = { 0 };
	int nr = 0;

	REQUIRE(l >= 0 && c >= 0);
	REQUIRE(bind(l, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(l, 1) == 0);
	REQUIRE(getsockname(l, (struct sockaddr *)&a, &alen) == 0);
	REQUIRE(connect(c, (struct sockaddr *)&a, sizeof(a)) == 0 && (s = accept(l, NULL, NULL)) >= 0);
	REQUIRE(fstat(c, &cst) == 0 && fstat(s, &sst) == 0);
	if (inetdiag_list(AF_INET, IPPROTO_TCP, &v, &nr, &e) < 0)
		UNIT_SKIP("no inet_diag here: %s", e.msg);
	for (int i = 1; i < nr; i++)
		CHECK(v[i - 1].ino <= v[i].ino);
	cs = inetdiag_lookup(v, nr, cst.st_ino);
	ss = inetdiag_lookup(v, nr, sst.st_ino);
	REQUIRE(cs && ss);
	CHECK_INT(cs->state, 1);
	peer = inetdiag_lookup_peer(v, nr, cs);
	CHECK(peer && peer->ino == ss->ino);
	peer = inetdiag_lookup_peer(v, nr, ss);
	CHECK(peer && peer->ino == cs->ino);
	CHECK(inetdiag_lookup(v, nr, 1) == NULL);
	free(v);
	close(s);
	close(c);
	close(l);
}

/* /proc/net/raw and raw6 as this kernel prints them (a raw socket of
 * protocol 253 bound to 127.0.0.1 and connected to 127.0.0.2, 28 bytes
 * waiting; an IPv6 one bound to ::1). */
static void inetdiag_proc_raw(void)
{
	static const char raw[] =
		"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
		"  253: 0100007F:00FD 0200007F:0000 01 00000000:0000001C 00:00000000 00000000     0        0 11312600 2 0000000000000000 0\n";
	static const char raw6[] =
		"  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
		"  253: 00000000000000000000000001000000:00FD 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0000000000000000 0\n";
	struct inetdiag_sock s;
	uint8_t lo6[16] = { [15] = 1 };
	char a[INET6_ADDRSTRLEN];

	CHECK_INT(inetdiag_parse_proc_raw(AF_INET, raw, 11312600, &s), 1);
	CHECK_INT(s.state, 1);
	CHECK_INT(s.rqueue, 28);
	CHECK_STR(inet_ntop(AF_INET, s.src, a, sizeof(a)), "127.0.0.1");
	CHECK_STR(inet_ntop(AF_INET, s.dst, a, sizeof(a)), "127.0.0.2");
	CHECK_INT(s.sport, 253);
	CHECK_INT(inetdiag_parse_proc_raw(AF_INET, raw, 1, &s), 0);
	CHECK_INT(inetdiag_parse_proc_raw(AF_INET6, raw6, 4242, &s), 1);
	CHECK(!memcmp(s.src, lo6, 16));
	CHECK_INT(s.state, 7);
	CHECK_INT(inetdiag_parse_proc_raw(AF_INET, "no table\n", 1, &s), -1);
	CHECK_INT(inetdiag_parse_proc_raw(AF_INET, "local_address\n  1: 01:00FD junk\n", 1, &s), -1);
}

static const struct unit_case cases[] = {
	UNIT_CASE(inetdiag_proc_raw),
	UNIT_CASE(inetdiag_list_lookup),
	UNIT_CASE(inetdiag_parse_listener_v4),
	UNIT_CASE(inetdiag_parse_connected_v6),
	UNIT_CASE(inetdiag_parse_malformed),
	UNIT_CASE(inetdiag_live_listener),
};
UNIT_MAIN(cases)
