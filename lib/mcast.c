/* lib/mcast.c: see mcast.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/cleanup.h"
#include "lib/exitcodes.h"
#include "lib/grow.h"
#include "lib/mcast.h"
#include "lib/proc.h"

/* One hex digit's value, or -1. */
static int mcast_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int mcast_add(struct mcast_group **groups, int *nr, const struct mcast_group *g, struct err *e)
{
	if (grow_one(groups, *nr) < 0)
		return err_errno(e, "list the multicast groups");
	(*groups)[(*nr)++] = *g;
	return 0;
}

/* igmp: a device line "IDX\tNAME      :  COUNT QUERIER" starts a block of
 * group lines "\t\t\t\tGROUP USERS TIMER REPORTER", GROUP the address's
 * four bytes in memory order, as one hex number. */
static int mcast_parse_v4(const char *text, struct mcast_group **groups, int *nr, struct err *e)
{
	struct mcast_group dev = { .family = AF_INET };
	bool have_dev = false;
	int lineno = 0;

	for (const char *p = text; *p; lineno++) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char line[256];

		snprintf(line, sizeof(line), "%.*s", (int)(len < sizeof(line) ? len : sizeof(line) - 1), p);
		p += len + (end ? 1 : 0);
		if (lineno == 0 || !line[0])
			continue;	/* the heading */
		if (line[0] != '\t') {
			unsigned idx;
			char name[IF_NAMESIZE + 1];

			if (sscanf(line, "%u %16[^ \t:]", &idx, name) != 2)
				return err_input(e, "/proc/net/igmp line %d is neither a device nor a group: '%s'", lineno + 1, line);
			dev.ifindex = idx;
			snprintf(dev.ifname, sizeof(dev.ifname), "%s", name);
			have_dev = true;
		} else {
			char *q = line, *hend;
			unsigned long v;
			uint32_t be;

			while (*q == '\t' || *q == ' ')
				q++;
			v = strtoul(q, &hend, 16);
			if (!have_dev || hend - q != 8 || v > 0xffffffffUL)
				return err_input(e, "/proc/net/igmp line %d is not a group of a device: '%s'", lineno + 1, line);
			/* Printed as the raw __be32 read as a number: its bytes, in memory order, are the address. */
			be = (uint32_t)v;
			memset(dev.addr, 0, sizeof(dev.addr));
			memcpy(dev.addr, &be, 4);
			if (mcast_add(groups, nr, &dev, e) < 0)
				return -1;
		}
	}
	return 0;
}

/* igmp6: "IDX NAME GROUP USERS FLAGS TIMER", GROUP 32 hex digits. */
static int mcast_parse_v6(const char *text, struct mcast_group **groups, int *nr, struct err *e)
{
	int lineno = 0;

	for (const char *p = text; *p; lineno++) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char line[256], hex[40], name[IF_NAMESIZE + 1];
		struct mcast_group g = { .family = AF_INET6 };
		unsigned idx;

		snprintf(line, sizeof(line), "%.*s", (int)(len < sizeof(line) ? len : sizeof(line) - 1), p);
		p += len + (end ? 1 : 0);
		if (!line[0])
			continue;
		if (sscanf(line, "%u %16s %39s", &idx, name, hex) != 3 || strlen(hex) != 32)
			return err_input(e, "/proc/net/igmp6 line %d is not 'INDEX DEVICE GROUP ...': '%s'", lineno + 1, line);
		for (int i = 0; i < 16; i++) {
			int hi = mcast_hex(hex[2 * i]), lo = mcast_hex(hex[2 * i + 1]);

			if (hi < 0 || lo < 0)
				return err_input(e, "/proc/net/igmp6 line %d: '%s' is not a hex address", lineno + 1, hex);
			g.addr[i] = hi << 4 | lo;
		}
		g.ifindex = idx;
		snprintf(g.ifname, sizeof(g.ifname), "%s", name);
		if (mcast_add(groups, nr, &g, e) < 0)
			return -1;
	}
	return 0;
}

int mcast_parse(int family, const char *text, struct mcast_group **groups, int *nr, struct err *e)
{
	return family == AF_INET ? mcast_parse_v4(text, groups, nr, e) : mcast_parse_v6(text, groups, nr, e);
}

int mcast_read_groups(pid_t pid, struct mcast_group **groups, int *nr, struct err *e)
{
	static const struct {
		int family;
		const char *file;
	} files[] = { { AF_INET, "igmp" }, { AF_INET6, "igmp6" } };

	*groups = NULL;
	*nr = 0;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		_cleanup_free_ char *text = NULL;
		char path[64];
		struct err ignored;

		snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, files[i].file);
		/* A kernel without IPv6 (or without multicast) lists nothing. */
		if (proc_read_file(path, &text, NULL, &ignored) < 0)
			continue;
		if (mcast_parse(files[i].family, text, groups, nr, e) < 0)
			return err_wrap(e, "%s", path);
	}
	return 0;
}

const char *mcast_name(const struct mcast_group *g, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(g->family, g->addr, a, sizeof(a));
	snprintf(buf, size, "%s on %s", a, g->ifname);
	return buf;
}

/* Fills ss with family's address addr (port 0). */
static void mcast_sockaddr(int family, const uint8_t *addr, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, addr, 4);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, addr, 16);
	}
}

/* The level for a group of this family: an IPv6 socket answers for its
 * IPv4 groups at SOL_IP too. */
static int mcast_level(int family)
{
	return family == AF_INET ? SOL_IP : SOL_IPV6;
}

int mcast_probe(int sk, int sk_family, const struct mcast_group *g, struct mcast_membership *m, struct err *e)
{
	size_t size = GROUP_FILTER_SIZE(MCAST_MAX_SOURCES);
	_cleanup_free_ struct group_filter *gf = calloc(1, size);
	socklen_t len = size;
	char name[80];

	if (!gf)
		return err_errno(e, "ask about multicast group %s", mcast_name(g, name, sizeof(name)));
	/* An IPv4 socket cannot have joined an IPv6 group. */
	if (sk_family == AF_INET && g->family == AF_INET6)
		return 0;
	gf->gf_interface = g->ifindex;
	gf->gf_numsrc = MCAST_MAX_SOURCES;
	mcast_sockaddr(g->family, g->addr, &gf->gf_group);
	if (getsockopt(sk, mcast_level(g->family), MCAST_MSFILTER, gf, &len) < 0) {
		/* Not joined there (the kernel's answer for "no such membership"). */
		if (errno == EADDRNOTAVAIL || errno == EINVAL || errno == ENODEV)
			return 0;
		return err_errno(e, "ask a socket whether it joined multicast group %s", mcast_name(g, name, sizeof(name)));
	}
	if (gf->gf_numsrc > MCAST_MAX_SOURCES)
		return err_input(e, "the socket's filter for multicast group %s has %u sources, more than the %d amber "
				 "saves", mcast_name(g, name, sizeof(name)), gf->gf_numsrc, MCAST_MAX_SOURCES);
	memset(m, 0, sizeof(*m));
	m->g = *g;
	m->fmode = gf->gf_fmode;
	m->nr_sources = gf->gf_numsrc;
	for (uint32_t i = 0; i < gf->gf_numsrc; i++) {
		const struct sockaddr_storage *s = &gf->gf_slist[i];

		if (g->family == AF_INET)
			memcpy(m->sources[i], &((const struct sockaddr_in *)s)->sin_addr, 4);
		else
			memcpy(m->sources[i], &((const struct sockaddr_in6 *)s)->sin6_addr, 16);
	}
	return 1;
}

int mcast_join(int sk, const struct mcast_membership *m, uint32_t ifindex, struct err *e)
{
	int level = mcast_level(m->g.family);
	char name[80];

	mcast_name(&m->g, name, sizeof(name));
	if (m->fmode == MCAST_INCLUDE) {
		/* An include filter is the list of sources joined one by one. */
		for (uint32_t i = 0; i < m->nr_sources; i++) {
			struct group_source_req r = { .gsr_interface = ifindex };

			mcast_sockaddr(m->g.family, m->g.addr, &r.gsr_group);
			mcast_sockaddr(m->g.family, m->sources[i], &r.gsr_source);
			if (setsockopt(sk, level, MCAST_JOIN_SOURCE_GROUP, &r, sizeof(r)) < 0)
				return err_errno(e, "join multicast group %s again, source %u", name, i);
		}
		return 0;
	}
	{
		struct group_req r = { .gr_interface = ifindex };

		mcast_sockaddr(m->g.family, m->g.addr, &r.gr_group);
		if (setsockopt(sk, level, MCAST_JOIN_GROUP, &r, sizeof(r)) < 0)
			return err_errno(e, "join multicast group %s again", name);
	}
	/* An exclude filter: the group, then each blocked source. */
	for (uint32_t i = 0; i < m->nr_sources; i++) {
		struct group_source_req r = { .gsr_interface = ifindex };

		mcast_sockaddr(m->g.family, m->g.addr, &r.gsr_group);
		mcast_sockaddr(m->g.family, m->sources[i], &r.gsr_source);
		if (setsockopt(sk, level, MCAST_BLOCK_SOURCE, &r, sizeof(r)) < 0)
			return err_errno(e, "block source %u of multicast group %s again", i, name);
	}
	return 0;
}
