/* seccomp: a self-checking workload for seccomp filters across a
 * checkpoint. As root, without no_new_privs (so the restore needs
 * CAP_SYS_ADMIN to install them), it installs two filters:
 *
 *	first	getpgid fails with errno 66, uname with errno 77
 *	second	uname fails with errno 78, getppid with errno 55
 *
 * (for uname both match: the newer filter's errno wins, so 78 shows the
 * filters came back in their order). It writes "READY <pid>" to READYFILE
 * and waits for SIGUSR1; the test dumps, kills and restores it in between.
 * It then checks the three errnos, that other syscalls still work, and
 * /proc/self/status (Seccomp 2, two filters, NoNewPrivs 0), and writes PASS
 * or "FAIL: ..." lines to RESULTFILE.
 *
 *	seccomp READYFILE RESULTFILE
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "workload.h"

static char report_text[8192];
static struct wl_report report = { .text = report_text, .size = sizeof(report_text) };

/* A filter failing syscall a with errno ea and b with eb; all else allowed. */
static void install(int a, int ea, int b, int eb)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, a, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ea),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, b, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | eb),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
		perror("seccomp");
		exit(2);
	}
}

/* syscall nr (no arguments that matter) must fail with errno want. */
static void expect(const char *name, long nr, int want)
{
	struct utsname u;

	errno = 0;
	if (syscall(nr, nr == SYS_uname ? (long)&u : 0) != -1 || errno != want)
		wl_fail(&report, "%s: errno %d, want %d from the seccomp filters", name, errno, want);
}

/* The value of 'key' in /proc/self/status, as an int. */
static int status_int(const char *key)
{
	char line[256];
	int v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':')
			v = atoi(line + strlen(key) + 1);
	if (f)
		fclose(f);
	return v;
}

int main(int argc, char **argv)
{

	if (argc != 3) {
		fprintf(stderr, "usage: seccomp READYFILE RESULTFILE\n");
		return 2;
	}
	wl_catch_usr1();
	install(SYS_getpgid, 66, SYS_uname, 77);
	install(SYS_uname, 78, SYS_getppid, 55);
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 2;
	wl_wait_usr1();
	expect("getpgid", SYS_getpgid, 66);
	expect("uname", SYS_uname, 78);
	expect("getppid", SYS_getppid, 55);
	if (syscall(SYS_getpid) != getpid() || syscall(SYS_gettid) != getpid())
		wl_fail(&report, "getpid/gettid do not work");
	if (status_int("Seccomp") != 2 || status_int("Seccomp_filters") != 2 || status_int("NoNewPrivs") != 0)
		wl_fail(&report, "status: Seccomp %d, Seccomp_filters %d, NoNewPrivs %d; want 2, 2, 0", status_int("Seccomp"),
		                 status_int("Seccomp_filters"), status_int("NoNewPrivs"));
	if (wl_write_result(argv[2], &report) < 0)
		return 2;
	return report.nfails ? 1 : 0;
}
