/* utsns: a self-checking tree in UTS (and, with "ipc", IPC) namespaces of
 * its own, for amber's UTS and IPC namespaces (seize, restore-tasks).
 *
 *	utsns READYFILE RESULTFILE [ipc]
 *
 * It unshares a UTS namespace (like unshare -u; with "ipc" also an IPC
 * namespace, like unshare -i), sets hostname "amber-uts-a" and domainname
 * "amber.example", and forks two children: A stays in the parent's
 * namespaces; B unshares a second UTS namespace of its own with hostname
 * "amber-uts-b" and domainname "b.example". It remembers the host's
 * namespace inodes from before it unshared, writes READY and waits for
 * SIGUSR1. Then each child checks its own hostname and domainname and
 * exits 0 or 1; the parent checks its own, that A is in its UTS namespace
 * (the same /proc/PID/ns/uts inode) and B is not, that none of the three
 * is in the host's, and, with "ipc", that A shares its IPC namespace, that
 * it is not the host's and that it holds no System V object
 * (/proc/sysvipc/{shm,sem,msg} have no line but their header). It writes
 * PASS or FAIL lines.
 */
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(int argc, char **argv)
{
	char host_uts[64], host_ipc[64], uts[64], ipc[64], a_uts[64], a_ipc[64], b_uts[64];
	char text[4096] = "";
	struct wl_report r = { text, sizeof(text), 0 };
	bool with_ipc = argc > 3 && !strcmp(argv[3], "ipc");
	pid_t a, b;
	int status;

	if (argc < 3) {
		fprintf(stderr, "usage: utsns READYFILE RESULTFILE [ipc]\n");
		return 2;
	}
	ns_link(0, "uts", host_uts, sizeof(host_uts));
	ns_link(0, "ipc", host_ipc, sizeof(host_ipc));
	if (wl_must(wl_catch_usr1() == 0, "catch SIGUSR1") ||
	    wl_must(unshare(CLONE_NEWUTS | (with_ipc ? CLONE_NEWIPC : 0)) == 0, "unshare") ||
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
