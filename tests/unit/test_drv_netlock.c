/* test_drv_netlock: driver/netlock.c's nftables script, the encoder of the
 * network lock: which set each socket lands in (each direction of a
 * connection on its own chain, listeners by address or by port alone,
 * IPv4 and IPv6 apart), no empty element lists (nft refuses them), one
 * element for a port listened on twice, and a buffer too small refused. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "driver/netlock.h"
#include "tests/unit/unit.h"

static struct netlock_conn conn(int family, bool listen, const char *src, unsigned sport, const char *dst, unsigned dport)
{
	struct netlock_conn c;

	memset(&c, 0, sizeof(c));
	c.family = family;
	c.listen = listen;
	inet_pton(family, src, c.src);
	inet_pton(family, dst, c.dst);
	c.sport = sport;
	c.dport = dport;
	return c;
}

static void netlock_v4_connection_and_listeners(void)
{
	struct netlock_conn cs[] = {
		conn(AF_INET, false, "127.0.0.1", 6379, "127.0.0.1", 40000),
		conn(AF_INET, true, "127.0.0.1", 6379, "0.0.0.0", 0),
		conn(AF_INET, true, "0.0.0.0", 8080, "0.0.0.0", 0),
		conn(AF_INET6, true, "::", 8080, "::", 0),
	};
	struct netlock nl = { .table = "amber-lock-00000000000000ab", .conns = cs, .nr = 4 };
	char buf[8192];

	REQUIRE(netlock_script(&nl, buf, sizeof(buf)) > 0);
	CHECK_CONTAINS(buf, "table inet amber-lock-00000000000000ab {");
	/* The peer's segments on input, the tree's on output. */
	CHECK_CONTAINS(buf, "set in4 {\n\t\ttype ipv4_addr . inet_service . ipv4_addr . inet_service\n"
			    "\t\telements = { 127.0.0.1 . 40000 . 127.0.0.1 . 6379 }");
	CHECK_CONTAINS(buf, "set out4 {\n\t\ttype ipv4_addr . inet_service . ipv4_addr . inet_service\n"
			    "\t\telements = { 127.0.0.1 . 6379 . 127.0.0.1 . 40000 }");
	CHECK_CONTAINS(buf, "set listen4 {\n\t\ttype ipv4_addr . inet_service\n\t\telements = { 127.0.0.1 . 6379 }");
	/* 8080 on 0.0.0.0 and on ::: one port. */
	CHECK_CONTAINS(buf, "set listenany {\n\t\ttype inet_service\n\t\telements = { 8080 }");
	CHECK(!strstr(buf, "8080,"));
	CHECK(!strstr(buf, "set in6"));
	CHECK(!strstr(buf, "@in6"));
	CHECK_CONTAINS(buf, "type filter hook input priority -300; policy accept;\n"
			    "\t\tip saddr . tcp sport . ip daddr . tcp dport @in4 drop\n"
			    "\t\tip daddr . tcp dport @listen4 drop\n"
			    "\t\ttcp dport @listenany drop\n");
	CHECK_CONTAINS(buf, "type filter hook output priority -300; policy accept;\n"
			    "\t\tip saddr . tcp sport . ip daddr . tcp dport @out4 drop\n\t}\n}\n");
}

static void netlock_v6_connections(void)
{
	struct netlock_conn cs[] = {
		conn(AF_INET6, false, "::1", 5000, "::1", 41000),
		conn(AF_INET6, false, "::1", 41000, "::1", 5000),
	};
	struct netlock nl = { .table = "t", .conns = cs, .nr = 2 };
	char buf[8192];

	REQUIRE(netlock_script(&nl, buf, sizeof(buf)) > 0);
	CHECK_CONTAINS(buf, "elements = { ::1 . 41000 . ::1 . 5000,\n\t\t\t::1 . 5000 . ::1 . 41000 }");
	CHECK_CONTAINS(buf, "ip6 saddr . tcp sport . ip6 daddr . tcp dport @in6 drop");
	CHECK_CONTAINS(buf, "ip6 saddr . tcp sport . ip6 daddr . tcp dport @out6 drop");
	CHECK(!strstr(buf, "set in4"));
	CHECK(!strstr(buf, "listen"));
}

static void netlock_too_small(void)
{
	struct netlock_conn c = conn(AF_INET, false, "10.0.0.1", 1, "10.0.0.2", 2);
	struct netlock nl = { .table = "t", .conns = &c, .nr = 1 };
	char buf[64];

	CHECK_INT(netlock_script(&nl, buf, sizeof(buf)), -1);
}

static void netlock_modes(void)
{
	enum netlock_mode m;

	CHECK_INT(netlock_mode_parse("nftables", &m), 0);
	CHECK_INT(m, NETLOCK_NFTABLES);
	CHECK_INT(netlock_mode_parse("skip", &m), 0);
	CHECK_INT(m, NETLOCK_SKIP);
	CHECK_INT(netlock_mode_parse("iptables-legacy", &m), -1);
}

static const struct unit_case cases[] = {
	UNIT_CASE(netlock_v4_connection_and_listeners),
	UNIT_CASE(netlock_v6_connections),
	UNIT_CASE(netlock_too_small),
	UNIT_CASE(netlock_modes),
};

UNIT_MAIN(cases)
