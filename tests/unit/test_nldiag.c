/* test_nldiag: lib/nldiag.c: a netlink_diag reply built here is parsed
 * (port ids, the flags that say a dump is running, the bytes waiting),
 * a short or foreign one refused, and a live socket is found by inode. */
#include <linux/netlink_diag.h>
#include <linux/sock_diag.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/nldiag.h"
#include "tests/unit/unit.h"

struct reply {
	struct nlmsghdr h;
	struct netlink_diag_msg m;
	struct nlattr fa;
	uint32_t flags;
	struct nlattr ma;
	uint32_t mem[SK_MEMINFO_VARS];
};

static void fill(struct reply *r)
{
	memset(r, 0, sizeof(*r));
	r->h.nlmsg_len = sizeof(*r);
	r->h.nlmsg_type = 20;
	r->m.ndiag_family = AF_NETLINK;
	r->m.ndiag_type = SOCK_RAW;
	r->m.ndiag_protocol = 0;
	r->m.ndiag_portid = 4242;
	r->m.ndiag_dst_portid = 7;
	r->m.ndiag_ino = 99;
	r->fa.nla_len = sizeof(r->fa) + 4;
	r->fa.nla_type = NETLINK_DIAG_FLAGS;
	r->flags = NDIAG_FLAG_CB_RUNNING | NDIAG_FLAG_PKTINFO;
	r->ma.nla_len = sizeof(r->ma) + sizeof(r->mem);
	r->ma.nla_type = NETLINK_DIAG_MEMINFO;
	r->mem[SK_MEMINFO_RMEM_ALLOC] = 1234;
}

static void nldiag_parses_reply(void)
{
	struct reply r;
	struct nldiag_sock s;

	fill(&r);
	REQUIRE(nldiag_parse(&r.h, &s) == 0);
	CHECK_INT(s.ino, 99);
	CHECK_INT(s.portid, 4242);
	CHECK_INT(s.dst_portid, 7);
	CHECK_INT(s.type, SOCK_RAW);
	CHECK(s.flags & NDIAG_FLAG_CB_RUNNING);
	CHECK_INT(s.rmem, 1234);
}

static void nldiag_refuses_bad_replies(void)
{
	struct reply r;
	struct nldiag_sock s;

	fill(&r);
	r.h.nlmsg_len = NLMSG_LENGTH(8);
	CHECK_INT(nldiag_parse(&r.h, &s), -1);
	fill(&r);
	r.m.ndiag_family = AF_INET;
	CHECK_INT(nldiag_parse(&r.h, &s), -1);
}

static void nldiag_finds_live_socket(void)
{
	int sk = socket(AF_NETLINK, SOCK_RAW, 0);
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct nldiag_sock s;
	struct err e = { 0 };
	struct stat st;
	int ret;

	REQUIRE(sk >= 0 && fstat(sk, &st) == 0);
	REQUIRE(bind(sk, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	ret = nldiag_find(st.st_ino, &s, &e);
	if (ret < 0)
		UNIT_SKIP("no netlink_diag here: %s", e.msg);
	CHECK_INT(ret, 1);
	CHECK_INT(s.portid, (uint32_t)getpid());
	CHECK_INT(s.rmem, 0);
	close(sk);
}

static const struct unit_case cases[] = {
	UNIT_CASE(nldiag_parses_reply),
	UNIT_CASE(nldiag_refuses_bad_replies),
	UNIT_CASE(nldiag_finds_live_socket),
};

UNIT_MAIN(cases)
