/* test_sockdiag: lib/sockdiag.c, the sock_diag reply parser and its live
 * questions: one socket's state, peer, name and queues, a listener's
 * waiting connections (UNIX_DIAG_ICONS) and the listener of a waiting
 * client. Replies are built by hand the way the kernel lays them out
 * (unix_diag_msg, then netlink attributes), then malformed, then asked
 * of live sockets of this process. */
#include <linux/unix_diag.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "lib/sockdiag.h"
#include "tests/unit/unit.h"

/* A reply being built: a header, the message, attributes appended. */
struct sockdiag_test_msg {
	union {
		struct nlmsghdr h;
		char buf[4096];
	};
};

static void sockdiag_test_init(struct sockdiag_test_msg *m, uint32_t ino, int type, int state)
{
	struct unix_diag_msg *d;

	memset(m, 0, sizeof(*m));
	m->h.nlmsg_len = NLMSG_LENGTH(sizeof(*d));
	m->h.nlmsg_type = 20;
	d = NLMSG_DATA(&m->h);
	d->udiag_family = AF_UNIX;
	d->udiag_type = type;
	d->udiag_state = state;
	d->udiag_ino = ino;
}

static void sockdiag_test_attr(struct sockdiag_test_msg *m, int type, const void *data, int len)
{
	struct nlattr *a = (struct nlattr *)(m->buf + NLMSG_ALIGN(m->h.nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	m->h.nlmsg_len = NLMSG_ALIGN(m->h.nlmsg_len) + NLA_ALIGN(a->nla_len);
}

static void sockdiag_parse_every_attribute(void)
{
	struct sockdiag_test_msg m;
	struct sockdiag_unix u;
	uint32_t peer = 77, icons[3] = { 11, 12, 13 };
	struct unix_diag_rqlen rq = { 3, 4 };
	struct unix_diag_vfs vfs = { .udiag_vfs_ino = 1234, .udiag_vfs_dev = 9 };
	uint8_t sd = 2;

	sockdiag_test_init(&m, 42, SOCK_STREAM, 10);
	sockdiag_test_attr(&m, UNIX_DIAG_NAME, "\0abstract", 9);
	sockdiag_test_attr(&m, UNIX_DIAG_PEER, &peer, 4);
	sockdiag_test_attr(&m, UNIX_DIAG_RQLEN, &rq, sizeof(rq));
	sockdiag_test_attr(&m, UNIX_DIAG_VFS, &vfs, sizeof(vfs));
	sockdiag_test_attr(&m, UNIX_DIAG_ICONS, icons, sizeof(icons));
	sockdiag_test_attr(&m, UNIX_DIAG_SHUTDOWN, &sd, 1);
	REQUIRE(sockdiag_unix_parse(&m.h, &u) == 0);
	CHECK_INT(u.ino, 42);
	CHECK_INT(u.type, SOCK_STREAM);
	CHECK_INT(u.state, 10);
	CHECK_INT(u.peer, 77);
	CHECK(u.named);
	CHECK_INT(u.name_len, 9);
	CHECK(!memcmp(u.name, "\0abstract", 9));
	CHECK_INT(u.rqueue, 3);
	CHECK_INT(u.wqueue, 4);
	CHECK_INT(u.vfs_ino, 1234);
	CHECK_INT(u.shutdown, 2);
	CHECK_INT(u.nr_icons, 3);
	CHECK(!u.icons_truncated);
	CHECK_INT(u.icons[0], 11);
	CHECK_INT(u.icons[2], 13);
}

/* No attributes: unnamed, no peer, no waiting connections. */
static void sockdiag_parse_bare(void)
{
	struct sockdiag_test_msg m;
	struct sockdiag_unix u;

	sockdiag_test_init(&m, 5, SOCK_DGRAM, 7);
	REQUIRE(sockdiag_unix_parse(&m.h, &u) == 0);
	CHECK_INT(u.ino, 5);
	CHECK(!u.named);
	CHECK_INT(u.peer, 0);
	CHECK_INT(u.nr_icons, 0);
}

/* More waiting connections than kept: truncated and said so. */
static void sockdiag_parse_many_icons(void)
{
	struct sockdiag_test_msg m;
	struct sockdiag_unix u;
	uint32_t icons[SOCKDIAG_MAX_ICONS + 5];

	for (size_t i = 0; i < UNIT_ARRAY_SIZE(icons); i++)
		icons[i] = 100 + i;
	sockdiag_test_init(&m, 1, SOCK_STREAM, 10);
	sockdiag_test_attr(&m, UNIX_DIAG_ICONS, icons, sizeof(icons));
	REQUIRE(sockdiag_unix_parse(&m.h, &u) == 0);
	CHECK_INT(u.nr_icons, SOCKDIAG_MAX_ICONS);
	CHECK(u.icons_truncated);
	CHECK_INT(u.icons[SOCKDIAG_MAX_ICONS - 1], 100 + SOCKDIAG_MAX_ICONS - 1);
}

/* Cut short or lying about lengths: refused, never read past the end. */
static void sockdiag_parse_malformed(void)
{
	struct sockdiag_test_msg m;
	struct sockdiag_unix u;
	uint8_t one = 1;

	sockdiag_test_init(&m, 1, SOCK_STREAM, 1);
	m.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct unix_diag_msg) - 1);
	CHECK_INT(sockdiag_unix_parse(&m.h, &u), -1);
	/* A peer attribute too short for its u32 is ignored. */
	sockdiag_test_init(&m, 1, SOCK_STREAM, 1);
	sockdiag_test_attr(&m, UNIX_DIAG_PEER, &one, 1);
	REQUIRE(sockdiag_unix_parse(&m.h, &u) == 0);
	CHECK_INT(u.peer, 0);
	/* An attribute running past the message is left out, never read. */
	sockdiag_test_init(&m, 1, SOCK_STREAM, 1);
	sockdiag_test_attr(&m, UNIX_DIAG_NAME, "abc", 3);
	((struct nlattr *)(m.buf + NLMSG_LENGTH(sizeof(struct unix_diag_msg))))->nla_len = 200;
	REQUIRE(sockdiag_unix_parse(&m.h, &u) == 0);
	CHECK(!u.named);
}

static uint32_t sockdiag_test_ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

/* A listener with two clients waiting (the second sent data), asked live. */
static void sockdiag_live_backlog(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len = offsetof(struct sockaddr_un, sun_path) + 1 +
			snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "amber-test-sockdiag-%d", (int)getpid());
	int l = socket(AF_UNIX, SOCK_STREAM, 0), c1 = socket(AF_UNIX, SOCK_STREAM, 0), c2 = socket(AF_UNIX, SOCK_STREAM, 0);
	int other = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockdiag_unix u;
	struct err e = { 0 };
	uint32_t found = 1;

	REQUIRE(l >= 0 && c1 >= 0 && c2 >= 0 && other >= 0);
	REQUIRE(bind(l, (struct sockaddr *)&sa, len) == 0 && listen(l, 4) == 0);
	REQUIRE(connect(c1, (struct sockaddr *)&sa, len) == 0 && connect(c2, (struct sockaddr *)&sa, len) == 0);
	REQUIRE(send(c2, "data", 4, 0) == 4);
	if (sockdiag_unix_get(sockdiag_test_ino(l), &u, &e) < 0)
		UNIT_SKIP("sock_diag: %s", e.msg);
	CHECK_INT(u.state, 10);
	CHECK_INT(u.rqueue, 2);
	CHECK_INT(u.wqueue, 4);
	CHECK_INT(u.nr_icons, 2);
	CHECK_INT(u.icons[0], sockdiag_test_ino(c1));
	CHECK_INT(u.icons[1], sockdiag_test_ino(c2));
	CHECK_INT(u.name_len, len - offsetof(struct sockaddr_un, sun_path));
	REQUIRE(sockdiag_unix_get(sockdiag_test_ino(c1), &u, &e) == 0);
	CHECK_INT(u.state, 1);
	CHECK_INT(u.peer, 0);	/* the server end has no inode until accepted */
	CHECK_INT(u.wqueue, 0);
	REQUIRE(sockdiag_unix_get(sockdiag_test_ino(c2), &u, &e) == 0);
	CHECK(u.wqueue > 0);	/* what it sent waits at the server end */
	CHECK_INT(sockdiag_unix_listener_of(sockdiag_test_ino(c2), &found, &e), 0);
	CHECK_INT(found, sockdiag_test_ino(l));
	CHECK_INT(sockdiag_unix_listener_of(sockdiag_test_ino(other), &found, &e), 0);
	CHECK_INT(found, 0);
}

/* A stream end whose peer closed: no peer, shut both ways (and, on this
 * kernel, still "established": dump-files tells it from a waiting client
 * by its shutdown and by no listener having it). */
static void sockdiag_live_closed_peer(void)
{
	int sv[2];
	struct sockdiag_unix u;
	struct err e = { 0 };

	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	REQUIRE(send(sv[1], "bye", 3, 0) == 3);
	close(sv[1]);
	if (sockdiag_unix_get(sockdiag_test_ino(sv[0]), &u, &e) < 0)
		UNIT_SKIP("sock_diag: %s", e.msg);
	CHECK_INT(u.peer, 0);
	CHECK_INT(u.shutdown, 3);
	CHECK_INT(u.rqueue, 3);
}

static const struct unit_case cases[] = {
	UNIT_CASE(sockdiag_parse_every_attribute),
	UNIT_CASE(sockdiag_parse_bare),
	UNIT_CASE(sockdiag_parse_many_icons),
	UNIT_CASE(sockdiag_parse_malformed),
	UNIT_CASE(sockdiag_live_backlog),
	UNIT_CASE(sockdiag_live_closed_peer),
};
UNIT_MAIN(cases)
