/* Unit tests for lib/external.c: the keys of --external and --inherit-fd,
 * their number bases, aliases, canonical spelling and refusals. */
#include "lib/external.h"
#include "tests/unit/unit.h"

/* Parses s (with paths allowed) and checks its canonical spelling. */
static void check_canon(const char *s, const char *want)
{
	struct ext_key k;
	struct err e = { 0 };
	char buf[EXT_KEY_MAX + 4096];

	CHECK_INT(ext_parse(s, true, &k, &e), 0);
	CHECK_STR(ext_format(&k, buf, sizeof(buf)), want);
}

/* Parses s and checks that it is refused with a message containing want. */
static void check_refused(const char *s, bool allow_path, const char *want)
{
	struct ext_key k;
	struct err e = { 0 };

	CHECK(ext_parse(s, allow_path, &k, &e) < 0);
	CHECK_CONTAINS(e.msg, want);
}

static void external_canonical_forms(void)
{
	check_canon("file[27:11042850]", "file[27:11042850]");
	check_canon("file[0x1b:0xa88022]", "file[27:11042850]");
	check_canon("file[0X1B:11042850]", "file[27:11042850]");
	check_canon("tty[0x8801:0x1a]", "tty[0x8801:0x1a]");
	check_canon("tty[34817:26]", "tty[0x8801:0x1a]");
	check_canon("unix[123]", "socket:[123]");
	check_canon("socket:[123]", "socket:[123]");
	check_canon("pipe[99]", "pipe:[99]");
	check_canon("pipe:[0x63]", "pipe:[99]");
}

static void external_paths(void)
{
	check_canon("/var/log/x", "/var/log/x");
	check_canon("var/log/x", "/var/log/x");
	check_refused("/var/log/x", false, "is not a key");
	check_refused("", true, "is not a key");
}

/* CRIU prints file[] in hex without a prefix: refused with the 0x spelling. */
static void external_hex_without_prefix(void)
{
	check_refused("file[1f:20]", false, "write it 0x1f");
	check_refused("tty[8801:1a]", false, "write it 0x1a");
	check_refused("pipe[abc]", false, "write it 0xabc");
}

static void external_malformed(void)
{
	check_refused("file[12]", false, "want two numbers");
	check_refused("file[1:2", false, "want ']'");
	check_refused("file[1:2]x", false, "want ']'");
	check_refused("file[:2]", false, "want a number");
	check_refused("file[1:-2]", false, "is not a number");
	check_refused("pipe[99999999999999999999]", false, "out of range");
	check_refused("pipe[123456789012345678901234567890123]", false, "want a number");
	check_refused("fifo[12]", true, "unknown kind of key");
	check_refused("mnt:[12]", true, "unknown kind of key");
	check_refused("socket:[0x]", false, "is not a number");
}

static void external_inherit(void)
{
	struct ext_key k;
	struct err e = { 0 };
	char buf[EXT_KEY_MAX + 4096];
	int fd = -1;

	CHECK_INT(ext_parse_inherit("fd[7]:file[27:0x10]", &fd, &k, &e), 0);
	CHECK_INT(fd, 7);
	CHECK_STR(ext_format(&k, buf, sizeof(buf)), "file[27:16]");
	CHECK_INT(ext_parse_inherit("fd[0]:pipe:[5]", &fd, &k, &e), 0);
	CHECK_INT(fd, 0);
	CHECK_INT(ext_parse_inherit("fd[3]:tmp/log", &fd, &k, &e), 0);
	CHECK_STR(ext_format(&k, buf, sizeof(buf)), "/tmp/log");
	CHECK(ext_parse_inherit("3:pipe:[5]", &fd, &k, &e) < 0);
	CHECK_CONTAINS(e.msg, "want fd[N]:KEY");
	CHECK(ext_parse_inherit("fd[3]pipe:[5]", &fd, &k, &e) < 0);
	CHECK(ext_parse_inherit("fd[3]:", &fd, &k, &e) < 0);
	CHECK(ext_parse_inherit("fd[99999999]:pipe:[5]", &fd, &k, &e) < 0);
	CHECK_CONTAINS(e.msg, "out of range");
}

static void external_equal(void)
{
	struct ext_key a, b;
	struct err e = { 0 };

	CHECK_INT(ext_parse("unix[5]", false, &a, &e), 0);
	CHECK_INT(ext_parse("socket:[0x5]", false, &b, &e), 0);
	CHECK(ext_equal(&a, &b));
	CHECK_INT(ext_parse("pipe[5]", false, &b, &e), 0);
	CHECK(!ext_equal(&a, &b));
	CHECK_INT(ext_parse("/a", true, &a, &e), 0);
	CHECK_INT(ext_parse("a", true, &b, &e), 0);
	CHECK(ext_equal(&a, &b));
}

static const struct unit_case cases[] = {
	UNIT_CASE(external_canonical_forms), UNIT_CASE(external_paths),	 UNIT_CASE(external_hex_without_prefix),
	UNIT_CASE(external_malformed),	     UNIT_CASE(external_inherit), UNIT_CASE(external_equal),
};
UNIT_MAIN(cases)
