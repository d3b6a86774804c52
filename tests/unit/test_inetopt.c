/* test_inetopt: lib/inetopt.c, the one table of TCP and UDP socket options
 * both dump-files and restore-files use: names are unique (restore looks
 * them up by name), each is found, and each applies to what it should. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "lib/inetopt.h"
#include "tests/unit/unit.h"

static void inetopt_names_unique_and_found(void)
{
	for (size_t i = 0; i < inetopt_count; i++) {
		CHECK(inetopt_find(inetopt_table[i].name) == &inetopt_table[i]);
		for (size_t j = i + 1; j < inetopt_count; j++)
			CHECK(strcmp(inetopt_table[i].name, inetopt_table[j].name) != 0);
	}
	CHECK(inetopt_find("SO_ATTACH_FILTER") == NULL);
	CHECK(inetopt_find("") == NULL);
}

static void inetopt_applies_by_family_and_protocol(void)
{
	const struct inetopt *v6only = inetopt_find("IPV6_V6ONLY"), *nodelay = inetopt_find("TCP_NODELAY");
	const struct inetopt *tos = inetopt_find("IP_TOS"), *reuse = inetopt_find("SO_REUSEADDR");

	REQUIRE(v6only && nodelay && tos && reuse);
	CHECK(inetopt_applies(v6only, AF_INET6, IPPROTO_TCP));
	CHECK(!inetopt_applies(v6only, AF_INET, IPPROTO_UDP));
	CHECK(inetopt_applies(nodelay, AF_INET, IPPROTO_TCP));
	CHECK(!inetopt_applies(nodelay, AF_INET6, IPPROTO_UDP));
	CHECK(inetopt_applies(tos, AF_INET, IPPROTO_UDP));
	CHECK(!inetopt_applies(tos, AF_INET6, IPPROTO_TCP));
	CHECK(inetopt_applies(reuse, AF_INET6, IPPROTO_UDP));
	CHECK(!inetopt_applies(reuse, AF_UNIX, IPPROTO_TCP));
	/* Any protocol but TCP and UDP is a raw socket's (the only other inet
	 * kind amber keeps): the generic options and the raw ones only. */
	CHECK(inetopt_applies(reuse, AF_INET, 253));
	CHECK(!inetopt_applies(nodelay, AF_INET, 253));
	CHECK(inetopt_applies(inetopt_find("IP_HDRINCL"), AF_INET, 253));
	CHECK(!inetopt_applies(inetopt_find("IP_HDRINCL"), AF_INET, IPPROTO_UDP));
	CHECK(!inetopt_applies(inetopt_find("IP_HDRINCL"), AF_INET6, 253));
}

/* IP_TOS sets the priority too: SO_PRIORITY must come after it. */
static void inetopt_tos_before_priority(void)
{
	const struct inetopt *tos = inetopt_find("IP_TOS"), *prio = inetopt_find("SO_PRIORITY");

	REQUIRE(tos && prio);
	CHECK(tos < prio);
}

/* Every option can be read from a new socket it applies to on this kernel
 * (an option the kernel does not know would be skipped at dump). */
static void inetopt_live_readable(void)
{
	static const int kinds[][3] = {
		{ AF_INET, SOCK_STREAM, IPPROTO_TCP }, { AF_INET6, SOCK_STREAM, IPPROTO_TCP },
		{ AF_INET, SOCK_DGRAM, IPPROTO_UDP }, { AF_INET6, SOCK_DGRAM, IPPROTO_UDP },
	};

	for (size_t k = 0; k < UNIT_ARRAY_SIZE(kinds); k++) {
		int sk = socket(kinds[k][0], kinds[k][1], kinds[k][2]);

		if (sk < 0)
			UNIT_SKIP("socket family %d: %s", kinds[k][0], strerror(errno));
		for (size_t i = 0; i < inetopt_count; i++) {
			char buf[INETOPT_MAX_BYTES];
			socklen_t len = sizeof(buf);

			if (!inetopt_applies(&inetopt_table[i], kinds[k][0], kinds[k][2]))
				continue;
			if (getsockopt(sk, inetopt_table[i].level, inetopt_table[i].opt, buf, &len) < 0)
				CHECK_STR(inetopt_table[i].name, "readable");
		}
		close(sk);
	}
}

static const struct unit_case cases[] = {
	UNIT_CASE(inetopt_names_unique_and_found),
	UNIT_CASE(inetopt_applies_by_family_and_protocol),
	UNIT_CASE(inetopt_tos_before_priority),
	UNIT_CASE(inetopt_live_readable),
};
UNIT_MAIN(cases)
