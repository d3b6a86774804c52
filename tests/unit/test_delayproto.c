/* test_delayproto: lib/delayproto.c, the lines amber-mountd, amber-stubfs
 * and 'amber mount-delayed' talk in. */
#include "lib/delayproto.h"
#include "lib/exitcodes.h"
#include "tests/unit/unit.h"

/* A message of several lines comes back line by line, fields and all,
 * empty ones included. */
static void dp_round_trip(void)
{
	char buf[512];
	size_t len = 0, pos = 0;
	struct dp_line l;
	struct err e = { 0 };
	const char *mnt[] = { "/mnt/data", "/dev/loop3", "ext4", "" };
	const char *ok[] = { "2" };

	REQUIRE(dp_add(buf, sizeof(buf), &len, "mount", mnt, 4, &e) == 0);
	REQUIRE(dp_add(buf, sizeof(buf), &len, "list", NULL, 0, &e) == 0);
	REQUIRE(dp_add(buf, sizeof(buf), &len, "ok", ok, 1, &e) == 0);
	CHECK_STR(buf, "mount\t/mnt/data\t/dev/loop3\text4\t\nlist\nok\t2\n");
	CHECK_INT(dp_next(buf, len, &pos, &l, &e), 1);
	CHECK_STR(l.verb, "mount");
	CHECK_INT(l.nr, 4);
	CHECK_STR(l.f[0], "/mnt/data");
	CHECK_STR(l.f[2], "ext4");
	CHECK_STR(l.f[3], "");
	CHECK_INT(dp_next(buf, len, &pos, &l, &e), 1);
	CHECK_STR(l.verb, "list");
	CHECK_INT(l.nr, 0);
	CHECK_INT(dp_next(buf, len, &pos, &l, &e), 1);
	CHECK_STR(l.verb, "ok");
	CHECK_STR(l.f[0], "2");
	CHECK_INT(dp_next(buf, len, &pos, &l, &e), 0);
}

/* A field with a tab or newline would forge another field or line. */
static void dp_refuses_separators(void)
{
	char buf[128];
	size_t len = 0;
	struct err e = { 0 };
	const char *tab[] = { "/mnt/a\tb" }, *nl[] = { "/mnt/a\nrun\t1" };

	CHECK(dp_add(buf, sizeof(buf), &len, "mount", tab, 1, &e) < 0);
	CHECK_INT(e.exit_code, EXIT_USAGE);
	CHECK(dp_add(buf, sizeof(buf), &len, "mount", nl, 1, &e) < 0);
	CHECK(dp_add(buf, sizeof(buf), &len, "a\tb", NULL, 0, &e) < 0);
	CHECK(dp_add(buf, sizeof(buf), &len, "", NULL, 0, &e) < 0);
	CHECK_INT(len, 0);
}

/* A message that does not fit is refused whole, the buffer unchanged. */
static void dp_refuses_overflow(void)
{
	char buf[16];
	size_t len = 0;
	struct err e = { 0 };
	const char *f[] = { "/a/rather/long/mountpoint" };

	CHECK(dp_add(buf, sizeof(buf), &len, "mount", f, 1, &e) < 0);
	CHECK_INT(len, 0);
	CHECK(dp_add(buf, sizeof(buf), &len, "list", NULL, 0, &e) == 0);
	CHECK_INT(len, 5);
}

/* What a peer sends is checked: a line cut short, an empty verb, a NUL,
 * too many fields are protocol errors, never read past. */
static void dp_refuses_bad_input(void)
{
	struct err e = { 0 };
	struct dp_line l;
	size_t pos;
	char cut[] = "list", empty[] = "\tx\n", nul[] = "li\0st\n", many[DP_MAX_FIELDS * 2 + 8];

	pos = 0;
	CHECK(dp_next(cut, strlen(cut), &pos, &l, &e) < 0);
	CHECK_INT(e.exit_code, EXIT_PROTOCOL);
	pos = 0;
	CHECK(dp_next(empty, strlen(empty), &pos, &l, &e) < 0);
	pos = 0;
	CHECK(dp_next(nul, sizeof(nul) - 1, &pos, &l, &e) < 0);
	strcpy(many, "v");
	for (int i = 0; i <= DP_MAX_FIELDS; i++)
		strcat(many, "\tx");
	strcat(many, "\n");
	pos = 0;
	CHECK(dp_next(many, strlen(many), &pos, &l, &e) < 0);
}

static void dp_socket_name(void)
{
	char p[256];

	dp_sock_path(p, sizeof(p), "/img/restore.run");
	CHECK_STR(p, "/img/restore.run/mountd.sock");
}

static const struct unit_case cases[] = {
	UNIT_CASE(dp_round_trip),
	UNIT_CASE(dp_refuses_separators),
	UNIT_CASE(dp_refuses_overflow),
	UNIT_CASE(dp_refuses_bad_input),
	UNIT_CASE(dp_socket_name),
};

UNIT_MAIN(cases)
