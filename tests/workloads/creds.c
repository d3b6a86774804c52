/* creds: a self-checking workload for credentials and the rest of a task's
 * state across a checkpoint. Started as root, it becomes:
 *
 *	uids		real 1001, effective 1002, saved 1003, fs 1002
 *	gids		real 2001, effective 2002, saved 2003, fs 2003
 *	groups		5, 2004, 2005
 *	capabilities	permitted CHOWN KILL NET_BIND_SERVICE, effective KILL
 *			NET_BIND_SERVICE, inheritable CHOWN NET_BIND_SERVICE,
 *			ambient NET_BIND_SERVICE; bounding set without
 *			SYS_MODULE, SYS_RAWIO, MKNOD
 *	securebits	NOROOT | NO_CAP_AMBIENT_RAISE
 *	no_new_privs	1, with one seccomp filter (getpgid fails with errno 66)
 *	dumpable	1 (set back after the uid change cleared it)
 *	subreaper	1
 *	personality	ADDR_NO_RANDOMIZE | UNAME26
 *	rlimits		NOFILE 512/800, CORE 0/0, STACK soft 4 MiB, MSGQUEUE 4096/8192
 *	pdeathsig	SIGUSR2 (not restored for the root of a tree: its parent
 *			is not part of the dump; 0 is accepted after restore)
 *
 * Usage: creds READYFILE RESULTFILE. Both files are opened before the
 * privileges go (the test's directory is root's). It writes "READY <pid>"
 * and waits for SIGUSR1; the test dumps, kills and restores it in between.
 * It then checks everything above (and /proc/self/status) and writes PASS
 * or "FAIL: ..." lines to RESULTFILE.
 */
#include <errno.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/fsuid.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "workload.h"

#define CAPS_PRM ((1ULL << CAP_CHOWN) | (1ULL << CAP_KILL) | (1ULL << CAP_NET_BIND_SERVICE))
#define CAPS_EFF ((1ULL << CAP_KILL) | (1ULL << CAP_NET_BIND_SERVICE))
#define CAPS_INH ((1ULL << CAP_CHOWN) | (1ULL << CAP_NET_BIND_SERVICE))
#define CAPS_AMB (1ULL << CAP_NET_BIND_SERVICE)
#define CAPS_DROPPED ((1ULL << CAP_SYS_MODULE) | (1ULL << CAP_SYS_RAWIO) | (1ULL << CAP_MKNOD))
#define SECBITS (SECBIT_NOROOT | SECBIT_NO_CAP_AMBIENT_RAISE)
#define PERSONA (ADDR_NO_RANDOMIZE | UNAME26)

static const struct { int res; rlim_t cur, max; } limits[] = {
	{ RLIMIT_NOFILE, 512, 800 },
	{ RLIMIT_CORE, 0, 0 },
	{ RLIMIT_MSGQUEUE, 4096, 8192 },
};

static char report_text[8192];
static struct wl_report report = { .text = report_text, .size = sizeof(report_text) };
static uint64_t bounding_at_start;
static struct rlimit stack_at_start;

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static int capset3(uint64_t eff, uint64_t prm, uint64_t inh)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = {
		{ (uint32_t)eff, (uint32_t)prm, (uint32_t)inh },
		{ (uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32) },
	};

	return syscall(SYS_capset, &h, d);
}

/* The hex value of 'key' in /proc/self/status. */
static uint64_t status_hex(const char *key)
{
	char line[256];
	uint64_t v = ~0ULL;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':')
			v = strtoull(line + strlen(key) + 1, NULL, 16);
	if (f)
		fclose(f);
	return v;
}

/* The text after 'key:' in /proc/self/status, blanks squeezed. */
static void status_text(const char *key, char *out, size_t size)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	*out = 0;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':') {
			size_t n = 0;

			for (char *p = line + strlen(key) + 1; *p && *p != '\n' && n + 1 < size; p++)
				if (*p != '\t' && !(*p == ' ' && (n == 0 || out[n - 1] == ' ')))
					out[n++] = *p;
				else if (n && out[n - 1] != ' ')
					out[n++] = ' ';
			while (n && out[n - 1] == ' ')
				n--;
			out[n] = 0;
		}
	if (f)
		fclose(f);
}

/* One filter: getpgid fails with errno 66, all else allowed. */
static void install_filter(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpgid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 66),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		die("seccomp");
}

/* Becomes the unprivileged task described above. */
static void drop(void)
{
	static const gid_t groups[] = { 5, 2004, 2005 };
	struct rlimit rl;
	uint64_t prm;

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		rl.rlim_cur = limits[i].cur;
		rl.rlim_max = limits[i].max;
		if (setrlimit(limits[i].res, &rl) < 0)
			die("setrlimit");
	}
	getrlimit(RLIMIT_STACK, &stack_at_start);
	stack_at_start.rlim_cur = 4 << 20;
	if (setrlimit(RLIMIT_STACK, &stack_at_start) < 0)
		die("setrlimit stack");
	if (personality(PERSONA) < 0)
		die("personality");
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		die("subreaper");
	if (setgroups(3, groups) < 0 || setresgid(2001, 2002, 2003) < 0 || setfsgid(2003) < 0)
		die("gids");
	if (prctl(PR_SET_KEEPCAPS, 1) < 0 || setresuid(1001, 1002, 1003) < 0)
		die("uids");
	setfsuid(1002);
	/* Effective caps were cleared by the uid change; permitted kept. */
	prm = status_hex("CapPrm");
	if (capset3(prm, prm, CAPS_INH) < 0)
		die("capset inheritable");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0) < 0)
		die("ambient");
	for (int c = 0; c < 64; c++)
		if ((CAPS_DROPPED >> c) & 1)
			prctl(PR_CAPBSET_DROP, c);
	if (prctl(PR_SET_SECUREBITS, SECBITS) < 0)
		die("securebits");
	if (capset3(CAPS_EFF, CAPS_PRM, CAPS_INH) < 0)
		die("capset");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die("no_new_privs");
	install_filter();
	if (prctl(PR_SET_DUMPABLE, 1) < 0 || prctl(PR_SET_PDEATHSIG, SIGUSR2) < 0)
		die("dumpable/pdeathsig");
	bounding_at_start = status_hex("CapBnd");
}

static void check_hex(const char *key, uint64_t want)
{
	uint64_t got = status_hex(key);

	if (got != want)
		wl_fail(&report, "%s is %#llx, want %#llx", key, (unsigned long long)got, (unsigned long long)want);
}

static void check_text(const char *key, const char *want)
{
	char got[256];

	status_text(key, got, sizeof(got));
	if (strcmp(got, want))
		wl_fail(&report, "%s is '%s', want '%s'", key, got, want);
}

static void check(void)
{
	struct rlimit rl;
	int v = -1;

	check_text("Uid", "1001 1002 1003 1002");
	check_text("Gid", "2001 2002 2003 2003");
	check_text("Groups", "5 2004 2005");
	check_hex("CapPrm", CAPS_PRM);
	check_hex("CapEff", CAPS_EFF);
	check_hex("CapInh", CAPS_INH);
	check_hex("CapAmb", CAPS_AMB);
	check_hex("CapBnd", bounding_at_start);
	if (bounding_at_start & CAPS_DROPPED)
		wl_fail(&report, "bounding set %#llx still has the dropped caps", (unsigned long long)bounding_at_start);
	check_text("NoNewPrivs", "1");
	check_text("Seccomp", "2");
	if (prctl(PR_GET_SECUREBITS) != SECBITS)
		wl_fail(&report, "securebits %#x, want %#x", prctl(PR_GET_SECUREBITS), SECBITS);
	if (prctl(PR_GET_DUMPABLE) != 1)
		wl_fail(&report, "dumpable %d, want 1", prctl(PR_GET_DUMPABLE));
	if (prctl(PR_GET_CHILD_SUBREAPER, &v) < 0 || v != 1)
		wl_fail(&report, "child subreaper %d, want 1", v);
	v = -1;
	if (prctl(PR_GET_PDEATHSIG, &v) < 0 || (v != 0 && v != SIGUSR2))
		wl_fail(&report, "pdeathsig %d, want SIGUSR2 before a dump, 0 after (a root's is not restored)", v);
	if (personality(0xffffffff) != PERSONA)
		wl_fail(&report, "personality %#x, want %#x", personality(0xffffffff), PERSONA);
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		if (getrlimit(limits[i].res, &rl) < 0 || rl.rlim_cur != limits[i].cur || rl.rlim_max != limits[i].max)
			wl_fail(&report, "rlimit %d is %llu/%llu, want %llu/%llu", limits[i].res, (unsigned long long)rl.rlim_cur,
			                 (unsigned long long)rl.rlim_max, (unsigned long long)limits[i].cur, (unsigned long long)limits[i].max);
	if (getrlimit(RLIMIT_STACK, &rl) < 0 || rl.rlim_cur != stack_at_start.rlim_cur || rl.rlim_max != stack_at_start.rlim_max)
		wl_fail(&report, "stack rlimit is %llu/%llu, want %llu/%llu", (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
		                 (unsigned long long)stack_at_start.rlim_cur, (unsigned long long)stack_at_start.rlim_max);
	errno = 0;
	if (syscall(SYS_getpgid, 0) != -1 || errno != 66)
		wl_fail(&report, "getpgid: errno %d, want 66 from the seccomp filter", errno);
	/* The ambient and effective caps work: KILL lets it signal pid 1 with 0. */
	if (kill(1, 0) < 0)
		wl_fail(&report, "kill(1, 0) with CAP_KILL: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	char line[64];
	int ready, result;

	if (argc != 3) {
		fprintf(stderr, "usage: creds READYFILE RESULTFILE\n");
		return 2;
	}
	ready = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	result = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (ready < 0 || result < 0)
		die("open");
	wl_catch_usr1();
	signal(SIGUSR2, SIG_IGN);
	drop();
	snprintf(line, sizeof(line), "READY %d\n", getpid());
	if (write(ready, line, strlen(line)) < 0)
		return 2;
	wl_wait_usr1();
	check();
	if (report.nfails)
		return write(result, report.text, strlen(report.text)) < 0 ? 2 : 1;
	return write(result, "PASS\n", 5) < 0 ? 2 : 0;
}
