/* netlock: see netlock.h. The table is made and removed with the nft
 * program (Debian's nftables package): one script, applied atomically. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver/netlock.h"
#include "lib/cleanup.h"
#include "lib/exitcodes.h"
#include "lib/grow.h"
#include "lib/inetdiag.h"
#include "lib/log.h"
#include "lib/proc.h"

int netlock_mode_parse(const char *s, enum netlock_mode *m)
{
	if (!strcmp(s, "nftables"))
		*m = NETLOCK_NFTABLES;
	else if (!strcmp(s, "skip"))
		*m = NETLOCK_SKIP;
	else
		return -1;
	return 0;
}

/* The socket inodes of a tree, sorted, for a binary search per socket. */
struct netlock_inos {
	uint32_t *ino;
	int nr;
	size_t cap;
	struct netlock *nl;
	bool oom;
};

static int netlock_ino_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Adds the socket inodes of pid's fds, then of its children's, depth first. */
static void netlock_walk(pid_t pid, struct netlock_inos *in, int depth)
{
	_cleanup_free_ int *fds = NULL;
	_cleanup_free_ pid_t *kids = NULL;
	int nfds = 0, nkids = 0;
	struct err ignored;

	if (depth > 4096)
		return;
	if (proc_list_fds(pid, &fds, &nfds, &ignored) == 0)
		for (int i = 0; i < nfds; i++) {
			char path[64], link[64];
			ssize_t n;

			snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fds[i]);
			if ((n = readlink(path, link, sizeof(link) - 1)) <= 0)
				continue;
			link[n] = 0;
			if (strncmp(link, "socket:[", 8))
				continue;
			if (grow_cap(&in->ino, &in->cap, (size_t)in->nr + 1) < 0) {
				in->oom = true;
				return;
			}
			in->ino[in->nr++] = strtoul(link + 8, NULL, 10);
		}
	/* Threads of one process share their children's list only per thread. */
	{
		_cleanup_free_ pid_t *tids = NULL;
		int ntids = 0;

		if (proc_list_threads(pid, &tids, &ntids, &ignored) < 0)
			return;
		for (int t = 0; t < ntids; t++) {
			free(kids);
			kids = NULL;
			nkids = 0;
			if (proc_read_children(pid, tids[t], &kids, &nkids, &ignored) < 0)
				continue;
			for (int k = 0; k < nkids; k++)
				netlock_walk(kids[k], in, depth + 1);
		}
	}
}

/* A v4-mapped IPv6 address (::ffff:a.b.c.d) goes on the wire as IPv4. */
static bool netlock_v4mapped(const uint8_t *a)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return !memcmp(a, prefix, sizeof(prefix));
}

static bool netlock_any(int family, const uint8_t *a)
{
	static const uint8_t zero[16];

	return !memcmp(a, zero, family == AF_INET ? 4 : 16);
}

static void netlock_on_sock(const struct inetdiag_sock *s, void *arg)
{
	struct netlock_inos *in = arg;
	struct netlock *nl = in->nl;
	struct netlock_conn *c;
	uint32_t key = s->ino;

	/* Only what the kernel would answer for: a listener, or a connection
	 * with a peer (not one closing with nobody left to answer to). */
	if (!s->ino || !bsearch(&key, in->ino, in->nr, sizeof(*in->ino), netlock_ino_cmp))
		return;
	if (s->state == 7 /* TCP_CLOSE */)
		return;
	if (grow_one(&nl->conns, nl->nr) < 0) {
		in->oom = true;
		return;
	}
	c = &nl->conns[nl->nr++];
	memset(c, 0, sizeof(*c));
	c->listen = s->state == 10 /* TCP_LISTEN */;
	c->family = s->family;
	c->sport = s->sport;
	c->dport = s->dport;
	if (s->family == AF_INET6 && netlock_v4mapped(s->src) && (c->listen || netlock_v4mapped(s->dst))) {
		c->family = AF_INET;
		memcpy(c->src, s->src + 12, 4);
		memcpy(c->dst, s->dst + 12, 4);
	} else {
		memcpy(c->src, s->src, 16);
		memcpy(c->dst, s->dst, 16);
	}
}

static bool netlock_own_netns(pid_t root)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", root);
	return stat(path, &a) == 0 && stat("/proc/self/ns/net", &b) == 0 && (a.st_ino != b.st_ino || a.st_dev != b.st_dev);
}

int netlock_collect(pid_t root, struct netlock *nl, struct err *e)
{
	struct netlock_inos in = { .nl = nl };
	int ret = 0;

	if (netlock_own_netns(root)) {
		pr_info("network lock: pid %d has a network namespace of its own, which goes with it: nothing to lock",
			root);
		return 0;
	}
	netlock_walk(root, &in, 0);
	if (!in.oom && in.nr) {
		qsort(in.ino, in.nr, sizeof(*in.ino), netlock_ino_cmp);
		ret = inetdiag_each(AF_INET, IPPROTO_TCP, netlock_on_sock, &in, e);
		if (ret == 0)
			ret = inetdiag_each(AF_INET6, IPPROTO_TCP, netlock_on_sock, &in, e);
	}
	free(in.ino);
	if (in.oom)
		return err_errno(e, "list the TCP sockets of pid %d's tree for the network lock", root);
	return ret;
}

/* Appends printf output to buf at *pos; false once it no longer fits. */
static bool __attribute__((format(printf, 4, 5))) netlock_put(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*pos >= len)
		return false;
	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, len - *pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *pos) {
		*pos = len;
		return false;
	}
	*pos += n;
	return true;
}

enum netlock_set { NL_IN, NL_OUT, NL_LADDR, NL_LPORT };

/* Whether conn c has an element in set 'set' of its family, and writes it. */
static bool netlock_elem(const struct netlock_conn *c, int family, enum netlock_set set, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];

	if (set == NL_LPORT) {
		if (!c->listen || !netlock_any(c->family, c->src))
			return false;
		snprintf(out, len, "%u", c->sport);
		return true;
	}
	if (c->family != family)
		return false;
	inet_ntop(family, c->src, a, sizeof(a));
	inet_ntop(family, c->dst, b, sizeof(b));
	switch (set) {
	case NL_LADDR:
		if (!c->listen || netlock_any(family, c->src))
			return false;
		snprintf(out, len, "%s . %u", a, c->sport);
		return true;
	case NL_IN:	/* peer to tree, as seen on input */
		if (c->listen)
			return false;
		snprintf(out, len, "%s . %u . %s . %u", b, c->dport, a, c->sport);
		return true;
	case NL_OUT:	/* tree to peer, as seen on output */
		if (c->listen)
			return false;
		snprintf(out, len, "%s . %u . %s . %u", a, c->sport, b, c->dport);
		return true;
	default:
		return false;
	}
}

/* Writes one named set with its elements; false if it has none (then
 * nothing is written: nft refuses an empty element list). */
static bool netlock_put_set(const struct netlock *nl, int family, enum netlock_set set, const char *name,
			    const char *type, char *buf, size_t len, size_t *pos)
{
	char el[160];
	int n = 0;

	for (int i = 0; i < nl->nr; i++) {
		if (!netlock_elem(&nl->conns[i], family, set, el, sizeof(el)))
			continue;
		/* A port listened on by two sockets (v4 and v6) is one element. */
		if (set == NL_LPORT) {
			bool dup = false;

			for (int j = 0; j < i && !dup; j++)
				dup = nl->conns[j].listen && nl->conns[j].sport == nl->conns[i].sport &&
				      netlock_any(nl->conns[j].family, nl->conns[j].src);
			if (dup)
				continue;
		}
		if (n++ == 0)
			netlock_put(buf, len, pos, "\tset %s {\n\t\ttype %s\n\t\telements = { %s", name, type, el);
		else
			netlock_put(buf, len, pos, ",\n\t\t\t%s", el);
	}
	if (n)
		netlock_put(buf, len, pos, " }\n\t}\n");
	return n > 0;
}

int netlock_script(const struct netlock *nl, char *buf, size_t len)
{
	static const char v4[] = "ipv4_addr . inet_service . ipv4_addr . inet_service";
	static const char v6[] = "ipv6_addr . inet_service . ipv6_addr . inet_service";
	size_t pos = 0;
	bool in4, out4, in6, out6, l4, l6, lp;

	netlock_put(buf, len, &pos, "table inet %s {\n", nl->table);
	in4 = netlock_put_set(nl, AF_INET, NL_IN, "in4", v4, buf, len, &pos);
	out4 = netlock_put_set(nl, AF_INET, NL_OUT, "out4", v4, buf, len, &pos);
	in6 = netlock_put_set(nl, AF_INET6, NL_IN, "in6", v6, buf, len, &pos);
	out6 = netlock_put_set(nl, AF_INET6, NL_OUT, "out6", v6, buf, len, &pos);
	l4 = netlock_put_set(nl, AF_INET, NL_LADDR, "listen4", "ipv4_addr . inet_service", buf, len, &pos);
	l6 = netlock_put_set(nl, AF_INET6, NL_LADDR, "listen6", "ipv6_addr . inet_service", buf, len, &pos);
	lp = netlock_put_set(nl, 0, NL_LPORT, "listenany", "inet_service", buf, len, &pos);
	/* Before conntrack (-200), so no state is made for what is dropped. */
	netlock_put(buf, len, &pos, "\tchain in {\n\t\ttype filter hook input priority -300; policy accept;\n");
	if (in4)
		netlock_put(buf, len, &pos, "\t\tip saddr . tcp sport . ip daddr . tcp dport @in4 drop\n");
	if (in6)
		netlock_put(buf, len, &pos, "\t\tip6 saddr . tcp sport . ip6 daddr . tcp dport @in6 drop\n");
	if (l4)
		netlock_put(buf, len, &pos, "\t\tip daddr . tcp dport @listen4 drop\n");
	if (l6)
		netlock_put(buf, len, &pos, "\t\tip6 daddr . tcp dport @listen6 drop\n");
	if (lp)
		netlock_put(buf, len, &pos, "\t\ttcp dport @listenany drop\n");
	netlock_put(buf, len, &pos, "\t}\n\tchain out {\n\t\ttype filter hook output priority -300; policy accept;\n");
	if (out4)
		netlock_put(buf, len, &pos, "\t\tip saddr . tcp sport . ip daddr . tcp dport @out4 drop\n");
	if (out6)
		netlock_put(buf, len, &pos, "\t\tip6 saddr . tcp sport . ip6 daddr . tcp dport @out6 drop\n");
	return netlock_put(buf, len, &pos, "\t}\n}\n") ? (int)pos : -1;
}

/* Runs nft with argv, input on its stdin; its error output becomes the
 * message. */
static int netlock_nft(const char *const *argv, const char *input, const char *what, struct err *e)
{
	static const char *const paths[] = { "/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft" };
	const char *nft = NULL;
	int in[2], errp[2], status;
	char msg[512] = "";
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]) && !nft; i++)
		if (access(paths[i], X_OK) == 0)
			nft = paths[i];
	if (!nft)
		return err_set(e, EXIT_SYSTEM, "%s: the nft program is not installed (Debian's nftables package); "
			       "install it, or dump with --network-lock skip (peers may then see resets)", what);
	if (pipe2(in, O_CLOEXEC) < 0)
		return err_errno(e, "%s: pipe to nft", what);
	if (pipe2(errp, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return err_errno(e, "%s: pipe from nft", what);
	}
	if ((pid = fork()) < 0) {
		close(in[0]);
		close(in[1]);
		close(errp[0]);
		close(errp[1]);
		return err_errno(e, "%s: start nft", what);
	}
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(errp[1], 1);
		dup2(errp[1], 2);
		execv(nft, (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(errp[1]);
	/* nft reads the whole script before it answers: no deadlock. */
	for (size_t off = 0, left = input ? strlen(input) : 0; left; off += n, left -= n)
		if ((n = write(in[1], input + off, left)) <= 0)
			break;
	close(in[1]);
	while ((n = read(errp[0], msg + got, sizeof(msg) - 1 - got)) > 0)
		got += n;
	msg[got] = 0;
	close(errp[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	for (char *p = msg; *p; p++)
		if (*p == '\n')
			*p = ' ';
	return err_set(e, EXIT_SYSTEM, "%s: nft failed%s%s", what, msg[0] ? ": " : "", msg);
}

int netlock_lock(struct netlock *nl, struct err *e)
{
	static const char *const argv[] = { "nft", "-f", "-", NULL };
	size_t len = 4096 + (size_t)nl->nr * 2 * 200;
	_cleanup_free_ char *script = malloc(len);
	int ret;

	if (!nl->nr)
		return 0;
	if (!script)
		return err_errno(e, "network lock: the nftables script");
	if (netlock_script(nl, script, len) < 0)
		return err_set(e, EXIT_SYSTEM, "network lock: the nftables script for %d sockets does not fit", nl->nr);
	pr_debug("network lock script:\n%s", script);
	ret = netlock_nft(argv, script, "lock the tree's TCP connections (--network-lock nftables)", e);
	if (ret == 0) {
		nl->locked = true;
		pr_info("network lock: %d TCP sockets locked (nftables table inet %s)", nl->nr, nl->table);
	}
	return ret;
}

int netlock_unlock_table(const char *table, struct err *e)
{
	const char *const argv[] = { "nft", "delete", "table", "inet", table, NULL };

	return netlock_nft(argv, NULL, "remove the network lock", e);
}

void netlock_unlock(struct netlock *nl)
{
	struct err e = { 0 };

	if (!nl->locked)
		return;
	if (netlock_unlock_table(nl->table, &e) < 0)
		pr_warn("%s; remove it with: nft delete table inet %s", e.msg, nl->table);
	else
		pr_info("network lock: table inet %s removed", nl->table);
	nl->locked = false;
}

void netlock_free(struct netlock *nl)
{
	free(nl->conns);
	nl->conns = NULL;
	nl->nr = 0;
}
