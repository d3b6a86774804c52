/* Unit tests for images/netns.c: the veth keys of --external, at dump
 * (veth[IF]) and at restore (veth[IF]:OUTSIDE), and their refusals. */
#include "images/netns.h"
#include "tests/unit/unit.h"

/* Parses s and checks the names it gives. */
static void check_ok(const char *s, bool outside, const char *in, const char *out)
{
	struct netns_ext x;
	struct err e = { 0 };

	CHECK_INT(netns_ext_parse(s, outside, &x, &e), 1);
	CHECK_STR(x.inside, in);
	CHECK_STR(x.outside, out);
}

/* Parses s and checks that it is refused with a message containing want. */
static void check_refused(const char *s, bool outside, const char *want)
{
	struct netns_ext x;
	struct err e = { 0 };

	CHECK(netns_ext_parse(s, outside, &x, &e) < 0);
	CHECK_CONTAINS(e.msg, want);
}

static void netns_ext_dump(void)
{
	check_ok("veth[eth0]", false, "eth0", "");
	check_ok("veth[a]", false, "a", "");
	check_refused("veth[eth0]:out", false, "at dump, want veth[IFNAME] alone");
	check_refused("veth[]", false, "want veth[IFNAME]");
	check_refused("veth[eth0", false, "want veth[IFNAME]");
	check_refused("veth[0123456789abcdef]", false, "1 to 15 characters");
}

static void netns_ext_restore(void)
{
	check_ok("veth[eth0]:vethA1", true, "eth0", "vethA1");
	check_refused("veth[eth0]", true, "want veth[IFNAME]:OUTSIDE_IFNAME");
	check_refused("veth[eth0]:", true, "want veth[IFNAME]:OUTSIDE_IFNAME");
	check_refused("veth[eth0]:0123456789abcdef", true, "want veth[IFNAME]:OUTSIDE_IFNAME");
	check_refused("veth[eth0]:a/b", true, "want veth[IFNAME]:OUTSIDE_IFNAME");
	check_refused("veth[eth0]:out@br0", true, "bridge (@BRIDGE) is not supported");
}

/* Another kind of key is not a veth one: 0, for the caller to try others. */
static void netns_ext_other_kinds(void)
{
	struct netns_ext x;
	struct err e = { 0 };

	CHECK_INT(netns_ext_parse("mnt[/a]:b", true, &x, &e), 0);
	CHECK_INT(netns_ext_parse("unix[5]", false, &x, &e), 0);
	CHECK_INT(netns_ext_parse("vet[a]", false, &x, &e), 0);
}

static const struct unit_case cases[] = {
	UNIT_CASE(netns_ext_dump),
	UNIT_CASE(netns_ext_restore),
	UNIT_CASE(netns_ext_other_kinds),
};
UNIT_MAIN(cases)
