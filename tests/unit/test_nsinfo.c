/* test_nsinfo: lib/nsinfo.c, the namespace link, /proc/sysvipc and
 * /proc/net/dev parsers, and reading this process's own namespaces.
 *
 * fixtures/sysvipc-{shm,sem,msg}.txt and net-dev*.txt were recorded on
 * Linux 6.18 x86-64 (see fixtures/capture.sh): two shared memory segments,
 * one semaphore set and one message queue made by ipcmk in a new IPC
 * namespace; a host with lo, ifb0, ifb1, eth0 and a new network namespace. */
#include <net/if.h>
#include <sched.h>
#include <sys/utsname.h>

#include "lib/nsinfo.h"
#include "tests/unit/fixture.h"
#include "tests/unit/unit.h"

static void nsinfo_links(void)
{
	static const struct { const char *name, *link, *kind; uint64_t want; } cases[] = {
		{ "uts", "uts:[4026531838]", "uts", 4026531838ULL },
		{ "time", "time:[4026531834]", "time", 4026531834ULL },
		{ "wrong kind", "ipc:[4026531839]", "uts", 0 },
		{ "prefix of a kind", "utsx:[1]", "uts", 0 },
		{ "no bracket", "uts:4026531838", "uts", 0 },
		{ "no number", "uts:[]", "uts", 0 },
		{ "trailing junk", "uts:[12]x", "uts", 0 },
		{ "unterminated", "uts:[12", "uts", 0 },
	};

	for (size_t i = 0; i < UNIT_ARRAY_SIZE(cases); i++) {
		uint64_t got = nsinfo_parse_link(cases[i].link, cases[i].kind);

		if (got != cases[i].want)
			unit_fail(__FILE__, __LINE__, "%s: '%s' gave %" PRIu64 ", want %" PRIu64, cases[i].name, cases[i].link,
				  got, cases[i].want);
	}
}

static void nsinfo_sysvipc_fixtures(void)
{
	static const struct { const char *file, *kind; int n; long long key0, id0; } cases[] = {
		{ "sysvipc-shm.txt", "shm", 2, 2065390246LL, 0 },
		{ "sysvipc-sem.txt", "sem", 1, 2025606391LL, 0 },
		{ "sysvipc-msg.txt", "msg", 1, 1059330808LL, 0 },
	};

	for (size_t i = 0; i < UNIT_ARRAY_SIZE(cases); i++) {
		char fixture[64], *text;
		struct nsinfo_ipc_obj objs[4];
		struct err e = { 0 };

		snprintf(fixture, sizeof(fixture), "%s", cases[i].file);
		REQUIRE((text = unit_fixture(fixture)));
		CHECK_INT(nsinfo_parse_sysvipc(text, cases[i].kind, objs, 4, &e), cases[i].n);
		CHECK_STR(objs[0].kind, cases[i].kind);
		CHECK(objs[0].key == cases[i].key0);
		CHECK(objs[0].id == cases[i].id0);
		if (cases[i].n > 1) {
			CHECK(objs[1].key == 1787664145LL);
			CHECK(objs[1].id == 1);
		}
		/* Counted beyond max, filled up to it. */
		CHECK_INT(nsinfo_parse_sysvipc(text, cases[i].kind, objs, 0, &e), cases[i].n);
		free(text);
	}
}

static void nsinfo_sysvipc_edges(void)
{
	static const struct { const char *name, *text; int want; } cases[] = {
		{ "header only", "       key      shmid perms\n", 0 },
		{ "empty", "", 0 },
		{ "no newline at the end", "key shmid\n 5 7 644", 1 },
		{ "IPC_PRIVATE", "key shmid\n         0      32769   600\n", 1 },
		{ "negative key", "key shmid\n-1515870811  3  600\n", 1 },
		{ "garbage line", "key shmid\nnot a number\n", -EINVAL },
	};

	for (size_t i = 0; i < UNIT_ARRAY_SIZE(cases); i++) {
		struct nsinfo_ipc_obj objs[2];
		struct err e = { 0 };
		int got = nsinfo_parse_sysvipc(cases[i].text, "shm", objs, 2, &e);

		if (got != cases[i].want)
			unit_fail(__FILE__, __LINE__, "%s: got %d, want %d (%s)", cases[i].name, got, cases[i].want, e.msg);
		if (got == -EINVAL && !strstr(e.msg, "/proc/sysvipc/shm"))
			unit_fail(__FILE__, __LINE__, "%s: the message does not name the file: %s", cases[i].name, e.msg);
	}
}

static void nsinfo_net_dev_fixtures(void)
{
	static const struct { const char *file; int n; const char *names[4]; } cases[] = {
		{ "net-dev.txt", 4, { "lo", "ifb0", "ifb1", "eth0" } },
		{ "net-dev-lo.txt", 1, { "lo" } },
	};

	for (size_t i = 0; i < UNIT_ARRAY_SIZE(cases); i++) {
		struct nsinfo_link links[4];
		struct err e = { 0 };
		char *text;

		REQUIRE((text = unit_fixture(cases[i].file)));
		CHECK_INT(nsinfo_parse_net_dev(text, links, 4, &e), cases[i].n);
		for (int k = 0; k < cases[i].n; k++)
			CHECK_STR(links[k].name, cases[i].names[k]);
		free(text);
	}
}

static void nsinfo_net_dev_malformed(void)
{
	struct nsinfo_link links[1];
	struct err e = { 0 };

	CHECK_INT(nsinfo_parse_net_dev("h1\nh2\n", links, 1, &e), 0);
	CHECK_INT(nsinfo_parse_net_dev("h1\nh2\n  lo 1 2 3\n", links, 1, &e), -EINVAL);
	CHECK_INT(nsinfo_parse_net_dev("h1\nh2\n  a: 1\n  b: 2\n", links, 1, &e), 2);
	CHECK_STR(links[0].name, "a");
}

/* This process's own namespaces, read from inside through a child (lo's
 * flags from a socket made there). */
static void nsinfo_read_self(void)
{
	struct nsinfo_uts u;
	struct utsname me;
	struct err e = { 0 };
	uint64_t ino = 0;
	struct nsinfo_ipc_obj objs[1];
	unsigned flags = 0;

	CHECK_INT(nsinfo_ns_ino(0, "uts", &ino, &e), 0);
	CHECK(ino != 0);
	CHECK_INT(nsinfo_ns_ino(getpid(), "ipc", &ino, &e), 0);
	CHECK(ino != 0);
	CHECK(nsinfo_ns_ino(0, "nosuchkind", &ino, &e) == -ENOENT);
	if (geteuid() != 0)
		UNIT_SKIP("reading from inside a namespace needs CAP_SYS_ADMIN");
	REQUIRE(uname(&me) == 0);
	CHECK_INT(nsinfo_read_uts(getpid(), &u, &e), 0);
	CHECK_STR(u.hostname, me.nodename);
	CHECK_STR(u.domainname, me.domainname);
	CHECK(nsinfo_read_ipc(getpid(), objs, 1, &e) >= 0);
	CHECK_INT(nsinfo_read_link_flags(getpid(), "lo", &flags, &e), 0);
	CHECK(flags & IFF_LOOPBACK);
	CHECK(nsinfo_read_link_flags(getpid(), "amber-nosuchif", &flags, &e) < 0);
}

static const struct unit_case cases[] = {
	UNIT_CASE(nsinfo_links),
	UNIT_CASE(nsinfo_sysvipc_fixtures),
	UNIT_CASE(nsinfo_sysvipc_edges),
	UNIT_CASE(nsinfo_net_dev_fixtures),
	UNIT_CASE(nsinfo_net_dev_malformed),
	UNIT_CASE(nsinfo_read_self),
};
UNIT_MAIN(cases)
