/* utsns: a self-checking tree in UTS (and, with "ipc", IPC) namespaces of
 * its own, for amber's UTS and IPC namespaces (seize, restore-tasks).
 *
 *	utsns READYFILE RESULTFILE [ipc] [net|netdown]
 *
 * It unshares a UTS namespace (like unshare -u; with "ipc" also an IPC
 * namespace, like unshare -i; with "net" also a network namespace, like
 * unshare -n, whose lo it sets up; "netdown" leaves lo down), sets hostname "amber-uts-a" and domainname
 * "amber.example", and forks two children: A stays in the parent's
 * namespaces; B unshares a second UTS namespace of its own with hostname
 * "amber-uts-b" and domainname "b.example". It remembers the host's
 * namespace inodes from before it unshared, writes READY and waits for
 * SIGUSR1. Then each child checks its own hostname and domainname and
 * exits 0 or 1; the parent checks its own, that A is in its UTS namespace
 * (the same /proc/PID/ns/uts inode) and B is not, that none of the three
 * is in the host's, and, with "ipc", that A shares its IPC namespace, that
 * it is not the host's and that it holds no System V object
 * (/proc/sysvipc/{shm,sem,msg} have no line but their header), and with
 * "net"/"netdown", that A shares its network namespace, that it is not the
 * host's, that /proc/net/dev lists lo alone, that lo is up (down) and, if
 * up, that a TCP connection over 127.0.0.1 works. Without them it checks
 * it is still in the host's IPC and network namespaces. It writes PASS or
 * FAIL lines.
 */
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

/* The namespace link of pid (0: self), e.g. "uts:[4026531838]". */
static void ns_link(pid_t pid, const char *kind, char *out, size_t size)
{
	char path[64];
	ssize_t n;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, kind);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/%s", kind);
	n = readlink(path, out, size - 1);
	out[n < 0 ? 0 : n] = 0;
}

/* Checks uname against the names this task set; 0 if they match. */
static int check_names(struct wl_report *r, const char *who, const char *host, const char *domain)
{
	struct utsname u;
	int bad = 0;

	if (uname(&u) < 0) {
		wl_fail(r, "%s: uname: %s", who, strerror(errno));
		return 1;
	}
	if (strcmp(u.nodename, host)) {
		wl_fail(r, "%s: hostname is '%s', not '%s'", who, u.nodename, host);
		bad = 1;
	}
	if (strcmp(u.domainname, domain)) {
		wl_fail(r, "%s: domainname is '%s', not '%s'", who, u.domainname, domain);
		bad = 1;
	}
	return bad;
}

/* A child: waits for SIGUSR1, checks its names, exits 0 or 1. */
static void __attribute__((noreturn)) child_main(const char *host, const char *domain)
{
	char text[1024] = "";
	struct wl_report r = { text, sizeof(text), 0 };

	wl_wait_usr1();
	_exit(check_names(&r, "child", host, domain));
}

/* The number of object lines in a /proc/sysvipc file (-1 if unreadable). */
static int sysvipc_objects(const char *path)
{
	char buf[8192];
	int lines = 0;

	if (wl_read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	for (char *s = buf; *s; s++)
		lines += *s == '\n';
	return lines - 1;
}

/* lo's flags in this task's network namespace, or -1. */
static int lo_flags(void)
{
	struct ifreq ifr;
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (sk < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	ret = ioctl(sk, SIOCGIFFLAGS, &ifr);
	close(sk);
	return ret < 0 ? -1 : (unsigned short)ifr.ifr_flags;
}

/* Sets lo up; 0 or -1. */
static int lo_up(void)
{
	struct ifreq ifr;
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (sk < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	ret = ioctl(sk, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	if (ret == 0)
		ret = ioctl(sk, SIOCSIFFLAGS, &ifr);
	close(sk);
	return ret;
}

/* A TCP connection to a listener on 127.0.0.1 in this namespace; 0 or -1. */
static int tcp_over_lo(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

	ok = l >= 0 && c >= 0 && bind(l, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(l, 1) == 0 &&
	     getsockname(l, (struct sockaddr *)&a, &len) == 0 && connect(c, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(l);
	close(c);
	return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	char host_uts[64], host_ipc[64], host_net[64], uts[64], ipc[64], net[64], a_uts[64], a_ipc[64], a_net[64], b_uts[64];
	char text[4096] = "";
	struct wl_report r = { text, sizeof(text), 0 };
	bool with_ipc = false, with_net = false, net_down = false;
	pid_t a, b;
	int status;

	if (argc < 3) {
		fprintf(stderr, "usage: utsns READYFILE RESULTFILE [ipc] [net|netdown]\n");
		return 2;
	}
	for (int i = 3; i < argc; i++) {
		with_ipc |= !strcmp(argv[i], "ipc");
		with_net |= !strcmp(argv[i], "net") || !strcmp(argv[i], "netdown");
		net_down |= !strcmp(argv[i], "netdown");
	}
	ns_link(0, "uts", host_uts, sizeof(host_uts));
	ns_link(0, "ipc", host_ipc, sizeof(host_ipc));
	ns_link(0, "net", host_net, sizeof(host_net));
	if (wl_must(wl_catch_usr1() == 0, "catch SIGUSR1") ||
	    wl_must(unshare(CLONE_NEWUTS | (with_ipc ? CLONE_NEWIPC : 0) | (with_net ? CLONE_NEWNET : 0)) == 0, "unshare") ||
	    wl_must(!with_net || net_down || lo_up() == 0, "set lo up") ||
	    wl_must(sethostname("amber-uts-a", 11) == 0, "sethostname") ||
	    wl_must(setdomainname("amber.example", 13) == 0, "setdomainname"))
		return 1;
	if ((a = fork()) == 0)
		child_main("amber-uts-a", "amber.example");
	if ((b = fork()) == 0) {
		if (unshare(CLONE_NEWUTS) < 0 || sethostname("amber-uts-b", 11) < 0 || setdomainname("b.example", 9) < 0)
			_exit(3);
		child_main("amber-uts-b", "b.example");
	}
	if (wl_must(a > 0 && b > 0, "fork"))
		return 1;
	/* B is ready once its namespace is not ours any more. */
	ns_link(0, "uts", uts, sizeof(uts));
	for (int i = 0; i < 1000; i++) {
		ns_link(b, "uts", b_uts, sizeof(b_uts));
		if (strcmp(b_uts, uts))
			break;
		wl_sleep_ms(5);
	}
	if (wl_must(wl_write_ready(argv[1], getpid()) == 0, "write READY"))
		return 1;
	wl_wait_usr1();

	check_names(&r, "parent", "amber-uts-a", "amber.example");
	ns_link(0, "uts", uts, sizeof(uts));
	ns_link(0, "ipc", ipc, sizeof(ipc));
	ns_link(a, "uts", a_uts, sizeof(a_uts));
	ns_link(a, "ipc", a_ipc, sizeof(a_ipc));
	ns_link(0, "net", net, sizeof(net));
	ns_link(a, "net", a_net, sizeof(a_net));
	ns_link(b, "uts", b_uts, sizeof(b_uts));
	if (!uts[0] || !strcmp(uts, host_uts))
		wl_fail(&r, "the parent is in the host's UTS namespace %s", host_uts);
	if (strcmp(a_uts, uts))
		wl_fail(&r, "child A is in UTS namespace %s, the parent in %s", a_uts, uts);
	if (!b_uts[0] || !strcmp(b_uts, uts) || !strcmp(b_uts, host_uts))
		wl_fail(&r, "child B is in UTS namespace %s (the parent's is %s, the host's %s)", b_uts, uts, host_uts);
	if (with_ipc) {
		static const char *const files[] = { "/proc/sysvipc/shm", "/proc/sysvipc/sem", "/proc/sysvipc/msg" };

		if (!ipc[0] || !strcmp(ipc, host_ipc))
			wl_fail(&r, "the parent is in the host's IPC namespace %s", host_ipc);
		if (strcmp(a_ipc, ipc))
			wl_fail(&r, "child A is in IPC namespace %s, the parent in %s", a_ipc, ipc);
		for (int i = 0; i < 3; i++)
			if (sysvipc_objects(files[i]) != 0)
				wl_fail(&r, "%s lists %d objects, not 0", files[i], sysvipc_objects(files[i]));
	} else if (strcmp(ipc, host_ipc)) {
		wl_fail(&r, "the parent is in IPC namespace %s, not the host's %s", ipc, host_ipc);
	}
	if (with_net) {
		char dev[4096];
		int flags = lo_flags(), lines = 0;

		if (!net[0] || !strcmp(net, host_net))
			wl_fail(&r, "the parent is in the host's network namespace %s", host_net);
		if (strcmp(a_net, net))
			wl_fail(&r, "child A is in network namespace %s, the parent in %s", a_net, net);
		if (wl_read_file("/proc/net/dev", dev, sizeof(dev)) < 0)
			wl_fail(&r, "read /proc/net/dev: %s", strerror(errno));
		for (char *s = dev; *s; s++)
			lines += *s == '\n';
		if (lines != 3 || !strstr(dev, " lo:"))
			wl_fail(&r, "/proc/net/dev does not list lo alone: %s", dev);
		if (flags < 0 || !(flags & IFF_UP) != net_down)
			wl_fail(&r, "lo's flags are %#x, want it %s", flags, net_down ? "down" : "up");
		if (!net_down && tcp_over_lo() < 0)
			wl_fail(&r, "no TCP connection over 127.0.0.1: %s", strerror(errno));
	} else if (strcmp(net, host_net)) {
		wl_fail(&r, "the parent is in network namespace %s, not the host's %s", net, host_net);
	}
	kill(a, SIGUSR1);
	kill(b, SIGUSR1);
	for (int i = 0; i < 2; i++) {
		pid_t c = i ? b : a;

		while (waitpid(c, &status, 0) < 0 && errno == EINTR)
			kill(c, SIGUSR1);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			wl_fail(&r, "child %c (pid %d) found its hostname or domainname changed (wait status %#x)",
				i ? 'B' : 'A', c, status);
	}
	wl_write_result(argv[2], &r);
	return r.nfails != 0;
}
