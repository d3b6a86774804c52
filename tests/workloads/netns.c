/* netns: a self-checking tree in two network namespaces of its own joined
 * by a veth pair, for amber's network namespaces (seize, restore-tasks).
 *
 *	netns READYFILE RESULTFILE
 *
 * The root unshares a network namespace A and forks child B, which
 * unshares namespace B. The root makes veth pair amb-a (in A) and amb-b
 * (sent into B); B makes a second pair amb-c/amb-d with both ends in B and
 * leaves amb-d down with MTU 9000. They set lo up, MAC addresses, MTU
 * 1400 on the pair between them, IPv4 and IPv6 addresses (10.64.0.1/24,
 * fd00:64::1/64 on amb-a; 10.64.0.2/24, fd00:64::2/64 on amb-b;
 * 10.65.0.1/24, fd00:65::1/64 on amb-c), routes in A to 10.65.0.0/24 and
 * fd00:65::/64 through B, a default route in B, and sysctls in B
 * (ip_forward, IPv6 forwarding, rp_filter of amb-b, disable_ipv6 of
 * amb-d; accept_dad 0 in both, so no address waits for DAD). Each then
 * takes a snapshot of its namespace (`ip -o link`, `ip -o addr`, the
 * routes of every table, the sysctls, sorted), writes READY and waits for
 * SIGUSR1 (the root passes it to B over a pipe).
 *
 * After restore each compares a new snapshot with its own, line by line;
 * then B listens on TCP port 0 of every address and tells the root the
 * port over the pipe, and the root connects to 10.64.0.2, 10.65.0.1 (routed
 * through B) and [fd00:64::2], [fd00:65::1], exchanging a line each time.
 * The root writes PASS or FAIL lines (B's failures come over the pipe).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

#define SNAP_MAX (64 << 10)

static char rep_text[32768];
static struct wl_report rep = { rep_text, sizeof(rep_text), 0 };

/* Runs sh -c cmd; 0 if it exited 0. */
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0) {
		wl_fail(&rep, "'%s' failed", cmd);
		return -1;
	}
	return 0;
}

/* The namespace as ip and /proc/sys show it, sorted, into buf. */
static void snapshot(char *buf, size_t cap)
{
	FILE *f = popen("{ ip -o link; ip -o addr; ip route show table all; ip -6 route show table all; "
			"for f in /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/*/forwarding "
			"/proc/sys/net/ipv4/conf/*/rp_filter /proc/sys/net/ipv6/conf/*/forwarding "
			"/proc/sys/net/ipv6/conf/*/disable_ipv6 /proc/sys/net/ipv6/conf/*/accept_dad "
			"/proc/sys/net/core/somaxconn; do echo \"$f $(cat $f)\"; done; } 2>&1 | "
			"sed 's/link-netnsid [0-9]*//' | sort", "r");
	size_t n = 0;

	buf[0] = 0;
	if (!f)
		return;
	while (n + 1 < cap && fgets(buf + n, cap - n, f))
		n += strlen(buf + n);
	pclose(f);
}

/* Reports every line of was missing from now, and the reverse. */
static void compare(const char *who, const char *was, const char *now)
{
	const char *sets[2][2] = { { was, now }, { now, was } };

	for (int k = 0; k < 2; k++)
		for (const char *l = sets[k][0]; *l;) {
			const char *nl = strchr(l, '\n');
			size_t len = nl ? (size_t)(nl - l) : strlen(l);
			char line[1024];

			snprintf(line, sizeof(line), "%.*s\n", (int)len, l);
			if (!strstr(sets[k][1], line))
				wl_fail(&rep, "%s: %s: %.*s", who, k ? "new after restore" : "lost in restore", (int)len, l);
			l += len + (nl ? 1 : 0);
		}
}

/* Connects to addr:port, sends a line and expects it back. */
static void talk(int family, const char *addr, int port)
{
	struct sockaddr_storage ss = { 0 };
	struct timeval tv = { 3, 0 };
	char buf[64] = "";
	int fd = socket(family, SOCK_STREAM, 0), n;
	socklen_t len;

	if (family == AF_INET) {
		struct sockaddr_in *s4 = (void *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		inet_pton(AF_INET, addr, &s4->sin_addr);
		len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (void *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &s6->sin6_addr);
		len = sizeof(*s6);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (fd < 0 || connect(fd, (void *)&ss, len) < 0 || write(fd, "ping\n", 5) != 5 ||
	    (n = read(fd, buf, sizeof(buf) - 1)) != 5 || strncmp(buf, "ping\n", 5))
		wl_fail(&rep, "TCP to %s port %d across the veth: %s", addr, port, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* B's part: after the restore, check, serve four connections, report. */
static int child_b(int rd, int wr)
{
	static char was[SNAP_MAX], now[SNAP_MAX];
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 };
	socklen_t al = sizeof(a);
	char c;
	int ls, port;

	if (unshare(CLONE_NEWNET) < 0)
		return 1;
	sh("sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0");
	if (write(wr, "u", 1) != 1 || read(rd, &c, 1) != 1)
		return 1;
	sh("ip link set lo up && ip link add amb-c type veth peer name amb-d && "
	   "ip link set amb-c address 02:00:00:00:65:01 && ip link set amb-d mtu 9000 && "
	   "sysctl -qw net.ipv6.conf.amb-d.disable_ipv6=1 && ip link set amb-c up && "
	   "ip link set amb-b address 02:00:00:00:64:02 mtu 1400 up && "
	   "ip addr add 10.64.0.2/24 dev amb-b && ip addr add fd00:64::2/64 dev amb-b && "
	   "ip addr add 10.65.0.1/24 dev amb-c && ip addr add fd00:65::1/64 dev amb-c && "
	   "ip route add default via 10.64.0.1 && "
	   "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 net.ipv4.conf.amb-b.rp_filter=2");
	snapshot(was, sizeof(was));
	if (write(wr, "b", 1) != 1)
		return 1;
	if (read(rd, &c, 1) != 1)	/* the root's SIGUSR1 */
		return 1;
	snapshot(now, sizeof(now));
	compare("namespace B", was, now);
	ls = socket(AF_INET6, SOCK_STREAM, 0);
	if (ls < 0 || bind(ls, (void *)&a, sizeof(a)) < 0 || listen(ls, 8) < 0 || getsockname(ls, (void *)&a, &al) < 0)
		wl_fail(&rep, "B: listen: %s", strerror(errno));
	port = ntohs(a.sin6_port);
	if (write(wr, &port, sizeof(port)) != sizeof(port))
		return 1;
	for (int i = 0; i < 4 && ls >= 0; i++) {
		char buf[8];
		struct timeval tv = { 3, 0 };
		int fd = accept(ls, NULL, NULL), n;

		if (fd < 0)
			break;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if ((n = read(fd, buf, sizeof(buf))) > 0 && write(fd, buf, n) != n)
			wl_fail(&rep, "B: echo: %s", strerror(errno));
		close(fd);
	}
	if (write(wr, rep.text, strlen(rep.text)) < 0)
		return 1;
	return 0;
}

int main(int argc, char **argv)
{
	static char was[SNAP_MAX], now[SNAP_MAX], fromb[8192];
	int to_b[2], from_b[2], port = 0, st;
	ssize_t n, got = 0;
	pid_t b;
	char c;

	if (argc != 3) {
		fprintf(stderr, "usage: netns READYFILE RESULTFILE\n");
		return 2;
	}
	if (wl_catch_usr1() < 0 || wl_must(unshare(CLONE_NEWNET) == 0, "unshare") || pipe(to_b) < 0 || pipe(from_b) < 0)
		return 1;
	if ((b = fork()) == 0) {
		close(to_b[1]);
		close(from_b[0]);
		_exit(child_b(to_b[0], from_b[1]));
	}
	close(to_b[0]);
	close(from_b[1]);
	if (read(from_b[0], &c, 1) != 1)
		return 1;
	sh("sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0");
	sh("ip link set lo up && ip link add amb-a type veth peer name amb-b netns /proc/%d/ns/net && "
	   "ip link set amb-a address 02:00:00:00:64:01 mtu 1400 up && "
	   "ip addr add 10.64.0.1/24 dev amb-a && ip addr add fd00:64::1/64 dev amb-a", b);
	if (write(to_b[1], "g", 1) != 1 || read(from_b[0], &c, 1) != 1)
		return 1;
	sh("ip route add 10.65.0.0/24 via 10.64.0.2 && ip -6 route add fd00:65::/64 via fd00:64::2 metric 512");
	snapshot(was, sizeof(was));
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();
	{
		/* The test sends SIGUSR1 until the result is there: it must not
		 * cut the checks' reads short. */
		sigset_t m;

		sigemptyset(&m);
		sigaddset(&m, SIGUSR1);
		sigprocmask(SIG_BLOCK, &m, NULL);
	}
	snapshot(now, sizeof(now));
	compare("namespace A", was, now);
	if (write(to_b[1], "c", 1) != 1 || read(from_b[0], &port, sizeof(port)) != sizeof(port))
		wl_fail(&rep, "B did not answer");
	if (port) {
		talk(AF_INET, "10.64.0.2", port);
		talk(AF_INET, "10.65.0.1", port);
		talk(AF_INET6, "fd00:64::2", port);
		talk(AF_INET6, "fd00:65::1", port);
	}
	while ((n = read(from_b[0], fromb + got, sizeof(fromb) - 1 - got)) > 0)
		got += n;
	fromb[got] = 0;
	if (waitpid(b, &st, 0) != b || !WIFEXITED(st) || WEXITSTATUS(st))
		wl_fail(&rep, "B ended with status %#x", st);
	if (got) {
		rep.nfails++;
		strncat(rep.text, fromb, rep.size - strlen(rep.text) - 1);
	}
	return wl_write_result(argv[2], &rep) < 0;
}
