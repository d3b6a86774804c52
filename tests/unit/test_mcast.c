/* test_mcast: lib/mcast.c's parsers of /proc/net/igmp and igmp6 (recorded
 * on this machine), bad lines refused by line, and a live probe and join:
 * a socket that joins a group on lo is found by mcast_probe with its
 * filter, and mcast_join makes the same membership on a new socket. */
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/mcast.h"
#include "tests/unit/unit.h"

static const char igmp[] =
	"Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n"
	"1\tlo        :     2      V3\n"
	"\t\t\t\t010107EF     1 0:00000000\t\t0\n"
	"\t\t\t\t010000E0     1 0:00000000\t\t0\n"
	"4\teth0      :     1      V3\n"
	"\t\t\t\t010000E0     1 0:00000000\t\t0\n";

static const char igmp6[] =
	"1    lo              ff020000000000000000000000000001     1 0000000C 0\n"
	"4    eth0            ff0200000000000000000001ff000002     1 00000004 0\n";

static void mcast_parses_igmp(void)
{
	struct mcast_group *g = NULL;
	int nr = 0;
	struct err e = { 0 };
	char name[80];

	REQUIRE(mcast_parse(AF_INET, igmp, &g, &nr, &e) == 0);
	CHECK_INT(nr, 3);
	CHECK_STR(mcast_name(&g[0], name, sizeof(name)), "239.7.1.1 on lo");
	CHECK_INT(g[0].ifindex, 1);
	CHECK_STR(mcast_name(&g[1], name, sizeof(name)), "224.0.0.1 on lo");
	CHECK_STR(mcast_name(&g[2], name, sizeof(name)), "224.0.0.1 on eth0");
	CHECK_INT(g[2].ifindex, 4);
	REQUIRE(mcast_parse(AF_INET6, igmp6, &g, &nr, &e) == 0);
	CHECK_INT(nr, 5);
	CHECK_STR(mcast_name(&g[3], name, sizeof(name)), "ff02::1 on lo");
	CHECK_STR(mcast_name(&g[4], name, sizeof(name)), "ff02::1:ff00:2 on eth0");
	CHECK_INT(g[4].family, AF_INET6);
	free(g);
}

static void mcast_refuses_bad_lines(void)
{
	struct mcast_group *g = NULL;
	int nr = 0;
	struct err e = { 0 };

	/* A group before any device, a short group, a bad IPv6 address. */
	CHECK(mcast_parse(AF_INET, "head\n\t\t\t\t010107EF 1 0:0 0\n", &g, &nr, &e) < 0);
	CHECK_CONTAINS(e.msg, "line 2 is not a group of a device");
	CHECK(mcast_parse(AF_INET, "head\n1\tlo : 1 V3\n\t\t\t\t0107EF 1 0:0 0\n", &g, &nr, &e) < 0);
	CHECK(mcast_parse(AF_INET6, "1 lo ff02000000000000000000000000000g 1 0 0\n", &g, &nr, &e) < 0);
	CHECK_CONTAINS(e.msg, "is not a hex address");
	CHECK(mcast_parse(AF_INET6, "1 lo ff02 1 0 0\n", &g, &nr, &e) < 0);
	CHECK_CONTAINS(e.msg, "line 1");
	free(g);
}

static void mcast_probe_and_join(void)
{
	unsigned lo = if_nametoindex("lo");
	int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM, 0);
	struct group_source_req r = { .gsr_interface = lo };
	struct mcast_group g = { .family = AF_INET, .ifindex = lo, .ifname = "lo" };
	struct mcast_membership m, m2;
	struct err e = { 0 };

	REQUIRE(a >= 0 && b >= 0 && lo);
	((struct sockaddr_in *)&r.gsr_group)->sin_family = AF_INET;
	inet_pton(AF_INET, "239.7.9.9", &((struct sockaddr_in *)&r.gsr_group)->sin_addr);
	((struct sockaddr_in *)&r.gsr_source)->sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.9", &((struct sockaddr_in *)&r.gsr_source)->sin_addr);
	if (setsockopt(a, IPPROTO_IP, MCAST_JOIN_SOURCE_GROUP, &r, sizeof(r)) < 0)
		UNIT_SKIP("cannot join a multicast group on lo here");
	inet_pton(AF_INET, "239.7.9.9", g.addr);
	CHECK_INT(mcast_probe(a, AF_INET, &g, &m, &e), 1);
	CHECK_INT(m.fmode, MCAST_INCLUDE);
	CHECK_INT(m.nr_sources, 1);
	CHECK(!memcmp(m.sources[0], &((struct sockaddr_in *)&r.gsr_source)->sin_addr, 4));
	/* b joined nothing; after mcast_join it has the same membership. */
	CHECK_INT(mcast_probe(b, AF_INET, &g, &m2, &e), 0);
	REQUIRE(mcast_join(b, &m, lo, &e) == 0);
	CHECK_INT(mcast_probe(b, AF_INET, &g, &m2, &e), 1);
	CHECK_INT(m2.fmode, MCAST_INCLUDE);
	CHECK_INT(m2.nr_sources, 1);
	close(a);
	close(b);
}

static const struct unit_case cases[] = {
	UNIT_CASE(mcast_parses_igmp),
	UNIT_CASE(mcast_refuses_bad_lines),
	UNIT_CASE(mcast_probe_and_join),
};

UNIT_MAIN(cases)
